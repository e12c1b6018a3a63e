"""The ``muscall`` command: one entry point, one small module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import pkgutil
import sys

from muscall.errors import MuscallError

import muscall.cli

# Commands of other packages (api's `serve`) register through this entry-point group, so muscall never imports them.
PLUGIN_GROUP = "muscall.commands"
# Every module here but main defines ``register(subparsers)``, which adds its parser and sets ``func``.
SUBCOMMANDS = sorted(m.name for m in pkgutil.iter_modules(muscall.cli.__path__) if not m.name.startswith("_") and m.name != "main")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="muscall", description="Natural-language music search.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"muscall.cli.{name}").register(sub)
    for entry in importlib.metadata.entry_points(group=PLUGIN_GROUP):  # e.g. `serve`, from the api package
        entry.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear line and exit with status 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except Exception as err:
        if not _user_error(err):
            raise
        print(f"muscall {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"muscall {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


def _user_error(err: Exception) -> bool:
    """MuscallError, or the index package's CatalogError (index cannot import muscall, so it has its own)."""
    index_errors = sys.modules.get("index.errors")  # a CatalogError can only come from an imported index
    return isinstance(err, MuscallError) or (index_errors is not None and isinstance(err, index_errors.CatalogError))


if __name__ == "__main__":
    sys.exit(main())
