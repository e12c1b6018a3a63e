"""Duplicates of one track: the same recording elsewhere in the catalog (another encoding, gain or trim).

Vector candidates are confirmed by recording fingerprints when the service's ``--windows`` catalog stores them
(tracks added through the API have none, so their pairs stand on their vectors).
"""

from __future__ import annotations

from dataclasses import replace

from api.services.search import get_track, track_vector
from api.services.state import ServiceState
from index.duplicates import DuplicatePair, duplicates_of, of_kind


def track_duplicates(state: ServiceState, track_id: str, threshold: float, k: int,
                     fingerprint_threshold: float | None = None, kind: str = "all") -> list[DuplicatePair]:
    """Pairs with ``track_id``, best first; window alignment where the service has window vectors, fingerprint
    confirmation where it has fingerprints (``fingerprint_threshold``: None for the default)."""
    record = get_track(state, track_id)
    windows = state.windows.get if state.windows_available else None
    confirm = state.fingerprints
    if confirm is not None and fingerprint_threshold is not None:
        confirm = replace(confirm, threshold=fingerprint_threshold)
    pairs = duplicates_of(state.catalog, record.track_id, threshold, windows, k, track_vector(state, record), confirm)
    return of_kind(pairs, kind)
