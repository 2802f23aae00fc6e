"""CLI subcommands: argument parsing and printing only; the work is done by library functions."""

from __future__ import annotations

from mtmct.core.errors import MtmctError


def class_ids(text: str | None, flag: str) -> list[int] | None:
    """Comma-separated object class ids (``0,2``) given to ``flag``; None when not given; a one-line error otherwise."""
    if not text:
        return None
    try:
        ids = [int(c) for c in text.split(",")]
    except ValueError:
        raise MtmctError(f"{flag} takes comma-separated class ids such as 0,2, got {text!r}") from None
    if any(i < 0 for i in ids):
        raise MtmctError(f"{flag} takes class ids >= 0, got {text!r}")
    return ids
