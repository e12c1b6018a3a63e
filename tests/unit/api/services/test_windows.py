"""The window store of a service without an embedding catalog: windows of added tracks, seen by every worker."""

from __future__ import annotations

import numpy as np

from api.services.windows import WindowStore


def test_another_workers_first_windows_show_with_the_next_generation(tmp_path):
    mine, other = WindowStore(tmp_path), WindowStore(tmp_path)  # two workers, one media folder
    assert not mine.available(1)
    other.put("added", np.ones((2, 4), np.float32))  # the other worker's add, saved as generation 2
    assert other.available(2)
    assert not mine.available(1)  # the folder is not scanned again while the generation stands
    assert mine.available(2)  # the new generation: looked at again, at once
    np.testing.assert_array_equal(mine.get("added"), np.ones((2, 4), np.float32))
    other.drop("added")
    assert not other.available(3) and not mine.available(3)
