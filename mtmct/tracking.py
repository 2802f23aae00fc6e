"""Single-camera tracking: source → detector (or a det file) → ReID embedder → DeepSORT → MOT text / video.

This is what ``mtmct track`` and :func:`mtmct.track` run, and what each camera actor of a multi-camera run
does. Per-stage wall time is recorded so benchmarks can say where a frame's milliseconds go.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cameras.deepsort import DeepSort
from cameras.detector import Detector, load_detector
from cameras.embedder import Embedder, load_embedder
from cameras.source import DEFAULT_FPS, Source, SourceError
from cameras.open_source import camera_id_for, open_source
from cameras.annotate import VideoWriter, draw_boxes, draw_tails
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError
from mtmct.core.mot_io import format_mot_rows, read_mot, rows_by_frame

log = logging.getLogger(__name__)

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "trackers"
DEFAULT_DETECTOR = "picodet_s_192_lcnet_pedestrian"  # PaddleDetection's own, pulled on first use
DEFAULT_REID = "reid_model"
DEFAULT_CONF = 0.3  # detector threshold; DeepSORT splits high/low scores above it
STAGES = ("decode", "detect", "embed", "track", "write")


@dataclass(frozen=True)
class FrameStep:
    """One frame's work, handed to ``track(on_frame=...)`` (e.g. a camera actor's tracklet builder).

    ``tracks`` are DeepSort's tracks matched in this frame; ``dets`` the frame's detections (with embeddings
    when ReID ran); ``image`` is None when tracking from a det file alone; ``total`` the frames expected.
    """

    index: int
    timestamp: float
    image: np.ndarray | None
    dets: Detections
    tracks: list
    total: int | None


@dataclass
class TrackResult:
    """What one camera's tracking produced. ``rows`` are MOT rows ``frame,id,x,y,w,h,score,-1,-1,-1``."""

    camera_id: str
    rows: np.ndarray
    frames: int
    mot_file: Path | None = None
    video_file: Path | None = None
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    error: str | None = None  # the source failed part-way; what came before is kept

    @property
    def fps(self) -> float:
        total = sum(self.seconds.values())
        return self.frames / total if total > 0 else 0.0

    def ms_per_frame(self) -> dict[str, float]:
        return {k: 1000.0 * v / max(self.frames, 1) for k, v in self.seconds.items()}

    @property
    def track_ids(self) -> list[int]:
        return sorted(set(self.rows[:, 1].astype(int))) if len(self.rows) else []


def load_tracker(config: str | Path | dict | None = None, motion_only: bool = False) -> DeepSort:
    """DeepSORT from a YAML path, a mapping, or the shipped default (motion-only preset when asked)."""
    if config is None:
        config = CONFIGS / ("deepsort_motion.yaml" if motion_only else "deepsort.yaml")
    if isinstance(config, (str, Path)) and not Path(config).exists():
        raise MtmctError(f"tracker config {config} does not exist")
    return DeepSort.from_config(config)


def _det_file_frames(path: Path, conf: float) -> dict[int, Detections]:
    rows = read_mot(path)
    rows = rows[rows[:, 6] >= conf]
    return {frame: Detections.from_tlwh(sel[:, 2:6], sel[:, 6]) for frame, sel in rows_by_frame(rows).items()}


def _det_file_camera(path: Path) -> str:
    """``SEQ/det/det.txt`` (MOTChallenge layout) names its sequence; any other file its stem."""
    return path.parent.parent.name if path.parent.name == "det" and path.parent.parent.name else path.stem


def _timed(iterator: Iterator, seconds: dict[str, float]) -> Iterator:
    """Yield from ``iterator``, adding the time spent producing each item to ``seconds['decode']``."""
    while True:
        start = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            return
        finally:
            seconds["decode"] += time.perf_counter() - start
        yield item


def track(
    source: str | Source | None = None,
    out: str | Path | None = None,
    camera_id: str | None = None,
    detector: str | Detector | None = None,
    reid: str | Embedder | None = None,
    det_file: str | Path | None = None,
    motion_only: bool = False,
    conf: float = DEFAULT_CONF,
    classes: list[int] | None = None,
    save_video: bool = False,
    draw_threshold: float = 0.0,
    device: str = "cpu",
    tracker: str | Path | dict | DeepSort | None = None,
    fps: float | None = None,
    progress: bool = True,
    max_frames: int | None = None,
    on_frame: Callable[[FrameStep], None] | None = None,
) -> TrackResult:
    """Track one camera. Returns the MOT rows (and writes ``out/<camera_id>.txt`` when ``out`` is given).

    Detections come from ``detector`` or, like PaddleDetection's DeepSORT, from a MOT ``det_file``; with a
    source the ReID model embeds the crops, without one (or with ``motion_only``) tracking uses motion only.
    ``source`` may be an opened :class:`Source` (closed here); ``max_frames`` stops early; ``on_frame`` sees
    every frame's detections and tracks (its time is not counted in the stage timings).
    """
    if source is None and det_file is None:
        raise MtmctError("nothing to track: give a SOURCE, a --det-file, or both")
    if save_video and source is None:
        raise MtmctError("--save-video needs a SOURCE to draw on")
    motion_only = motion_only or source is None
    if det_file is not None and not Path(det_file).is_file():
        raise MtmctError(f"det file {det_file} does not exist")
    dets_by_frame = _det_file_frames(Path(det_file), conf) if det_file is not None else None
    if dets_by_frame is None:
        det = detector if isinstance(detector, Detector) else load_detector(
            detector or DEFAULT_DETECTOR, device=device, conf=conf, classes=classes)
    emb = None
    if not motion_only:
        emb = reid if isinstance(reid, Embedder) else load_embedder(reid or DEFAULT_REID, device=device)
    trk = tracker if isinstance(tracker, DeepSort) else load_tracker(tracker, motion_only=motion_only)
    src = source if isinstance(source, Source) else open_source(source, fps=fps) if source is not None else None
    if camera_id is None:
        camera_id = (src.name if isinstance(source, Source) else camera_id_for(source)) if source is not None \
            else _det_file_camera(Path(det_file))

    result = TrackResult(camera_id, np.zeros((0, 10)), 0)
    seconds = result.seconds
    mot_out = None
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        result.mot_file = Path(out) / f"{camera_id}.txt"
        mot_out = open(result.mot_file, "w")
    video = None
    if save_video:
        result.video_file = Path(out or ".") / f"{camera_id}.mp4"
        video = VideoWriter(result.video_file, src.fps)
    tails: dict[int, deque] = defaultdict(lambda: deque(maxlen=30))
    rows: list[list[float]] = []

    if src is not None:
        frames_iter = ((f.index, f.timestamp, f.image) for f in _timed(iter(src), seconds))
        total = src.frame_count
    else:
        last = max(dets_by_frame, default=0)
        step_s = 1.0 / (fps or DEFAULT_FPS)
        frames_iter = ((i, (i - 1) * step_s, None) for i in range(1, last + 1))
        total = last
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    bar = tqdm(total=total, unit="frame", desc=camera_id, disable=not progress, dynamic_ncols=True)
    try:
        for index, timestamp, image in frames_iter:
            t0 = time.perf_counter()
            if dets_by_frame is not None:
                dets = dets_by_frame.get(index, Detections.empty())
            else:
                dets = det.detect(image)
            t1 = time.perf_counter()
            if emb is not None and len(dets):
                dets = dets.with_embeddings(emb.embed_boxes(image, dets.xyxy))
            t2 = time.perf_counter()
            tracks = trk.update(dets)
            t3 = time.perf_counter()
            hook = 0.0
            if on_frame is not None:  # before drawing, so it sees the clean image; its time is the caller's
                on_frame(FrameStep(index, timestamp, image, dets, tracks, total))
                hook = time.perf_counter() - t3
            frame_rows = [[index, t.track_id, *t.tlwh, t.score, -1, -1, -1] for t in tracks]
            rows.extend(frame_rows)
            if mot_out is not None:
                mot_out.write(format_mot_rows(index, [r[1] for r in frame_rows], [r[2:6] for r in frame_rows],
                                              [r[6] for r in frame_rows]))
            if video is not None:
                shown = [t for t in tracks if t.score >= draw_threshold]
                for t in shown:
                    x0, y0, x1, y1 = t.xyxy
                    tails[t.track_id].append((int((x0 + x1) / 2), int(y1)))
                live = {t.track_id for t in shown}
                draw_tails(image, {k: list(v) for k, v in tails.items() if k in live})
                draw_boxes(image, np.array([t.xyxy for t in shown]).reshape(-1, 4),
                           [str(t.track_id) for t in shown], [t.track_id for t in shown])
                video.write(image)
            t4 = time.perf_counter()
            seconds["detect"] += t1 - t0
            seconds["embed"] += t2 - t1
            seconds["track"] += t3 - t2
            seconds["write"] += t4 - t3 - hook
            result.frames += 1
            bar.update(1)
            if max_frames is not None and result.frames >= max_frames:
                break
    except SourceError as exc:
        result.error = str(exc)
        log.warning("%s", exc)
    finally:
        bar.close()
        if src is not None:
            src.close()
        if mot_out is not None:
            mot_out.close()
        if video is not None:
            video.close()
    result.rows = np.asarray(rows, np.float64).reshape(-1, 10)
    return result
