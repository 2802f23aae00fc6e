"""A camera set from YAML: which cameras, which models, which tracker, how cameras connect (see :data:`REFERENCE`).

Every YAML key is a field of the dataclass it loads into and nothing else, so a typo is an error that names the
key instead of a silently ignored option. Relative paths (sources, model folders, the tracker file) are resolved
against the config file's folder so a config works from any working directory; ``${VAR}`` and ``~`` are
expanded. Model values that look like registry names (no folder, no suffix, no such file) stay as given.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mtmct.core.errors import MtmctError

# The documented format: every key below is a dataclass field and every field is documented here (tested).
REFERENCE = """\
name: pets09-overlap                # a label for runs and the database; default: the file's name
models:                             # the detector and ReID model every camera uses
  detector: models/yolox-nano-coco  # registry name, or a model folder/file (relative to this file)
  reid: models/omz-person-reid-0277 # registry name, model path, or null for motion-only tracking
  device: cpu                       # cpu, gpu, gpu:1 ...
  conf: 0.3                         # detector threshold: lower finds more people and more clutter
  classes: null                     # class ids to keep; null: the model's default (person)
tracker: ../trackers/deepsort.yaml  # DeepSort arguments: a YAML path or an inline mapping; null: the default
cameras:                            # one entry per camera; each runs in its own actor
  - id: c1                          # unique; names the output file <id>.txt
    source: c1/video.mp4            # video file, frame folder, device index, or rtsp:// / http:// URL
    fps: 10                         # overrides the source's frame rate; null: the source's own
    clock_offset: 0.0               # seconds added to this camera's timestamps to reach the shared clock
    zones:                          # named image regions (entries, exits) for fusion and dashboards
      - name: door                  # unique within the camera
        polygon: [[0, 0], [50, 0], [50, 80]]  # at least 3 [x, y] points in the camera's pixels
  - id: c2
    source: c2/video.mp4
topology:                           # which camera pairs a person can pass between; unlisted pairs never link
  - a: c1                           # the two cameras of the link (either order)
    b: c2                           # the other camera
    overlap: true                   # the views overlap: the same person is seen in both at the same time
    min_s: null                     # windowed links only: fewest seconds from leaving a to entering b
    max_s: null                     # windowed links only: most seconds; null: no upper bound
fusion: {}                          # options passed to fusion as they are (fusion checks its own keys)
"""

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_VAR = re.compile(r"\$\{([^}]*)\}")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Zone:
    """A named polygon in one camera's pixels."""

    name: str
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class CameraConfig:
    """One camera: ``source`` is an absolute path, a URL or a device index; ``fps`` None keeps the source's."""

    id: str
    source: str
    fps: float | None = None
    clock_offset: float = 0.0
    zones: tuple[Zone, ...] = ()


@dataclass(frozen=True)
class ModelsConfig:
    """Detector and ReID model shared by all cameras of a set (``reid`` None: motion-only tracking)."""

    detector: str = "picodet_s_192_lcnet_pedestrian"
    reid: str | None = "reid_model"
    device: str = "cpu"
    conf: float = 0.3
    classes: tuple[int, ...] | None = None


@dataclass(frozen=True)
class LinkConfig:
    """A camera pair people pass between: overlapping views, or a transit window ``[min_s, max_s]`` seconds.

    Field names match fusion's ``Link`` so ``Link(**dataclasses.asdict(link))`` builds it.
    """

    a: str
    b: str
    overlap: bool = False
    min_s: float | None = None
    max_s: float | None = None


@dataclass(frozen=True)
class CameraSetConfig:
    """A whole camera set. ``tracker`` is an absolute YAML path, a mapping of DeepSort arguments, or None."""

    name: str
    cameras: tuple[CameraConfig, ...]
    models: ModelsConfig = ModelsConfig()
    tracker: str | dict[str, Any] | None = None
    topology: tuple[LinkConfig, ...] = ()
    fusion: dict[str, Any] = field(default_factory=dict)

    def camera(self, camera_id: str) -> CameraConfig:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(camera_id)


def load_camera_config(config: str | os.PathLike[str] | Mapping[str, Any], base_dir: str | Path | None = None,
                       ) -> CameraSetConfig:
    """Load and validate a camera set from a YAML file or a mapping (never modified).

    Relative paths resolve against the file's folder, or ``base_dir`` (default: the working directory) for a
    mapping. Raises MtmctError with a one-line message naming the offending field.
    """
    if isinstance(config, Mapping):
        data, base, default_name = config, Path(base_dir or Path.cwd()), "cameras"
    else:
        import yaml

        path = Path(config).expanduser()
        if not path.is_file():
            raise MtmctError(f"camera config {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise MtmctError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from exc
        base, default_name = Path(base_dir) if base_dir else path.resolve().parent, path.stem
        if not isinstance(data, Mapping):
            raise MtmctError(f"{path}: expected a mapping with a 'cameras' list")
    _known(data, CameraSetConfig, "config")
    name = _text(data.get("name", default_name), "name")
    models = _models(data.get("models") or {}, base)
    tracker = _tracker(data.get("tracker"), base)
    cameras = _cameras(data.get("cameras"), base)
    topology = _topology(data.get("topology") or [], {c.id for c in cameras})
    fusion = data.get("fusion") or {}
    if not isinstance(fusion, Mapping):
        raise MtmctError("fusion: expected a mapping of fusion options")
    return CameraSetConfig(name, cameras, models, tracker, topology, copy.deepcopy(dict(fusion)))


def _known(data: Any, cls: type, where: str) -> None:
    if not isinstance(data, Mapping):
        raise MtmctError(f"{where}: expected a mapping, got {type(data).__name__}")
    allowed = [f.name for f in fields(cls)]
    for key in data:
        if key not in allowed:
            raise MtmctError(f"{where}: unknown key {key!r}; known keys: {', '.join(allowed)}")


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise MtmctError(f"{where}: expected a non-empty string, got {value!r}")
    return str(value)


def _number(value: Any, where: str, minimum: float | None = None, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise MtmctError(f"{where}: expected a number, got {value!r}")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        raise MtmctError(f"{where}: must be {'>' if strict else '>='} {minimum}, got {value}")
    return float(value)


def _expand(value: str, where: str) -> str:
    def var(match: re.Match) -> str:
        if match.group(1) not in os.environ:
            raise MtmctError(f"{where}: environment variable {match.group(1)!r} is not set")
        return os.environ[match.group(1)]

    return os.path.expanduser(_VAR.sub(var, value))


def _path(value: Any, base: Path, where: str) -> str:
    """A path resolved against ``base``; URLs and device indices unchanged."""
    text = _expand(_text(value, where), where)
    if _URL.match(text) or text.isdigit():
        return text
    return str((base / text).resolve())


def _model(value: Any, base: Path, where: str) -> str:
    """A model path resolved against ``base``, or a registry name (no folder, no suffix, no such file) as given."""
    text = _expand(_text(value, where), where)
    looks_like_path = "/" in text or os.sep in text or Path(text).suffix != "" or (base / text).exists()
    return str((base / text).resolve()) if looks_like_path else text


def _models(data: Any, base: Path) -> ModelsConfig:
    _known(data, ModelsConfig, "models")
    defaults = ModelsConfig()
    reid = data.get("reid", defaults.reid)
    classes = data.get("classes")
    if classes is not None:
        if not isinstance(classes, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
            raise MtmctError(f"models.classes: expected a list of class ids, got {classes!r}")
        classes = tuple(classes)
    conf = _number(data.get("conf", defaults.conf), "models.conf", 0.0)
    if conf > 1:
        raise MtmctError(f"models.conf: must be <= 1, got {conf}")
    return ModelsConfig(
        detector=_model(data.get("detector", defaults.detector), base, "models.detector"),
        reid=None if reid is None else _model(reid, base, "models.reid"),
        device=_text(data.get("device", defaults.device), "models.device"),
        conf=conf,
        classes=classes,
    )


def _tracker(value: Any, base: Path) -> str | dict[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return None if value is None else copy.deepcopy(dict(value))
    path = _path(value, base, "tracker")
    if not Path(path).is_file():
        raise MtmctError(f"tracker: {path} does not exist")
    return path


def _cameras(items: Any, base: Path) -> tuple[CameraConfig, ...]:
    if not isinstance(items, list) or not items:
        raise MtmctError("cameras: expected a non-empty list of cameras")
    out: list[CameraConfig] = []
    for i, item in enumerate(items):
        where = f"cameras[{i}]"
        _known(item, CameraConfig, where)
        for key in ("id", "source"):
            if item.get(key) is None:
                raise MtmctError(f"{where}.{key}: missing")
        cam_id = _text(item["id"], f"{where}.id")
        if not _SAFE_ID.match(cam_id):
            raise MtmctError(f"{where}.id: {cam_id!r} may hold only letters, digits, '_', '.', '-' (it names files)")
        if any(c.id == cam_id for c in out):
            raise MtmctError(f"{where}.id: duplicate camera id {cam_id!r}")
        fps = item.get("fps")
        out.append(CameraConfig(
            id=cam_id,
            source=_path(item["source"], base, f"{where}.source"),
            fps=None if fps is None else _number(fps, f"{where}.fps", 0.0, strict=True),
            clock_offset=_number(item.get("clock_offset", 0.0), f"{where}.clock_offset"),
            zones=_zones(item.get("zones") or [], f"{where}.zones"),
        ))
    return tuple(out)


def _zones(items: Any, where: str) -> tuple[Zone, ...]:
    if not isinstance(items, list):
        raise MtmctError(f"{where}: expected a list of zones")
    zones: list[Zone] = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        _known(item, Zone, at)
        if item.get("name") is None:
            raise MtmctError(f"{at}.name: missing")
        name = _text(item["name"], f"{at}.name")
        if any(z.name == name for z in zones):
            raise MtmctError(f"{at}.name: duplicate zone name {name!r}")
        polygon = item.get("polygon")
        if (not isinstance(polygon, list) or len(polygon) < 3
                or not all(isinstance(p, list) and len(p) == 2 for p in polygon)):
            raise MtmctError(f"{at}.polygon: expected at least 3 [x, y] points")
        points = tuple((_number(x, f"{at}.polygon"), _number(y, f"{at}.polygon")) for x, y in polygon)
        zones.append(Zone(name, points))
    return tuple(zones)


def _topology(items: Any, camera_ids: set[str]) -> tuple[LinkConfig, ...]:
    if not isinstance(items, list):
        raise MtmctError("topology: expected a list of links")
    links: list[LinkConfig] = []
    for i, item in enumerate(items):
        where = f"topology[{i}]"
        _known(item, LinkConfig, where)
        for key in ("a", "b"):
            if item.get(key) is None:
                raise MtmctError(f"{where}.{key}: missing")
        a, b = _text(item["a"], f"{where}.a"), _text(item["b"], f"{where}.b")
        for cam in (a, b):
            if cam not in camera_ids:
                raise MtmctError(f"{where}: unknown camera {cam!r}; cameras: {', '.join(sorted(camera_ids))}")
        if a == b:
            raise MtmctError(f"{where}: a link joins two different cameras, got {a!r} twice")
        for j, other in enumerate(links):
            if {other.a, other.b} == {a, b}:
                raise MtmctError(f"{where}: duplicate link {a}-{b} (also topology[{j}])")
        overlap = item.get("overlap", False)
        if not isinstance(overlap, bool):
            raise MtmctError(f"{where}.overlap: expected true or false, got {overlap!r}")
        min_s, max_s = item.get("min_s"), item.get("max_s")
        if overlap and (min_s is not None or max_s is not None):
            raise MtmctError(f"{where}: a link is either overlap: true or a min_s/max_s window, not both")
        if not overlap:
            min_s = 0.0 if min_s is None else _number(min_s, f"{where}.min_s")
            max_s = None if max_s is None else _number(max_s, f"{where}.max_s")
            for key, value in (("min_s", min_s), ("max_s", max_s)):
                if value is not None and value < 0:
                    raise MtmctError(f"{where}.{key}: negative window {value}")
            if max_s is not None and min_s > max_s:
                raise MtmctError(f"{where}: min_s {min_s:g} > max_s {max_s:g}")
        links.append(LinkConfig(a, b, overlap, min_s, max_s))
    return tuple(links)
