"""Composition: theory helpers and the style-typical parts (no audio rendered)."""

from __future__ import annotations

import numpy as np
import pytest

from muscall.data.synth.compose import beat_time, compose
from muscall.data.synth.instruments import DRUM_CHANNEL
from muscall.data.synth.patterns import KICK
from muscall.data.synth.styles import GENRES, STYLES, get_style, parse_genres
from muscall.data.synth.theory import parse_numeral, parse_progression, voice_chord
from muscall.errors import MuscallError


def test_numerals_give_the_right_chords():
    assert parse_numeral("V7", 0).pitch_classes() == [7, 11, 2, 5]  # G B D F in C
    assert parse_numeral("ii7", 0).pitch_classes() == [2, 5, 9, 0]  # D F A C
    assert parse_numeral("bVII", 9).pitch_classes() == [7, 11, 2]  # G major in A minor
    assert parse_numeral("iiø7", 9).pitch_classes() == [11, 2, 5, 9]
    assert [c.symbol for c in parse_progression("I-V-vi-IV", 0)] == ["I", "V", "vi", "IV"]
    with pytest.raises(ValueError):
        parse_numeral("Q7", 0)
    assert voice_chord(parse_numeral("I", 0), 40, "power") == [48, 55, 60]


def test_every_style_parses_and_has_twelve_or_more_genres():
    assert len(GENRES) >= 12
    for style in STYLES.values():
        for prog in style.major + style.minor:
            parse_progression(prog, 0)
    assert parse_genres("rock, hip_hop,bossa-nova") == ["rock", "bossa nova", "hip hop"]
    with pytest.raises(MuscallError, match="unknown genre 'polka'"):
        get_style("polka")


def parts(genre: str, seed: int = 0, seconds: float = 8.0):
    piece = compose(STYLES[genre], np.random.default_rng(seed), seconds)
    return piece, {p.role: p for p in piece.parts}


@pytest.mark.parametrize("genre", GENRES)
def test_piece_attributes_follow_the_style(genre):
    style = STYLES[genre]
    for seed in range(3):
        piece, by_role = parts(genre, seed)
        assert style.bpm[0] <= piece.bpm <= style.bpm[1]
        assert piece.mode in ("major", "minor") and 0 <= piece.tonic < 12
        assert ("drums" in by_role) == (style.drums is not None)
        assert all(by_role[r].notes for r in by_role), f"{genre}: a part is empty"
        lead = np.mean([n.key for n in by_role["lead"].notes])
        bass = np.mean([n.key for n in by_role["bass"].notes])
        assert bass < lead - 12, f"{genre}: bass (mean {bass}) not well below the lead (mean {lead})"
        assert all(n.start < 8.0 and n.end > n.start and 1 <= n.velocity <= 127 for p in piece.parts for n in p.notes)


def test_no_drums_for_string_quartet_and_ambient():
    for genre in ("string quartet", "ambient"):
        piece, _ = parts(genre)
        assert all(p.channel != DRUM_CHANNEL for p in piece.parts)


def test_waltz_is_in_three_with_bass_on_each_downbeat():
    piece, by_role = parts("waltz")
    assert piece.attributes()["meter"] == "3/4"
    bar = 3 * 60 / piece.bpm
    starts = np.array([n.start for n in by_role["bass"].notes])
    assert np.allclose(starts / bar, np.round(starts / bar), atol=0.05)  # oom on beat one
    assert len(starts) >= int(8.0 / bar) - 1


def test_techno_kick_is_four_on_the_floor():
    piece, by_role = parts("techno")
    beat = 60 / piece.bpm
    kicks = sorted(n.start for n in by_role["drums"].notes if n.key == KICK)
    assert np.allclose(np.diff(kicks), beat, atol=0.002)
    assert len(kicks) >= int(8.0 / beat) - 1


def test_reggae_skank_falls_off_the_beat():
    for seed in range(4):
        piece, by_role = parts("reggae", seed)
        beat = 60 / piece.bpm
        pos = np.array([n.start for n in by_role["comp"].notes]) / beat % 4
        on_one = np.isclose(pos, 0, atol=0.05) | np.isclose(pos, 4, atol=0.05)
        assert not on_one.any(), "the reggae comp never hits beat one"


def test_swing_delays_the_offbeat_eighth():
    assert beat_time(1.5, 60, swing=0.66) == pytest.approx(1.66)
    assert beat_time(1.5, 60) == pytest.approx(1.5)
    assert beat_time(0.25, 60, swing=0.6, swing16=True) == pytest.approx(0.3)
    piece, by_role = parts("jazz")
    beat = 60 / piece.bpm
    frac = np.array([n.start for n in by_role["drums"].notes]) / beat % 1
    assert np.any(np.abs(frac - STYLES["jazz"].swing) < 0.06)
    assert not np.any(np.abs(frac - 0.5) < 0.03)


def test_composition_is_seeded():
    a, _ = parts("funk", 5)
    b, _ = parts("funk", 5)
    c, _ = parts("funk", 6)
    assert a == b and a != c
