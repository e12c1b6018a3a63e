"""``muscall data synth|import|degrade``: make or bring (audio, caption) data."""

from __future__ import annotations

import argparse
import importlib

# Each module defines ``register(subparsers)`` for one ``muscall data`` verb.
VERBS = ["_data_synth", "_data_import", "_data_degrade"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="generate, import or degrade (audio, caption) data")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    for name in VERBS:
        try:
            module = importlib.import_module(f"muscall.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"muscall.cli.{name}":
                raise
            continue
        module.register(verbs)
