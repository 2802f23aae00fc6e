"""Storage on both engines: the same tests over a fresh PostgreSQL database and a temporary SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace

import cv2
import numpy as np
import pytest
from sqlalchemy import func, inspect, select, text, update

from conftest import PG_SERVER, _admin
from mtmct.core.errors import MtmctError
from mtmct.core.fusion_report import FusionReport, LinkWindow, Threshold
from mtmct.core.tracklet import SHORT, GlobalIdentity, Tracklet
from mtmct.world_trajectories import world_table
from storage import BOX_DTYPE, Repository, boxes_from_tracklets, default_url, open_database
from storage.engine import create_db_engine
from storage.migrate import head_revision, upgrade
from storage.schema import Base, Box, Camera, Identity, Run, TrackletCrop, TrackletRow, WorldPoint

TABLES = (Run, Camera, Box, TrackletRow, TrackletCrop, Identity, WorldPoint)


@pytest.fixture
def repo(db_url):
    db = open_database(db_url)
    yield Repository(db)
    db.close()


def _jpeg(seed: int) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (64, 32, 3), np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def make_tracklets(camera: str, n: int = 6, frames: int = 25, dim: int = 256, seed: int = 0) -> list[Tracklet]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        start = 1 + 7 * k
        emb = rng.standard_normal(dim).astype(np.float32)
        out.append(Tracklet(
            camera_id=camera, track_id=k + 1, cls=0, frames=np.arange(start, start + frames),
            times=(np.arange(start, start + frames) - 1) / 7.0 + 0.123456789, boxes=rng.random((frames, 4)) * 500,
            scores=rng.random(frames), embedding=None if k == n - 1 else emb / np.linalg.norm(emb),
            quality=float(rng.random()), flags=frozenset({SHORT}) if k % 2 else frozenset(),
            crops=[_jpeg(seed * 100 + k * 3 + i) for i in range(k % 3)],
            # ground positions on every other tracklet (a calibrated view), NaN where beyond the horizon
            world=None if k % 2 else np.where(rng.random((frames, 1)) < 0.1, np.nan, rng.random((frames, 2)) * 30)))
    return out


def counts(repo: Repository) -> dict[str, int]:
    with repo.db.read() as conn:
        return {m.__tablename__: conn.execute(select(func.count()).select_from(m)).scalar_one() for m in TABLES}


def assert_same(a: Tracklet, b: Tracklet) -> None:
    assert (a.camera_id, a.track_id, a.cls, a.quality, a.flags, a.crops) == (b.camera_id, b.track_id, b.cls,
                                                                             b.quality, b.flags, b.crops)
    for name in ("frames", "times", "boxes", "scores"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert (a.embedding is None) == (b.embedding is None)
    if a.embedding is not None:
        assert a.embedding.tobytes() == b.embedding.tobytes()  # bit-identical
    assert (a.world is None) == (b.world is None)
    if a.world is not None:
        assert np.array_equal(a.world, b.world, equal_nan=True) and b.world.dtype == np.float32


def store_run(repo: Repository, run_id: str, cameras=("c1", "c2"), seed: int = 0,
              config: str = "name: test\ncameras: []\n") -> dict[str, list[Tracklet]]:
    tracks = {c: make_tracklets(c, seed=seed + i) for i, c in enumerate(cameras)}
    repo.start_run(run_id, config, "test", list(cameras))
    for c, ts in tracks.items():
        repo.write_camera(run_id, c, None, ts)
    repo.write_identities(run_id, [GlobalIdentity(1, [(cameras[0], 1), (cameras[-1], 2)]),
                                   GlobalIdentity(2, [(cameras[0], 3)])])
    repo.finish_run(run_id, "finished")
    return tracks


def test_migration_head_equals_orm_metadata(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = open_database(db_url)
    with db.read() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert ctx.get_current_revision() == head_revision()
        assert compare_metadata(ctx, Base.metadata) == []
    db.close()


def test_roundtrip_is_exact(repo):
    tracks = make_tracklets("cam-1")
    extra = np.array([(3, 0.5, 999, 1.5, 2.5, 10.25, 20.125, 0.3, 0, np.nan, np.nan)], BOX_DTYPE)  # a box of no tracklet
    repo.start_run("r1", "cfg", "test", ["cam-1"])
    repo.write_camera("r1", "cam-1", np.concatenate([boxes_from_tracklets(tracks), extra]), tracks, frames=60)
    back = repo.load_tracklets("r1", crops=True)
    assert len(back) == len(tracks)
    for a, b in zip(tracks, back):
        assert_same(a, b)
    assert counts(repo)["boxes"] == sum(len(t) for t in tracks) + 1
    assert all(t.crops == [] for t in repo.load_tracklets("r1"))  # crops only on request
    stored = repo.load_embeddings("r1", chunk=2)
    expected = {("r1", t.camera_id, t.track_id): t.embedding for t in tracks if t.embedding is not None}
    assert stored.matrix.dtype == np.float32 and stored.matrix.shape == (len(expected), 256)
    assert {k: row.tobytes() for k, row in zip(stored.keys, stored.matrix)} == {
        k: v.tobytes() for k, v in expected.items()}
    assert stored.global_ids.tolist() == [-1] * len(expected)  # not fused yet
    assert repo.stored_cameras("r1") == ["cam-1"] and repo.run_status("r1") == "running"


def test_identities_and_runs(repo):
    tracks = store_run(repo, "r1")
    ident = repo.get_identity("r1", 1)
    assert ident.cameras == ["c1", "c2"] and ident.n_cameras == 2
    members = {(t.camera_id, t.track_id): t for t in ident.tracklets}
    assert set(members) == {("c1", 1), ("c2", 2)}
    assert members["c2", 2].crops == tracks["c2"][1].crops and members["c2", 2].crops  # real JPEGs back
    assert ident.first_time == min(tracks["c1"][0].start_time, tracks["c2"][1].start_time)
    assert ident.last_time == max(tracks["c1"][0].end_time, tracks["c2"][1].end_time)
    assert {(t.camera_id, t.track_id): t.global_id for t in repo.load_tracklets("r1")}["c1", 3] == 2
    # fusion again: earlier ids are replaced, not added to
    repo.write_identities("r1", [GlobalIdentity(5, [("c1", 3), ("zz", 1)])])  # unknown member skipped
    assert [t.global_id for t in repo.load_tracklets("r1")].count(None) == 11
    assert counts(repo)["identities"] == 1 and repo.get_identity("r1", 5).n_cameras == 1
    with pytest.raises(MtmctError, match="unknown global id 1"):
        repo.get_identity("r1", 1)
    store_run(repo, "r2", cameras=("c3",), seed=5)
    runs = {r.id: r for r in repo.list_runs()}
    r1 = runs["r1"]
    assert (r1.status, r1.cameras, r1.tracklets, r1.identities) == ("finished", 2, 12, 1)
    assert runs["r2"].finished_at is not None and len(repo.load_tracklets()) == 18


def test_reads_the_app_needs(repo, tmp_path):
    """Query and dashboard reads: the config through the run loader, member spans, first crops, embeddings with
    global ids, and a fingerprint that moves when a camera is written and stays put otherwise."""
    video = tmp_path / "c1.mp4"
    video.write_bytes(b"")
    config = (f"name: test\ncameras:\n  - {{id: c1, source: {video}}}\n  - {{id: c2, source: {video}, fps: 7}}\n"
              "models: {reid: /m/reid, detector: /m/det, conf: 0.4}\ntopology: [{a: c1, b: c2, min_s: 1, max_s: 9}]\n")
    tracks = store_run(repo, "r1", config=config)
    cfg = repo.run_config("r1")
    assert (cfg.models.reid, cfg.models.detector, cfg.models.conf) == ("/m/reid", "/m/det", 0.4)
    assert [(c.id, c.fps) for c in cfg.cameras] == [("c1", None), ("c2", 7.0)]
    assert [(link.a, link.b, link.overlap, link.min_s, link.max_s) for link in cfg.topology.links] == [
        ("c1", "c2", False, 1.0, 9.0)]
    before = repo.fingerprint(["r1"])
    store_run(repo, "r2", cameras=("c3",), seed=5)  # not a valid camera config: None, not an exception
    assert repo.run_config("r2") is None and list(repo.run_configs()) == ["r1", "r2"]
    assert repo.fingerprint(["r1"]) == before  # another run does not touch r1's
    spans = repo.tracklet_spans("r1", global_ids=[1], tracklets=[("c2", 4)])
    assert sorted((s.camera_id, s.track_id, s.global_id) for s in spans) == [("c1", 1, 1), ("c2", 2, 1), ("c2", 4, None)]
    assert len(repo.tracklet_spans("r1")) == 12 and repo.tracklet_spans("r1", global_ids=[]) == []
    crops = repo.first_crops("r1", [("c2", 2), ("c1", 1)])  # c1/1 has no crops (k % 3 == 0)
    assert crops == {("c2", 2): tracks["c2"][1].crops[0]}
    stored = repo.load_embeddings("r1")
    gids = dict(zip(stored.keys, stored.global_ids.tolist()))
    assert gids["r1", "c1", 1] == 1 and gids["r1", "c1", 3] == 2 and gids["r1", "c1", 2] == -1
    repo.write_camera("r1", "c2", None, tracks["c2"][:3])
    assert repo.fingerprint(["r1"]) != before


def test_rerun_replaces_instead_of_duplicating(repo):
    store_run(repo, "r1")
    first = counts(repo)
    store_run(repo, "r1")
    assert counts(repo) == first
    assert first["boxes"] == 2 * 6 * 25 and first["runs"] == 1


def test_resume_keeps_finished_cameras(repo):
    repo.start_run("r1", "cfg", "test", ["c1", "c2"])
    repo.write_camera("r1", "c1", None, make_tracklets("c1"))
    repo.write_camera("r1", "c2", None, make_tracklets("c2")[:2], error="decode failed at frame 40")
    assert repo.stored_cameras("r1") == ["c1"]
    assert repo.start_run("r1", "cfg", "test", ["c1", "c2"], resume=True) == ["c1"]
    assert len(repo.load_tracklets("r1")) == 6  # c1 kept, c2's partial output dropped
    assert repo.start_run("r1", "cfg", "test", ["c1", "c2"]) == [] and counts(repo)["tracklets"] == 0


def test_live_resume_keeps_running_cameras_and_the_ids(repo):
    """A live run killed mid-way: resumed live, a camera still ``running`` keeps what it stored (it goes on after
    it) and the ids stay; a failed camera is dropped as in any resume."""
    repo.start_run("r1", "cfg", "test", ["c1", "c2", "c3"])
    repo.write_camera("r1", "c1", None, make_tracklets("c1"))
    repo.write_camera("r1", "c2", None, make_tracklets("c2")[:2], running=True)
    repo.write_camera("r1", "c3", None, make_tracklets("c3")[:2], error="decode failed at frame 40")
    repo.write_identities("r1", [GlobalIdentity(1, [("c1", 1), ("c2", 1)])])
    assert repo.start_run("r1", "cfg", "test", ["c1", "c2", "c3"], resume=True, live=True) == ["c1"]
    cams = {c.camera_id: c.status for c in repo.list_cameras("r1")}
    assert cams == {"c1": "finished", "c2": "running", "c3": "pending"}
    ids = {t.key: t.global_id for t in repo.load_tracklets("r1")}
    assert len(ids) == 8 and ids[("c1", 1)] == ids[("c2", 1)] == 1
    assert repo.start_run("r1", "cfg", "test", ["c1", "c2", "c3"], resume=True) == ["c1"]  # offline: not kept
    assert {t.global_id for t in repo.load_tracklets("r1")} == {None} and len(repo.load_tracklets("r1")) == 6


def test_put_tracklets_adds_and_replaces_a_running_cameras_tracklets_keeping_ids(repo):
    """A live hand-over: new tracklets are added, a longer piece replaces its key (boxes and crops too) and keeps the
    key's global id; the camera is running with its furthest frame; the other tracklets are untouched."""
    repo.start_run("r1", "cfg", "test", ["c1", "c2"])
    first = make_tracklets("c1", n=3)
    repo.put_tracklets("r1", "c1", first[:2])
    repo.write_identities("r1", [GlobalIdentity(7, [("c1", 1)]), GlobalIdentity(8, [("c1", 2)])])
    longer = make_tracklets("c1", n=3, frames=40, seed=1)
    repo.put_tracklets("r1", "c1", [longer[0], first[2]])
    got = {t.key: t for t in repo.load_tracklets("r1", crops=True)}
    assert sorted(got) == [("c1", 1), ("c1", 2), ("c1", 3)]
    assert [got[k].global_id for k in sorted(got)] == [7, 8, None]
    assert len(got[("c1", 1)]) == 40 and got[("c1", 1)].crops == longer[0].crops
    assert np.array_equal(got[("c1", 2)].frames, first[1].frames)
    boxes = repo.camera_boxes("r1", "c1", 1, 10**6)
    assert len(boxes) == 40 + len(first[1]) + len(first[2])
    (cam,) = [c for c in repo.list_cameras("r1") if c.camera_id == "c1"]
    assert (cam.status, cam.frames) == ("running", int(max(longer[0].end_frame, first[2].end_frame)))
    with pytest.raises(MtmctError, match="no camera 'c9'"):
        repo.put_tracklets("r1", "c9", make_tracklets("c9", n=1))
    with pytest.raises(ValueError, match="other cameras"):
        repo.put_tracklets("r1", "c2", first[:1])


def test_failed_camera_write_leaves_nothing(repo, monkeypatch):
    from storage import bulk

    repo.start_run("r1", "cfg", "test", ["c1"])
    real = bulk.insert_rows

    def boom(conn, table, *args, **kwargs):
        if table == "tracklet_crops":  # after the boxes COPY and the tracklets COPY in the same transaction
            raise RuntimeError("disk full")
        return real(conn, table, *args, **kwargs)

    monkeypatch.setattr(bulk, "insert_rows", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        repo.write_camera("r1", "c1", None, make_tracklets("c1"))
    c = counts(repo)
    assert (c["boxes"], c["tracklets"], c["tracklet_crops"]) == (0, 0, 0)
    assert repo.stored_cameras("r1") == []
    monkeypatch.setattr(bulk, "insert_rows", real)
    repo.write_camera("r1", "c1", None, make_tracklets("c1"))  # and the connection is still usable
    assert repo.stored_cameras("r1") == ["c1"]


def test_two_runs_write_at_the_same_time(db_url):
    open_database(db_url).close()  # migrate once, as the CLI would before starting runs
    barrier, errors = threading.Barrier(2), []

    def one_run(run_id: str, seed: int) -> None:
        db = open_database(db_url)  # its own engine, like a second process
        try:
            repo = Repository(db)
            barrier.wait()
            for i in range(4):
                tracks = make_tracklets(f"c{i}", n=40, frames=100, seed=seed + i)
                if i == 0:
                    repo.start_run(run_id, "cfg", run_id, [f"c{j}" for j in range(4)])
                repo.write_camera(run_id, f"c{i}", None, tracks)
            repo.write_identities(run_id, [GlobalIdentity(1, [("c0", 1), ("c1", 1)])])
            repo.finish_run(run_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=one_run, args=(f"run-{k}", 10 * k)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    repo = Repository(open_database(db_url))
    assert {r.id: (r.status, r.cameras, r.tracklets) for r in repo.list_runs()} == {
        "run-0": ("finished", 4, 160), "run-1": ("finished", 4, 160)}
    assert counts(repo)["boxes"] == 2 * 4 * 40 * 100
    repo.db.close()


def test_unknown_run_id(repo):
    for call in (lambda: repo.run_status("nope"), lambda: repo.stored_cameras("nope"),
                 lambda: repo.load_tracklets("nope"), lambda: repo.load_embeddings("nope"),
                 lambda: repo.get_identity("nope", 1), lambda: repo.write_camera("nope", "c1", None, []),
                 lambda: repo.write_identities("nope", []), lambda: repo.finish_run("nope"),
                 lambda: repo.write_fusion_report("nope", None), lambda: repo.fusion_report("nope")):
        with pytest.raises(MtmctError, match="unknown run id 'nope'"):
            call()


def test_unreachable_server_fails_fast_on_one_line():
    start = time.monotonic()
    with pytest.raises(MtmctError) as info:
        open_database("postgresql+psycopg://postgres:s3cret@127.0.0.1:1/x")
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "\n" not in message and "s3cret" not in message and "127.0.0.1" in message
    for url, match in (("nonsense", "not a database URL"), ("mysql://a@b/c", "unsupported database")):
        with pytest.raises(MtmctError, match=match):
            open_database(url)


def test_schema_behind_head_is_refused_or_upgraded(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(MtmctError, match="mtmct db upgrade --db"):
        open_database(url, upgrade=False)
    nested = default_url(tmp_path / "out" / "deeper")  # folders created, embedded default upgraded in place
    assert nested.endswith("/out/deeper/mtmct.db")
    open_database(nested).close()
    open_database(nested, upgrade=False).close()


def test_postgres_behind_head_needs_db_upgrade(pg_url):
    from mtmct.commands import db as db_command

    name = f"mtmct_test_empty_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER}/{name}"
    try:
        with pytest.raises(MtmctError, match="run `mtmct db upgrade --db URL`"):
            open_database(url)
        args = db_command.argparse.Namespace(action="upgrade", db=url, out="unused")
        assert db_command.run(args) == 0
        open_database(url).close()
        assert db_command.run(db_command.argparse.Namespace(action="current", db=url, out="unused")) == 0
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_storage_imports_only_the_foundation():
    code = ("import sys, storage, storage.repository, storage.migrate, storage.schema; "
            "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('mtmct', 'cameras', 'fusion')))")
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert mods and all(m == "mtmct" or m == "mtmct.core" or m.startswith("mtmct.core.") for m in mods), mods


# ---- the ground trajectories kept with the run -------------------------------------------------------------------

def fused(tracks: dict[str, list[Tracklet]], ids: list[GlobalIdentity]) -> list[Tracklet]:
    """The stored tracklets with the global ids ``ids`` give them, as fusion leaves them."""
    gid = {m: i.global_id for i in ids for m in i.members}
    return [replace(t, global_id=gid.get((t.camera_id, t.track_id))) for ts in tracks.values() for t in ts]


def test_world_points_round_trip_replace_and_fall_back(repo):
    """The trajectories the run computed come back as written (times and metres to the bit: float8 on both
    engines); writing again replaces them; ids stored without them (or a resume) leave none, and the map falls back
    to averaging the boxes' ground positions, as for runs stored before revision 0005."""
    tracks = store_run(repo, "r1")
    ids = [GlobalIdentity(1, [("c1", 1), ("c2", 2)]), GlobalIdentity(2, [("c1", 3)])]
    averaged = {w.global_id: w.samples for w in repo.world_trajectories("r1")}
    # fallback: c2 track 2 has no ground positions, so each identity's mean is its one calibrated tracklet's
    for gid, t in ((1, tracks["c1"][0]), (2, tracks["c1"][2])):
        ok = ~np.isnan(t.world).any(axis=1)
        assert np.allclose(averaged[gid], np.column_stack([t.times[ok], t.world[ok]]), atol=1e-6)
    rows, times = world_table(fused(tracks, ids), clock_offsets={"c2": 0.05})
    assert len(rows) and set(rows[:, 1]) == {1, 2}
    repo.write_identities("r1", ids, world=(rows, times))
    assert counts(repo)["world_points"] == len(rows)
    back = repo.world_trajectories("r1")
    assert [w.global_id for w in back] == [1, 2]
    for w in back:
        mine = np.flatnonzero(rows[:, 1] == w.global_id)
        mine = mine[np.argsort(rows[mine, 0])]
        assert np.array_equal(w.samples, np.column_stack([times[mine], rows[mine, 2:]]))
    assert np.allclose(np.diff(back[0].samples[:, 0]), np.diff(rows[rows[:, 1] == 1, 0]) / 7.0)  # tracklets' 7 fps
    one = rows[:, 1] == 2
    repo.write_identities("r1", ids, world=(rows[one], times[one]))
    assert [w.global_id for w in repo.world_trajectories("r1")] == [2] and counts(repo)["world_points"] == one.sum()
    with pytest.raises(ValueError, match="one length"):
        repo.write_identities("r1", ids, world=(rows, times[:-1]))
    assert counts(repo)["world_points"] == one.sum()  # a bad table writes nothing
    repo.write_identities("r1", ids)
    assert counts(repo)["world_points"] == 0
    assert {w.global_id: w.samples.tolist() for w in repo.world_trajectories("r1")} == {
        g: v.tolist() for g, v in averaged.items()}
    repo.write_identities("r1", ids, world=(rows, times))
    repo.start_run("r1", "cfg", "test", ["c1", "c2"], resume=True)  # the ids are gone: so are their trajectories
    assert counts(repo)["world_points"] == 0


# ---- the fusion report kept with the run -------------------------------------------------------------------------

def fusion_report(tracks: dict[str, list[Tracklet]], similarity: float = 0.6180339887) -> FusionReport:
    """A report of every kind of entry: a calibrated, a configured and a default threshold; a learned window whose
    bounds are the stored c1 -> c2 hand-over of identity 1 (c1 track 1 ends, c2 track 2 starts: the values storage
    must give back bit for bit, not round numbers), an overlap link, an unbounded default one."""
    gap = tracks["c2"][1].start_time - tracks["c1"][0].end_time
    return FusionReport(
        thresholds=(Threshold("similarity", similarity, "calibrated", same=41, different=977,
                              rule="1% expected false merges among different-person pairs"),
                    Threshold("overlap_similarity", 0.45, "config"),
                    Threshold("motion_gate", 0.3, "default")),
        links=(LinkWindow("c1", "c2", "calibrated", min_s=gap / 3, max_s=gap * 2.5, matches=1),
               LinkWindow("c2", "c3", "config", overlap=True),
               LinkWindow("c1", "c3", "default")),
        tracklets=12, identities=2, notes=("c1-c3: no confident match, default window",))


def stored_report_text(repo: Repository, run_id: str) -> str | None:
    with repo.db.read() as conn:
        return conn.execute(select(Run.fusion_report).where(Run.id == run_id)).scalar_one()


def test_fusion_report_round_trip_replace_and_removal(repo):
    """Stored with the ids in one call and read back equal; another fusion replaces both; fusion without a report
    leaves none (an old report would describe other ids); re-running, resuming or replacing the run clears it."""
    tracks = store_run(repo, "r1")
    assert repo.fusion_report("r1") is None  # fused without a report: a run stored before reports were kept
    report = fusion_report(tracks)
    ids = [GlobalIdentity(1, [("c1", 1), ("c2", 2)]), GlobalIdentity(2, [("c1", 3)])]
    repo.write_identities("r1", ids, report=report)
    back = repo.fusion_report("r1")
    assert back == report and back.links[0].max_s == report.links[0].max_s  # floats bit-identical
    assert back.threshold("similarity").source == "calibrated" and back.links[2].max_s is None
    text = stored_report_text(repo, "r1")  # canonical: a resumed run stores the same text as an uninterrupted one
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))

    other = fusion_report(tracks, similarity=0.55)
    repo.write_identities("r1", ids[:1], report=other)
    assert repo.fusion_report("r1") == other and counts(repo)["identities"] == 1
    repo.write_identities("r1", ids)
    assert repo.fusion_report("r1") is None
    repo.write_fusion_report("r1", report)  # the report alone, after the ids
    assert repo.fusion_report("r1") == report and counts(repo)["identities"] == 2
    repo.write_fusion_report("r1", None)
    assert repo.fusion_report("r1") is None

    store_run(repo, "r2", cameras=("c3",), seed=5)
    repo.write_fusion_report("r1", report)
    assert repo.fusion_report("r2") is None  # one run's report is not another's
    assert repo.start_run("r1", "cfg", "test", ["c1", "c2"], resume=True) == ["c1", "c2"]
    assert repo.fusion_report("r1") is None  # resumed: fusion runs again, the ids and report were cleared
    repo.write_fusion_report("r1", report)
    store_run(repo, "r1")  # the same run id again: the old run and its report are gone
    assert repo.fusion_report("r1") is None and stored_report_text(repo, "r1") is None


def test_a_bad_fusion_report_writes_nothing(repo, caplog):
    tracks = store_run(repo, "r1")
    report = fusion_report(tracks)
    repo.write_identities("r1", [GlobalIdentity(7, [("c1", 1)])], report=report)
    broken = FusionReport(links=(LinkWindow("c1", "c2", "calibrated", min_s=1.0, max_s=float("inf")),))
    with pytest.raises(ValueError, match=r"links\[0\]\.max_s=inf"):
        repo.write_identities("r1", [GlobalIdentity(8, [("c1", 2)])], report=broken)
    with pytest.raises(TypeError, match="FusionReport or None, got dict"):
        repo.write_fusion_report("r1", report.to_dict())  # type: ignore[arg-type]
    assert repo.fusion_report("r1") == report and repo.get_identity("r1", 7).n_cameras == 1  # nothing replaced
    with repo.db.write() as conn:  # a report this version cannot read (a later format, a hand edit)
        conn.execute(update(Run).where(Run.id == "r1").values(fusion_report='{"links": [{"a": "c1"}]}'))
    assert repo.fusion_report("r1") is None and "no longer loads" in caplog.text


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    """A database with no schema at all: a new SQLite file, or a new PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    request.getfixturevalue("pg_url")  # skips (or fails under CI) when the server is unreachable
    name = f"mtmct_test_old_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def migrate(url: str, revision: str, down: bool = False) -> None:
    from alembic import command

    from storage.engine import Database
    from storage.migrate import alembic_config

    db = Database(create_db_engine(url))
    try:
        with db.write() as conn:
            (command.downgrade if down else command.upgrade)(alembic_config(conn), revision)
    finally:
        db.close()


def downgrade_drops(url: str, revision: str, table: str) -> None:
    """Downgrade ``url`` to ``revision``: ``table`` must be gone and run 'old' kept; then upgrade to head again."""
    migrate(url, revision, down=True)
    engine = create_db_engine(url)
    with engine.connect() as conn:
        assert table not in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar_one() == 1
    engine.dispose()
    migrate(url, "head")


def store_old_run(url: str, revision: str) -> None:
    """Migrate ``url`` to ``revision`` and store a fused run 'old' (one camera, one identity) there with 0001's own
    columns, as the versions of that revision did."""
    migrate(url, revision)
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO runs (id, name, config, status, started_at) "
                          "VALUES ('old', 'old', 'cfg', 'finished', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO cameras (run_id, camera_id, status) VALUES ('old', 'c1', 'finished')"))
        conn.execute(text("INSERT INTO identities (run_id, global_id, n_cameras, n_tracklets) "
                          "VALUES ('old', 1, 1, 0)"))
    engine.dispose()


def test_a_database_from_before_fusion_reports_upgrades(empty_url):
    """A database at revision 0001 holding a fused run (written with 0001's own columns, as that version did)
    upgrades (SQLite by itself on open, PostgreSQL with `mtmct db upgrade`), keeps the run with no report, and
    takes one; downgrading drops only the column (not the runs: SQLite's table copy would cascade-delete them)."""
    store_old_run(empty_url, "0001")
    if empty_url.startswith("postgresql"):
        with pytest.raises(MtmctError, match="mtmct db upgrade"):
            open_database(empty_url)
        assert upgrade(empty_url) == ("0001", head_revision())
    db = open_database(empty_url)
    repo = Repository(db)
    try:
        assert [(r.id, r.cameras, r.identities) for r in repo.list_runs()] == [("old", 1, 1)]
        assert repo.fusion_report("old") is None
        report = FusionReport(thresholds=(Threshold("similarity", 0.5, "default"),), identities=1)
        repo.write_identities("old", [], report=report)
        assert repo.fusion_report("old") == report
    finally:
        db.close()
    migrate(empty_url, "0001", down=True)
    engine = create_db_engine(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cameras")).scalar_one() == 1
        assert "fusion_report" not in {c["name"] for c in inspect(conn).get_columns("runs")}
    engine.dispose()
    migrate(empty_url, "head")
    db = open_database(empty_url, upgrade=False)
    assert Repository(db).fusion_report("old") is None and Repository(db).list_runs()[0].id == "old"
    db.close()


def test_upgrading_masks_passwords_older_versions_stored(empty_url):
    """Versions before revision 0003 stored camera sources verbatim; the upgrade masks them in the run's config,
    its camera rows and their errors, and adds the lease table."""
    migrate(empty_url, "0002")
    secret = "rtsp://admin:CamPass123@cam.example/stream"
    engine = create_db_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO runs (id, name, config, status, started_at) VALUES "
                          "('old', 'old', :c, 'finished', CURRENT_TIMESTAMP)"), {"c": f"cameras:\n- source: {secret}\n"})
        conn.execute(text("INSERT INTO cameras (run_id, camera_id, source, status, error) VALUES "
                          "('old', 'c1', :s, 'failed', :e)"), {"s": secret, "e": f"cannot open {secret}"})
    engine.dispose()
    upgrade(empty_url)
    engine = create_db_engine(empty_url)
    with engine.connect() as conn:
        stored = [*conn.execute(text("SELECT config FROM runs")).scalars(),
                  *conn.execute(text("SELECT source || ' ' || error FROM cameras")).scalars()]
        assert "run_leases" in inspect(conn).get_table_names()
    engine.dispose()
    assert stored and not any("CamPass123" in s for s in stored), stored
    assert all("rtsp://admin:***@cam.example/stream" in s for s in stored)


def test_world_points_upgrade_from_0004_and_downgrade(empty_url):
    """Revision 0005 adds world_points: a run stored at 0004 keeps its rows and has no trajectories (the map falls
    back to its boxes), a new write stores some; downgrading drops only the table, and upgrading again works."""
    store_old_run(empty_url, "0004")
    migrate(empty_url, "head")
    db = open_database(empty_url, upgrade=False)
    repo = Repository(db)
    try:
        assert repo.world_trajectories("old") == []
        repo.write_identities("old", [], world=(np.array([[3, 1, 0.25, -1.5], [4, 1, 0.5, -1.25]]), np.array([0.2, 0.3])))
        assert [w.samples.tolist() for w in repo.world_trajectories("old")] == [[[0.2, 0.25, -1.5], [0.3, 0.5, -1.25]]]
    finally:
        db.close()
    downgrade_drops(empty_url, "0004", "world_points")
    db = open_database(empty_url, upgrade=False)
    assert Repository(db).world_trajectories("old") == []
    db.close()


def test_dropped_frames_upgrade_from_0006_and_downgrade(empty_url):
    """Revision 0007 adds cameras.dropped: a camera stored at 0006 reads as not counted (None), a new write stores
    its count; downgrading drops only the column (the runs stay), and upgrading again works."""
    store_old_run(empty_url, "0006")
    migrate(empty_url, "head")
    db = open_database(empty_url, upgrade=False)
    repo = Repository(db)
    try:
        assert [(c.camera_id, c.dropped) for c in repo.list_cameras("old")] == [("c1", None)]
        repo.write_camera("old", "c2", None, make_tracklets("c2", n=2), frames=40, dropped=7)
        assert {c.camera_id: c.dropped for c in repo.list_cameras("old")} == {"c1": None, "c2": 7}
    finally:
        db.close()
    migrate(empty_url, "0006", down=True)
    engine = create_db_engine(empty_url)
    with engine.connect() as conn:
        assert "dropped" not in {c["name"] for c in inspect(conn).get_columns("cameras")}
        assert conn.execute(text("SELECT count(*) FROM cameras")).scalar_one() == 2
    engine.dispose()
    migrate(empty_url, "head")
    db = open_database(empty_url, upgrade=False)
    assert {c.camera_id: c.dropped for c in Repository(db).list_cameras("old")} == {"c1": None, "c2": None}
    db.close()


def test_id_history_is_stored_in_steps_and_replays_to_the_online_ids(repo):
    """A live run's id decisions (fusion/online_fusion.py on a scripted grouping: two ids, a merge, a split), stored
    one step per transaction, read back equal and replay to the online fusion's current ids; an offline run has
    none, and a change that is neither a merge nor a split is refused before anything is written."""
    from fusion.online_fusion import MERGE, IdChange, OnlineFusion, replay

    a, b, c, d = ("c1", 1), ("c1", 3), ("c2", 2), ("c2", 4)
    script = [[[a], [b]], [[a, b, c]], [[a, c], [b, d]]]
    online = OnlineFusion(fuse=lambda ts: [GlobalIdentity(i + 1, g) for i, g in enumerate(script.pop(0))], delay_s=0)
    tracks = store_run(repo, "live")
    by_key = {t.key: t for ts in tracks.values() for t in ts}
    online.add([by_key[a], by_key[b]])
    stored_first = 0
    for now, more in ((100.0, [c]), (101.0, [d]), (102.0, [])):
        changes = online.step(now)
        repo.append_id_decisions("live", online.first[stored_first:], changes)
        stored_first = len(online.first)
        online.add([by_key[k] for k in more])
    first, history = repo.id_decisions("live")
    assert (first, history) == (online.first, online.history)
    assert [ch.reason for ch in history] == [MERGE, "split"] and replay(first, history) == online.ids
    store_run(repo, "offline")
    assert repo.id_decisions("offline") == ([], [])
    with pytest.raises(ValueError, match="merges"):
        repo.append_id_decisions("live", [], [IdChange(103.0, 1, 2, "renumber")])
    assert repo.id_decisions("live") == (first, history)


def test_id_decisions_upgrade_from_0007_and_downgrade(empty_url):
    """Revision 0008 adds id_decisions: a run stored at 0007 has no history; downgrading drops only the table."""
    store_old_run(empty_url, "0007")
    migrate(empty_url, "head")
    db = open_database(empty_url, upgrade=False)
    try:
        assert Repository(db).id_decisions("old") == ([], [])
    finally:
        db.close()
    downgrade_drops(empty_url, "0007", "id_decisions")
