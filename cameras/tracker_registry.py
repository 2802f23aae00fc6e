"""The trackers a camera can run, by name: ``tracker: {type: bytetrack, ...}`` in a camera set, ``--tracker NAME``
on the command line, :func:`load_tracker` in code.

Every tracker has the same interface (:class:`cameras.deepsort.DeepSort`'s): ``update(dets, embed=None)`` returns
the frame's reported tracks as :class:`~cameras.track_rows.TrackRows`, ``max_age`` (the tracklet builder's gap),
``embed_interval`` (None: the camera loop embeds every box before tracking), ``continue_ids`` and ``reset``; its
keys are exactly its constructor's arguments (the config models in :mod:`mtmct.core.config.tracker` mirror them,
tested), and each type has a shipped preset ``configs/trackers/<type>.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cameras.botsort import BoTSort
from cameras.bytetrack import ByteTrack
from cameras.deepsort import CONFIGS, DeepSort
from cameras.jde import JdeTracker
from cameras.ocsort import OCSort
from cameras.tracker_args import constructor_keys, read_tracker_config, tracker_arguments
from mtmct.core.errors import MtmctError

TRACKERS: dict[str, type] = {"deepsort": DeepSort, "bytetrack": ByteTrack, "ocsort": OCSort, "botsort": BoTSort,
                              "jde": JdeTracker}
"""Tracker type -> class. DeepSORT (appearance cascade, ours) is the default; ByteTrack and OC-SORT are motion only;
BoT-SORT adds appearance to ByteTrack where the boxes have embeddings; JDE is the one-shot models' (FairMOT, JDE)
appearance + motion association."""

Tracker = DeepSort | ByteTrack | OCSort | BoTSort | JdeTracker
__all__ = ["TRACKERS", "Tracker", "constructor_keys", "load_tracker", "preset", "tracker_arguments", "tracker_type"]


def tracker_type(config: Mapping | str | Path | None) -> str:
    """The tracker type a config names (``type``; default deepsort)."""
    if config is None:
        return "deepsort"
    kind = read_tracker_config(config).get("type", "deepsort")
    if kind not in TRACKERS:
        raise MtmctError(f"unknown tracker type {kind!r}; known: {', '.join(TRACKERS)}")
    return kind


def preset(kind: str, motion_only: bool = False) -> Path:
    """The shipped preset of a tracker type (DeepSORT has a motion-only one for models without ReID)."""
    if kind not in TRACKERS:
        raise MtmctError(f"unknown tracker {kind!r}; known: {', '.join(TRACKERS)}")
    if kind == "deepsort":
        return CONFIGS / ("deepsort_motion.yaml" if motion_only else "deepsort.yaml")
    return CONFIGS / f"{kind}.yaml"


def load_tracker(config: str | Path | Mapping | None = None, motion_only: bool = False) -> Tracker:
    """A tracker from a YAML path, a mapping of its arguments (``type`` picks the class; default deepsort), a bare
    type name (its shipped preset), or None (the DeepSORT preset; the motion-only one when ``motion_only``)."""
    if config is None:
        config = preset("deepsort", motion_only)
    elif isinstance(config, str) and config in TRACKERS:
        config = preset(config, motion_only)
    kind = tracker_type(config)
    return TRACKERS[kind](**tracker_arguments(TRACKERS[kind], config))
