"""The index package must stay importable without torch or muscall (its static import rules are the contracts in
pyproject.toml, tests/unit/test_architecture.py; this checks what actually loads at run time)."""

from __future__ import annotations

import ast
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


def test_imports_sit_at_module_level_only():
    """An import inside a function or behind TYPE_CHECKING would hide an import cycle."""
    offenders = []
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))}
        nested = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in top]
        if nested or "TYPE_CHECKING" in path.read_text():
            offenders.append(path.name)
    assert offenders == []
