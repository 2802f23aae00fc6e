"""CLI subcommands: argument parsing and printing only; the work is done by library functions."""

from __future__ import annotations

import argparse


def class_ids(text: str) -> list[int]:
    """An argparse ``type``: comma-separated object class ids (``0,2``), refused in one line otherwise."""
    try:
        ids = [int(c) for c in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated class ids such as 0,2, got {text!r}") from None
    if any(i < 0 for i in ids):
        raise argparse.ArgumentTypeError(f"class ids are >= 0, got {text!r}")
    return ids
