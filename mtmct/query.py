"""Query by person image: which stored global identities look like the person in a photo (Market-1501 style).

Crop or scene (``mode``): ``"crop"`` embeds the whole image as one person; ``"scene"`` runs the detector and
every person found becomes a query (none found is an error). ``"auto"`` treats landscape images and images
over ``LARGE_PX`` on a side as scenes; otherwise it runs the detector and takes a scene when the largest person
box covers less than ``CROP_AREA`` of the image, a crop when it covers more or when nothing is found (a tight
crop often defeats a detector: the person touches every border).

Models: embeddings only compare within one ReID model, so the ReID model (and detector, threshold, classes)
default to those in the searched run's stored config. ``run_id`` None searches every run whose config names
the same ReID model as ``reid`` if given, else as the latest run (by start time) that names one.

Nothing is written unless the query succeeds: the index cache (:mod:`mtmct.query_index`) is saved last.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import make_url

from mtmct.core.errors import MtmctError
from mtmct.query_index import Hit, open_index

log = logging.getLogger(__name__)

Mode = Literal["auto", "crop", "scene"]
MODES = ("auto", "crop", "scene")
LARGE_PX = 1000  # auto: a longer side than this is a photo of a scene, not a cut-out person
CROP_AREA = 0.5  # auto: a person box covering more of the image than this makes the image a crop


@dataclass(frozen=True)
class Match:
    """One stored identity for one query person; ``camera_id``/``track_id`` name its best-matching tracklet."""

    rank: int
    run_id: str
    global_id: int | None  # None: a tracklet fusion has not given an identity (its run was not fused)
    score: float  # cosine similarity of the best tracklet
    camera_id: str
    track_id: int
    times: dict[str, tuple[float, float]]  # camera -> (first, last) seconds seen there
    crop: bytes | None  # a JPEG of the best tracklet, when one is stored

    @property
    def cameras(self) -> list[str]:
        return sorted(self.times)


@dataclass(frozen=True)
class QueryResult:
    """The ranked matches of one query person; ``box`` is its xyxy box in the image (None: the whole image)."""

    box: tuple[float, float, float, float] | None
    matches: list[Match]


@dataclass(frozen=True)
class RunModels:
    """What the searched runs were made with (from their stored config), after any overrides."""

    run_ids: list[str]
    reid: str
    detector: str | None
    conf: float = 0.3
    classes: tuple[int, ...] | None = None


def read_image(image: str | os.PathLike[str] | bytes | np.ndarray) -> np.ndarray:
    """A BGR image from a path, encoded bytes or an array; MtmctError when it is not an image."""
    import cv2

    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
            raise MtmctError(f"expected an HxWx3 BGR image array, got shape {image.shape}")
        return image
    name = "the image bytes"
    if not isinstance(image, bytes | bytearray | memoryview):
        name = str(image)
        try:
            image = Path(image).read_bytes()
        except OSError as error:
            raise MtmctError(f"cannot read {name}: {error.strerror or error}") from error
    img = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR) if len(image) else None
    if img is None:
        raise MtmctError(f"{name} is not an image cv2 can decode (JPEG, PNG, BMP, ...)")
    return img


def query_image(image: str | os.PathLike[str] | bytes | np.ndarray, db_url: str, run_id: str | None = None,
                top_k: int = 10, mode: Mode = "auto", reid: str | None = None, detector: str | None = None,
                device: str = "cpu") -> list[QueryResult]:
    """Ranked stored identities per person in ``image`` (one :class:`QueryResult` per query person)."""
    from storage import open_database

    if mode not in MODES:
        raise MtmctError(f"unknown query mode {mode!r}: use one of {', '.join(MODES)}")
    if top_k <= 0:
        raise MtmctError(f"top_k must be positive, got {top_k}")
    img = read_image(image)
    _require_sqlite_file(db_url)
    db = open_database(db_url, upgrade=False)  # a query never changes a schema
    try:
        models = select_runs(db, run_id, reid, detector)
        boxes, crops = find_people(img, mode, functools.partial(_detector, models, device))
        queries = _embedder(models.reid, device).embed(crops)
        index = open_index(db, models.run_ids, f"run={run_id}" if run_id else f"reid={models.reid}")
        if queries.shape[1] != index.dim:
            raise MtmctError(f"ReID model {models.reid} gives {queries.shape[1]}-d embeddings but the stored ones "
                             f"are {index.dim}-d: use the run's own model (leave out --reid)")
        hits = index.search(queries, top_k)
        results = [QueryResult(box, m) for box, m in zip(boxes, describe(db, hits))]
        index.save()  # only now: a failed query leaves no cache behind
        return results
    finally:
        db.close()


def search_by_image(image_bytes: bytes, db_url: str, run_id: str | None = None, top_k: int = 10) -> dict[str, Any]:
    """:func:`query_image` as JSON-ready data (crops as base64 JPEG), for the dashboard."""
    return results_to_dict(query_image(image_bytes, db_url, run_id=run_id, top_k=top_k), crops="base64")


def results_to_dict(results: list[QueryResult], crops: Literal["base64", "none"] | dict[tuple[int, int], str] = "none",
                    ) -> dict[str, Any]:
    """JSON-ready results; ``crops`` a mapping (query index, rank) -> path puts saved crop paths in."""
    out = []
    for qi, res in enumerate(results):
        matches = []
        for m in res.matches:
            item: dict[str, Any] = {
                "rank": m.rank, "run_id": m.run_id, "global_id": m.global_id, "score": round(m.score, 5),
                "camera_id": m.camera_id, "track_id": m.track_id, "cameras": m.cameras,
                "times": {c: [round(s, 3), round(e, 3)] for c, (s, e) in sorted(m.times.items())}}
            if crops == "base64":
                item["crop_jpeg_base64"] = base64.b64encode(m.crop).decode() if m.crop else None
            elif isinstance(crops, dict):
                item["crop"] = crops.get((qi, m.rank))
            matches.append(item)
        out.append({"box": None if res.box is None else [round(v, 1) for v in res.box], "matches": matches})
    return {"queries": out}


def _require_sqlite_file(db_url: str) -> None:
    """Opening a missing SQLite file would create an empty database: a query must not write one."""
    try:
        url = make_url(db_url)
    except Exception:  # noqa: BLE001 - open_database words the error
        return
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).expanduser().is_file():
        raise MtmctError(f"no database at {url.database}: run `mtmct run` first or pass --db")


def _models_of(config_text: str) -> dict[str, Any]:
    """The ``models`` mapping of a stored config (YAML of a CameraSetConfig); {} when unreadable."""
    import yaml

    try:
        data = yaml.safe_load(config_text)
    except yaml.YAMLError:
        return {}
    models = data.get("models") if isinstance(data, dict) else None
    return models if isinstance(models, dict) else {}


def _same_model(a: str | None, b: str | None) -> bool:
    def norm(m: str) -> str:
        p = Path(m).expanduser()
        return str(p.resolve()) if p.exists() else m

    return a is not None and b is not None and norm(a) == norm(b)


def select_runs(db: Any, run_id: str | None, reid: str | None, detector: str | None) -> RunModels:
    """The runs a query searches and the models to embed it with (see module docstring)."""
    from storage.schema import Run

    with db.read() as conn:
        runs = conn.execute(select(Run.id, Run.config).order_by(Run.started_at)).all()
    if not runs:
        raise MtmctError(f"database {db.url} holds no runs: run `mtmct run` first")
    configs = {r: _models_of(c or "") for r, c in runs}
    if run_id is not None:
        if run_id not in configs:
            raise MtmctError(f"unknown run id {run_id!r} (stored: {', '.join(list(configs)[-5:])})")
        chosen, base = [run_id], configs[run_id]
    else:
        want = reid or next((m["reid"] for m in reversed(configs.values()) if m.get("reid")), None)
        if want is None:
            raise MtmctError("no stored run names a ReID model in its config: pass --reid and --run")
        chosen = [r for r, m in configs.items() if _same_model(m.get("reid"), want)]
        if not chosen:
            used = sorted({str(m.get("reid")) for m in configs.values()})
            raise MtmctError(f"no stored run used ReID model {want} (runs used {', '.join(used)}): "
                             "pass --run to search one anyway")
        base = configs[chosen[-1]]
    model = reid or base.get("reid")
    if not model:
        raise MtmctError(f"run {chosen[-1]!r} records no ReID model: pass --reid (the model its embeddings came from)")
    classes = base.get("classes")
    return RunModels(chosen, str(model), detector or base.get("detector"), float(base.get("conf") or 0.3),
                     None if classes is None else tuple(int(c) for c in classes))


def find_people(img: np.ndarray, mode: Mode, detector: Any) -> tuple[list[Any], list[np.ndarray]]:
    """``(boxes, crops)`` of the query persons; ``detector`` a callable giving a Detector, called only if needed."""
    from cameras.embedder import crop_boxes

    h, w = img.shape[:2]
    if mode == "crop":
        return [None], [img]
    scene = mode == "scene" or w > h or max(h, w) > LARGE_PX
    dets = detector().detect(img)
    if not scene:
        largest = float(np.max(dets.areas, initial=0.0))
        if largest >= CROP_AREA * h * w or not len(dets):
            return [None], [img]
    if not len(dets):
        raise MtmctError(f"no person found in the {w}x{h} image (scene mode): pass a person crop or --as crop")
    order = np.argsort(dets.xyxy[:, 0])  # left to right: a stable order for people reading the output
    xyxy = dets.xyxy[order]
    return [tuple(float(v) for v in b) for b in xyxy], crop_boxes(img, xyxy)


@functools.lru_cache(maxsize=4)
def _embedder(model: str, device: str) -> Any:
    """Kept loaded across queries of one process (the dashboard): loading costs more than embedding a crop."""
    from cameras.embedder import load_embedder

    return load_embedder(model, device)


def _detector(models: RunModels, device: str) -> Any:
    if not models.detector:
        raise MtmctError("the run's config names no detector: pass --detector, or --as crop for a person crop")
    return _load_detector(models.detector, device, models.conf, models.classes)


@functools.lru_cache(maxsize=4)
def _load_detector(model: str, device: str, conf: float, classes: tuple[int, ...] | None) -> Any:
    from cameras.detector import load_detector

    return load_detector(model, device, conf=conf, classes=None if classes is None else list(classes))


def describe(db: Any, hits: list[list[Hit]]) -> list[list[Match]]:
    """Matches with each identity's cameras and times and its best tracklet's crop: one small read per run
    (summary rows only; :meth:`storage.Repository.get_identity` would load every box of every member)."""
    from storage.schema import TrackletCrop, TrackletRow

    t, c = TrackletRow, TrackletCrop
    members: dict[tuple, list[tuple[str, float, float]]] = {}
    jpegs: dict[tuple[str, str, int], bytes] = {}
    with db.read() as conn:
        for run in sorted({h.run_id for hs in hits for h in hs}):
            mine = [h for hs in hits for h in hs if h.run_id == run]
            gids = sorted({h.global_id for h in mine if h.global_id is not None})
            loose = [and_(t.camera_id == h.camera_id, t.track_id == h.track_id) for h in mine if h.global_id is None]
            rows = conn.execute(select(t.camera_id, t.track_id, t.global_id, t.start_time, t.end_time).where(
                t.run_id == run, or_(t.global_id.in_(gids), *loose)))
            for cam, track, gid, start, end in rows:
                members.setdefault((run, gid) if gid is not None else (run, cam, track), []).append((cam, start, end))
            best = [and_(c.camera_id == h.camera_id, c.track_id == h.track_id) for h in mine]
            for cam, track, jpeg in conn.execute(select(c.camera_id, c.track_id, c.jpeg).where(
                    c.run_id == run, c.idx == 0, or_(*best))):
                jpegs[(run, cam, track)] = bytes(jpeg)
    out = []
    for hs in hits:
        matches = []
        for rank, h in enumerate(hs, 1):
            key = (h.run_id, h.global_id) if h.global_id is not None else (h.run_id, h.camera_id, h.track_id)
            times: dict[str, tuple[float, float]] = {}
            for cam, start, end in members.get(key, [(h.camera_id, float("nan"), float("nan"))]):
                s, e = times.get(cam, (start, end))
                times[cam] = (min(s, start), max(e, end))
            matches.append(Match(rank, h.run_id, h.global_id, h.score, h.camera_id, h.track_id, times,
                                 jpegs.get((h.run_id, h.camera_id, h.track_id))))
        out.append(matches)
    return out


def save_crops(results: list[QueryResult], out_dir: str | os.PathLike[str]) -> dict[tuple[int, int], str]:
    """Write each match's crop as ``q<query>_r<rank>_<run>_<gid>.jpg``; returns (query, rank) -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for qi, res in enumerate(results):
        for m in res.matches:
            if m.crop:
                safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in m.run_id)
                path = out / f"q{qi + 1}_r{m.rank}_{safe}_{m.global_id if m.global_id is not None else 'none'}.jpg"
                path.write_bytes(m.crop)
                paths[(qi, m.rank)] = str(path)
    return paths
