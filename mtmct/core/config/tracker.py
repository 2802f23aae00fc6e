"""The per-camera tracker's settings: ``type`` (deepsort, bytetrack, ocsort, botsort; see
``cameras.tracker_registry``) and exactly that tracker's constructor arguments (tested).

A camera set's ``tracker:`` is a path to a YAML file of these keys (``configs/trackers/deepsort.yaml``) or an
inline mapping; either way it is checked here, at load, so ``max_agee: 3`` stops the run before any camera starts
instead of reaching the tracker. Defaults equal the constructor's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from mtmct.core.errors import MtmctError
from mtmct.core.config.base import Fraction, Int, NonNegative, Positive, StrictModel, read_yaml, validate


KalmanPositionNoise = Annotated[Positive, Field(description=(
    "Kalman position noise as a fraction of box size: higher trusts boxes less."))]
KalmanVelocityNoise = Annotated[Positive, Field(description=(
    "Kalman velocity noise as a fraction of box size: higher follows turns faster."))]


class TrackerConfig(StrictModel):
    """DeepSORT for one camera: each field but ``type`` is a ``DeepSort.__init__`` argument, documented by its
    trade-off."""

    type: Annotated[Literal["deepsort"], Field(description=(
        "The tracker: deepsort (the default), bytetrack, ocsort or botsort; each has its own keys."))] = "deepsort"

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


class ByteTrackConfig(StrictModel):
    """ByteTrack (``type: bytetrack``): each other field is a ``cameras.bytetrack.ByteTrack`` argument."""

    type: Annotated[Literal["bytetrack"], Field(description="The tracker: ByteTrack (motion only).")] = "bytetrack"
    high_score: Annotated[Fraction, Field(description=(
        "Boxes at or above this score are matched first and may start tracks. Raising it stops false tracks but "
        "sends more real people to the weaker second round."))] = 0.6
    low_score: Annotated[Fraction, Field(description=(
        "Boxes in [low_score, high_score) only continue tracks seen last frame. Lowering it keeps people through "
        "partial occlusion but may extend a track onto clutter."))] = 0.1
    new_track_score: Annotated[Fraction, Field(description=(
        "A leftover confident box starts a track only at or above this score. Raising it starts fewer false "
        "tracks but later ids."))] = 0.7
    max_iou_distance: Annotated[Fraction, Field(description=(
        "Largest 1 - IoU (x score with fuse_score) of the first round. Raising it follows fast motion but pairs "
        "neighbours in crowds."))] = 0.8
    low_max_iou_distance: Annotated[Fraction, Field(description=(
        "1 - IoU bound of the low-score round; stricter, as those boxes are less sure."))] = 0.5
    new_max_iou_distance: Annotated[Fraction, Field(description=(
        "1 - IoU bound for confirming a track born last frame."))] = 0.7
    max_age: Annotated[Int, Field(ge=0, description=(
        "Frames a lost track is kept for re-finding. Raising it keeps ids through longer occlusions but lets a lost "
        "track take a newcomer's box. Also the tracklet builder's max_gap."))] = 30
    fuse_score: Annotated[bool, Field(strict=True, description=(
        "Weight the first round's IoU by the box score, so a sure box wins a contested track."))] = True
    std_weight_position: KalmanPositionNoise = 1.0 / 20
    std_weight_velocity: KalmanVelocityNoise = 1.0 / 160

    @model_validator(mode="after")
    def _scores_ordered(self) -> ByteTrackConfig:
        if self.low_score > self.high_score:
            raise ValueError(f"low_score {self.low_score:g} is above high_score {self.high_score:g}")
        return self


class BoTSortConfig(ByteTrackConfig):
    """BoT-SORT (``type: botsort``): ByteTrack's keys plus appearance (``cameras.botsort.BoTSort`` arguments)."""

    type: Annotated[Literal["botsort"], Field(  # type: ignore[assignment]
        description="The tracker: BoT-SORT (ByteTrack + appearance where boxes have embeddings).")] = "botsort"
    max_cosine_distance: Annotated[NonNegative, Field(le=2, description=(
        "Largest appearance distance (1 - cosine) that may pair a track and a box. Raising it re-finds people "
        "whose look changed but pairs look-alikes."))] = 0.25
    proximity: Annotated[Fraction, Field(description=(
        "Largest 1 - IoU at which appearance may pair a track and a box. Raising it lets appearance bridge larger "
        "jumps but lets a look-alike elsewhere take the track."))] = 0.5
    ema_alpha: Annotated[Fraction, Field(lt=1, description=(
        "Weight of the old feature in a track's smoothed appearance: higher is steadier, slower to follow a real "
        "change."))] = 0.9


class OCSortConfig(StrictModel):
    """OC-SORT (``type: ocsort``): each other field is a ``cameras.ocsort.OCSort`` argument."""

    type: Annotated[Literal["ocsort"], Field(description="The tracker: OC-SORT (motion only).")] = "ocsort"
    high_score: Annotated[Fraction, Field(description=(
        "Boxes at or above this score are associated and may start tracks. Raising it stops false tracks but "
        "loses people the detector is unsure about."))] = 0.6
    low_score: Annotated[Fraction | None, Field(description=(
        "If set, boxes in [low_score, high_score) may continue tracks seen last frame (a ByteTrack round); null: "
        "they are ignored."))] = None
    min_iou: Annotated[Fraction, Field(description=(
        "Smallest IoU of a pair in any round. Raising it avoids pairing neighbours but breaks tracks in fast "
        "motion."))] = 0.3
    max_age: Annotated[Int, Field(ge=0, description=(
        "Frames a track may go unmatched before deletion. Raising it keeps ids through longer occlusions but lets "
        "a lost track take a newcomer's box. Also the tracklet builder's max_gap."))] = 30
    min_hits: Annotated[Int, Field(ge=1, description=(
        "Consecutive matched frames before a track is reported. Raising it suppresses one-off false boxes but "
        "drops the first frames of every person."))] = 3
    delta_t: Annotated[Int, Field(ge=1, description=(
        "Frames back to the observation that gives a track's direction: longer is steadier, shorter follows "
        "turns."))] = 3
    inertia: Annotated[NonNegative, Field(description=(
        "Weight of direction agreement in the first round. Raising it keeps crossing people apart but can refuse "
        "a person who really turned."))] = 0.2
    std_weight_position: KalmanPositionNoise = 1.0 / 20
    std_weight_velocity: KalmanVelocityNoise = 1.0 / 160

    @model_validator(mode="after")
    def _scores_ordered(self) -> OCSortConfig:
        if self.low_score is not None and self.low_score > self.high_score:
            raise ValueError(f"low_score {self.low_score:g} is above high_score {self.high_score:g}")
        return self


class JdeConfig(StrictModel):
    """JDE association (``type: jde``), the one-shot models' tracker: each other field is a
    ``cameras.jde.JdeTracker`` argument."""

    type: Annotated[Literal["jde"], Field(description=(
        "The tracker: JDE / FairMOT association (appearance + motion, then IoU)."))] = "jde"
    conf: Annotated[Fraction, Field(description=(
        "Boxes under this score are dropped; the rest match and may start tracks. Raising it stops false tracks "
        "but loses people the model is unsure about."))] = 0.4
    max_appearance_distance: Annotated[NonNegative, Field(description=(
        "Largest fused appearance + motion cost of a pair in the first round. Raising it re-finds people whose "
        "look changed but pairs look-alikes."))] = 0.4
    motion_weight: Annotated[Fraction, Field(description=(
        "Share of the squared Mahalanobis distance in the first round's cost: raising it lets position decide "
        "between people who look alike."))] = 0.02
    max_iou_distance: Annotated[Fraction, Field(description=(
        "Largest 1 - IoU of the second round (tracks seen last frame, by overlap alone)."))] = 0.5
    new_max_iou_distance: Annotated[Fraction, Field(description=(
        "1 - IoU bound for confirming a track born last frame."))] = 0.7
    max_age: Annotated[Int, Field(ge=0, description=(
        "Frames a lost track is kept for re-finding. Also the tracklet builder's max_gap."))] = 30
    ema_alpha: Annotated[Fraction, Field(lt=1, description=(
        "Weight of the old embedding in a track's smoothed appearance: higher is steadier, slower to follow a "
        "real change."))] = 0.9
    std_weight_position: KalmanPositionNoise = 1.0 / 20
    std_weight_velocity: KalmanVelocityNoise = 1.0 / 160


AnyTrackerConfig = TrackerConfig | ByteTrackConfig | OCSortConfig | BoTSortConfig | JdeConfig
TRACKER_CONFIGS: dict[str, type[StrictModel]] = {"deepsort": TrackerConfig, "bytetrack": ByteTrackConfig,
                                                  "ocsort": OCSortConfig, "botsort": BoTSortConfig, "jde": JdeConfig}


def tracker_config(data: Any, where: str | None = None) -> AnyTrackerConfig:
    """A tracker section (a mapping; ``type`` picks the tracker, default deepsort) validated by its type's model;
    errors are one line naming ``where`` (a file) and the key."""
    if not isinstance(data, Mapping):
        raise MtmctError(f"{where + ': ' if where else ''}a tracker config is a mapping of tracker arguments")
    kind = data.get("type", "deepsort")
    if kind not in TRACKER_CONFIGS:
        raise MtmctError(f"{where + ': ' if where else ''}type: unknown tracker {kind!r}; known: "
                         f"{', '.join(TRACKER_CONFIGS)}")
    return validate(TRACKER_CONFIGS[kind], data, where)


def tracker_config_file(path: str | Path) -> AnyTrackerConfig:
    """A tracker YAML file of any type, validated (one-line errors naming the file)."""
    path = Path(path).expanduser()
    return tracker_config(read_yaml(path, "tracker config") or {}, str(path))
