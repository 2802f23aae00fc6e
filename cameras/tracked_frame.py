"""TrackedFrame: the one value a frame becomes on its way through a camera, handed to every sink."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cameras.track_rows import TrackRows
from mtmct.core.detections import Detections


@dataclass(frozen=True)
class TrackedFrame:
    """One frame after detection, embedding and tracking.

    ``index`` is the 1-based MOT frame number and ``timestamp`` seconds from the start (as the source gave them);
    ``image`` the decoded BGR image, None when tracking from a det file alone; ``detections`` what the detector
    (or det file) gave, with embeddings when ReID ran; ``tracks`` the tracker's rows for this frame (empty when
    only detecting). Sinks read it and must not draw on ``image``: the next sink crops from it.
    """

    index: int
    timestamp: float
    image: np.ndarray | None
    detections: Detections
    tracks: TrackRows
