"""``muscall validate CONFIG``: check a named config or YAML file."""

from __future__ import annotations

import argparse

import yaml

from muscall.config import config_to_dict, list_configs, load_config

EPILOG = """examples:
  muscall validate small
  muscall validate my_config.yaml train.epochs=5
  muscall validate --all
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a config", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", default=None, help=f"a shipped name ({', '.join(list_configs())}) or a .yaml path")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides")
    p.add_argument("--all", action="store_true", help="validate every shipped config")
    p.add_argument("--print", action="store_true", help="print the merged config as YAML")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load (and so validate) each named config; print it with ``--print``."""
    names = list_configs() if args.all else [args.config or "paper"]
    for name in names:
        cfg = load_config(name, args.overrides)  # raises ConfigError naming each problem
        print(f"{name}: ok")
        if args.print:
            print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    return 0
