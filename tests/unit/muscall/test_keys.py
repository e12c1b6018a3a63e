"""Key and mode in search: the key a query states, a clip's chroma profile, their agreement and the re-ranking."""

from __future__ import annotations

import numpy as np
import pytest

from index import Hit, TrackRecord
from muscall import keys
from muscall.keys import StatedKey, stated_key

SR = 16000


def tones(midis: list[int], seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return sum(np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * h * t) / h for m in midis for h in (1, 2, 3))


def profile(key: int) -> np.ndarray:
    """A chroma profile shaped like the key's Krumhansl-Kessler profile."""
    base = np.array(keys.MAJOR_PROFILE if key < 12 else keys.MINOR_PROFILE)
    return np.roll(base / base.sum(), key % 12)


@pytest.mark.parametrize("text, expected", [
    ("A techno track in F# minor", StatedKey(1, 6 + 12)),
    ("jazz ballad in B-flat major, brushed drums", StatedKey(0, 10)),
    ("Bb major waltz", StatedKey(0, 10)),
    ("something in e minor please", StatedKey(1, 4 + 12)),
    ("piano piece in A minor", StatedKey(1, 9 + 12)),
    ("A minor piano piece", None),  # a sentence's "A" reads as the article: the mode needs "in" or "key"
    ("A minor-key ballad", StatedKey(1)),
    ("A major label pop hit", None),
    ("Eb maj, slow", StatedKey(0, 3)),
    ("C sharp minor nocturne", StatedKey(1, 1 + 12)),
    ("a sad piece in a minor key", StatedKey(1)),  # "a" is the article: the mode alone
    ("upbeat MAJOR key pop", StatedKey(0)),
    ("F♯ minor", StatedKey(1, 6 + 12)),
    ("Bflat minor", StatedKey(1, 10 + 12)),
    ("Ebminor", StatedKey(1, 3 + 12)),
    ("Am ballad", StatedKey(1, 9 + 12)),  # chord names
    ("F#m groove", StatedKey(1, 6 + 12)),
    ("C major-key anthem", StatedKey(0, 0)),
    ("a minor-key song", StatedKey(1)),
    ("in minor", StatedKey(1)),
    ("calm ambient pads with piano", None),
    ("drum and bass, minimal techno", None),  # "bass" and "minimal" name no key or mode
    ("a major hit with minor details", None),  # "major" and "minor" that are not the mode
    ("B-flat clarinet and drums", None),
    ("I am here", None),
    ("Am I wrong to want sad jazz", None),
    ("Em, something chill", None),
    ("Dm7 groove", StatedKey(1, 2 + 12)),
    ("Fmaj7 vibes", StatedKey(0, 5)),
    ("something in the key of D", StatedKey(None, tonic=2)),  # a tonic alone: either mode
    ("Key of Bb, slow", StatedKey(None, tonic=10)),
    ("key of F sharp please", StatedKey(None, tonic=6)),
    ("in the key of E, a minor-key tune", StatedKey(1, 4 + 12)),  # a tonic and a mode named apart make a key
    ("the key of a good song", None),  # lower case: the article
    ("key of D minor", StatedKey(1, 2 + 12)),
    ("sad but not in minor", None),  # negated: states nothing
    ("no minor keys please", None),
    ("anything but D minor", None),
    ("without a minor-key feel, in G major", StatedKey(0, 7)),  # the negated mode is skipped, the key read
    ("not sad, in E minor", StatedKey(1, 4 + 12)),  # the negation ends at the comma
    ("sad but in D minor", StatedKey(1, 2 + 12)),  # "but" alone is no negation
    ("a song with no drums in D minor", StatedKey(1, 2 + 12)),  # "no" negates the drums
    ("not in the key of D", None),
    ("not in D minor key", None),  # the negated key's "minor key" is not read as the mode
    ("no D minor key songs", None),
    ("anything but the C major scale", None),
    ("not in C major key, in a minor key", StatedKey(1)),
    ("not in the key of D minor", None),
    ("I don't want it in a minor key", None),
    ("isn’t in D minor", None),
    ("other than D minor", None),
    ("I won't be in minor", None),
    ("Don’t want anything in minor, cheery pop", None),
    ("no D minor in a major key", StatedKey(0)),  # the negation covers D minor only
    ("not C major in minor", StatedKey(1)),
    ("upbeat song, nothing in minor", None),
    ("no vocals, in E minor", StatedKey(1, 4 + 12)),  # the negation ends at the comma
    ("songs in the key of d", StatedKey(None, tonic=2)),  # lower case after "key of"
    ("in the key of f#", StatedKey(None, tonic=6)),
    ("Symphony No. 5 in C minor", StatedKey(1, 12)),
])
def test_stated_key_reads_keys_and_modes_in_any_wording(text, expected):
    assert stated_key(text) == expected


def test_chroma_profile_finds_the_key_of_a_chord_and_is_flat_for_silence():
    a_minor = keys.chroma_profile(tones([57, 60, 64, 69]), SR)  # A C E A
    assert a_minor.shape == (12,) and a_minor.sum() == pytest.approx(1.0)
    assert int(keys.key_correlations(a_minor[None])[0].argmax()) == 9 + 12
    g_major = keys.chroma_profile(tones([55, 59, 62, 67]), SR)  # G B D G
    assert int(keys.key_correlations(g_major[None])[0].argmax()) == 7
    np.testing.assert_allclose(keys.chroma_profile(np.zeros(SR), SR), np.full(12, 1 / 12))


def test_a_stated_key_must_state_something():
    with pytest.raises(ValueError, match="states nothing"):
        StatedKey(None)


def test_key_agreement_rewards_the_stated_key_and_mode():
    chroma = np.stack([profile(7), profile(2 + 12)])  # G major, D minor
    g_major = keys.key_agreement(StatedKey(0, 7), chroma)
    assert g_major[0] == pytest.approx(1.0) and g_major[1] < 0.5
    minor = keys.key_agreement(StatedKey(1), chroma)
    assert minor[1] > 0.3 and minor[0] < -0.3  # P(minor) - 0.5: near +0.5 for the minor profile, -0.5 for the major
    on_d = keys.key_agreement(StatedKey(None, tonic=2), np.stack([profile(2), profile(2 + 12), profile(8)]))
    assert on_d[0] == pytest.approx(1.0) and on_d[1] == pytest.approx(1.0)  # D major and D minor both fit "key of D"
    assert on_d[2] < 0.0  # Ab major does not


def test_with_key_agreement_lifts_matching_tracks_and_leaves_the_rest():
    scores = np.array([0.50, 0.49, 0.48, 0.47])
    chromas = [profile(0), profile(7), profile(2 + 12), None]  # C major, G major, D minor, no stored chroma
    lifted = keys.with_key_agreement(scores, "bright pop in G major", chromas, 0.3)
    agreement = keys.key_agreement(StatedKey(0, 7), np.stack(chromas[:3]))
    assert lifted.argmax() == 1
    assert lifted[3] == pytest.approx(scores[3] + 0.3 * np.median(agreement))  # neither gains nor loses
    np.testing.assert_array_equal(keys.with_key_agreement(scores, "bright pop", chromas, 0.3), scores)
    np.testing.assert_array_equal(keys.with_key_agreement(scores, "bright pop in G major", chromas, 0.0), scores)


def test_rerank_hits_reorders_by_the_sum_and_fetches_deeper_only_for_keyed_queries():
    def hit(score: float, track_id: str, chroma: np.ndarray | None) -> Hit:
        attributes = {} if chroma is None else keys.chroma_attribute(chroma)
        return Hit(score, TrackRecord(track_id, attributes=attributes))

    hits = [hit(0.50, "c", profile(0)), hit(0.49, "g", profile(7)), hit(0.10, "old", None)]
    ranked = keys.rerank_hits(hits, "in G major", 0.3)
    assert [h.track.track_id for h in ranked] == ["g", "c", "old"]
    assert ranked[0].score == pytest.approx(0.49 + 0.3 * keys.key_agreement(StatedKey(0, 7), profile(7)[None])[0],
                                            abs=1e-3)
    assert keys.rerank_hits(hits, "no key here", 0.3) is hits
    pool = keys.KEY_POOL
    assert keys.rerank_depth(10, "in G major", 0.3) == pool
    assert keys.rerank_depth(pool + 50, "in G major", 0.3) == pool + 50
    assert keys.rerank_depth(10, "no key here", 0.3) == 10 and keys.rerank_depth(10, "in G major", 0.0) == 10
    assert keys.rerank_depth(10, None, 0.3) == 10


def test_pages_of_a_keyed_query_continue_one_ranking():
    rng = np.random.default_rng(0)
    n = 3 * keys.KEY_POOL
    cosines = np.sort(rng.uniform(0.0, 0.6, n))[::-1]
    tracks = [Hit(float(c), TrackRecord(f"t{i}", attributes=keys.chroma_attribute(profile(int(rng.integers(24))))))
              for i, c in enumerate(cosines)]

    def page(offset: int, k: int) -> list[str]:  # as the service pages: fetch to the depth, re-rank, slice
        want = keys.rerank_depth(offset + k, "in G major", 0.3)
        return [h.track.track_id for h in keys.rerank_hits(tracks[:want], "in G major", 0.3)[offset:offset + k]]

    pages = [t for offset in range(0, 2 * keys.KEY_POOL, 10) for t in page(offset, 10)]
    assert len(set(pages)) == len(pages) == 2 * keys.KEY_POOL
    assert pages == page(0, 2 * keys.KEY_POOL)
    assert pages[keys.KEY_POOL:] == [f"t{i}" for i in range(keys.KEY_POOL, 2 * keys.KEY_POOL)]  # past the pool


def test_key_bonus_is_zero_for_texts_that_state_no_key():
    chromas = [profile(0), profile(9 + 12)]
    bonus = keys.key_bonus(["pop in C major", "a calm piece", "sad, in a minor key"], np.zeros((3, 2)), chromas, 0.3)
    assert bonus.shape == (3, 2)
    assert bonus[0, 0] > bonus[0, 1] and not bonus[1].any() and bonus[2, 1] > bonus[2, 0]


def test_key_bonus_ranks_as_search_does_past_the_pool():
    rng = np.random.default_rng(1)
    n = 2 * keys.KEY_POOL + 17
    cosines = rng.uniform(-0.2, 0.6, n)
    chromas = [keys.track_chroma(keys.chroma_attribute(profile(int(k)))) for k in rng.integers(24, size=n)]
    chromas[3] = None  # a track embedded before profiles were stored
    text = "dark techno in F# minor"
    bonus = keys.key_bonus([text], cosines[None], chromas, 0.3)[0]
    evaluated = np.argsort(-(cosines + bonus), kind="stable")
    hits = [Hit(float(cosines[i]), TrackRecord(f"{i}", attributes={} if chromas[i] is None else
                                               keys.chroma_attribute(chromas[i]))) for i in np.argsort(-cosines)]
    searched = [int(h.track.track_id) for h in keys.rerank_hits(hits, text, 0.3)]
    assert searched == evaluated.tolist()  # the pool re-ranked, the rest after it in cosine order


def test_track_chroma_reads_only_a_stored_profile():
    assert keys.track_chroma(keys.chroma_attribute(profile(0))).shape == (12,)
    for attributes in ({}, {"chroma": [1.0, 2.0]}, {"chroma": "C major"}, {"chroma": [float("nan")] * 12}):
        assert keys.track_chroma(attributes) is None


def test_key_name_reads_as_a_user_would_write_it():
    assert keys.key_name(stated_key("in F# minor")) == "F# minor"
    assert keys.key_name(stated_key("Bb major waltz")) == "Bb major"
    assert keys.key_name(stated_key("in the key of D")) == "D (major or minor)"
    assert keys.key_name(stated_key("in minor")) == "minor (any key)"
