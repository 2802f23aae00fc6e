"""The per-camera tracker's settings: exactly the arguments of ``cameras.deepsort.DeepSort`` (tested).

A camera set's ``tracker:`` is a path to a YAML file of these keys (``configs/trackers/deepsort.yaml``) or an
inline mapping; either way it is checked here, at load, so ``max_agee: 3`` stops the run before any camera starts
instead of reaching the tracker. Defaults equal the constructor's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from mtmct.core.config.base import Fraction, Int, NonNegative, Positive, StrictModel, read_yaml, validate


class TrackerConfig(StrictModel):
    """DeepSORT for one camera: each field is a ``DeepSort.__init__`` argument, documented by its trade-off."""

    max_age: Annotated[Int, Field(ge=0, description=(
        "Frames a confirmed track may go unmatched before deletion. Raising it keeps ids through longer "
        "occlusions but lets a lost track steal a newcomer's box. Also the tracklet builder's max_gap."))] = 30
    n_init: Annotated[Int, Field(ge=1, description=(
        "Consecutive hits before a track is confirmed and reported. Raising it suppresses one-off false "
        "positives but drops the first frames of every real person."))] = 3
    max_iou_distance: Annotated[Fraction, Field(description=(
        "Largest 1 - IoU accepted by the IoU stages. Raising it follows fast or jumpy motion but pairs "
        "neighbours in crowds."))] = 0.7
    max_cosine_distance: Annotated[NonNegative, Field(le=2, description=(
        "Largest appearance (cosine) distance accepted. Raising it re-finds people whose look changed (pose, "
        "light) but merges similar-looking people."))] = 0.5
    nn_budget: Annotated[Int | None, Field(ge=1, description=(
        "Appearance features kept per track (null: all). Raising it remembers more views but costs memory and "
        "time per frame."))] = 100
    ema_alpha: Annotated[Fraction | None, Field(lt=1, description=(
        "If set, keep one feature smoothed as alpha * old + (1 - alpha) * new instead of a gallery. Higher is "
        "steadier against one bad crop but slower to follow a real change."))] = None
    high_score: Annotated[Fraction, Field(description=(
        "Boxes at or above this score drive association and may start tracks. Raising it stops false tracks "
        "but loses people the detector is unsure about."))] = 0.6
    low_score: Annotated[Fraction | None, Field(description=(
        "Boxes in [low_score, high_score) only extend tracks matched last frame (ByteTrack); null disables. "
        "Lowering it recovers occluded people but may extend a track onto clutter."))] = 0.1
    low_max_iou_distance: Annotated[Fraction, Field(description=(
        "1 - IoU bound for those low boxes; keep it stricter than max_iou_distance because low boxes are less "
        "trustworthy."))] = 0.5
    gate_probability: Annotated[Fraction, Field(gt=0, lt=1, description=(
        "Chi-square mass of the Mahalanobis gate. Raising it admits larger motion surprises but more wrong "
        "pairs; it barely matters for tracks seen last frame and a lot for lost ones."))] = 0.99
    warm_start: Annotated[bool, Field(strict=True, description=(
        "Report tracks born in the stream's first n_init frames at once, as SORT does: without it every person "
        "present at the start loses n_init - 1 frames; with it a false box there is reported once."))] = True
    std_weight_position: Annotated[Positive, Field(description=(
        "Kalman position noise as a fraction of box size. Raising it trusts detections less: smoother boxes, "
        "slower to follow a real turn."))] = 1.0 / 20
    std_weight_velocity: Annotated[Positive, Field(description=(
        "Kalman velocity noise as a fraction of box size. Raising it lets tracks turn faster but widens the "
        "gate, so a lost track accepts more wrong boxes."))] = 1.0 / 160
    min_box_height: Annotated[NonNegative, Field(description=(
        "Boxes shorter than this many pixels are dropped before association. Raising it removes clutter "
        "(signs, far background) but loses people who are genuinely that small in the image."))] = 25.0
    embed_interval: Annotated[Int | None, Field(ge=1, description=(
        "null: ReID embeds every box of every frame. A number: ReID only where association needs it, and this is "
        "the most frames a track matched by motion alone goes without a fresh embedding. Lower keeps appearance "
        "fresher (re-identification after occlusions, tracklet embeddings for fusion) at more ReID calls. "
        "--embed-every-frame embeds every box regardless."))] = None
    motion_iou: Annotated[Fraction, Field(description=(
        "A box skips ReID only if one track's predicted box overlaps it by at least this IoU. Raising it embeds "
        "more boxes of fast or jittery tracks; lowering it trusts looser overlaps."))] = 0.5
    ambiguity_iou: Annotated[Fraction, Field(description=(
        "... and no other track or box overlaps either of them by more than this IoU. Raising it skips ReID in "
        "denser scenes, where a crossing may then swap ids."))] = 0.3

    @model_validator(mode="after")
    def _scores_ordered(self) -> TrackerConfig:
        if self.low_score is not None and self.low_score > self.high_score:
            raise ValueError(f"low_score {self.low_score:g} is above high_score {self.high_score:g}")
        if self.ambiguity_iou > self.motion_iou:
            raise ValueError(f"ambiguity_iou {self.ambiguity_iou:g} is above motion_iou {self.motion_iou:g}")
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrackerConfig:
        """A tracker YAML file, validated; errors are one line naming the file and the key."""
        path = Path(path).expanduser()
        return validate(cls, read_yaml(path, "tracker config") or {}, str(path))
