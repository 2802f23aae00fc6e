"""The database schema: runs, their cameras, per-frame boxes, tracklets (+ crops), global identities, their
ground trajectories, and the ReID models adapted to a run.

Every child row hangs off its run (and camera) by a foreign key with ON DELETE CASCADE, so replacing a run or a
camera is one DELETE. Natural keys ((run, camera, track) for a tracklet) instead of surrogate ids let the bulk
path COPY tracklets and their crops without reading generated ids back. A tracklet belongs to an identity through
``tracklets.global_id``; fusion reassigns all of a run's ids at once, so no link table is needed. Embeddings
are raw little-endian float32 bytes plus their dimension (no pgvector here; FAISS does the search).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    REAL,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

RUNNING, FINISHED, FAILED, PENDING = "running", "finished", "failed", "pending"
# a run whose every camera is stored and fused, though some failed (their rows carry the error); a plain string
# in the 16-character status column, so no migration
PARTIAL = "partial"

# Stable constraint names, so migrations and the ORM agree on every dialect.
NAMING = {
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Run(Base):
    """One ``mtmct run``: its user-visible id, the camera-set config it ran with, how it ended, and what fusion
    decided (thresholds and transit windows, :class:`mtmct.core.fusion_report.FusionReport` as canonical JSON).

    The report is a column, not a table: it is one document per run, written and read whole (never queried by its
    parts), so a row of its own would add a join and a second cascade for nothing; NULL before fusion and for runs
    stored before revision 0002."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fusion_report: Mapped[str | None] = mapped_column(Text)


class RunLease(Base):
    """Who is writing a run right now (:mod:`storage.run_lease`): one row per run being written, renewed by its
    writer's heartbeat. Not a child of ``runs``: it is taken before the run row exists and outlives its
    replacement."""

    __tablename__ = "run_leases"
    run_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Camera(Base):
    """One camera of a run; ``status`` is finished only once its boxes and tracklets are all stored."""

    __tablename__ = "cameras"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str | None] = mapped_column(Text)
    fps: Mapped[float | None] = mapped_column(Double)
    frames: Mapped[int | None] = mapped_column(Integer)
    # source frames skipped to keep up with real time (--realtime); NULL for cameras stored before revision 0007
    dropped: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    # the camera's MOT file as its tracker wrote it (zlib), so a --resume into another --out rewrites it byte for
    # byte; NULL for cameras stored before revision 0003 or by library callers that wrote no file
    mot_file: Mapped[bytes | None] = mapped_column(LargeBinary)


def _camera_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["run_id", "camera_id"], ["cameras.run_id", "cameras.camera_id"], ondelete="CASCADE")


class Box(Base):
    """One tracked box in one frame (MOT row): the bulk of the data, written by COPY / executemany.

    The natural key doubles as the (run, camera, frame) index, so COPY maintains one B-tree per row, not two plus
    a sequence (a third of the ingest time on PostgreSQL); a tracker reports a track at most once per frame.
    """

    __tablename__ = "boxes"
    run_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    frame: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[float] = mapped_column(Double)
    x: Mapped[float] = mapped_column(REAL)  # REAL = float4 on PostgreSQL: float32 boxes round-trip exactly
    y: Mapped[float] = mapped_column(REAL)
    w: Mapped[float] = mapped_column(REAL)
    h: Mapped[float] = mapped_column(REAL)
    score: Mapped[float] = mapped_column(REAL)
    cls: Mapped[int] = mapped_column(Integer)
    # the foot point on the ground plane, metres (revision 0004); missing (uncalibrated camera, beyond the horizon,
    # older runs): NULL, or NaN where PostgreSQL's binary COPY wrote it; readers treat both alike
    gx: Mapped[float | None] = mapped_column(REAL)
    gy: Mapped[float | None] = mapped_column(REAL)
    __table_args__ = (_camera_fk(),)


class TrackletRow(Base):
    """A closed local track: summary, pooled embedding and (after fusion) its global id."""

    __tablename__ = "tracklets"
    run_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    track_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cls: Mapped[int] = mapped_column(Integer)
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[float] = mapped_column(Double)
    end_time: Mapped[float] = mapped_column(Double)
    n_frames: Mapped[int] = mapped_column(Integer)
    quality: Mapped[float] = mapped_column(Double)
    flags: Mapped[str] = mapped_column(Text)  # comma-separated, sorted
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32 little-endian
    dim: Mapped[int | None] = mapped_column(Integer)
    global_id: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        _camera_fk(),
        Index("ix_tracklets_run_global", "run_id", "global_id"),
    )


class TrackletCrop(Base):
    """A representative JPEG crop of a tracklet, in the order the tracklet holds them."""

    __tablename__ = "tracklet_crops"
    run_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    track_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = (
        ForeignKeyConstraint(["run_id", "camera_id", "track_id"],
                             ["tracklets.run_id", "tracklets.camera_id", "tracklets.track_id"], ondelete="CASCADE"),
    )


class Identity(Base):
    """One person across cameras in a run (members: tracklets with this ``global_id``)."""

    __tablename__ = "identities"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    global_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n_cameras: Mapped[int] = mapped_column(Integer)
    n_tracklets: Mapped[int] = mapped_column(Integer)
    first_time: Mapped[float | None] = mapped_column(Double)
    last_time: Mapped[float | None] = mapped_column(Double)


class IdDecision(Base):
    """One live id decision (revision 0008; :mod:`fusion.online_fusion`): a tracklet's first id (``assign``, with
    ``delay``, seconds from its close), an identity merged into an older one (``merge``: every tracklet of
    ``old_id`` now carries ``new_id``), or a tracklet split off to another id (``split``). Replayed in ``seq``
    order (:func:`mtmct.core.id_history.replay`) they give the run's current ids, so no id changes without a
    record. ``time``: stream seconds of the fusion step that decided it; ``decided_at``: the wall clock."""

    __tablename__ = "id_decisions"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[float] = mapped_column(Double)
    reason: Mapped[str] = mapped_column(String(16))
    old_id: Mapped[int | None] = mapped_column(Integer)
    new_id: Mapped[int] = mapped_column(Integer)
    camera_id: Mapped[str | None] = mapped_column(String(200))
    track_id: Mapped[int | None] = mapped_column(Integer)
    delay: Mapped[float | None] = mapped_column(Double)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorldPoint(Base):
    """One global identity's ground position at one frame of the run's reference clock (revision 0005): the rows
    ``mtmct run`` writes to mtmct_world.txt (views fused, wrong sightings gated out, duplicates suppressed), kept so
    the dashboard's map draws what the run computed, not a raw average of box foot points. The primary key leads
    with the run, so it is also the run's index (the map reads one run, by identity and frame)."""

    __tablename__ = "world_points"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    global_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    frame: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[float] = mapped_column(Double)  # seconds, on the clock the frames count
    x: Mapped[float] = mapped_column(Double)  # metres
    y: Mapped[float] = mapped_column(Double)


class ReidModel(Base):
    """A ReID model fine-tuned on the run's own tracklets (``mtmct reid adapt``, revision 0006), kept with the run
    because the run's stored embeddings then come from it: the query embeds photos with the latest version.

    ``archive`` is the model folder as a .tar.gz (:func:`mtmct.adapted_model.pack_model`, a few MB), stored in the
    database rather than beside it so a run, its embeddings and their model travel and vanish together (the
    cascade); ``sha256`` is the archive's, checked before it is unpacked. ``report``: what the adaptation
    measured, JSON. Versions count 1, 2, ... per run; the table's only reader takes one run's rows."""

    __tablename__ = "reid_models"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sha256: Mapped[str] = mapped_column(String(64))
    archive: Mapped[bytes] = mapped_column(LargeBinary)
    report: Mapped[str] = mapped_column(Text)
