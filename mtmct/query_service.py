"""The query engine: one object that owns the loaded ReID models, detectors and FAISS indexes of a process.

Query by person image (Market-1501 style): which stored global identities look like the person in a photo.

Crop or scene (``mode``): ``"crop"`` embeds the whole image as one person; ``"scene"`` runs the detector and
every person found becomes a query (none found is an error). ``"auto"`` treats landscape images and images
over ``LARGE_PX`` on a side as scenes; otherwise it runs the detector and takes a scene when the largest person
box covers less than ``CROP_AREA`` of the image, a crop when it covers more or when nothing is found (a tight
crop often defeats a detector: the person touches every border).

Models: embeddings only compare within one ReID model, so the ReID model (and detector, threshold, classes)
default to those in the searched run's stored config; a run adapted by ``mtmct reid adapt`` holds embeddings
from its latest adapted model instead, so its ReID model is that one, unpacked from the database into
``$MTMCT_MODEL_HOME/adapted/<sha256>`` on first use (:mod:`mtmct.adapted_model`). ``run_id`` None searches every
run whose ReID model is the same as ``reid`` if given, else as the latest run's (by start time) that has one: an
adapted run is never searched together with runs of its base model, or of another adaptation. An explicit
``reid`` wins over both (the caller says where the embeddings came from).

Why one object and not module caches: the dashboard answers searches on many threads at once. An OpenVINO
compiled model has one infer request, so two threads embedding at once fail ("Infer Request is busy"); each
loaded model therefore sits behind its own lock (a query holds it for one inference, ~10 ms). Indexes are
loaded or built once per (database, run filter) under their own lock and then searched without one (a CPU
FAISS index is read-only during search). FAISS's OpenMP thread count is process-wide, so it is set once here
instead of being toggled around each search, which raced between threads. Nothing is kept at module level:
two services (two apps, two tests) share nothing.

Nothing is written unless a query succeeds: the index cache (:mod:`mtmct.query_index`) is saved to disk last.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import numpy as np

from mtmct.adapted_model import adapted_folder, materialise
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError
from mtmct.query_index import Hit, QueryIndex, build_index, cache_path, load_cached
from storage import Repository

log = logging.getLogger(__name__)

Mode = Literal["auto", "crop", "scene"]
MODES = ("auto", "crop", "scene")
MAX_PIXELS = 50_000_000  # decoded images: a 50-megapixel photo decodes to 150 MB; a larger one is refused from its
# header (raise it with $MTMCT_MAX_PIXELS for bigger photos, at 3 bytes a pixel of server memory per upload)
LARGE_PX = 1000  # auto: a longer side than this is a photo of a scene, not a cut-out person
CROP_AREA = 0.5  # auto: a person box covering more of the image than this makes the image a crop
FAISS_THREADS = 1  # one query is memory-bound: an OpenMP team costs more than it saves (p99 of one query on 10^4
# rows: 7.7 ms with 2 threads, 0.9 ms with 1, under CPU contention); concurrent requests give the parallelism

T = TypeVar("T")


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


class _Slot(Generic[T]):
    """A value loaded once, and the lock that guards loading it and (for models) every use of it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value: T | None = None


class QueryService:
    """Loaded models and indexes, shared by every query of a process; safe to call from many threads.

    ``device`` runs the ReID model and detector (cpu, gpu, gpu:1...). ``faiss_threads`` sets FAISS's OpenMP
    threads for the whole process, once (None leaves them as they are).
    """

    def __init__(self, device: str = "cpu", faiss_threads: int | None = FAISS_THREADS) -> None:
        self.device = device
        self._lock = threading.Lock()  # guards the slot tables only, never held while loading or computing
        self._models: dict[tuple, _Slot[Any]] = {}
        self._indexes: dict[Path, _Slot[QueryIndex]] = {}
        if faiss_threads is not None:
            import faiss

            faiss.omp_set_num_threads(faiss_threads)

    # ---- the query ----------------------------------------------------------------------------------------

    def query(self, repo: Repository, image: str | os.PathLike[str] | bytes | np.ndarray, run_id: str | None = None,
              top_k: int = 10, mode: Mode = "auto", reid: str | None = None, detector: str | None = None,
              classes: list[int] | None = None) -> list[QueryResult]:
        """Ranked stored identities per person in ``image`` (one :class:`QueryResult` per query person);
        ``classes`` keeps only identities of those object classes (fusion never mixes classes in one)."""
        if mode not in MODES:
            raise MtmctError(f"unknown query mode {mode!r}: use one of {', '.join(MODES)}")
        if top_k <= 0:
            raise MtmctError(f"top_k must be positive, got {top_k}")
        img = read_image(image)
        models = select_runs(repo, run_id, reid, detector)
        boxes, crops = find_people(img, mode, lambda frame: self.detect(models, frame))
        queries = self.embed(models.reid, crops)
        index = self.index(repo, models.run_ids, f"run={run_id}" if run_id else f"reid={models.reid}")
        if queries.shape[1] != index.dim:
            raise MtmctError(f"ReID model {models.reid} gives {queries.shape[1]}-d embeddings but the stored ones "
                             f"are {index.dim}-d: use the run's own model (leave out --reid)")
        results = [QueryResult(box, m) for box, m in zip(boxes, describe(repo, index.search(queries, top_k, classes)))]
        self._save(index)  # only now: a failed query leaves no cache file behind
        return results

    # ---- models: loaded once, one inference at a time each ------------------------------------------------

    def embed(self, model: str, crops: list[np.ndarray]) -> np.ndarray:
        """L2-normalised embeddings of ``crops`` by ReID ``model`` (loaded on first use)."""
        from cameras.embedder import load_embedder

        slot = self._slot(self._models, ("reid", model))
        with slot.lock:
            if slot.value is None:
                slot.value = load_embedder(model, self.device)
            return slot.value.embed(crops)

    def detect(self, models: RunModels, image: np.ndarray) -> Detections:
        """People in ``image`` by the runs' detector, threshold and classes (loaded on first use)."""
        from cameras.detector import load_detector

        if not models.detector:
            raise MtmctError("the run's config names no detector: pass --detector, or --as crop for a person crop")
        slot = self._slot(self._models, ("detector", models.detector, models.conf, models.classes))
        with slot.lock:
            if slot.value is None:
                slot.value = load_detector(models.detector, self.device, conf=models.conf,
                                           classes=None if models.classes is None else list(models.classes))
            return slot.value.detect(image)

    # ---- indexes: one per (database, run filter), current with the database --------------------------------

    def index(self, repo: Repository, run_ids: list[str], filter_key: str) -> QueryIndex:
        """The index over ``run_ids``: kept in memory or read from the disk cache when its fingerprint is current,
        else built from the database (saved by a query that succeeds). ``source`` says which."""
        start = time.perf_counter()
        path = cache_path(repo.db, filter_key)
        current = repo.fingerprint(run_ids)
        slot = self._slot(self._indexes, path)
        with slot.lock:
            kept = slot.value
            if kept is not None and kept.fingerprint == current:
                return dataclasses.replace(kept, source="memory")
            found = load_cached(path, current) or build_index(repo, run_ids, current, path)
            slot.value = found
        log.info("query index (%d rows) %s in %.3f s", len(found), found.source, time.perf_counter() - start)
        return dataclasses.replace(found)

    def _save(self, index: QueryIndex) -> None:
        """Write a freshly built index to the disk cache, once, whichever query thread gets here first."""
        if index.path is None:
            return
        slot = self._slot(self._indexes, index.path)
        with slot.lock:
            if slot.value is not None and slot.value.source == "built" and slot.value.fingerprint == index.fingerprint:
                slot.value.save()

    def _slot(self, table: dict, key: Any) -> _Slot:
        with self._lock:
            return table.setdefault(key, _Slot())


class ImageTooLarge(MtmctError):
    """An image whose header declares more pixels than the limit (refused before it is decoded)."""


def max_pixels_default() -> int:
    """The pixel limit for decoded images: ``$MTMCT_MAX_PIXELS`` or :data:`MAX_PIXELS`."""
    value = os.environ.get("MTMCT_MAX_PIXELS", "")
    try:
        limit = int(float(value)) if value else MAX_PIXELS
    except ValueError as error:
        raise MtmctError(f"MTMCT_MAX_PIXELS must be a number of pixels, got {value!r}") from error
    if limit <= 0:
        raise MtmctError(f"MTMCT_MAX_PIXELS must be positive, got {value!r}")
    return limit


def header_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from an encoded image's header (any format Pillow identifies), None when no format
    does. Each format's header parser is called directly, as ``Image.open`` does but without Pillow's own
    decompression-bomb check, a process-wide setting that would refuse images over ~179 megapixels whatever
    limit the caller asked for."""
    import io

    from PIL import Image

    if not data:
        return None
    Image.init()
    prefix = data[:16]
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        try:
            verdict = accept(prefix) if accept is not None else True
            if not verdict or isinstance(verdict, str):  # a str: Pillow knows the format but cannot read it
                continue
            with factory(io.BytesIO(data), "") as image:
                return image.size
        except Exception:  # noqa: BLE001,S112 - not this format: try the next, as Image.open does
            continue
    return None


def check_pixels(data: bytes | bytearray | memoryview, name: str = "the image", max_pixels: int | None = None) -> None:
    """Refuse an encoded image whose header declares more than ``max_pixels`` (default :func:`max_pixels_default`)
    with :class:`ImageTooLarge`, reading only the header (:func:`header_size`), so an image bomb (a small PNG of
    30000x30000 pixels that decodes to 2.7 GB) never reaches the decoder. Data Pillow cannot identify passes
    through: the decoder then refuses it as not an image."""
    limit = max_pixels or max_pixels_default()
    size = header_size(bytes(data))
    if size is None:  # not an image Pillow knows: the decoder decides
        return
    width, height = size
    if width * height > limit:
        raise ImageTooLarge(f"{name} is {width}x{height} = {width * height / 1e6:.0f} megapixels, over the limit of "
                            f"{limit / 1e6:g} megapixels (MTMCT_MAX_PIXELS)")


def read_image(image: str | os.PathLike[str] | bytes | np.ndarray, max_pixels: int | None = None) -> np.ndarray:
    """A BGR image from a path, encoded bytes or an array; MtmctError when it is not an image, ImageTooLarge when
    its header declares more than ``max_pixels`` (default ``$MTMCT_MAX_PIXELS`` or 50 megapixels)."""
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
    check_pixels(image, name, max_pixels)
    img = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR) if len(image) else None
    if img is None:
        raise MtmctError(f"{name} is not an image cv2 can decode (JPEG, PNG, BMP, ...)")
    return img


def _same_model(a: str | None, b: str | None) -> bool:
    def norm(m: str) -> str:
        p = Path(m).expanduser()
        return str(p.resolve()) if p.exists() else m

    return a is not None and b is not None and norm(a) == norm(b)


def select_runs(repo: Repository, run_id: str | None, reid: str | None, detector: str | None) -> RunModels:
    """The runs a query searches and the models to embed it with (see module docstring)."""
    configs = repo.run_configs()
    if not configs:
        raise MtmctError(f"database {repo.db.url} holds no runs: run `mtmct run` first")
    reids = {r: c.models.reid if c is not None else None for r, c in configs.items()}
    adapted = repo.latest_reid_models()  # its embeddings come from this model, not from its config's
    reids.update((r, str(adapted_folder(m.sha256))) for r, m in adapted.items() if r in reids)
    if run_id is not None:
        if run_id not in configs:
            raise MtmctError(f"unknown run id {run_id!r} (stored: {', '.join(list(configs)[-5:])})")
        chosen = [run_id]
    else:
        want = reid or next((m for m in reversed(reids.values()) if m), None)
        if want is None:
            raise MtmctError("no stored run names a ReID model in its config: pass --reid and --run")
        chosen = [r for r, m in reids.items() if _same_model(m, want)]
        if not chosen:
            used = sorted({str(m) for m in reids.values()})
            raise MtmctError(f"no stored run used ReID model {want} (runs used {', '.join(used)}): "
                             "pass --run to search one anyway")
    base = configs[chosen[-1]]
    model = reid or reids[chosen[-1]]
    if not model:
        raise MtmctError(f"run {chosen[-1]!r} records no ReID model: pass --reid (the model its embeddings came from)")
    if not reid and chosen[-1] in adapted and not Path(model).is_dir():  # first use here: unpack it
        stored = repo.reid_model(chosen[-1], adapted[chosen[-1]].version)
        if stored is None:
            raise MtmctError(f"run {chosen[-1]!r} was replaced while the search started: search again")
        model = str(materialise(stored))
    if base is None:
        return RunModels(chosen, model, detector)
    return RunModels(chosen, model, detector or base.models.detector, base.models.conf, base.models.classes)


def find_people(img: np.ndarray, mode: Mode, detect: Callable[[np.ndarray], Detections],
                ) -> tuple[list[Any], list[np.ndarray]]:
    """``(boxes, crops)`` of the query persons; ``detect`` finds people in an image, called only if needed."""
    from cameras.embedder import crop_boxes

    h, w = img.shape[:2]
    if mode == "crop":
        return [None], [img]
    scene = mode == "scene" or w > h or max(h, w) > LARGE_PX
    dets = detect(img)
    if not scene:
        largest = float(np.max(dets.areas, initial=0.0))
        if largest >= CROP_AREA * h * w or not len(dets):
            return [None], [img]
    if not len(dets):
        raise MtmctError(f"no person found in the {w}x{h} image (scene mode): pass a person crop or --as crop")
    order = np.argsort(dets.xyxy[:, 0])  # left to right: a stable order for people reading the output
    xyxy = dets.xyxy[order]
    return [tuple(float(v) for v in b) for b in xyxy], crop_boxes(img, xyxy)


def describe(repo: Repository, hits: list[list[Hit]]) -> list[list[Match]]:
    """Matches with each identity's cameras and times and its best tracklet's crop: two small reads per run
    (summary rows only; :meth:`storage.Repository.get_identity` would load every box of every member)."""
    members: dict[tuple, list[tuple[str, float, float]]] = {}
    jpegs: dict[tuple[str, str, int], bytes] = {}
    for run in sorted({h.run_id for hs in hits for h in hs}):
        mine = [h for hs in hits for h in hs if h.run_id == run]
        gids = {h.global_id for h in mine if h.global_id is not None}
        loose = {(h.camera_id, h.track_id) for h in mine if h.global_id is None}
        for s in repo.tracklet_spans(run, global_ids=gids, tracklets=loose):
            key = (run, s.global_id) if s.global_id is not None else (run, s.camera_id, s.track_id)
            members.setdefault(key, []).append((s.camera_id, s.start_time, s.end_time))
        for (cam, track), jpeg in repo.first_crops(run, {(h.camera_id, h.track_id) for h in mine}).items():
            jpegs[(run, cam, track)] = jpeg
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
