"""What the pipeline, query and dashboard code call: runs in, tracklets and identities out.

Write granularity follows failure granularity: a camera is stored in one transaction (fully or not at all), so
``--resume`` can trust :meth:`Repository.stored_cameras`; fusion's ids are stored in another, after all
cameras, together with the fusion report that says how they were chosen. An adaptation (``mtmct reid adapt``)
replaces the run's embeddings and ids and adds its ReID model in one more. Re-running a run id replaces the old
rows (cascading deletes, adapted models included), it never adds to them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.sql import ColumnElement

from mtmct.core.camera_config import CameraSetConfig, load_camera_config
from mtmct.core.errors import MtmctError
from mtmct.core.fusion_report import FusionReport
from mtmct.core.id_history import MERGE, SPLIT, Assignment, IdChange
from mtmct.core.secrets import mask_secrets
from mtmct.core.tracklet import GlobalIdentity, Tracklet
from storage import bulk, run_lease
from storage.engine import Database
from storage.schema import (FAILED, FINISHED, PARTIAL, PENDING, RUNNING, Box, Camera, IdDecision, Identity, ReidModel,
                            Run, TrackletCrop, TrackletRow, WorldPoint)

log = logging.getLogger(__name__)

_TRACKLET_COLUMNS = ("run_id", "camera_id", "track_id", "cls", "start_frame", "end_frame", "start_time", "end_time",
                     "n_frames", "quality", "flags", "embedding", "dim", "global_id")
_TRACKLET_PG = ("text", "text", "int4", "int4", "int4", "int4", "float8", "float8", "int4", "float8", "text", "bytea",
                "int4", "int4")
_CROP_COLUMNS, _CROP_PG = ("run_id", "camera_id", "track_id", "idx", "jpeg"), ("text", "text", "int4", "int4", "bytea")
_IDENTITY_COLUMNS = ("run_id", "global_id", "n_cameras", "n_tracklets", "first_time", "last_time")
_IDENTITY_PG = ("text", "int4", "int4", "int4", "float8", "float8")
_WORLD_COLUMNS, _WORLD_PG = ("run_id", "global_id", "frame", "time", "x", "y"), ("text", "int4", "int4", "float8",
                                                                               "float8", "float8")


class CameraSpec(Protocol):
    """What start_run needs of a camera; :class:`mtmct.core.camera_config.CameraConfig` fits."""

    id: str
    source: str
    fps: float | None


@dataclass(frozen=True)
class RunInfo:
    id: str
    name: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    cameras: int
    tracklets: int
    identities: int


@dataclass(frozen=True)
class IdentityInfo:
    """One global identity with its member tracklets (crops included), ordered by start time."""

    run_id: str
    global_id: int
    n_cameras: int
    first_time: float | None
    last_time: float | None
    tracklets: list[Tracklet] = field(default_factory=list)

    @property
    def cameras(self) -> list[str]:
        return sorted({t.camera_id for t in self.tracklets})


@dataclass(frozen=True)
class CameraInfo:
    camera_id: str
    source: str | None
    fps: float | None
    frames: int | None
    status: str
    error: str | None
    dropped: int | None = None  # frames skipped to keep up with real time; None: stored before it was counted


@dataclass(frozen=True)
class TrackletSpan:
    """A tracklet without its arrays: where and when, and whose (``global_id`` None before fusion)."""

    camera_id: str
    track_id: int
    global_id: int | None
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    n_frames: int
    cls: int = 0  # the object class (fusion never puts two classes in one identity)


@dataclass(frozen=True)
class StoredEmbeddings:
    """Tracklet embeddings as one matrix: row ``i`` is tracklet ``keys[i]`` (run, camera, track), which fusion
    placed in identity ``global_ids[i]`` (-1: not fused). What the query index is built from."""

    keys: list[tuple[str, str, int]]
    global_ids: np.ndarray  # (N,) int64
    matrix: np.ndarray  # (N, D) float32, L2-normalised as stored
    classes: np.ndarray | None = None  # (N,) int64: each tracklet's object class (what the query filters on)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])


@dataclass(frozen=True)
class StoredReidModel:
    """A ReID model adapted to a run (:meth:`Repository.write_adaptation`): ``archive`` is the model folder as a
    .tar.gz whose digest is ``sha256`` (empty in listings, :meth:`Repository.reid_models`); ``report`` is what the
    adaptation measured."""

    run_id: str
    version: int
    name: str
    sha256: str
    created_at: datetime  # timezone-aware, UTC
    report: dict
    archive: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class WorldTrack:
    """One global identity on the ground plane: ``samples`` (N, 3) rows of (time s, X m, Y m), by time."""

    global_id: int
    samples: np.ndarray


CAMERA_BOX_DTYPE = np.dtype([("frame", "<i8"), ("track_id", "<i8"), ("global_id", "<i8"), ("x", "<f4"),
                             ("y", "<f4"), ("w", "<f4"), ("h", "<f4")])


def boxes_from_tracklets(tracklets: Iterable[Tracklet]) -> np.ndarray:
    """The per-frame box rows of ``tracklets`` (:data:`storage.bulk.BOX_DTYPE`), for callers without a MOT file."""
    tracklets = list(tracklets)
    out = np.zeros(sum(len(t) for t in tracklets), bulk.BOX_DTYPE)
    start = 0
    for t in tracklets:
        rows = out[start:start + len(t)]
        rows["frame"], rows["time"], rows["track_id"], rows["score"], rows["cls"] = (
            t.frames, t.times, t.track_id, t.scores, t.cls)
        for i, name in enumerate("xywh"):
            rows[name] = t.boxes[:, i]
        rows["gx"], rows["gy"] = (np.nan, np.nan) if t.world is None else (t.world[:, 0], t.world[:, 1])
        start += len(t)
    return out


class Repository:
    """Runs, cameras, boxes, tracklets and identities in one database (see :func:`storage.open_database`)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lease: tuple[str, str] | None = None  # (run id, token) while :meth:`hold` holds one

    @contextmanager
    def hold(self, run_id: str, take_over: bool = False) -> Iterator[None]:
        """Be ``run_id``'s only writer for the block (:mod:`storage.run_lease`): refused in one line while another
        live writer holds it, unless ``take_over``; every write of this run inside the block is fenced."""
        with run_lease.held(self.db, run_id, take_over=take_over) as token:
            self._lease = (run_id, token)
            try:
                yield
            finally:
                self._lease = None

    def _fence(self, conn: Connection, run_id: str) -> None:
        """Inside a write transaction: stop if this repository's lease on ``run_id`` was taken over."""
        if self._lease is not None and self._lease[0] == run_id:
            run_lease.check(conn, run_id, self._lease[1])

    # ---- writes -------------------------------------------------------------------------------------------

    def start_run(self, run_id: str, config_text: str, name: str, cameras: Iterable[CameraSpec | str],
                  resume: bool = False, redo: Collection[str] = (), live: bool = False) -> list[str]:
        """Register a run as running. A run id seen before is replaced, except that with ``resume`` its finished
        cameras are kept (but those in ``redo``); returns those kept camera ids (the cameras the pipeline may skip).
        A live resume (``live``) also keeps what the cameras still ``running`` stored (they go on after it) and the
        run's ids: a live run's ids outlive a restart.
        Replacing a run drops its adapted ReID models with it; resuming a run adapted since, with any camera to run
        again, is an MtmctError (the new cameras' embeddings would not come from the model the kept ones' do)."""
        if not isinstance(run_id, str) or not run_id.strip():
            raise MtmctError(f"run id must be a non-empty string, got {run_id!r}")
        now = datetime.now(timezone.utc)
        config_text = mask_secrets(config_text)  # camera passwords are never stored (mtmct.core.secrets)
        cameras = list(cameras)
        with self.db.write() as conn:
            self._fence(conn, run_id)
            exists = conn.execute(select(Run.id).where(Run.id == run_id)).first() is not None
            kept: list[str] = []
            going_on: list[str] = []
            if resume and exists:
                kept = [c for c in self._finished(conn, run_id) if c not in redo]
                self._refuse_mixed_models(conn, run_id, [_camera_id(c) for c in cameras if _camera_id(c) not in kept])
                going_on = list(conn.execute(select(Camera.camera_id).where(
                    Camera.run_id == run_id, Camera.status == RUNNING, Camera.camera_id.not_in(redo))).scalars()) \
                    if live else []
                conn.execute(delete(Camera).where(Camera.run_id == run_id, Camera.camera_id.not_in(kept + going_on)))
                if not live:
                    conn.execute(delete(Identity).where(Identity.run_id == run_id))
                    conn.execute(delete(WorldPoint).where(WorldPoint.run_id == run_id))  # drawn with the old ids
                    conn.execute(update(TrackletRow).where(TrackletRow.run_id == run_id).values(global_id=None))
                conn.execute(update(Run).where(Run.id == run_id).values(
                    config=config_text, name=name, status=RUNNING, finished_at=None,
                    **({} if live else {"fusion_report": None})))
            else:
                conn.execute(delete(Run).where(Run.id == run_id))  # cascades to everything of the old run
                conn.execute(insert(Run).values(id=run_id, name=name, config=config_text, status=RUNNING,
                                                started_at=now, finished_at=None, fusion_report=None))
            rows = [{"run_id": run_id, "camera_id": c, "source": None, "fps": None} if isinstance(c, str) else
                    {"run_id": run_id, "camera_id": c.id, "source": mask_secrets(str(c.source)),
                     "fps": c.fps} for c in cameras]
            rows = [r for r in rows if r["camera_id"] not in kept and r["camera_id"] not in going_on]
            if rows:
                conn.execute(insert(Camera).values(status=PENDING, frames=None, error=None), rows)
        log.info("run %s started (%s)", run_id, f"kept {kept}" if kept else "fresh")
        return kept

    def write_camera(self, run_id: str, camera_id: str, boxes_rows: np.ndarray | Iterable[Sequence[float]] | None,
                     tracklets: Sequence[Tracklet], frames: int | None = None, error: str | None = None,
                     mot_file: bytes | None = None, dropped: int = 0, running: bool = False) -> None:
        """Store one camera's boxes and tracklets in one transaction, replacing what it had.

        ``boxes_rows``: :data:`storage.bulk.BOX_DTYPE` rows (every box the tracker wrote, tracklet or not), or
        None to store the tracklets' own boxes. ``error`` marks the camera failed (its partial output is kept,
        but :meth:`stored_cameras` leaves it out so ``--resume`` runs it again). ``mot_file``: the camera's MOT file
        as written, kept (compressed) so a resume can write it again (:meth:`camera_mot_file`). ``dropped``: source
        frames skipped to keep up with real time. ``running``: what a live run stored of a camera still at work
        (status ``running``: not finished, so ``--resume`` runs it again).
        """
        boxes = boxes_from_tracklets(tracklets) if boxes_rows is None else bulk.as_boxes(boxes_rows)
        wrong = [t.key for t in tracklets if t.camera_id != camera_id]
        if wrong:
            raise ValueError(f"write_camera({camera_id!r}) got tracklets of other cameras: {wrong[:3]}")
        missing = {t.track_id for t in tracklets} - set(np.unique(boxes["track_id"]).tolist())
        if missing:
            raise ValueError(f"camera {camera_id}: tracklets {sorted(missing)[:5]} have no rows in boxes_rows")
        pairs = (boxes["frame"] << 32) | (boxes["track_id"] & 0xFFFFFFFF)
        if len(np.unique(pairs)) != len(pairs):
            raise ValueError(f"camera {camera_id}: boxes_rows has a track twice in one frame")
        frames = int(boxes["frame"].max(initial=0)) if frames is None else frames
        error = None if error is None else mask_secrets(error)
        with self.db.write() as conn:
            self._fence(conn, run_id)
            self._require_run(conn, run_id)
            old = conn.execute(select(Camera.source, Camera.fps).where(
                Camera.run_id == run_id, Camera.camera_id == camera_id)).first()
            conn.execute(delete(Camera).where(Camera.run_id == run_id, Camera.camera_id == camera_id))
            conn.execute(insert(Camera).values(
                run_id=run_id, camera_id=camera_id, source=old.source if old else None, fps=old.fps if old else None,
                frames=frames, dropped=dropped, status=FAILED if error else RUNNING if running else FINISHED, error=error,
                mot_file=None if mot_file is None else zlib.compress(mot_file, 6)))
            bulk.insert_boxes(conn, run_id, camera_id, boxes)
            bulk.insert_rows(conn, "tracklets", _TRACKLET_COLUMNS, (_tracklet_row(run_id, t) for t in tracklets),
                             _TRACKLET_PG)
            crops = ((run_id, camera_id, t.track_id, i, bytes(c)) for t in tracklets for i, c in enumerate(t.crops))
            bulk.insert_rows(conn, "tracklet_crops", _CROP_COLUMNS, crops, _CROP_PG)
        log.info("run %s camera %s stored: %d boxes, %d tracklets", run_id, camera_id, len(boxes), len(tracklets))

    def put_tracklets(self, run_id: str, camera_id: str, tracklets: Sequence[Tracklet]) -> None:
        """Add or replace some tracklets of a camera still at work (a live run's hand-over: tracklets just closed,
        pieces of open tracks) with their boxes and crops, in one transaction; a replaced tracklet keeps its global
        id, and the camera's row says ``running`` with the furthest frame stored. It costs what it writes, where
        :meth:`write_camera` rewrites the whole camera (what a camera's end stores)."""
        if not tracklets:
            return
        wrong = [t.key for t in tracklets if t.camera_id != camera_id]
        if wrong:
            raise ValueError(f"put_tracklets({camera_id!r}) got tracklets of other cameras: {wrong[:3]}")
        boxes = boxes_from_tracklets(tracklets)
        tracks = sorted({t.track_id for t in tracklets})
        with self.db.write() as conn:
            self._fence(conn, run_id)
            self._require_run(conn, run_id)
            frames = conn.execute(select(Camera.frames).where(Camera.run_id == run_id,
                                                              Camera.camera_id == camera_id)).first()
            if frames is None:
                raise MtmctError(f"run '{run_id}' has no camera {camera_id!r}")
            mine = (TrackletRow.run_id == run_id, TrackletRow.camera_id == camera_id, TrackletRow.track_id.in_(tracks))
            ids = dict(conn.execute(select(TrackletRow.track_id, TrackletRow.global_id).where(*mine)).all())
            conn.execute(delete(TrackletCrop).where(TrackletCrop.run_id == run_id, TrackletCrop.camera_id == camera_id,
                                                    TrackletCrop.track_id.in_(tracks)))
            conn.execute(delete(TrackletRow).where(*mine))
            conn.execute(delete(Box).where(Box.run_id == run_id, Box.camera_id == camera_id, Box.track_id.in_(tracks)))
            bulk.insert_boxes(conn, run_id, camera_id, boxes)
            bulk.insert_rows(conn, "tracklets", _TRACKLET_COLUMNS, (_tracklet_row(run_id, t, ids.get(t.track_id))
                                                                   for t in tracklets), _TRACKLET_PG)
            crops = ((run_id, camera_id, t.track_id, i, bytes(c)) for t in tracklets for i, c in enumerate(t.crops))
            bulk.insert_rows(conn, "tracklet_crops", _CROP_COLUMNS, crops, _CROP_PG)
            conn.execute(update(Camera).where(Camera.run_id == run_id, Camera.camera_id == camera_id).values(
                status=RUNNING, frames=max(frames[0] or 0, int(boxes["frame"].max()))))

    def write_identities(self, run_id: str, identities: Iterable[GlobalIdentity], report: FusionReport | None = None,
                         world: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Store fusion's global ids, its ``report`` and the ids' ground trajectories ``world`` (replacing earlier
        ones) in one transaction, so the stored thresholds, windows and trajectories are always the ones of these
        ids; ``report`` or ``world`` None stores none (an earlier fusion's would describe other ids; the map then
        falls back to the boxes' positions). ``world``: (rows ``frame, global_id, X, Y`` as
        :func:`mtmct.world_trajectories.world_rows` gives them, their times in seconds), what
        :meth:`world_trajectories` gives back. Unknown members are skipped."""
        text = _report_json(report)  # checked before the transaction: a bad report writes nothing
        points = _world_points(run_id, world)
        with self.db.write() as conn:
            self._fence(conn, run_id)
            self._require_run(conn, run_id)
            _store_identities(conn, run_id, identities, text, points)

    def append_id_decisions(self, run_id: str, assignments: Sequence[Assignment], changes: Sequence[IdChange]
                            ) -> None:
        """Add one online-fusion step's decisions to the run's id history, in one transaction: the new first ids,
        then the changes (the order :func:`mtmct.core.id_history.replay` applies them in)."""
        bad = [c for c in changes if c.reason not in (MERGE, SPLIT) or (c.reason == SPLIT) != (c.tracklet is not None)]
        if bad:
            raise ValueError(f"id changes must be merges (no tracklet) or splits (a tracklet), got {bad[:2]}")
        now = datetime.now(timezone.utc)
        rows = [dict(time=a.time, reason="assign", old_id=None, new_id=a.global_id, camera_id=a.tracklet[0],
                     track_id=a.tracklet[1], delay=a.delay) for a in assignments]
        rows += [dict(time=c.time, reason=c.reason, old_id=c.old_id, new_id=c.new_id, delay=None,
                      camera_id=None if c.tracklet is None else c.tracklet[0],
                      track_id=None if c.tracklet is None else c.tracklet[1]) for c in changes]
        if not rows:
            return
        with self.db.write() as conn:
            self._fence(conn, run_id)
            self._require_run(conn, run_id)
            d = IdDecision
            start = conn.execute(select(func.coalesce(func.max(d.seq), 0)).where(d.run_id == run_id)).scalar_one()
            conn.execute(insert(IdDecision), [dict(row, run_id=run_id, seq=start + i + 1, decided_at=now)
                                              for i, row in enumerate(rows)])

    def id_decisions(self, run_id: str) -> tuple[list[Assignment], list[IdChange]]:
        """The run's id history: (first ids, later changes), each in the order decided; empty for offline runs."""
        d = IdDecision
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(select(d.time, d.reason, d.old_id, d.new_id, d.camera_id, d.track_id, d.delay)
                                .where(d.run_id == run_id).order_by(d.seq)).all()
        first = [Assignment((r.camera_id, r.track_id), r.new_id, r.time, r.delay) for r in rows if r.reason == "assign"]
        changes = [IdChange(r.time, r.old_id, r.new_id, r.reason,
                            None if r.camera_id is None else (r.camera_id, r.track_id))
                   for r in rows if r.reason != "assign"]
        return first, changes

    def write_adaptation(self, run_id: str, name: str, archive: bytes, report: dict,
                         embeddings: Mapping[tuple[str, int], np.ndarray], identities: Iterable[GlobalIdentity],
                         fusion_report: FusionReport | None = None,
                         world: tuple[np.ndarray, np.ndarray] | None = None) -> int:
        """Store what ``mtmct reid adapt`` made of a run, in one transaction; returns the model's version (1, 2, ...
        per run).

        ``archive``: the adapted ReID model (:func:`mtmct.adapted_model.pack_model`), stored as the run's next
        version under ``name`` with its sha256 and ``report`` (what the adaptation measured; JSON-ready, numpy
        scalars allowed). ``embeddings``: the new pooled embedding of each (camera, track) of the run, written as
        the tracklets' own are; it must cover every tracklet that has one (the query embeds photos with this model
        only, so an embedding left from the old model would be compared with the new model's). ``identities``,
        ``fusion_report``, ``world``: the ids fused from the new embeddings, stored as :meth:`write_identities`
        stores them. A key that is not one of the run's tracklets, or one left out, is an MtmctError naming it, and
        nothing is written."""
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValueError(f"model name must be a non-empty string of at most 200 characters, got {name!r}")
        if not isinstance(archive, bytes | bytearray | memoryview) or not len(archive):
            raise ValueError("archive must be the model folder's .tar.gz bytes (mtmct.adapted_model.pack_model)")
        archive = bytes(archive)
        report_text = _adaptation_json(report)
        values = _embedding_values(run_id, embeddings)
        text = _report_json(fusion_report)  # all checked before the transaction: bad input writes nothing
        points = _world_points(run_id, world)
        with self.db.write() as conn:
            self._fence(conn, run_id)
            self._require_run(conn, run_id)
            t = TrackletRow
            stored = {(c, k): has for c, k, has in conn.execute(
                select(t.camera_id, t.track_id, t.embedding.is_not(None)).where(t.run_id == run_id))}
            unknown = sorted(set(embeddings) - set(stored))
            if unknown:
                raise MtmctError(f"run {run_id!r} has no tracklet {unknown[0]} (camera, track) ({len(unknown)} "
                                 "unknown keys): nothing stored")
            left = sorted(key for key, has in stored.items() if has and key not in embeddings)
            if left:
                raise MtmctError(f"run {run_id!r}: tracklet {left[0]} (camera, track) and {len(left) - 1} more have an "
                                 "embedding but none from the adapted model: re-embed every tracklet; nothing stored")
            if values:
                table = t.__table__
                conn.execute(update(table).where(table.c.run_id == run_id, table.c.camera_id == bindparam("c"),
                                                 table.c.track_id == bindparam("k"))
                             .values(embedding=bindparam("e"), dim=bindparam("d")), values)
            _store_identities(conn, run_id, identities, text, points)
            last = conn.execute(select(func.max(ReidModel.version)).where(ReidModel.run_id == run_id)).scalar()
            version = (last or 0) + 1
            conn.execute(insert(ReidModel).values(
                run_id=run_id, version=version, name=name, created_at=datetime.now(timezone.utc),
                sha256=hashlib.sha256(archive).hexdigest(), archive=archive, report=report_text))
        log.info("run %s: adapted ReID model %s stored as version %d (%d embeddings replaced)", run_id, name, version,
                 len(values))
        return version

    def write_fusion_report(self, run_id: str, report: FusionReport | None) -> None:
        """Store (replace; None: remove) the run's fusion report alone, for a caller that stored its ids without
        one; :meth:`write_identities` with ``report=`` is the one-transaction path."""
        text = _report_json(report)
        with self.db.write() as conn:
            self._fence(conn, run_id)
            self._require_run(conn, run_id)
            conn.execute(update(Run).where(Run.id == run_id).values(fusion_report=text))

    def finish_run(self, run_id: str, status: str = FINISHED) -> None:
        """Close the run: ``finished`` (every camera succeeded), ``partial`` (some failed: their camera rows hold
        the error) or ``failed`` (all did)."""
        if status not in (FINISHED, PARTIAL, FAILED):
            raise ValueError(f"finish_run status must be {FINISHED!r}, {PARTIAL!r} or {FAILED!r}, got {status!r}")
        with self.db.write() as conn:
            self._fence(conn, run_id)
            self._require_run(conn, run_id)
            conn.execute(update(Run).where(Run.id == run_id).values(
                status=status, finished_at=datetime.now(timezone.utc)))

    # ---- reads --------------------------------------------------------------------------------------------

    def run_status(self, run_id: str) -> str:
        with self.db.read() as conn:
            return self._require_run(conn, run_id)

    def stored_cameras(self, run_id: str) -> list[str]:
        """Cameras of ``run_id`` whose boxes and tracklets are completely stored (what ``--resume`` skips)."""
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            return self._finished(conn, run_id)

    def list_runs(self, run_id: str | None = None) -> list[RunInfo]:
        """Every run (or just ``run_id``, an empty list when unknown), oldest first, with its counts."""

        def count(model: type, key: ColumnElement) -> ColumnElement:
            return select(func.count()).select_from(model).where(key == Run.id).scalar_subquery()

        query = select(Run.id, Run.name, Run.status, Run.started_at, Run.finished_at, count(Camera, Camera.run_id),
                       count(TrackletRow, TrackletRow.run_id), count(Identity, Identity.run_id)
                       ).order_by(Run.started_at)
        if run_id is not None:
            query = query.where(Run.id == run_id)
        with self.db.read() as conn:
            return [RunInfo(*row) for row in conn.execute(query)]

    def load_tracklets(self, run_id: str | None = None, crops: bool = False) -> list[Tracklet]:
        """Tracklets of one run (or all runs) with embeddings and per-frame boxes; JPEG crops when ``crops``."""
        with self.db.read() as conn:
            where = []
            if run_id is not None:
                self._require_run(conn, run_id)
                where.append(TrackletRow.run_id == run_id)
            return _load_tracklets(conn, where, crops)

    def load_embeddings(self, run_id: str | None = None, chunk: int = 100_000) -> StoredEmbeddings:
        """Every stored embedding of one run (or all runs) with its tracklet key and global id, streamed in chunks
        into one preallocated float32 matrix (the query index is rebuilt from this)."""
        t = TrackletRow
        with self.db.read() as conn:
            if self.db.is_postgres:  # one snapshot for the count and the rows
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            where = [t.embedding.is_not(None)]
            if run_id is not None:
                self._require_run(conn, run_id)
                where.append(t.run_id == run_id)
            dims = conn.execute(select(t.dim, func.count()).where(*where).group_by(t.dim)).all()
            if len(dims) > 1:
                raise MtmctError(f"embeddings of different sizes {sorted(d for d, _ in dims)} in "
                                 f"{'run ' + run_id if run_id else 'the database'}: load one run at a time")
            dim, n = dims[0] if dims else (0, 0)
            matrix = np.empty((n, dim), np.float32)
            gids, classes = np.empty(n, np.int64), np.empty(n, np.int64)
            keys: list[tuple[str, str, int]] = []
            for part in _stream_embeddings(conn, run_id, chunk):
                start = len(keys)
                keys.extend(row[:3] for row in part)
                gids[start:len(keys)] = [-1 if row[3] is None else row[3] for row in part]
                classes[start:len(keys)] = [row[5] for row in part]
                matrix[start:len(keys)] = np.frombuffer(b"".join(row[4] for row in part), "<f4").reshape(-1, dim)
            return StoredEmbeddings(keys, gids, matrix, classes)

    def get_identity(self, run_id: str, global_id: int) -> IdentityInfo:
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            row = conn.execute(select(*Identity.__table__.c).where(
                Identity.run_id == run_id, Identity.global_id == global_id)).first()
            if row is None:
                raise MtmctError(f"unknown global id {global_id} in run {run_id!r}")
            members = _load_tracklets(conn, [TrackletRow.run_id == run_id, TrackletRow.global_id == global_id], True)
            members.sort(key=lambda t: (t.start_time, t.camera_id))
            return IdentityInfo(run_id, global_id, row.n_cameras, row.first_time, row.last_time, members)

    # ---- dashboard reads (summaries only: no embeddings, crops or per-frame arrays) ------------------------

    def run_config(self, run_id: str) -> CameraSetConfig | None:
        """The run's stored camera-set config, loaded by :func:`mtmct.core.camera_config.load_camera_config` (the
        loader ``mtmct run`` used); None, logged, when it no longer loads (e.g. its tracker file was moved)."""
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            return _parse_config(run_id, conn.execute(select(Run.config).where(Run.id == run_id)).scalar_one())

    def run_configs(self) -> dict[str, CameraSetConfig | None]:
        """Every run's config (as :meth:`run_config`), oldest run first."""
        with self.db.read() as conn:
            rows = conn.execute(select(Run.id, Run.config).order_by(Run.started_at, Run.id)).all()
        return {run_id: _parse_config(run_id, text) for run_id, text in rows}

    def fusion_report(self, run_id: str) -> FusionReport | None:
        """What fusion decided for the run (thresholds, transit windows, their sources); None before fusion, for a
        run stored before reports were kept, or (logged) when the stored report no longer loads."""
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            text = conn.execute(select(Run.fusion_report).where(Run.id == run_id)).scalar_one()
        if text is None:
            return None
        try:
            return FusionReport.from_dict(json.loads(text))
        except (ValueError, TypeError, AttributeError) as error:  # JSONDecodeError is a ValueError
            log.warning("run %s: its stored fusion report no longer loads (%s); shown without it", run_id, error)
            return None

    def list_cameras(self, run_id: str) -> list[CameraInfo]:
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            c = Camera
            rows = conn.execute(select(c.camera_id, c.source, c.fps, c.frames, c.status, c.error, c.dropped)
                                .where(c.run_id == run_id).order_by(c.camera_id))
            return [CameraInfo(*row) for row in rows]

    def tracklet_spans(self, run_id: str, global_ids: Collection[int] | None = None,
                       tracklets: Collection[tuple[str, int]] = ()) -> list[TrackletSpan]:
        """Tracklets' camera, track, global id and first/last frame and time, by start time: all of the run's, or
        only the members of ``global_ids`` and the (camera, track) ``tracklets`` when either is given (timelines,
        transitions, flows and query results need no more, so 100k tracklets cost one light query)."""
        t = TrackletRow
        where = [t.run_id == run_id]
        if global_ids is not None or tracklets:
            where.append(or_(t.global_id.in_(sorted(global_ids or ())),
                             tuple_(t.camera_id, t.track_id).in_(sorted(tracklets)) if tracklets else False))
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(select(t.camera_id, t.track_id, t.global_id, t.start_frame, t.end_frame, t.start_time,
                                       t.end_time, t.n_frames, t.cls).where(*where)
                                .order_by(t.start_time, t.camera_id, t.track_id))
            return [TrackletSpan(*row) for row in rows]

    def world_trajectories(self, run_id: str) -> list[WorldTrack]:
        """Each global identity's path on the ground (what the dashboard's map draws), by time: the trajectories
        the run computed and wrote to mtmct_world.txt (:meth:`write_identities` ``world=``). A run stored without
        them (by a version before revision 0005, or a caller that passed none) falls back to its calibrated boxes:
        one (time, X, Y) per identity and time, the mean over the cameras that see it then, raw (far-field foot
        points and wrong members included). Identities without ground positions are left out. Grouped queries, so
        a map of 10^6 boxes never builds Tracklet objects."""
        w = WorldPoint
        stored = (select(w.global_id, w.time, w.x, w.y).where(w.run_id == run_id).order_by(w.global_id, w.frame))
        b, t = Box, TrackletRow
        averaged = (select(t.global_id, b.time, func.avg(b.gx), func.avg(b.gy))
                    .join(t, and_(b.run_id == t.run_id, b.camera_id == t.camera_id, b.track_id == t.track_id,
                                  b.frame.between(t.start_frame, t.end_frame)))
                    .where(b.run_id == run_id, t.run_id == run_id, t.global_id.is_not(None),
                           # no position: NULL (SQLite) or NaN (PostgreSQL keeps it, and sorts it above infinity)
                           b.gx > -math.inf, b.gx < math.inf, b.gy > -math.inf, b.gy < math.inf)
                    .group_by(t.global_id, b.time).order_by(t.global_id, b.time))
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            found = conn.execute(stored).all() or conn.execute(averaged).all()
        rows = np.array(found, np.float64).reshape(-1, 4)
        cuts = np.flatnonzero(np.diff(rows[:, 0])) + 1
        return [WorldTrack(int(part[0, 0]), part[:, 1:].copy()) for part in np.split(rows, cuts) if len(part)]

    def first_crops(self, run_id: str, tracklets: Collection[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
        """The first stored JPEG crop of each (camera, track) in ``tracklets`` that has one."""
        if not tracklets:
            return {}
        c = TrackletCrop
        with self.db.read() as conn:
            rows = conn.execute(select(c.camera_id, c.track_id, c.jpeg).where(
                c.run_id == run_id, c.idx == 0, tuple_(c.camera_id, c.track_id).in_(sorted(tracklets))))
            return {(cam, track): bytes(jpeg) for cam, track, jpeg in rows}

    def fingerprint(self, run_ids: Sequence[str]) -> str:
        """A digest that changes whenever the tracklets of ``run_ids`` may have changed, from index lookups only
        (a count would scan every row: 0.2 s at 10^6 on SQLite): per run its status, start/finish times,
        lowest/highest global id and latest adapted ReID model version, per camera its status, frames, error and
        lowest/highest track id. A new, replaced or resumed run, a camera written, fusion followed by
        ``finish_run``, or an adaptation (:meth:`write_adaptation`: new embeddings and ids) changes it. Not noticed:
        a camera rewritten through the API with the same track id range and frame count while its run keeps its
        times, or ids rewritten by :meth:`write_identities` alone with the same lowest/highest id. Caches derived
        from the database (the query index) compare it to decide whether they are stale."""
        t, c, i = TrackletRow, Camera, Identity
        tracks = [select(fn(t.track_id)).where(t.run_id == c.run_id, t.camera_id == c.camera_id).scalar_subquery()
                  for fn in (func.min, func.max)]
        gids = [select(fn(i.global_id)).where(i.run_id == Run.id).scalar_subquery() for fn in (func.min, func.max)]
        model = select(func.max(ReidModel.version)).where(ReidModel.run_id == Run.id).scalar_subquery()
        with self.db.read() as conn:
            runs = conn.execute(select(Run.id, Run.status, Run.started_at, Run.finished_at, *gids, model)
                                .where(Run.id.in_(run_ids)).order_by(Run.id)).all()
            cams = conn.execute(select(c.run_id, c.camera_id, c.status, c.frames, c.error, *tracks)
                                .where(c.run_id.in_(run_ids)).order_by(c.run_id, c.camera_id)).all()
        rows = [[str(v) for v in r] for r in (*runs, *cams)]
        return hashlib.sha256(json.dumps(rows).encode()).hexdigest()

    def reid_model(self, run_id: str, version: int | None = None) -> StoredReidModel | None:
        """The run's adapted ReID model, archive included: the latest version, or ``version``; None when the run has
        none (or not that version). The run's stored embeddings come from the latest one."""
        m = ReidModel
        query = select(*m.__table__.c).where(m.run_id == run_id)
        query = query.order_by(m.version.desc()).limit(1) if version is None else query.where(m.version == version)
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            row = conn.execute(query).first()
        return None if row is None else _stored_model(row, bytes(row.archive))

    def reid_models(self, run_id: str) -> list[StoredReidModel]:
        """The run's adapted ReID models, oldest version first, without their archives (``archive`` is b"")."""
        m = ReidModel
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(select(m.run_id, m.version, m.name, m.sha256, m.created_at, m.report)
                                .where(m.run_id == run_id).order_by(m.version)).all()
        return [_stored_model(row, b"") for row in rows]

    def latest_reid_models(self) -> dict[str, StoredReidModel]:
        """Each adapted run's latest ReID model, without its archive, by run id: one query for every run (what a
        search that picks its runs by model reads)."""
        m = ReidModel
        latest = select(m.run_id, func.max(m.version).label("version")).group_by(m.run_id).subquery()
        with self.db.read() as conn:
            rows = conn.execute(select(m.run_id, m.version, m.name, m.sha256, m.created_at, m.report)
                                .join(latest, and_(m.run_id == latest.c.run_id, m.version == latest.c.version))
                                .order_by(m.run_id)).all()
        return {row.run_id: _stored_model(row, b"") for row in rows}

    def camera_mot_file(self, run_id: str, camera_id: str) -> bytes | None:
        """The camera's MOT file as its tracker wrote it (None: not stored, e.g. a camera stored before
        revision 0003)."""
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            data = conn.execute(select(Camera.mot_file).where(Camera.run_id == run_id,
                                                              Camera.camera_id == camera_id)).scalar_one_or_none()
        return None if data is None else zlib.decompress(data)

    def camera_boxes(self, run_id: str, camera_id: str, first_frame: int, last_frame: int) -> np.ndarray:
        """Boxes of one camera in ``[first_frame, last_frame]`` with their tracklet's global id (-1: none), as a
        :data:`CAMERA_BOX_DTYPE` array ordered by frame (what annotated video frames draw)."""
        b, t = Box, TrackletRow
        query = (select(b.frame, b.track_id, func.coalesce(t.global_id, -1), b.x, b.y, b.w, b.h)
                 .outerjoin(t, and_(t.run_id == b.run_id, t.camera_id == b.camera_id, t.track_id == b.track_id))
                 .where(b.run_id == run_id, b.camera_id == camera_id, b.frame.between(first_frame, last_frame))
                 .order_by(b.frame, b.track_id))
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            return np.array([tuple(r) for r in conn.execute(query)], CAMERA_BOX_DTYPE)

    # ---- helpers ------------------------------------------------------------------------------------------

    @staticmethod
    def _require_run(conn: Connection, run_id: str) -> str:
        status = conn.execute(select(Run.status).where(Run.id == run_id)).scalar_one_or_none()
        if status is None:
            raise MtmctError(f"unknown run id {run_id!r}")
        return status

    @staticmethod
    def _refuse_mixed_models(conn: Connection, run_id: str, rerun: list[str]) -> None:
        """A resume that would run ``rerun`` cameras again of a run adapted since: refused, as their new embeddings
        (the config's model) would sit beside the kept cameras' (the adapted model's) in one run."""
        version = conn.execute(select(func.max(ReidModel.version)).where(ReidModel.run_id == run_id)).scalar()
        if version is not None and rerun:
            raise MtmctError(f"run {run_id!r} was adapted (ReID model version {version}): its kept cameras' "
                             f"embeddings come from the adapted model, so cameras {', '.join(rerun)} cannot be run "
                             "again beside them with the config's; run it again without --resume")

    @staticmethod
    def _finished(conn: Connection, run_id: str) -> list[str]:
        return list(conn.execute(select(Camera.camera_id).where(Camera.run_id == run_id, Camera.status == FINISHED)
                                 .order_by(Camera.camera_id)).scalars())


def _store_identities(conn: Connection, run_id: str, identities: Iterable[GlobalIdentity], report_text: str | None,
                      points: list[tuple[object, ...]]) -> None:
    """Inside a write transaction: replace the run's global ids, fusion report and world points
    (:meth:`Repository.write_identities`); unknown members are skipped."""
    conn.execute(update(Run).where(Run.id == run_id).values(fusion_report=report_text))
    spans = {(c, k): (s, e) for c, k, s, e in conn.execute(
        select(TrackletRow.camera_id, TrackletRow.track_id, TrackletRow.start_time, TrackletRow.end_time)
        .where(TrackletRow.run_id == run_id))}
    conn.execute(update(TrackletRow).where(TrackletRow.run_id == run_id).values(global_id=None))
    conn.execute(delete(Identity).where(Identity.run_id == run_id))
    rows, links, skipped = [], [], []
    for ident in identities:
        members = [m for m in ident.members if tuple(m) in spans]
        skipped += [m for m in ident.members if tuple(m) not in spans]
        times = [t for m in members for t in spans[tuple(m)]]
        rows.append((run_id, ident.global_id, len({c for c, _ in members}), len(members),
                     min(times, default=None), max(times, default=None)))
        links += [{"r": run_id, "c": c, "k": k, "g": ident.global_id} for c, k in members]
    if skipped:
        log.warning("run %s: %d identity members are not stored tracklets, skipped (e.g. %s)",
                    run_id, len(skipped), skipped[0])
    bulk.insert_rows(conn, "identities", _IDENTITY_COLUMNS, rows, _IDENTITY_PG)
    conn.execute(delete(WorldPoint).where(WorldPoint.run_id == run_id))
    bulk.insert_rows(conn, "world_points", _WORLD_COLUMNS, points, _WORLD_PG)
    if links:
        t = TrackletRow.__table__
        conn.execute(update(t).where(t.c.run_id == bindparam("r"), t.c.camera_id == bindparam("c"),
                                     t.c.track_id == bindparam("k")).values(global_id=bindparam("g")), links)


def _camera_id(camera: CameraSpec | str) -> str:
    return camera if isinstance(camera, str) else camera.id


def _embedding_values(run_id: str, embeddings: Mapping[tuple[str, int], np.ndarray]) -> list[dict[str, object]]:
    """Update parameters for new tracklet embeddings, encoded as :func:`_tracklet_row` encodes them (float32
    little-endian bytes and their length); one length, finite values, or a ValueError before anything is written."""
    values, dims = [], set()
    for key, vector in embeddings.items():
        vec = np.asarray(vector)
        if vec.ndim != 1 or not len(vec) or not np.isfinite(vec).all():
            raise ValueError(f"run {run_id}: the embedding of tracklet {key} must be a finite, non-empty vector")
        dims.add(len(vec))
        camera, track = key
        values.append({"c": camera, "k": int(track), "e": vec.astype("<f4").tobytes(), "d": len(vec)})
    if len(dims) > 1:
        raise ValueError(f"run {run_id}: new embeddings of different sizes {sorted(dims)}; one model gives one size")
    return values


def _adaptation_json(report: dict) -> str:
    """An adaptation report as canonical JSON; numpy scalars become numbers, NaN and infinity are refused."""
    if not isinstance(report, dict):
        raise TypeError(f"adaptation report must be a dict, got {type(report).__name__}")

    def plain(value: object) -> object:
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"{type(value).__name__} is not JSON")

    try:
        return json.dumps(report, sort_keys=True, separators=(",", ":"), allow_nan=False, default=plain)
    except (TypeError, ValueError) as error:
        raise ValueError(f"adaptation report is not JSON-ready (numbers finite, keys strings): {error}") from error


def _stored_model(row: Any, archive: bytes) -> StoredReidModel:
    created = row.created_at
    if created.tzinfo is None:  # SQLite keeps no zone: the value was written as UTC
        created = created.replace(tzinfo=timezone.utc)
    return StoredReidModel(row.run_id, row.version, row.name, row.sha256, created, json.loads(row.report), archive)


def _stream_embeddings(conn: Connection, run_id: str | None, chunk: int) -> Iterator[list[tuple]]:
    """(run, camera, track, global id, bytes, class) rows in chunks, straight from the driver: SQLAlchemy's per-row processing and
    PostgreSQL's hex text encoding of bytea would each cost more than the transfer (binary server-side cursor)."""
    raw = conn.connection.driver_connection
    pg = conn.dialect.name == "postgresql"
    sql = "SELECT run_id, camera_id, track_id, global_id, embedding, cls FROM tracklets WHERE embedding IS NOT NULL"
    params: tuple = ()
    if run_id is not None:
        sql, params = sql + (" AND run_id = %s" if pg else " AND run_id = ?"), (run_id,)
    cursor = raw.cursor(name="mtmct_embeddings", binary=True) if pg else raw.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        while part := cursor.fetchmany(chunk):
            yield part
    finally:
        cursor.close()


def _parse_config(run_id: str, text: str | None) -> CameraSetConfig | None:
    """A stored config through the run loader (its paths are already absolute); None, logged, when it fails."""
    import yaml

    try:
        data = yaml.safe_load(text or "")
        if not isinstance(data, dict):  # a string would be taken for a file path
            raise MtmctError(f"expected a mapping, got {type(data).__name__}")
        return load_camera_config(data, stored=True)  # a floor plan moved since the run only leaves the map
    except (MtmctError, yaml.YAMLError, ValueError) as error:  # ValueError: a schema error not worded as ours
        log.warning("run %s: its stored config no longer loads (%s); its models and topology are unknown", run_id,
                    " ".join(str(error).split()))
        return None


def _report_json(report: FusionReport | None) -> str | None:
    """The report as canonical JSON (sorted keys, no spaces): equal reports store equal text, so a resumed run's row
    equals an uninterrupted one's. Non-finite numbers are refused (JSON has none; the dashboard's API could not
    send them): an unbounded window is None."""
    if report is None:
        return None
    if not isinstance(report, FusionReport):
        raise TypeError(f"report must be a FusionReport or None, got {type(report).__name__}")
    data = report.to_dict()
    bad = [f"{part}[{i}].{key}={value}" for part in ("thresholds", "links") for i, item in enumerate(data[part])
           for key, value in item.items() if isinstance(value, float) and not math.isfinite(value)]
    if bad:
        raise ValueError(f"fusion report has non-finite values (use None for an unbounded window): {bad[:3]}")
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _tracklet_row(run_id: str, t: Tracklet, global_id: int | None = None) -> tuple:
    """The tracklet's row; ``global_id`` (when not None) instead of its own."""
    emb = None if t.embedding is None else t.embedding.astype("<f4").tobytes()
    return (run_id, t.camera_id, t.track_id, t.cls, t.start_frame, t.end_frame, t.start_time, t.end_time, len(t),
            float(t.quality), ",".join(sorted(t.flags)), emb, None if emb is None else len(t.embedding),
            t.global_id if global_id is None else global_id)


def _load_tracklets(conn: Connection, where: list[ColumnElement], crops: bool) -> list[Tracklet]:
    """Tracklets matching ``where``, their per-frame arrays rebuilt from their boxes rows."""
    t, b, key = TrackletRow, Box, (TrackletRow.run_id, TrackletRow.camera_id, TrackletRow.track_id)
    rows = conn.execute(select(*t.__table__.c).where(*where).order_by(*key)).all()
    boxes = conn.execute(
        select(b.run_id, b.camera_id, b.track_id, b.frame, b.time, b.x, b.y, b.w, b.h, b.score, b.gx, b.gy)
        .join(t, and_(b.run_id == t.run_id, b.camera_id == t.camera_id, b.track_id == t.track_id,
                      b.frame.between(t.start_frame, t.end_frame)))
        .where(*where).order_by(b.run_id, b.camera_id, b.track_id, b.frame)).all()
    data = np.array([r[3:] for r in boxes], np.float64).reshape(-1, 9)  # NULL ground positions become NaN
    spans: dict[tuple, tuple[int, int]] = {}
    start = 0
    for i in range(1, len(boxes) + 1):
        if i == len(boxes) or boxes[i][:3] != boxes[start][:3]:
            spans[tuple(boxes[start][:3])] = (start, i)
            start = i
    jpegs: dict[tuple, list[bytes]] = {}
    if crops:
        c = TrackletCrop
        query = (select(c.run_id, c.camera_id, c.track_id, c.jpeg).join(t, and_(
            c.run_id == t.run_id, c.camera_id == t.camera_id, c.track_id == t.track_id)).where(*where)
            .order_by(c.run_id, c.camera_id, c.track_id, c.idx))
        for r, cam, k, jpeg in conn.execute(query):
            jpegs.setdefault((r, cam, k), []).append(bytes(jpeg))
    out = []
    for row in rows:
        s, e = spans.get((row.run_id, row.camera_id, row.track_id), (0, 0))
        out.append(Tracklet(
            camera_id=row.camera_id, track_id=row.track_id, cls=row.cls, frames=data[s:e, 0].astype(np.int64),
            times=data[s:e, 1], boxes=data[s:e, 2:6], scores=data[s:e, 6],
            embedding=None if row.embedding is None else np.frombuffer(row.embedding, "<f4").copy(),
            quality=row.quality, flags=frozenset(row.flags.split(",")) if row.flags else frozenset(),
            crops=jpegs.get((row.run_id, row.camera_id, row.track_id), []), global_id=row.global_id,
            world=data[s:e, 7:9]))
    return out


def _world_points(run_id: str, world: tuple[np.ndarray, np.ndarray] | None) -> list[tuple[object, ...]]:
    """``world_points`` rows of (world rows, times), checked before the transaction so bad input writes nothing."""
    if world is None:
        return []
    rows, times = np.asarray(world[0], np.float64).reshape(-1, 4), np.asarray(world[1], np.float64).reshape(-1)
    if len(rows) != len(times) or not np.isfinite(rows).all() or not np.isfinite(times).all():
        raise ValueError(f"run {run_id}: world rows and times must be finite and of one length "
                         f"({len(rows)} rows, {len(times)} times)")
    return [(run_id, int(g), int(f), float(s), float(x), float(y))
            for (f, g, x, y), s in zip(rows.tolist(), times.tolist())]
