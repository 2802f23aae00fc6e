"""A camera set: which cameras, which models, which tracker, how tracklets are built, how cameras connect, how
fusion decides. :func:`load_camera_config` reads it from YAML and checks all of it before anything runs.

Relative paths (sources, model folders, the tracker file) resolve against the config file's folder so a config
works from any working directory; ``${VAR}`` and ``~`` are expanded; model values that look like registry names
(no folder, no suffix, no such file) stay as given. The documented example is
``mtmct.core.camera_config.REFERENCE``; :func:`schema` is the JSON Schema (``mtmct config schema``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (AfterValidator, BeforeValidator, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)

from mtmct.core.config.base import (NESTED_KEY, Number, Positive, StrictModel, Text, base_dir, expand, one_line,
                                    read_yaml, require_unique, resolve_path, validate)
from mtmct.core.config.calibration import CalibrationConfig, no_homography_too
from mtmct.core.config.floor_plan import STORED, FloorPlanConfig
from mtmct.core.config.fusion import FusionConfig
from mtmct.core.config.models import ModelsConfig
from mtmct.core.config.topology import Link, TopologyConfig
from mtmct.core.config.tracker import TRACKER_CONFIGS, AnyTrackerConfig, tracker_config_file
from mtmct.core.config.tracklets import TrackletsConfig
from mtmct.core.errors import MtmctError

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")

Point = tuple[Number, Number]
Row = tuple[Number, Number, Number]


class Zone(StrictModel):
    """A named polygon in one camera's pixels (entries, exits, hand-over areas)."""

    name: Annotated[Text, Field(description="Unique within the camera.")]
    polygon: Annotated[tuple[Point, ...], Field(min_length=3, description=(
        "At least 3 [x, y] points in the camera's pixels."))]


DET_PREFIX = "det:"  # a source that is a det file: a camera known only by its detections


class CameraConfig(StrictModel):
    """One camera: ``source`` is an absolute path, a URL or a device index; ``fps`` None keeps the source's."""

    id: Annotated[Text, Field(description="Unique; names the output file <id>.txt.")]
    source: Annotated[Text, Field(description=(
        "Video file, frame folder, device index, or rtsp:// / http:// URL (paths relative to the config); or "
        "det:PATH, a MOTChallenge det file of a camera without footage (needs fps; tracked by motion and, when "
        "calibrated, placed on the ground)."))]
    fps: Annotated[Positive | None, Field(description=(
        "Overrides the source's frame rate; null: the source's own."))] = None
    det_conf: Annotated[Annotated[float, Field(ge=0, le=1)] | None, Field(description=(
        "A det: source's score threshold (its detector's scores are not the configured detector's); null: "
        "models.conf."))] = None
    clock_offset: Annotated[Number, Field(description=(
        "Seconds added to this camera's timestamps to reach the shared clock."))] = 0.0
    zones: Annotated[tuple[Zone, ...], Field(description=(
        "Named image regions. With zones on both cameras of a link and no homographies, a hand-over must leave "
        "one camera and enter the other inside a zone: fewer false links, but people who cross elsewhere "
        "are split."))] = ()
    homography: Annotated[tuple[Row, Row, Row] | None, Field(description=(
        "3x3 image-to-ground-plane matrix (rows). With homographies on both cameras of an overlap link, "
        "simultaneous tracklets must stand within topology.max_ground_distance of each other."))] = None
    calibration: Annotated[CalibrationConfig | None, AfterValidator(no_homography_too), Field(description=(
        "Ground-plane calibration in metres, the full form of homography (one of: homography, point pairs, "
        "K/R/t/dist, or a file and view), with image_size for resized videos; null: none. Not with "
        "homography."))] = None

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not _SAFE_ID.match(value):
            raise ValueError(f"{value!r} may hold only letters, digits, '_', '.', '-' (it names files)")
        return value

    @field_validator("source")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        if value.startswith(DET_PREFIX):
            path = value[len(DET_PREFIX):]
            if not path:
                raise ValueError("det: needs the det file's path, e.g. det:View_005/det/det.txt")
            return DET_PREFIX + resolve_path(path, info)
        return resolve_path(value, info)

    @model_validator(mode="after")
    def _det_needs_fps(self) -> CameraConfig:
        if self.source.startswith(DET_PREFIX) and self.fps is None:
            raise ValueError("a det: source has no frame rate of its own: give fps")
        return self

    @property
    def det_file(self) -> str | None:
        """The det file of a ``det:`` source (a camera without footage), else None."""
        return self.source[len(DET_PREFIX):] if self.source.startswith(DET_PREFIX) else None

    @field_validator("zones")
    @classmethod
    def _unique_zones(cls, zones: tuple[Zone, ...]) -> tuple[Zone, ...]:
        require_unique([z.name for z in zones], "zone name")
        return zones


def _tracker(value: Any, info: ValidationInfo) -> Any:
    """A tracker YAML path or mapping becomes its type's validated config (errors name that file too)."""
    if isinstance(value, Mapping):  # its type's model, its errors' key paths going on below ``tracker``
        model = TRACKER_CONFIGS.get(value.get("type", "deepsort"))
        if model is None:
            raise ValueError(f"{NESTED_KEY}type: unknown tracker {value.get('type')!r}; known: "
                             f"{', '.join(TRACKER_CONFIGS)}")
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            nested = NESTED_KEY if exc.errors()[0]["loc"] else ""
            raise ValueError(nested + one_line(exc, model, None, {})) from None
    if value is None or isinstance(value, StrictModel):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be a mapping, got {value!r}")
    path = Path(expand(value)).expanduser()
    base = base_dir(info)
    if base is not None and not path.is_absolute():
        path = (base / path).resolve()
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    try:
        return tracker_config_file(path)
    except MtmctError as exc:
        raise ValueError(str(exc)) from None


def _links_shorthand(value: Any) -> Any:
    """``topology: [links...]`` is short for ``topology: {links: [...]}``."""
    return {"links": value} if isinstance(value, list) else value


class CameraSetConfig(StrictModel):
    """A whole camera set, every section typed and validated (see :data:`mtmct.core.camera_config.REFERENCE`)."""

    name: Annotated[Text, Field(description=(
        "A label for runs and the database; default: the file's name."))] = "cameras"
    models: Annotated[ModelsConfig, Field(description=(
        "The detector and ReID model every camera uses."))] = ModelsConfig()
    tracker: Annotated[AnyTrackerConfig | None,
                       BeforeValidator(_tracker, json_schema_input_type=str | AnyTrackerConfig | None),
                       Field(description=(
                           "The tracker and its arguments (type: deepsort, bytetrack, ocsort, botsort or jde; default "
                           "deepsort): a YAML path (relative to this file) or an inline mapping; null: the shipped "
                           "preset (configs/trackers/deepsort.yaml, deepsort_motion.yaml without ReID)."))] = None
    tracklets: Annotated[TrackletsConfig, Field(description=(
        "How each camera's tracks become tracklets (TrackletBuilder arguments)."))] = TrackletsConfig()
    cameras: Annotated[tuple[CameraConfig, ...], Field(min_length=1, description=(
        "One entry per camera; each runs in its own actor."))]
    topology: Annotated[TopologyConfig,
                        BeforeValidator(_links_shorthand, json_schema_input_type=list[Link] | TopologyConfig),
                        Field(description=(
                            "Which camera pairs a person can pass between (a list of links, or a mapping with "
                            "links and the time rules' knobs)."))] = TopologyConfig()
    fusion: Annotated[FusionConfig, Field(description="How tracklets become global identities.")] = FusionConfig()
    floor_plan: Annotated[FloorPlanConfig | None, Field(description=(
        "An image drawn under the dashboard's ground map, placed by its scale and origin in metres; null: "
        "none."))] = None

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: tuple[CameraConfig, ...]) -> tuple[CameraConfig, ...]:
        require_unique([c.id for c in cameras], "camera id")
        return cameras

    @model_validator(mode="after")
    def _links_name_cameras(self) -> CameraSetConfig:
        ids = [c.id for c in self.cameras]
        for link in self.topology.links:
            for cam in (link.a, link.b):
                if cam not in ids:
                    raise ValueError(f"topology: link {link.a}-{link.b} names an unknown camera {cam!r}; "
                                     f"cameras: {', '.join(ids)}")
        return self

    def camera(self, camera_id: str) -> CameraConfig:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(camera_id)


def load_camera_config(config: str | os.PathLike[str] | Mapping[str, Any], base_dir: str | Path | None = None,
                       stored: bool = False) -> CameraSetConfig:
    """Load and validate a camera set from a YAML file or a mapping (never modified).

    Relative paths resolve against the file's folder, or ``base_dir`` (default: the working directory) for a
    mapping. ``stored``: a run's config read back, where a floor-plan image gone since the run is no error (only
    the map loses it). Raises MtmctError with one line naming the file and the key path of the problem.
    """
    if isinstance(config, Mapping):
        data, base, name, where = config, Path(base_dir or Path.cwd()), None, None
    else:
        path = Path(config).expanduser()
        data = read_yaml(path, "camera config")
        base, name, where = Path(base_dir) if base_dir else path.resolve().parent, path.stem, str(path)
        if not isinstance(data, Mapping):
            raise MtmctError(f"{where}: expected a mapping with a 'cameras' list, got {type(data).__name__}")
    data = {"name": name, **data} if name and "name" not in data else data
    rename = {("topology", "links"): ("topology",)} if isinstance(data.get("topology"), list) else {}
    return validate(CameraSetConfig, data, where, context={"base": base.resolve(), STORED: stored}, rename=rename)


def schema() -> dict[str, Any]:
    """The JSON Schema of the camera-set YAML format (what :func:`load_camera_config` accepts)."""
    return CameraSetConfig.model_json_schema()
