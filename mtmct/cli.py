"""The `mtmct` command line. Each subcommand lives in mtmct/commands/<name>.py and registers itself here.

Library code raises :class:`MtmctError` for problems the user can fix; this is the one place that turns them
into a one-line message on stderr and a non-zero exit, keeping tracebacks for real bugs (or ``--debug``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from mtmct.core.errors import MtmctError
from mtmct.core.secrets import MaskingFormatter, mask_secrets

# modules under mtmct.commands, each with register(subparsers) that sets a `run(args) -> int` default
COMMANDS = ["detect", "track", "run", "config", "eval", "query", "serve", "dataset", "db", "models", "reid", "demo"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtmct", description="Multi-camera, cross-camera person tracking.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"mtmct.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:  # no log line shows a camera password (mtmct.core.secrets)
        handler.setFormatter(MaskingFormatter(handler.formatter._fmt if handler.formatter else None))
    try:
        return int(args.run(args) or 0)
    except MtmctError as exc:
        if args.debug:
            raise
        print(f"mtmct {args.command}: error: {mask_secrets(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mtmct {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
