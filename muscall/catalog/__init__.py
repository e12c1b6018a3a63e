"""Catalog jobs: embed an audio collection into index shards, tag a catalog zero-shot, build and query indexes.

The embedding job runs three stages, each usable alone (in the spirit of clip-retrieval's runner)::

    inputs = load_inputs("songs/")                        # reader: what to embed, in a fixed order
    reader = TrackReader(inputs, cfg.audio)               #         decoded whole-track log-mels (or a failure)
    mapper = TrackMapper(model, cfg.audio, batch_size=32) # mapper: windows batched across tracks -> vectors
    store = PartStore(out / "parts", part_size, sha)      # writer: per-part shards, then one merged catalog

``run_embed_job`` joins them (resumable, torchrun-aware) and ``run_tag_job`` scores a finished catalog
against a zero-shot classifier.
"""

from muscall.catalog.job import EmbedJob, EmbedResult, run_embed_job
from muscall.catalog.mapper import TrackMapper
from muscall.catalog.reader import DecodedTrack, TrackInput, TrackReader, load_inputs, read_tracks
from muscall.catalog.tagging import TagJob, TagResult, run_tag_job
from muscall.catalog.writer import PartStore, merge_parts

__all__ = [
    "DecodedTrack", "EmbedJob", "EmbedResult", "PartStore", "TagJob", "TagResult", "TrackInput", "TrackMapper",
    "TrackReader", "load_inputs", "merge_parts", "read_tracks", "run_embed_job", "run_tag_job",
]
