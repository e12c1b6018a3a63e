"""Request and response models (pydantic); their examples document every endpoint in /docs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = str | float | bool
MAX_K = 1000  # hard schema bound; the server's serve.max_k may be lower
MAX_OFFSET = 100_000


class ErrorBody(BaseModel):
    """Every error response: what is wrong and how to fix it."""

    detail: str = Field(examples=["invalid request: k: Input should be less than or equal to 1000"])
    errors: list[dict[str, Any]] | None = Field(None, description="field errors of a 422 validation failure")


class SearchFilters(BaseModel):
    """Which tracks may be returned; every condition given must hold. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"genre": "jazz", "tags_any": ["piano", "calm"], "duration_min": 30, "duration_max": 300}]})

    genre: str | list[str] | None = Field(None, description="value(s) of the 'genre' attribute")
    tags_any: list[str] | None = Field(None, max_length=100, description="at least one of these tags")
    tags_all: list[str] | None = Field(None, max_length=20, description="every one of these tags")
    duration_min: float | None = Field(None, ge=0, le=1e7, description="seconds")
    duration_max: float | None = Field(None, ge=0, le=1e7, description="seconds")
    attributes: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict, description="equality on filterable attributes (a list means any of them)")

    @model_validator(mode="after")
    def _durations(self) -> SearchFilters:
        if self.duration_min is not None and self.duration_max is not None and self.duration_min > self.duration_max:
            raise ValueError("duration_min must not exceed duration_max")
        return self


class TextSearchRequest(BaseModel):
    """A natural-language query."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"query": "calm piano with soft strings", "k": 10, "offset": 0, "filters": {"genre": "jazz"},
         "with_moment": True}]})

    query: str = Field(min_length=1, max_length=4096, description="what the music sounds like (limit: "
                       "serve.max_query_chars)")
    k: int = Field(10, ge=1, le=MAX_K, description="results per page (limit: serve.max_k)")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="results to skip, for paging (limit: serve.max_offset)")
    filters: SearchFilters | None = None
    with_moment: bool = Field(False, description="add each track's best-matching window (when stored)")

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is blank; describe the music you are looking for")
        return value.strip()


class FilteredPage(BaseModel):
    """A page of results with simple filters: the form fields of /search/audio, the query of /tracks/{id}/similar."""

    k: int = Field(10, ge=1, le=MAX_K, description="results per page (limit: serve.max_k)")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="results to skip, for paging (limit: serve.max_offset)")
    genre: str | None = Field(None, max_length=200, description="value of the 'genre' attribute")
    tags_any: str | None = Field(None, max_length=2000, description="comma-separated tags")
    duration_min: float | None = Field(None, ge=0, le=1e7, description="seconds")
    duration_max: float | None = Field(None, ge=0, le=1e7, description="seconds")


class Moment(BaseModel):
    """The part of a track that matches the query best."""

    start: float = Field(description="seconds")
    end: float = Field(description="seconds")
    score: float = Field(description="cosine of that window with the query")


class Track(BaseModel):
    """A catalog track."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"track_id": "jazz/song1.flac", "title": "song1", "duration": 31.5, "tags": ["jazz", "piano"],
         "attributes": {"genre": "jazz"}, "audio_url": "/tracks/jazz%2Fsong1.flac/audio"}]})

    track_id: str
    title: str
    duration: float | None = Field(None, description="seconds")
    tags: list[str]
    attributes: dict[str, Any]
    audio_url: str = Field(description="stream of the track's audio (HTTP Range supported)")


class Duplicate(BaseModel):
    """Another track judged the same recording."""

    track: Track
    score: float = Field(description="the larger of track_cosine and window_cosine")
    track_cosine: float = Field(description="cosine of the two track vectors")
    window_cosine: float | None = Field(None, description="best window alignment (robust to trims); null without "
                                                          "window vectors")
    fingerprint: float | None = Field(None, description="recording fingerprint match, 1 - bit error rate at the best "
                                                        "shift; null when either track has no fingerprint")
    offset_s: float | None = Field(None, description="where the later-named track starts in the other, in seconds, "
                                                     "by the fingerprints")
    overlap_s: float | None = Field(None, description="seconds of the two fingerprints compared")
    level_spread_db: float | None = Field(None, description="spread across frequency bands of the two tracks' level "
                                                            "difference (dB): small for a copy, large for a remaster")
    kind: Literal["copy", "version"] | None = Field(None, description=(
        "copy: the same master (another encoding, gain or trim); version: the same performance in another master "
        "or mix; null when the catalog stores no fingerprints or level profiles"))


class DuplicatesResponse(BaseModel):
    """The duplicates of one track, best first."""

    track_id: str
    threshold: float
    duplicates: list[Duplicate]


class SearchHit(BaseModel):
    """One ranked result."""

    rank: int = Field(description="1-based rank over all pages")
    score: float = Field(description="cosine similarity with the query; for a text query that names a key or mode, "
                                     "plus serve.key_weight x the track's agreement with it (may exceed 1)")
    track: Track
    moment: Moment | None = None


class QueryReading(BaseModel):
    """How text search read the query, so a user can see what it understood and rephrase what it did not."""

    key: str | None = Field(None, description="the key, tonic or mode the query states, which re-ranks its nearest "
                                              "tracks by their chroma (\"F# minor\", \"D (major or minor)\", "
                                              "\"minor (any key)\"); null when it states none")
    mapped_words: dict[str, str] | None = Field(None, description="words the model never saw in training, each "
                                                                  "with the known word read in its place; null when "
                                                                  "the model has no vocabulary bridge")
    unknown_words: list[str] | None = Field(None, description="words the model never saw and found no close known "
                                                              "word for: they carry little, try another word; null "
                                                              "when the model has no vocabulary bridge")
    caption_share: float = Field(0.0, description="share of the query's embedding taken from the training "
                                                  "captions nearest to it (the more unknown words, the more)")


class SearchResponse(BaseModel):
    """A page of results."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"query": "calm piano", "k": 1, "offset": 0, "next_offset": 1, "took_ms": 3.2, "cached_query": False,
         "reading": {"key": None, "mapped_words": {}, "unknown_words": [], "caption_share": 0.0},
         "moments_available": True, "results": [{"rank": 1, "score": 0.41, "moment": {"start": 10.0, "end": 30.0,
                                                                                       "score": 0.45},
                                                 "track": Track.model_config["json_schema_extra"]["examples"][0]}]}]})

    query: str | None = Field(None, description="the text query (text search) or the reference track id")
    k: int
    offset: int
    next_offset: int | None = Field(None, description="offset of the next page, null on the last page")
    results: list[SearchHit]
    took_ms: float
    cached_query: bool | None = Field(None, description="text search: the query embedding came from the cache")
    moments_available: bool = Field(False, description="the server holds window embeddings for moments")
    reading: QueryReading | None = Field(None, description="text search: how the query was read; null for audio "
                                                           "and track searches, and when it could not be said")


class LabelScore(BaseModel):
    """A label's zero-shot score."""

    label: str
    probability: float = Field(description="softmax over the label set of cosine / temperature")
    cosine: float


class TagResponse(BaseModel):
    """Zero-shot tags of a clip or a track: the tag (or an explicit abstention) and the top labels, best first."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"label_set": "genres", "source": "upload", "track_id": None, "label": "jazz", "abstained": False,
         "abstain_below": 0.5, "temperature": 0.031, "calibration": "fitted",
         "results": [{"label": "jazz", "probability": 0.71, "cosine": 0.32}]},
        {"label_set": "genres", "source": "upload", "track_id": None, "label": None, "abstained": True,
         "abstain_below": 0.5, "temperature": 0.031, "calibration": "fitted",
         "results": [{"label": "jazz", "probability": 0.38, "cosine": 0.12}]}]})

    label_set: str
    source: Literal["upload", "track"]
    track_id: str | None = None
    label: str | None = Field(description="the tag: the top label, or null when the tagging abstained")
    abstained: bool = Field(description="true when the top probability is below abstain_below: none of these labels")
    abstain_below: float | None = Field(None, description="the abstention threshold applied (null: never abstain)")
    temperature: float = Field(description="softmax temperature of the probabilities")
    calibration: Literal["fitted", "none"] = Field(
        description="fitted: the temperature fitted on validation data for these labels ('muscall eval zeroshot "
                    "--fit-temperature'); none: the model's learned temperature")
    results: list[LabelScore] = Field(description="the top labels, best first (shown even when abstained)")


class ScoreResponse(BaseModel):
    """Quality and text-alignment scores of a clip."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"prompt": "calm piano", "scores": {"production_quality": 6.8}, "cosine": 0.21, "alignment": 0.605,
         "alignment_calibrated": False, "heads": True, "note": "alignment is the raw cosine mapped to [0, 1]"}]})

    prompt: str | None = None
    scores: dict[str, float] = Field(description="trained quality axes (empty without --heads)")
    cosine: float | None = Field(None, description="clip-prompt cosine (with a prompt)")
    alignment: float | None = Field(None, description="text alignment in [0, 1]: calibrated, else (cos + 1) / 2")
    alignment_calibrated: bool
    heads: bool = Field(description="trained quality heads are loaded")
    note: str | None = None


class Removed(BaseModel):
    """A deleted track."""

    track_id: str
    removed: bool = True


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    """Readiness: the model and the index are loaded."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"status": "ready", "tracks": 1200, "dim": 512, "factory": "HNSW32", "model_sha256": "3fa9...",
         "writable": True, "moments": True, "heads": False, "label_sets": ["genres"], "uptime_s": 12.5}]})

    status: Literal["ready"] = "ready"
    tracks: int
    dim: int
    factory: str
    model_sha256: str
    writable: bool
    moments: bool
    heads: bool
    label_sets: list[str]
    uptime_s: float


class LabelSets(BaseModel):
    """Label sets for /tag and the values the page's filters offer."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"label_sets": {"genres": ["jazz", "rock"]}, "genres": ["jazz", "rock"], "attribute_fields": ["genre"]}]})

    label_sets: dict[str, list[str]]
    genres: list[str]
    attribute_fields: list[str]
