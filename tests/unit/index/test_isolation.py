"""The index package must stay importable without torch or muscall."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import index

PACKAGE = Path(index.__file__).resolve().parent


def test_import_pulls_in_neither_torch_nor_muscall():
    code = ("import index, index.build, index.persist, index.synthetic, sys; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'muscall')]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_source_never_mentions_torch_or_muscall_imports():
    pattern = re.compile(r"^\s*(import|from)\s+(torch|muscall)\b", re.MULTILINE)
    offenders = [p.name for p in PACKAGE.glob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
