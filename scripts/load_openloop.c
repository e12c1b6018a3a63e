/* Open-loop HTTP/1.1 load: requests are scheduled at a fixed rate, whatever the server's speed, and each latency
 * counts from its scheduled time (a request waiting for a free connection is already late), so a slow server shows
 * as latency instead of as fewer requests sent (the "coordinated omission" of closed-loop tools such as wrk).
 * scripts/bench_load.py compiles it with gcc at bench time.
 *
 * usage: load_openloop HOST PORT RATE SECONDS CONNECTIONS REQUEST_FILE
 *   REQUEST_FILE holds complete HTTP requests, each ending with a blank line and its body, separated by a NUL byte;
 *   they are sent in turn. Prints one line: key=value pairs (latencies in milliseconds).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536

typedef struct { int fd; int busy; double start; size_t len; char buf[BUF]; } Conn;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int dial(const char *host, int port) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, host, &addr.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); exit(2); }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* 1 when buf holds a whole response (its status in *status), 0 when more bytes are needed; *used: its length. */
static int complete(const char *buf, size_t len, int *status, size_t *used) {
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = end - buf + 4, body = 0;
    *status = atoi(buf + 9);
    for (const char *p = buf; p < end; p = memchr(p, '\n', end - p) + 1) {
        if (!strncasecmp(p, "content-length:", 15)) body = strtoul(p + 15, NULL, 10);
        if (!memchr(p, '\n', end - p)) break;
    }
    if (len < head + body) return 0;
    *used = head + body;
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 7) { fprintf(stderr, "usage: %s HOST PORT RATE SECONDS CONNECTIONS REQUEST_FILE\n", argv[0]); return 1; }
    double rate = atof(argv[3]), seconds = atof(argv[4]);
    int nconn = atoi(argv[5]), port = atoi(argv[2]);
    FILE *f = fopen(argv[6], "rb");
    if (!f) { perror("request file"); return 1; }
    static char reqbuf[1 << 22];
    size_t reqlen = fread(reqbuf, 1, sizeof reqbuf - 1, f), nreq = 0;
    fclose(f);
    char *reqs[65536];
    for (char *p = reqbuf; p < reqbuf + reqlen && nreq < 65536; p += strlen(p) + 1) reqs[nreq++] = p;
    long total = (long)(rate * seconds), sent = 0, done = 0, errors = 0, head = 0;
    double *sched = malloc(sizeof(double) * (total + 1)), *lat = malloc(sizeof(double) * (total + 1));
    Conn *conns = calloc(nconn, sizeof(Conn));
    int ep = epoll_create1(0);
    for (int i = 0; i < nconn; i++) {
        conns[i].fd = dial(argv[1], port);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    double t0 = now_s(), deadline = t0 + seconds + 30.0;
    for (long i = 0; i < total; i++) sched[i] = t0 + i / rate;
    while (done < total && now_s() < deadline) {
        double t = now_s();
        for (int j = 0; j < nconn && head < total && sched[head] <= t; j++) {  /* due requests, to idle conns */
            int i = (int)((sent + j) % nconn);  /* in turn, so no connection idles into the keep-alive timeout */
            if (conns[i].busy) continue;
            const char *r = reqs[sent % nreq];
            if (write(conns[i].fd, r, strlen(r)) != (ssize_t)strlen(r)) { errors++; }
            conns[i].busy = 1;
            conns[i].start = sched[head++];
            sent++;
        }
        double wait = head < total ? sched[head] - now_s() : 0.05;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = wait > 0 ? (long)(wait * 1e9) : 0};
        if (wait > 0.05) ts.tv_nsec = 50000000;
        struct epoll_event evs[256];
        int n = epoll_pwait2(ep, evs, 256, &ts, NULL);
        for (int e = 0; e < n; e++) {
            Conn *c = &conns[evs[e].data.u32];
            ssize_t got = read(c->fd, c->buf + c->len, BUF - c->len);
            if (got <= 0) {  /* closed by the server (an idle keep-alive timeout, or a failure): reconnect */
                if (c->busy) errors++, lat[done++] = (now_s() - c->start) * 1000.0;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = dial(argv[1], port);
                c->busy = 0, c->len = 0;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[e].data.u32};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                continue;
            }
            c->len += got;
            int status;
            size_t used;
            while (c->busy && complete(c->buf, c->len, &status, &used)) {
                lat[done++] = (now_s() - c->start) * 1000.0;
                if (status != 200) errors++;
                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
                c->busy = 0;
            }
        }
    }
    double wall = now_s() - t0;
    qsort(lat, done, sizeof(double), cmp);
#define PCT(q) (done ? lat[(long)((q) / 100.0 * (done - 1))] : -1.0)
    printf("scheduled=%ld sent=%ld done=%ld errors=%ld wall_s=%.3f rate=%.1f p50=%.3f p90=%.3f p99=%.3f max=%.3f\n",
           total, sent, done, errors, wall, done / wall, PCT(50), PCT(90), PCT(99), PCT(100));
    return 0;
}
