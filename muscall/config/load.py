"""Loading configs: named YAML files and ``key.sub=value`` overrides merged over the dataclass defaults.

``load_config("small", ["train.epochs=3"])`` merges, in order: the dataclass defaults, the named
YAML file shipped in ``muscall/configs`` (or any YAML path), then the overrides, and validates the
result. Unknown keys, values of the wrong type and failed cross-field checks raise :class:`ConfigError`
naming the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Union

import yaml

from muscall.config.checks import validate_config
from muscall.config.schema import Config
from muscall.errors import MuscallError

CONFIG_DIR = Path(__file__).parent.parent / "configs"


class ConfigError(MuscallError, ValueError):
    """A config key, value or file is wrong; the message names it and the fix."""


def list_configs() -> list[str]:
    """Names of the configs shipped inside the package."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(name_or_path: str | Path = "paper", overrides: list[str] | None = None) -> Config:
    """Load a named config (or a YAML path), apply ``key.sub=value`` overrides and validate the result.

    Raises:
        ConfigError: the file, a key, a value's type or a cross-field check (:func:`validate_config`) is wrong.
    """
    path = _resolve(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err}); fix the syntax") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(raw).__name__}")
    raw.setdefault("name", path.stem)
    for item in overrides or []:
        key, value = _parse_override(item)
        _set_dotted(raw, key, value)
    cfg = from_dict(Config, raw)
    problems = validate_config(cfg)
    if problems:
        raise ConfigError(f"config '{name_or_path}' is invalid:\n  - " + "\n  - ".join(problems))
    return cfg


# Keys that existed once and were removed: a checkpoint written before the removal still loads (the key is dropped
# with a log line); a config file that sets one is refused with the reason. Add a key here when you remove it.
RETIRED_KEYS: dict[str, str] = {
    "train.batch_clusters": "caption-cluster batches were measured far worse and removed (commit 1e81df1)",
    "train.caption_clusters": "the cluster count of the removed caption-cluster batches (commit 1e81df1)",
}


def drop_retired(raw: dict[str, Any]) -> list[str]:
    """Remove retired keys from a nested config dict in place; returns the dotted keys it removed."""
    dropped = []
    for dotted in RETIRED_KEYS:
        *parents, leaf = dotted.split(".")
        node = raw
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            del node[leaf]
            dropped.append(dotted)
    return dropped


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a config dataclass (for YAML, JSON and checkpoints)."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a nested dict, checking every key and type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        where = prefix.rstrip(".") or "top level"
        if f"{prefix}{unknown[0]}" in RETIRED_KEYS:
            raise ConfigError(f"config key '{prefix}{unknown[0]}' no longer exists: "
                              f"{RETIRED_KEYS[prefix + unknown[0]]}; delete it from the config")
        raise ConfigError(f"unknown config key '{prefix}{unknown[0]}' ({where} accepts: {', '.join(sorted(names))})")
    kwargs = {}
    for key, value in data.items():
        kwargs[key] = _coerce(hints[key], value, f"{prefix}{key}")
    return cls(**kwargs)


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"config file '{path}' does not exist")
        return path
    shipped = CONFIG_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ConfigError(f"no config named '{name_or_path}'; choose one of {list_configs()} or give a .yaml path")
    return shipped


def _parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key.sub=value (e.g. train.epochs=3)")
    key, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        value = text
    return key.strip(), value


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override '{key}': '{part}' is a value, not a section")
    node[parts[-1]] = value


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' expects a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        return [_coerce(item_tp, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "2e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"config key '{key}' expects {getattr(tp, '__name__', tp)}, got {value!r}")
