"""Recording fingerprints of generated music: a copy re-encoded, gain-changed or trimmed matches; other music not.

Decision (documented in index.fingerprint): renderings of one MIDI performance through the packaged GM
soundfonts are the same recording to a fingerprint. FluidR3 Mono and MuseScore General share much of
FluidR3's samples (the renderings' waveforms correlate at 0.93-0.95, closer than many codec copies), so
they match; the same score played by other instruments is another recording and does not.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from index.fingerprint import DEFAULT_THRESHOLD, HOP_SECONDS, match
from muscall.audio.decode import decode
from muscall.audio.features import MelFrontEnd
from muscall.audio.ffmpeg import encode
from muscall.audio.fingerprint import fingerprint
from muscall.config import load_config
from muscall.data.synth.compose import compose
from muscall.data.synth.instruments import lookup
from muscall.data.synth.styles import STYLES
from muscall.errors import MuscallError

SR, SECONDS = 16000, 15.0
AUDIO = load_config("tiny").audio
UNRELATED = 0.65  # the most that other music reaches at its best shift


@pytest.fixture(scope="module")
def renderer(soundfont):
    from muscall.data.synth.render import Renderer
    r = Renderer(soundfont, SR)
    yield r
    r.close()


def piece(genre: str, seed: int):
    return compose(STYLES[genre], np.random.default_rng(seed), SECONDS)


def print_of(wave: np.ndarray) -> np.ndarray:
    return fingerprint(MelFrontEnd(AUDIO).mel(np.ascontiguousarray(wave, dtype=np.float32)), AUDIO)


@pytest.mark.parametrize("genre", ["jazz", "string quartet"])
def test_the_same_recording_matches_through_codec_gain_and_trim(renderer, genre, tmp_path):
    wave = renderer.render(piece(genre, 1), SECONDS)
    original = print_of(wave)
    encode(tmp_path / "copy.mp3", wave, SR, "libmp3lame", 64_000)
    mp3 = decode(tmp_path / "copy.mp3", AUDIO)
    cut = int(2.45 * SR)  # half a fingerprint hop off the grid: the worst alignment
    for name, copy in {"mp3": mp3, "gain -6 dB": wave * 0.5, "trimmed mp3": mp3[cut:],
                       "end cut": wave[: -3 * SR]}.items():
        found = match(original, print_of(copy))
        assert found.score >= DEFAULT_THRESHOLD, f"{genre} {name}: {found}"
    assert match(original, print_of(mp3[cut:])).offset_s == pytest.approx(2.45, abs=HOP_SECONDS)
    assert match(original, print_of(wave * 0.5)).score > 0.99  # gain moves every level alike


def test_other_pieces_do_not_match(renderer):
    prints = [print_of(renderer.render(piece(genre, seed), SECONDS))
              for genre, seed in (("jazz", 1), ("jazz", 2), ("rock", 1), ("ambient", 3))]
    for i in range(len(prints)):
        for j in range(i + 1, len(prints)):
            assert match(prints[i], prints[j]).score < UNRELATED


def test_the_same_score_on_other_instruments_is_another_recording(renderer):
    score = piece("string quartet", 3)  # no drum part, which would be the same recording in both
    other = dataclasses.replace(score, parts=[dataclasses.replace(p, instrument=lookup(program))
                                              for p, program in zip(score.parts, (73, 48, 32))])
    found = match(print_of(renderer.render(score, SECONDS)), print_of(renderer.render(other, SECONDS)))
    assert found.score < DEFAULT_THRESHOLD


@pytest.mark.parametrize("name", ["fluidr3mono-gm", "musescore-general"])
def test_one_performance_through_another_packaged_soundfont_matches(renderer, name):
    from muscall.data.synth.render import Renderer
    from muscall.data.synth.soundfonts import known_path
    try:
        path = known_path(name)
    except MuscallError as err:
        pytest.skip(str(err))
    score = piece("jazz", 1)
    other = Renderer(str(path), SR)
    try:
        assert match(print_of(renderer.render(score, SECONDS)), print_of(other.render(score, SECONDS))).score \
            >= DEFAULT_THRESHOLD
    finally:
        other.close()


def test_words_follow_the_seconds_grid_and_bad_input_is_refused():
    mel = np.random.default_rng(0).normal(size=(AUDIO.feature_rows, 1250)).astype(np.float32)  # 10 s of frames
    assert len(fingerprint(mel, AUDIO)) == pytest.approx(10 / HOP_SECONDS, abs=2)
    with pytest.raises(ValueError, match="log-mel"):
        fingerprint(mel[:10], AUDIO)
    with pytest.raises(MuscallError, match="too few"):
        fingerprint(mel, dataclasses.replace(AUDIO, n_mels=8))

