"""A saved catalog shared by several processes: each maps it read-only and follows the writes of the others.

    live = LiveCatalog("out/index", expected_dim=512)
    live.refresh()                      # one small file read; reopens (mapped, cheap) after another process saved
    hits = live.catalog.search_tracks(q, 10)
    with live.edit() as cat:            # the newest save, writable, under the folder's exclusive lock
        cat.add(vectors, metas)         # saved as the next generation on exit; then this process maps it

The FAISS index and the metadata snapshot are memory-mapped (``open_catalog(mmap=True)``), so N processes
serving one folder share one copy of it in the page cache. A refresh swaps ``catalog`` in one assignment:
callers already holding the old catalog finish on it, and it is closed once nothing refers to it any more.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from index.catalog import Catalog
from index.errors import CatalogError
from index.persist import edit_catalog, generation_number, generation_token, open_catalog

log = logging.getLogger(__name__)


class LiveCatalog:
    """The newest saved catalog of a folder, memory-mapped read-only and reopened when its generation changes."""

    def __init__(self, directory: str | Path, expected_dim: int | None = None,
                 expected_model_hash: str | None = None, verify: bool = True, gpu: int | None = None):
        self.directory = Path(directory)
        self.gpu = gpu  # CUDA device each opened catalog searches on (Catalog.set_gpu), None: CPU
        self._expected = {"expected_dim": expected_dim, "expected_model_hash": expected_model_hash}
        self._lock = threading.Lock()
        self._token = generation_token(self.directory) if self.directory.is_dir() else None
        self.catalog: Catalog = self._open(verify)

    @property
    def generation(self) -> int:
        """How many saves the catalog now open had seen (0 for a folder saved before generations existed)."""
        return generation_number(self._token)

    def changed(self) -> bool:
        """True when the folder's generation differs from the one open (one small read)."""
        return generation_token(self.directory) != self._token

    def refresh(self) -> bool:
        """Reopen the catalog when the folder holds a newer save than the one open; True when it did.

        The check reads the small generation file (microseconds). The token is read before the catalog is
        opened, so a save landing in between is seen again on the next refresh, never missed. A newer save that
        fails to open is logged and the open catalog kept until the next save.
        """
        if generation_token(self.directory) == self._token:
            return False
        with self._lock:
            token = generation_token(self.directory)
            if token == self._token:
                return False  # another thread reopened it meanwhile
            try:
                catalog = self._open(verify=False)
            except CatalogError as err:
                log.error("cannot open the new save of %s (%s); still serving the previous one", self.directory, err)
                self._token = token
                return False
            self.catalog, self._token = catalog, token
            log.info("reopened %s at generation %d (%d tracks)", self.directory, self.generation, catalog.ntotal)
        return True

    def _open(self, verify: bool) -> Catalog:
        catalog = open_catalog(self.directory, mmap=True, verify=verify, **self._expected)
        if self.gpu is not None:
            catalog.set_gpu(self.gpu)
        return catalog

    @contextmanager
    def edit(self) -> Iterator[Catalog]:
        """A writable copy of the newest save (``index.persist.edit_catalog``); this process maps the new
        generation as soon as it is saved, so its next read sees the change."""
        with edit_catalog(self.directory, **self._expected) as catalog:
            yield catalog
        try:  # the change is saved; failing to map it here only delays it to the next refresh
            self.refresh()
        except (OSError, CatalogError, sqlite3.DatabaseError) as err:
            log.error("saved %s, but cannot reopen it yet (%s); the next request retries", self.directory, err)

    def close(self) -> None:
        """Close the open catalog."""
        self.catalog.close()
