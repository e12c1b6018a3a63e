"""Concurrent adds, removes and searches from many threads: every request succeeds and no update is lost."""

from __future__ import annotations

import threading

from index import open_catalog


def test_concurrent_adds_removes_and_searches_lose_nothing(writable, wav, api_key):
    client, state = writable()
    headers = {"X-API-Key": api_key}
    errors: list[str] = []
    done = threading.Event()
    searches = [0]
    clips = {f"added/{w}-{i}": wav(1.0, freq=200.0 + 37 * (4 * w + i)) for w in range(3) for i in range(4)}
    removed = ["jazz/tone0.wav", "rock/tone1.wav", "ambient/tone2.wav", "jazz/tone3.wav"]

    def adder(w: int) -> None:
        for i in range(4):
            tid = f"added/{w}-{i}"
            r = client.post("/tracks", files={"file": ("a.wav", clips[tid], "audio/wav")},
                            data={"track_id": tid}, headers=headers)
            if r.status_code != 201:
                errors.append(f"add {tid}: {r.status_code} {r.text}")

    def remover() -> None:
        for tid in removed:
            r = client.delete(f"/tracks/{tid.replace('/', '%2F')}", headers=headers)
            if r.status_code != 200:
                errors.append(f"remove {tid}: {r.status_code} {r.text}")

    def searcher() -> None:
        while not done.is_set():
            r = client.post("/search/text", json={"query": "music", "k": 20})
            if r.status_code != 200:
                errors.append(f"search: {r.status_code} {r.text}")
            else:
                searches[0] += 1
                ids = [h["track"]["track_id"] for h in r.json()["results"]]
                if len(ids) != len(set(ids)):
                    errors.append(f"duplicate results {ids}")

    writers = [threading.Thread(target=adder, args=(w,)) for w in range(3)] + [threading.Thread(target=remover)]
    readers = [threading.Thread(target=searcher) for _ in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    done.set()
    for t in readers:
        t.join(timeout=30)
    assert not errors, errors[:3]
    assert searches[0] > 0
    expected = ({f"{g}/tone{i}.wav" for i, g in enumerate(["jazz", "rock", "ambient"] * 3) if i < 8}
                - set(removed)) | set(clips)
    live = {r.track_id for r in state.catalog.tracks(state.catalog.db.live_ids())}
    assert live == expected and state.catalog.ntotal == 16
    with open_catalog(state.settings.index_dir) as saved:  # the last save holds every acknowledged update
        assert {r.track_id for r in saved.tracks(saved.db.live_ids())} == expected
    final = client.post("/search/text", json={"query": "music", "k": 50}).json()["results"]
    assert {h["track"]["track_id"] for h in final} == expected
