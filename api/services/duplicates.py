"""Duplicates of one track: the same recording elsewhere in the catalog (another encoding, gain or trim)."""

from __future__ import annotations

from api.services.search import get_track, track_vector
from api.services.state import ServiceState
from index.duplicates import DuplicatePair, duplicates_of


def track_duplicates(state: ServiceState, track_id: str, threshold: float, k: int) -> list[DuplicatePair]:
    """Pairs with ``track_id``, best first; window alignment where the service has window vectors."""
    record = get_track(state, track_id)
    windows = state.windows.get if state.windows_available else None
    return duplicates_of(state.catalog, record.track_id, threshold, windows, k, track_vector(state, record))
