"""GET /tracks/{id}/duplicates with recording fingerprints: vector candidates are kept only where they match."""

from __future__ import annotations

import numpy as np

from index.duplicates import Confirm
from index.fingerprint import BITS, pack_bits


def test_fingerprints_confirm_candidates(writable):
    client, state = writable()
    url = "/tracks/jazz%2Ftone0.wav/duplicates"
    nearest = [d["track"]["track_id"] for d in client.get(url, params={"threshold": -1, "k": 3}).json()["duplicates"]]
    assert len(nearest) == 3
    rng = np.random.default_rng(0)
    mine = pack_bits(rng.normal(scale=2.0, size=(200, BITS)))
    prints = {"jazz/tone0.wav": mine, nearest[0]: mine[10:], nearest[1]: pack_bits(rng.normal(size=(200, BITS)))}
    state.fingerprints = Confirm(prints.get)  # nearest[2] has none: it stands on its vector
    body = client.get(url, params={"threshold": -1, "k": 3}).json()["duplicates"]
    assert sorted(d["track"]["track_id"] for d in body) == sorted([nearest[0], nearest[2]])
    copy = next(d for d in body if d["track"]["track_id"] == nearest[0])
    assert copy["fingerprint"] == 1.0 and copy["offset_s"] is not None
    assert next(d for d in body if d["track"]["track_id"] == nearest[2])["fingerprint"] is None
    lenient = client.get(url, params={"threshold": -1, "k": 3, "fingerprint_threshold": 0}).json()["duplicates"]
    assert len(lenient) == 3
    assert client.get(url, params={"fingerprint_threshold": 1.5}).status_code == 422


def test_duplicates_say_copy_or_version_and_filter_by_kind(writable):
    client, state = writable()
    url = "/tracks/jazz%2Ftone0.wav/duplicates"
    nearest = [d["track"]["track_id"] for d in client.get(url, params={"threshold": -1, "k": 2}).json()["duplicates"]]
    rng = np.random.default_rng(1)
    mine = pack_bits(rng.normal(scale=2.0, size=(200, BITS)))
    base = (-30 + 6 * rng.normal(size=(20, BITS + 1))).astype(np.float32)
    prints = {"jazz/tone0.wav": mine, nearest[0]: mine, nearest[1]: mine}
    levels = {"jazz/tone0.wav": base, nearest[0]: base - 6.0, nearest[1]: base + np.linspace(-5, 5, BITS + 1)}
    state.fingerprints = Confirm(prints.get, levels=levels.get)
    body = client.get(url, params={"threshold": -1, "k": 2}).json()["duplicates"]
    kinds = {d["track"]["track_id"]: (d["kind"], d["level_spread_db"], d["overlap_s"]) for d in body}
    assert kinds[nearest[0]][0] == "copy" and kinds[nearest[0]][1] <= 0.01 and kinds[nearest[0]][2] > 0
    assert kinds[nearest[1]][0] == "version" and kinds[nearest[1]][1] > 2
    copies = client.get(url, params={"threshold": -1, "k": 2, "kind": "copy"}).json()["duplicates"]
    assert [d["track"]["track_id"] for d in copies] == [nearest[0]]
    assert client.get(url, params={"kind": "remix"}).status_code == 422
