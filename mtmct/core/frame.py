"""One decoded camera frame, the value every source yields and the per-frame loop carries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: ``index`` is the 1-based MOT frame number, ``timestamp`` seconds from the start;
    ``image`` is None only when tracking runs from a det file without footage."""

    index: int
    timestamp: float
    image: np.ndarray | None
