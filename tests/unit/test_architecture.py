"""The house rules that keep the code easy to change: the import contracts in pyproject.toml, and small files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 350
SOURCE_DIRS = ("muscall", "index", "api", "scripts", "tests")


def test_import_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    """index apart from muscall/torch, api services free of HTTP, muscall layered, training a leaf, no cycles."""
    from importlinter.cli import lint_imports

    try:
        code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    finally:  # import-linter's logging set-up disables the loggers that exist; later tests read their records
        for logger in logging.Logger.manager.loggerDict.values():
            if isinstance(logger, logging.Logger):
                logger.disabled = False
    out = capsys.readouterr().out
    assert code == 0, out[out.find("Broken contracts"):] or out


def test_the_contracts_name_every_rule() -> None:
    """Each rule the README promises has a contract, so deleting one is a visible change."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert {c["type"] for c in contracts} >= {"forbidden", "layers", "acyclic_siblings"}
    leaf = next(c for c in contracts if "training is a leaf" in c["name"])
    assert leaf["forbidden_modules"] == ["muscall.training"]


def test_no_source_file_is_over_350_lines() -> None:
    too_long = []
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            n = sum(1 for _ in path.open(encoding="utf-8"))
            if n > MAX_LINES:
                too_long.append(f"{path.relative_to(ROOT)} ({n} lines)")
    assert not too_long, f"split these files (over {MAX_LINES} lines): {', '.join(too_long)}"
