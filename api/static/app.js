// muscall search page: plain JS, no build step. Talks to the JSON API of the same server.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const ui = {
    textForm: $("text-form"), query: $("query"), audioForm: $("audio-form"), clip: $("clip"),
    genre: $("genre"), dmin: $("dmin"), dmax: $("dmax"), k: $("k"),
    status: $("status"), error: $("error"), results: $("results"), more: $("more"),
    template: $("result-template"),
    scoreForm: $("score-form"), scoreClip: $("score-clip"), scorePrompt: $("score-prompt"), scores: $("scores"),
  };
  // The last search, so "Show more results" can ask for the next page of the same thing.
  let last = null;

  async function api(path, options) {
    const res = await fetch(path, options);
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const detail = body && body.detail ? body.detail : "HTTP " + res.status;
      throw new Error(detail);
    }
    return body;
  }

  function filters() {
    const f = {};
    if (ui.genre.value) f.genre = ui.genre.value;
    if (ui.dmin.value !== "") f.duration_min = Number(ui.dmin.value);
    if (ui.dmax.value !== "") f.duration_max = Number(ui.dmax.value);
    return f;
  }

  function queryString(params) {
    const q = new URLSearchParams();
    Object.keys(params).forEach((key) => {
      if (params[key] !== undefined && params[key] !== null && params[key] !== "") q.set(key, params[key]);
    });
    return q.toString();
  }

  // Each kind of search is a function of the page offset returning a promise of a SearchResponse.
  function textSearch(text) {
    const k = Number(ui.k.value), f = filters();
    return (offset) => api("/search/text", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: text, k: k, offset: offset, with_moment: true,
        filters: Object.keys(f).length ? f : null }),
    });
  }

  function audioSearch(file) {
    const k = ui.k.value, f = filters();
    return (offset) => {
      const form = new FormData();
      form.append("file", file);
      form.append("k", k);
      form.append("offset", offset);
      form.append("with_moment", "true");
      Object.keys(f).forEach((key) => form.append(key, f[key]));
      return api("/search/audio", { method: "POST", body: form });
    };
  }

  function similarSearch(trackId) {
    const k = ui.k.value, f = filters();
    return (offset) => api("/tracks/" + encodeURIComponent(trackId) + "/similar?" +
      queryString(Object.assign({ k: k, offset: offset }, f)));
  }

  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function renderHit(hit) {
    const node = ui.template.content.firstElementChild.cloneNode(true);
    const t = hit.track;
    node.dataset.trackId = t.track_id;
    node.querySelector(".title").textContent = hit.rank + ". " + (t.title || t.track_id);
    node.querySelector(".score").textContent = "score " + hit.score.toFixed(3);
    const meta = [];
    if (t.duration !== null && t.duration !== undefined) meta.push(clock(t.duration));
    if (t.attributes && t.attributes.genre) meta.push(String(t.attributes.genre));
    if (hit.moment) meta.push("best moment " + clock(hit.moment.start) + "–" + clock(hit.moment.end));
    node.querySelector(".meta").textContent = meta.join(" · ");
    // Zero-shot tags ('muscall tag --write-db') sit in attributes.zeroshot {label set: [labels]} and are merged
    // into the track's tags; shown apart, marked as predicted, beside the catalog's own tags.
    const predicted = predictedTags(t);
    const shownPredicted = new Set(predicted.map((p) => p.label.toLowerCase()));
    const tags = node.querySelector(".tags");
    (t.tags || []).filter((tag) => !shownPredicted.has(String(tag).toLowerCase())).forEach((tag) => {
      const li = document.createElement("li");
      li.textContent = tag;
      tags.appendChild(li);
    });
    const predictedRow = node.querySelector(".predicted");
    predicted.forEach((p) => {
      const span = document.createElement("span");
      span.className = "tag";
      span.textContent = p.label;
      span.title = "predicted by the model (zero-shot, label set " + p.set + ")";
      predictedRow.appendChild(span);
    });
    predictedRow.hidden = predicted.length === 0;
    const player = node.querySelector(".player");
    player.src = t.audio_url;
    player.setAttribute("aria-label", "Play " + (t.title || t.track_id));
    const momentBtn = node.querySelector(".moment");
    if (hit.moment) {
      momentBtn.hidden = false;
      momentBtn.setAttribute("aria-label", "Play the best moment of " + (t.title || t.track_id));
      momentBtn.addEventListener("click", () => {
        player.currentTime = hit.moment.start;
        player.play().catch(() => {});
      });
    }
    const similar = node.querySelector(".similar");
    similar.setAttribute("aria-label", "More like " + (t.title || t.track_id));
    similar.addEventListener("click", () => run(similarSearch(t.track_id), "tracks like “" + (t.title || t.track_id) + "”"));
    return node;
  }

  function predictedTags(track) {
    const sets = (track.attributes && track.attributes.zeroshot) || {};
    const out = [];
    Object.keys(sets).sort().forEach((set) => (sets[set] || []).forEach((label) => out.push({ set: set, label: label })));
    return out;
  }

  function renderScores(name, reply) {
    const list = ui.scores.querySelector(".score-list");
    list.replaceChildren();
    const add = (term, value, kind) => {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = term;
      dd.textContent = value;
      dd.dataset.kind = kind;
      list.append(dt, dd);
    };
    Object.keys(reply.scores || {}).forEach((axis) => add(axis, reply.scores[axis].toFixed(2), "quality"));
    if (reply.alignment !== null && reply.alignment !== undefined) {
      add("alignment with the description", reply.alignment.toFixed(3) +
        (reply.alignment_calibrated ? " (calibrated)" : " (raw cosine, not calibrated)"), "alignment");
      add("cosine", reply.cosine.toFixed(3), "cosine");
    }
    const notes = [];
    if (!reply.heads) notes.push("No quality heads on this server: start it with --heads to rate quality.");
    if (reply.note) notes.push(reply.note);
    ui.scores.querySelector(".clip-name").textContent = "“" + name + "”";
    ui.scores.querySelector(".note").textContent = notes.join(" ");
    ui.scores.hidden = false;
  }

  function showError(message) {
    ui.error.textContent = message;
    ui.error.hidden = !message;
  }

  async function load(append) {
    ui.results.setAttribute("aria-busy", "true");
    showError("");
    ui.status.textContent = append ? "Loading more…" : "Searching " + last.label + "…";
    try {
      const page = await last.fetch(last.offset);
      if (!append) ui.results.replaceChildren();
      page.results.forEach((hit) => ui.results.appendChild(renderHit(hit)));
      const shown = ui.results.children.length;
      ui.status.textContent = shown ? shown + " result" + (shown === 1 ? "" : "s") + " for " + last.label + "." :
        "No results for " + last.label + ". Try other words or fewer filters.";
      last.offset = page.next_offset;
      ui.more.hidden = page.next_offset === null || page.next_offset === undefined;
      if (!append && shown) ui.results.querySelector(".result .title").focus({ preventScroll: true });
    } catch (err) {
      ui.status.textContent = "";
      showError(err.message);
    } finally {
      ui.results.setAttribute("aria-busy", "false");
    }
  }

  function run(fetchPage, label) {
    last = { fetch: fetchPage, label: label, offset: 0 };
    return load(false);
  }

  ui.textForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.query.value.trim();
    if (!text) { showError("Type what the music sounds like."); ui.query.focus(); return; }
    run(textSearch(text), "“" + text + "”");
  });

  ui.audioForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = ui.clip.files && ui.clip.files[0];
    if (!file) { showError("Choose an audio file first."); ui.clip.focus(); return; }
    run(audioSearch(file), "the clip “" + file.name + "”");
  });

  ui.scoreForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = ui.scoreClip.files && ui.scoreClip.files[0];
    if (!file) { showError("Choose an audio file to score."); ui.scoreClip.focus(); return; }
    const form = new FormData();
    form.append("file", file);
    const prompt = ui.scorePrompt.value.trim();
    if (prompt) form.append("prompt", prompt);
    showError("");
    ui.status.textContent = "Scoring “" + file.name + "”…";
    try {
      renderScores(file.name, await api("/score", { method: "POST", body: form }));
      ui.status.textContent = "Scored “" + file.name + "”.";
    } catch (err) {
      ui.status.textContent = "";
      showError(err.message);
    }
  });

  ui.more.addEventListener("click", () => { if (last && last.offset !== null) load(true); });

  // Only one track plays at a time.
  ui.results.addEventListener("play", (event) => {
    ui.results.querySelectorAll("audio").forEach((a) => { if (a !== event.target) a.pause(); });
  }, true);

  api("/labels").then((info) => {
    (info.genres || []).forEach((g) => {
      const option = document.createElement("option");
      option.value = g;
      option.textContent = g;
      ui.genre.appendChild(option);
    });
  }).catch(() => { /* the menu keeps "All genres" only */ });
})();
