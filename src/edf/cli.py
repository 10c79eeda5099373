"""The ``edf`` command. Each area registers its own subcommands (``edf.commands.*``).

Command modules are imported lazily by name so ``edf --help`` stays fast and a missing optional
extra (e.g. Spark) breaks only the commands that need it, with a message saying which extra.

Commands that only make sense on a laptop (``demo``, ``workflow``, ``serve``, ``local``) live in the
sibling package ``edf_local`` and arrive as plugins through the ``edf.commands`` entry-point group:
``edf`` never imports ``edf_local``, so the Lambda zips and the job image, which ship ``edf`` alone,
still have a working ``edf`` command without them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import sys

# Each module defines ``register(subparsers)``; add one line per area.
COMMAND_MODULES = (
    "edf.commands.data",
    "edf.commands.features",
    "edf.commands.backtest",
    "edf.commands.models",
    "edf.commands.monitor",
    "edf.commands.optimization",
    "edf.commands.weather",
)
PLUGIN_GROUP = "edf.commands"


def plugin_modules() -> list[str]:
    """Command modules other installed packages contribute (entry points of ``edf.commands``)."""
    found = importlib.metadata.entry_points(group=PLUGIN_GROUP)
    return [ep.value for ep in sorted(found, key=lambda ep: ep.name)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edf",
        description="EDF: building electricity demand and rooftop-solar forecasting. "
        "Run `edf COMMAND --help` for each command.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for name in plugin_modules():
        try:
            module = importlib.import_module(name)
        except ImportError as exc:  # a plugin whose package is absent from this install (e.g. the job image)
            logging.getLogger(__name__).debug("command plugin %s not available: %s", name, exc)
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "botocore", "urllib3", "cmdstanpy", "prophet", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except CommandError as exc:
        print(f"edf {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


class CommandError(Exception):
    """A user-facing failure: printed as one sentence, no traceback."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


if __name__ == "__main__":
    sys.exit(main())
