"""Tracklets and global identities: what cameras emit and what fusion produces (see DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SHORT = "short"  # too few frames for a trustworthy pooled embedding
SMALL = "small"  # boxes too small for ReID to be reliable
OPEN = "open"  # a live run's piece of a track still in view: a later piece, then the closed tracklet, replace it


@dataclass
class Tracklet:
    """One closed local track of one camera.

    ``times`` are seconds on the shared clock (the camera's timestamps plus its clock offset), so tracklets of
    different cameras compare directly. ``embedding`` is the quality-weighted mean of the per-frame ReID
    features, L2-normalised; ``quality`` in [0, 1] says how much fusion should trust it.
    """

    camera_id: str
    track_id: int
    cls: int
    frames: np.ndarray  # (T,) int, MOT frame numbers from 1
    times: np.ndarray  # (T,) float seconds, shared clock
    boxes: np.ndarray  # (T, 4) float32 tlwh in the camera's pixels
    scores: np.ndarray  # (T,) float32
    embedding: np.ndarray | None  # (D,) float32, L2-normalised; None when tracked without ReID
    quality: float = 1.0
    flags: frozenset[str] = frozenset()
    crops: list[bytes] = field(default_factory=list)  # a few representative JPEG crops
    global_id: int | None = None
    # (T, 2) float32 ground-plane position (X, Y) in metres of each box's foot point, NaN where it cannot be mapped
    # (beyond the horizon); None for a camera without calibration
    world: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, np.int64).reshape(-1)
        self.times = np.asarray(self.times, np.float64).reshape(-1)
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)
        if not len(self.frames) == len(self.times) == len(self.boxes) == len(self.scores) > 0:
            raise ValueError(f"Tracklet {self.key}: frames, times, boxes and scores must be non-empty and aligned")
        if self.embedding is not None:
            self.embedding = np.asarray(self.embedding, np.float32).reshape(-1)
        self.flags = frozenset(self.flags)
        if self.world is not None:
            self.world = np.asarray(self.world, np.float32).reshape(-1, 2)
            if np.isnan(self.world).all():  # nothing on the ground: as if uncalibrated (what storage gives back)
                self.world = None
            elif len(self.world) != len(self.frames):
                raise ValueError(f"Tracklet {self.key}: world has {len(self.world)} rows for {len(self.frames)} frames")

    @property
    def key(self) -> tuple[str, int]:
        return (self.camera_id, self.track_id)

    @property
    def start_time(self) -> float:
        return float(self.times[0])

    @property
    def end_time(self) -> float:
        return float(self.times[-1])

    @property
    def start_frame(self) -> int:
        return int(self.frames[0])

    @property
    def end_frame(self) -> int:
        return int(self.frames[-1])

    def __len__(self) -> int:
        return len(self.frames)

    def overlaps_in_time(self, other: Tracklet) -> bool:
        return self.start_time <= other.end_time and other.start_time <= self.end_time


@dataclass
class GlobalIdentity:
    """One person across cameras: the tracklets fusion put together under ``global_id``."""

    global_id: int
    members: list[tuple[str, int]]  # (camera_id, local track id)

    @property
    def cameras(self) -> list[str]:
        return sorted({camera for camera, _ in self.members})
