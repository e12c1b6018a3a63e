"""One clip from (seed, index): genre, split, composition, audio, caption and manifest row; and one shard of them.

Everything about clip ``i`` is drawn from random streams seeded by ``(seed, i, stream)``, so a clip does not
depend on the shard size, the worker count or the clips rendered before it.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from index.fileio import atomic_path
from muscall.data.manifest import SPLITS, ClipRow, write_manifest
from muscall.data.synth.captions import derive_moods, make_caption
from muscall.data.synth.compose import compose
from muscall.data.synth.heldout import heldout_descriptions
from muscall.data.synth.performance import draw_performance, perform, render_window, score_seconds
from muscall.data.synth.production import apply_mix, draw_production
from muscall.data.synth.render import Renderer, SoundfontBank, finish
from muscall.data.synth.soundfonts import choose_soundfont, split_pairs
from muscall.data.synth.styles import GENRES, STYLES, Style

FORMATS = {"flac": ("FLAC", "PCM_16"), "wav": ("WAV", "PCM_16")}
LOUDNESS_DB = (-26.0, -14.0)  # target RMS range, dBFS
COMPOSE, RENDER, CAPTION, SPLIT, GENRE, SOUND, PRODUCE, PERFORM, NOISE, WORDING = range(10)  # random streams per clip


@dataclass(frozen=True)
class SynthSettings:
    """Everything that decides the corpus content (a resumed run must use the same)."""

    n: int = 2000
    seconds: float = 10.0
    seed: int = 0
    sample_rate: int = 16000
    genres: tuple[str, ...] = GENRES
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1)
    shard_size: int = 16
    audio_format: str = "flac"
    captions: int = 5  # captions per clip: the first is `caption`, the rest go to `captions`
    soundfonts: tuple[str, ...] = ()  # "name=path" each; filled in by generate_corpus
    holdout_soundfont: str = ""  # renders test-split clips only
    production: str = "default"  # "none": the clean rendering (no production chain, no performance variation)
    holdout_wording: bool = False  # test clips also get attributes heldout_caption and short_query (heldout.py)

    @property
    def n_shards(self) -> int:
        return -(-self.n // self.shard_size)

    def shard_range(self, shard: int) -> range:
        return range(shard * self.shard_size, min((shard + 1) * self.shard_size, self.n))


def stream(seed: int, index: int, which: int) -> np.random.Generator:
    """The random generator for one purpose of one clip."""
    return np.random.default_rng(np.random.SeedSequence([seed, index, which]))


def clip_id(seed: int, index: int) -> str:
    return f"synth{seed}-{index:06d}"


def genre_for(index: int, seed: int, genres: tuple[str, ...]) -> str:
    """Balanced genres: each consecutive block of len(genres) clips holds every genre once, in a seeded order."""
    block = index // len(genres)
    order = np.random.default_rng(np.random.SeedSequence([seed, block, GENRE, 7919])).permutation(len(genres))
    return genres[int(order[index % len(genres)])]


def split_for(index: int, seed: int, fractions: tuple[float, float, float]) -> str:
    """train / val / test drawn per clip with the given probabilities."""
    u = float(stream(seed, index, SPLIT).random())
    edges = np.cumsum(fractions) / sum(fractions)
    return SPLITS[min(int(np.searchsorted(edges, u, side="right")), len(SPLITS) - 1)]


def synth_clip(index: int, settings: SynthSettings, bank: SoundfontBank) -> tuple[np.ndarray, ClipRow]:
    """Compose, perform, render, produce and caption clip ``index``: int16 mono samples and its manifest row."""
    seed = settings.seed
    genre = genre_for(index, seed, settings.genres)
    split = split_for(index, seed, settings.splits)
    sound = choose_soundfont(stream(seed, index, SOUND), list(split_pairs(settings.soundfonts)), split,
                             settings.holdout_soundfont)
    render = _produced if settings.production == "default" else _clean
    piece, audio, production = render(index, settings, STYLES[genre], bank[sound])
    target = float(stream(seed, index, RENDER).uniform(*LOUDNESS_DB))
    pcm, level = finish(audio, target, settings.sample_rate)
    moods = derive_moods(genre, piece.mode, piece.bpm, piece.dynamics)
    attrs = piece.attributes()
    attrs.update(moods=moods, reverb=attrs.pop("reverb"), loudness_db=level, soundfont=sound,
                 soundfont_heldout=sound == settings.holdout_soundfont, production=production)
    names = list(dict.fromkeys(i["name"] for i in attrs["instruments"]))
    cid = clip_id(seed, index)
    wording = stream(seed, index, CAPTION)
    caption, *more = [make_caption(attrs, wording) for _ in range(max(1, settings.captions))]
    if settings.holdout_wording and split == "test":
        attrs.update(heldout_descriptions(attrs, stream(seed, index, WORDING)))
    row = ClipRow(id=cid, audio_path=f"audio/{cid}.{settings.audio_format}", caption=caption, split=split,
                  tags=[genre, *names, *moods], attributes=attrs, duration=float(settings.seconds), captions=more)
    return pcm, row


def _clean(index: int, settings: SynthSettings, style: Style, renderer: Renderer):
    """The piece from its first downbeat, centred, with the style's reverb and nothing else."""
    piece = compose(style, stream(settings.seed, index, COMPOSE), settings.seconds)
    return piece, renderer.render(piece, settings.seconds), {"preset": "none"}


def _produced(index: int, settings: SynthSettings, style: Style, renderer: Renderer):
    """The piece as performed (timing, swing, drift, start offset) and produced (room, pans, EQ, compressor)."""
    seed, seconds, sr = settings.seed, settings.seconds, settings.sample_rate
    rng = stream(seed, index, PRODUCE)
    perf = draw_performance(style, rng)
    piece = compose(style, stream(seed, index, COMPOSE), score_seconds(perf, seconds))
    _, skip = render_window(perf)
    played = perform(piece, perf, style, stream(seed, index, PERFORM), skip + seconds)
    chain = draw_production(rng, piece, sr)
    stage = chain.stage(piece, rng)
    audio = apply_mix(renderer.render(played, seconds, stage, skip), chain, sr, stream(seed, index, NOISE))
    return piece, audio, {"preset": "default", **perf.attributes(), **chain.attributes(), "pans": stage.pans}


def write_audio(path: Path, pcm: np.ndarray, sample_rate: int, audio_format: str) -> None:
    """Write int16 mono samples atomically as FLAC or WAV."""
    fmt, subtype = FORMATS[audio_format]
    with atomic_path(path) as tmp:
        sf.write(tmp, pcm, sample_rate, format=fmt, subtype=subtype)


def part_path(out: Path, shard: int) -> Path:
    return Path(out) / "parts" / f"shard-{shard:05d}.jsonl"


@dataclass
class ShardResult:
    """What a worker reports back for one finished shard."""

    shard: int
    clips: int
    genres: dict[str, int] = field(default_factory=dict)


def render_shard(out: Path, settings: SynthSettings, shard: int, bank: SoundfontBank) -> ShardResult:
    """Render every clip of ``shard`` into ``out/audio``, then commit the shard by writing its part file last."""
    rows = []
    for index in settings.shard_range(shard):
        pcm, row = synth_clip(index, settings, bank)
        write_audio(Path(out) / row.audio_path, pcm, settings.sample_rate, settings.audio_format)
        rows.append(row)
    write_manifest(part_path(out, shard), rows)
    genres: dict[str, int] = {}
    for row in rows:
        genres[row.attributes["genre"]] = genres.get(row.attributes["genre"], 0) + 1
    return ShardResult(shard, len(rows), genres)


_WORKER_BANK: SoundfontBank | None = None


def init_worker(soundfonts: tuple[str, ...], sample_rate: int) -> None:
    """Pool initializer: one soundfont bank per worker process (each soundfont loaded when first needed).

    Workers ignore Ctrl-C: the parent stops handing out shards and lets the ones in flight commit.
    """
    global _WORKER_BANK
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_BANK = SoundfontBank(soundfonts, sample_rate)


def worker_shard(out: str, settings: SynthSettings, shard: int) -> ShardResult:
    """Pool task: render one shard with this worker's soundfonts."""
    assert _WORKER_BANK is not None, "init_worker was not run in this process"
    return render_shard(Path(out), settings, shard, _WORKER_BANK)
