"""Service settings round trip and `muscall serve` argument handling."""

from __future__ import annotations

import argparse

import pytest

from api.cli import build_settings, register
from api.settings import Settings
from muscall.config import ConfigError


def test_settings_round_trip_through_json(tmp_path):
    s = Settings(index_dir=tmp_path / "idx", checkpoint=str(tmp_path / "ckpt"), labels=tmp_path / "l.json")
    s.serve.max_k = 7
    back = Settings.from_json(s.to_json())
    assert back == s and back.media == tmp_path / "idx" / "media"
    assert s.max_upload_bytes == 20 * 1024 * 1024 + 64 * 1024


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["serve", "--catalog", "idx", "--checkpoint", "ck", *argv])


def test_serve_arguments_become_settings(monkeypatch):
    monkeypatch.setenv("MUSCALL_API_KEY", "from-env")
    s = build_settings(_args("--port", "9000", "--set", "max_k=50", "--set", "serve.protect_reads=true",
                             "--windows", "cat"))
    assert s.serve.port == 9000 and s.serve.max_k == 50 and s.serve.protect_reads and s.serve.api_key == "from-env"
    assert str(s.windows_dir) == "cat" and s.writable
    assert build_settings(_args("--api-key", "flag")).serve.api_key == "flag"
    assert build_settings(_args("--workers", "3")).writable  # workers share the saved index, writes too
    with pytest.raises(ConfigError, match="max_kk"):
        build_settings(_args("--set", "max_kk=1"))
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        build_settings(_args("--set", "max_k"))
    with pytest.raises(ConfigError, match="--workers"):
        build_settings(_args("--workers", "0"))
