"""Reading a small JSON file the user names (a calibration, a footprint), with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mtmct.core.errors import MtmctError


def read_json(path: str | Path, what: str = "file") -> Any:
    """The parsed content of ``path``; a missing, unreadable or malformed file is a one-line MtmctError naming
    ``what`` it should have been and where it went wrong."""
    path = Path(path)
    if not path.is_file():
        raise MtmctError(f"{what} {path} does not exist")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise MtmctError(f"cannot read {what} {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise MtmctError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
