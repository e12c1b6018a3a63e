"""A music folder read with mutagen: embedded tags become attributes, tags and a plain caption.

Artist, album, title, genre, year, BPM, key and mood are read (ID3, Vorbis comments, MP4 atoms through
mutagen's easy interface, plus ID3 ``TKEY``). The caption says only what the tags say ("rock, "Song" by
Artist, from Album (1999), 120 BPM, in A minor, mood: calm"). A file with none of these tags is rejected
(``untagged``) unless ``--allow-untagged``, which captions it with its file name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mutagen

from muscall.data.formats.base import FormatOptions, Reject, SourceRows
from muscall.audio.decode import AUDIO_SUFFIXES
from muscall.errors import MuscallError

FIELDS = {"artist": ("artist", "albumartist"), "album": ("album",), "title": ("title",), "genre": ("genre",),
          "year": ("date", "year", "originaldate"), "bpm": ("bpm", "tbpm"),
          "key": ("initialkey", "key", "tkey"), "mood": ("mood",)}
TAG_SUFFIXES = AUDIO_SUFFIXES


def read_tags(src: Path, options: FormatOptions) -> SourceRows:
    """One record per audio file under ``src`` (recursively), captioned from its tags."""
    if not src.is_dir():
        raise MuscallError(f"--format tags reads a folder of music; '{src}' is not a folder")
    files = sorted(p for p in src.rglob("*") if p.suffix.lower() in TAG_SUFFIXES and p.is_file())
    if not files:
        raise MuscallError(f"folder '{src}' has no audio files ({', '.join(TAG_SUFFIXES)})")
    out = SourceRows(base=src, records=[])
    for path in files:
        tags = read_file_tags(path)
        if isinstance(tags, Reject):
            out.rejects.append(tags)
        elif not tags and not options.allow_untagged:
            out.rejects.append(Reject(None, str(path), "untagged", "no artist/album/title/genre/year/BPM/key/mood "
                                                                   "tag; tag the file or pass --allow-untagged"))
        else:
            out.records.append((None, _record(path, tags)))
    return out


def read_file_tags(path: Path) -> dict[str, str] | Reject:
    """The known tags of one file (field -> text), or a Reject when mutagen cannot read it."""
    try:
        easy = mutagen.File(path, easy=True)
        raw = mutagen.File(path) if easy is not None and path.suffix.lower() == ".mp3" else None
    except Exception as err:  # mutagen raises many types for broken headers
        return Reject(None, str(path), "bad_tags", f"mutagen cannot read the tags ({type(err).__name__}: {err})")
    found: dict[str, Any] = {}
    for source in (easy, raw):
        if source is None or source.tags is None:
            continue
        lower = {str(k).lower(): v for k, v in source.tags.items()}
        for name, keys in FIELDS.items():
            value = next((_text(lower[k]) for k in keys if k in lower and _text(lower[k])), None)
            if value and name not in found:
                found[name] = value
    return found


def _text(value: Any) -> str:
    items = value if isinstance(value, list) else getattr(value, "text", [value])
    return ", ".join(str(v).strip() for v in items if str(v).strip())


def caption_from_tags(tags: dict[str, str]) -> str:
    """A plain caption that says only what the tags say."""
    parts = []
    head = f'"{tags["title"]}"' if "title" in tags else "a track"
    if "artist" in tags:
        head += f" by {tags['artist']}"
    if "album" in tags:
        head += f", from {tags['album']}" + (f" ({tags['year']})" if "year" in tags else "")
    elif "year" in tags:
        head += f" ({tags['year']})"
    parts.append(f"{tags['genre']}, {head}" if "genre" in tags else head)
    parts += [f"{tags['bpm']} BPM"] if "bpm" in tags else []
    parts += [f"in {tags['key']}"] if "key" in tags else []
    parts += [f"mood: {tags['mood']}"] if "mood" in tags else []
    return ", ".join(parts)


def _record(path: Path, tags: dict[str, str]) -> dict[str, Any]:
    caption = caption_from_tags(tags) if tags else path.stem.replace("_", " ")
    labels = [t for name in ("genre", "mood") if name in tags for t in tags[name].split(", ")]
    return {"path": str(path), "caption": caption, "tags": labels, "attributes": dict(tags)}
