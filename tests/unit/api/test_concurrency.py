"""Concurrent adds, removes and searches from many threads on two workers over one index folder: every request
succeeds and no update is lost, whichever worker made it."""

from __future__ import annotations

import threading

from index import open_catalog


def test_concurrent_adds_removes_and_searches_on_two_workers_lose_nothing(workers, wav, api_key):
    (a, state_a), (b, state_b) = workers(2)
    clients = [a, b]
    headers = {"X-API-Key": api_key}
    errors: list[str] = []
    done = threading.Event()
    searches = [0]
    clips = {f"added/{w}-{i}": wav(1.0, freq=200.0 + 37 * (4 * w + i)) for w in range(4) for i in range(3)}
    removed = ["jazz/tone0.wav", "rock/tone1.wav", "ambient/tone2.wav", "jazz/tone3.wav"]

    def adder(w: int) -> None:
        for i in range(3):
            tid = f"added/{w}-{i}"
            r = clients[(w + i) % 2].post("/tracks", files={"file": ("a.wav", clips[tid], "audio/wav")},
                                          data={"track_id": tid}, headers=headers)
            if r.status_code != 201:
                errors.append(f"add {tid}: {r.status_code} {r.text}")

    def remover() -> None:
        for i, tid in enumerate(removed):
            r = clients[i % 2].delete(f"/tracks/{tid.replace('/', '%2F')}", headers=headers)
            if r.status_code != 200:
                errors.append(f"remove {tid}: {r.status_code} {r.text}")

    def searcher(client) -> None:
        while not done.is_set():
            r = client.post("/search/text", json={"query": "music", "k": 20})
            if r.status_code != 200:
                errors.append(f"search: {r.status_code} {r.text}")
            else:
                searches[0] += 1
                ids = [h["track"]["track_id"] for h in r.json()["results"]]
                if len(ids) != len(set(ids)):
                    errors.append(f"duplicate results {ids}")

    writers = [threading.Thread(target=adder, args=(w,)) for w in range(4)] + [threading.Thread(target=remover)]
    readers = [threading.Thread(target=searcher, args=(c,)) for c in clients for _ in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=180)
    done.set()
    for t in readers:
        t.join(timeout=30)
    assert not errors, errors[:3]
    assert searches[0] > 0
    expected = ({f"{g}/tone{i}.wav" for i, g in enumerate(["jazz", "rock", "ambient"] * 3) if i < 8}
                - set(removed)) | set(clips)
    with open_catalog(state_a.settings.index_dir) as saved:  # the last save holds every acknowledged update
        assert {r.track_id for r in saved.tracks(saved.db.live_ids())} == expected
    for client, state in ((a, state_a), (b, state_b)):
        final = client.post("/search/text", json={"query": "music", "k": 50}).json()["results"]
        assert {h["track"]["track_id"] for h in final} == expected
        assert {r.track_id for r in state.catalog.tracks(state.catalog.db.live_ids())} == expected
        assert state.live.generation == 1 + len(clips) + len(removed)  # the build's save, then one per update
