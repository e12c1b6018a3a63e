"""What a caption can state about a clip (genre, instruments, tempo, moods, key/mode) and the corpus vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from muscall.audio.signal import PITCH_CLASSES as NOTES  # the spelling of changed keys
from muscall.data.manifest import ClipRow

KINDS = ("genre", "instrument", "tempo", "mood", "key")
TEMPO_CLASSES = ("slow", "moderate", "fast", "very fast")
TEMPO_BPM = {"slow": (60, 80), "moderate": (90, 115), "fast": (125, 155), "very fast": (165, 190)}
TEMPO_WORDS = {"slow": ("slow", "unhurried", "leisurely"), "moderate": ("moderate", "medium", "steady"),
               "fast": ("fast", "brisk", "quick"), "very fast": ("very fast", "frantic", "breakneck")}
PITCH_CLASS = {**{n: i for i, n in enumerate(NOTES)}, "Db": 1, "D#": 3, "Gb": 6, "G#": 8, "A#": 10}
NOUNS = ("track", "piece", "tune", "recording", "instrumental")
# mood -> (high arousal?, positive valence?); a changed mood comes from a quadrant the clip has no mood in
MOOD_QUADRANTS = {
    **dict.fromkeys(("energetic", "happy", "uplifting", "groovy", "playful", "cheerful", "joyful"), (1, 1)),
    **dict.fromkeys(("aggressive", "dark", "intense", "powerful", "angry", "tense"), (1, 0)),
    **dict.fromkeys(("peaceful", "calm", "gentle", "dreamy", "chill", "laid-back", "romantic", "elegant",
                     "graceful", "sophisticated", "relaxed"), (0, 1)),
    **dict.fromkeys(("melancholic", "nostalgic", "sad", "soulful", "hypnotic", "somber"), (0, 0)),
}
FALLBACK_GENRES = ("rock", "jazz", "techno", "reggae", "ambient", "hip hop", "blues", "country", "metal", "funk")
FALLBACK_INSTRUMENTS = ("piano", "acoustic guitar", "electric guitar", "violin", "trumpet", "saxophone",
                        "synth lead", "organ", "flute", "drums")


@dataclass(frozen=True)
class Vocabulary:
    """Replacement words: the corpus's genres, instrument names and moods (fallback lists when too few)."""

    genres: tuple[str, ...]
    instruments: tuple[str, ...]
    moods: tuple[str, ...]

    @classmethod
    def from_rows(cls, rows: Iterable[ClipRow]) -> "Vocabulary":
        genres, instruments, moods = set(), set(), set()
        for row in rows:
            facts = Facts.from_attributes(row.attributes)
            genres.update([facts.genre] if facts.genre else [])
            instruments.update(facts.instruments)
            moods.update(facts.moods)
        return cls(_enough(genres, FALLBACK_GENRES), _enough(instruments, FALLBACK_INSTRUMENTS),
                   _enough(moods, tuple(MOOD_QUADRANTS)))


def _enough(found: set[str], fallback: tuple[str, ...], minimum: int = 4) -> tuple[str, ...]:
    return tuple(sorted(found if len(found) >= minimum else found | set(fallback)))


@dataclass(frozen=True)
class Facts:
    """What a caption states about a clip; lists hold what is mentioned."""

    genre: str | None = None
    instruments: tuple[str, ...] = ()
    tempo: str | None = None
    bpm: int | None = None
    moods: tuple[str, ...] = ()
    key: str | None = None
    mode: str | None = None

    @classmethod
    def from_attributes(cls, attrs: dict[str, Any]) -> "Facts":
        """Facts from a manifest row's attributes (synth layout); unknown or missing ones stay empty."""
        instruments = [i.get("name") if isinstance(i, dict) else i for i in attrs.get("instruments") or []]
        bpm = attrs.get("bpm")
        bpm = int(round(float(bpm))) if isinstance(bpm, (int, float)) and bpm > 0 else None
        mode = attrs.get("mode") if attrs.get("mode") in ("major", "minor") else None
        genre = attrs.get("genre")
        return cls(genre=str(genre).replace("_", " ") if genre else None,
                   instruments=tuple(dict.fromkeys(str(i) for i in instruments if i)),
                   tempo=tempo_class(bpm) if bpm else None, bpm=bpm,
                   moods=tuple(dict.fromkeys(str(m) for m in attrs.get("moods") or [] if m)),
                   key=str(attrs["key"]) if attrs.get("key") in PITCH_CLASS else None, mode=mode)

    def kinds(self) -> list[str]:
        """The kinds of fact this caption states, in :data:`KINDS` order."""
        have = {"genre": self.genre, "instrument": self.instruments, "tempo": self.tempo, "mood": self.moods,
                "key": self.key or self.mode}
        return [k for k in KINDS if have[k]]


def tempo_class(bpm: float) -> str:
    """slow / moderate / fast / very fast (same bounds as the synth corpus captions)."""
    return "slow" if bpm < 85 else "moderate" if bpm < 120 else "fast" if bpm < 160 else "very fast"




def norm(word: str | None) -> str:
    """Lower-case, spaces for underscores: how words are compared."""
    return (word or "").replace("_", " ").strip().lower()
