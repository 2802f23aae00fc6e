"""Final files written whole or not at all: a temp file in the same folder, then ``os.replace``.

A reader (or a run killed half-way) sees either the previous file or the complete new one, never one cut at a
line break: the rename is atomic on one file system, which a temp file in the target's own folder guarantees.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO]:
    """Open a temp file next to ``path`` for writing (``"w"`` text or ``"wb"`` binary); on a clean exit it is
    flushed, synced and renamed over ``path``; on an exception it is removed and ``path`` is left as it was."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
