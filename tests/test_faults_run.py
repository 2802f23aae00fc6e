"""Faults of a run (issue 11, the run side): half-written files, a status that lies, values that break later.

Each bad input is one row of a table and must give one line (exit 2) and lose nothing already stored.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from conftest import shared_path
from mtmct.core.atomic_file import atomic_write
from mtmct.core.errors import MtmctError

MTMCT = str(Path(sys.executable).with_name("mtmct"))


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, *args], capture_output=True, text=True, timeout=timeout)


def one_error_line(res: subprocess.CompletedProcess, command: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr and "Warning" not in res.stderr, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"mtmct {command}: error:"), res.stderr
    return errors[0]


def _config(tmp_path: Path, sources: dict[str, str], name: str = "t") -> Path:
    models = shared_path("models")
    cfg = {"name": name,
           "models": {"detector": str(models / "yolox-nano-coco"), "reid": str(models / "omz-person-reid-0287")},
           "cameras": [{"id": cid, "source": src, "fps": 10} for cid, src in sources.items()]}
    path = tmp_path / "cameras.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


# ---- half-written files look whole ----------------------------------------------------------------------------

def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "mtmct_result.txt"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_write(path) as fh:
        fh.write("new, half\n")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    with atomic_write(path) as fh:
        fh.write("new\n")
    assert path.read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


class _Tracklet(SimpleNamespace):
    def __len__(self) -> int:
        return len(self.frames)


def _tracklet(camera: str, track: int, box) -> _Tracklet:
    return _Tracklet(camera_id=camera, track_id=track, global_id=track, cls=0, frames=np.array([1]), boxes=[box],
                     crops=[], start_frame=1, end_frame=1, start_time=0.0, end_time=0.0, quality=1.0, flags=set(),
                     embedding=None, world=None)


def _savez_dying_half_way(target, **arrays) -> None:
    """np.savez_compressed killed after its first bytes, whether handed a path or an open file."""
    if isinstance(target, (str, Path)):
        with open(target, "wb") as fh:
            fh.write(b"PK half")
    else:
        target.write(b"PK half")
    raise OSError("disk full")


@pytest.mark.parametrize("name", ["mtmct_result.txt", "tracklets.jsonl", "tracklets.npz"])
def test_outputs_failing_half_way_leave_the_previous_files_whole(tmp_path, monkeypatch, name):
    """A run dying while it writes its outputs leaves each file as it was, never cut short."""
    import mtmct.pipeline as pipeline

    for old in ("mtmct_result.txt", "tracklets.jsonl", "tracklets.npz"):
        (tmp_path / old).write_text("previous run\n")
    good, bad = _tracklet("c1", 1, (1.0, 2.0, 3.0, 4.0)), _tracklet("c1", 2, ("x", 2.0, 3.0, 4.0))
    tracklets = [good, bad]
    if name == "tracklets.jsonl":  # the result file is whole; the second tracklet breaks the jsonl half-way
        bad.boxes = [(5.0, 6.0, 7.0, 8.0)]
        bad.quality = "not a number"
    if name == "tracklets.npz":
        bad.boxes = [(5.0, 6.0, 7.0, 8.0)]
        monkeypatch.setattr(pipeline.np, "savez_compressed", _savez_dying_half_way)
    result = SimpleNamespace(out_dir=tmp_path, tracklets=tracklets, result_file=tmp_path / "mtmct_result.txt",
                             world=(np.zeros((0, 4)), np.zeros(0)))
    with pytest.raises((TypeError, ValueError, OSError)):
        pipeline.write_outputs(result)
    assert (tmp_path / name).read_text() == "previous run\n"
    if name != "mtmct_result.txt":  # the files before the broken one were written whole
        assert (tmp_path / "mtmct_result.txt").read_text().splitlines()[0].startswith("c1,1,1,1.00")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_mot_file_appears_only_once_whole(tmp_path):
    from cameras.mot_writer import DetWriter, MotWriter

    for writer_type in (MotWriter, DetWriter):
        path = tmp_path / f"{writer_type.__name__}.txt"
        writer = writer_type(path)
        assert not path.exists()  # a camera killed now leaves only .<name>.part, never a file that looks whole
        writer.close()
        assert path.exists() and not (tmp_path / f".{path.name}.part").exists()


# ---- a run's status tells the truth ---------------------------------------------------------------------------

@pytest.mark.parametrize("errors, status", [
    ([None, None], "finished"), ([None, "c2: gone"], "partial"), (["c1: gone", "c2: gone"], "failed")])
def test_run_status_table(errors, status):
    from cameras.camera_actor import CameraResult
    from mtmct.pipeline import run_status

    assert run_status([CameraResult(f"c{i}", error=e) for i, e in enumerate(errors, 1)]) == status


@pytest.mark.parametrize("cameras, status", [({"c1": "ok", "c2": "gone"}, "partial"),
                                             ({"c1": "gone", "c2": "gone"}, "failed")])
def test_a_run_with_a_failed_camera_is_not_finished(tmp_path, db_url, cameras, status):
    from mtmct.pipeline import run_cameras
    from storage import Repository, open_database

    video = shared_path("data", "mtmc-pets09-overlap", "c1", "video.mp4")
    config = _config(tmp_path, {c: str(video) if s == "ok" else str(tmp_path / f"{c}.mp4") for c, s in cameras.items()})
    result = run_cameras(config, tmp_path / "out", use_ray=False, progress=False, max_frames=3, db=db_url,
                         run_id="st", handle_signals=False)
    repo = Repository(open_database(db_url))
    assert repo.run_status("st") == status
    assert [c.camera_id for c in result.failed] == [c for c, s in cameras.items() if s == "gone"]
    assert repo.stored_cameras("st") == [c for c, s in cameras.items() if s == "ok"]


# ---- values that break later ----------------------------------------------------------------------------------

@pytest.mark.parametrize("row, message", [
    ("1000000000,-1,10,10,20,40,0.9", "beyond the last frame"),
    ("1,-1,1e300,1e300,1e300,1e300,0.9", "beyond 1e+06 pixels"),
    ("1,-1,10,10,-5,40,0.9", "negative box size"),
    ("1,-1,-1e300,10,20,40,0.9", "beyond 1e+06 pixels"),
    ("1,-1,nan,10,20,40,0.9", "non-finite"),
    ("1,-1,inf,10,20,40,0.9", "non-finite"),
])
def test_bad_det_file_rows_are_one_line(tmp_path, row, message):
    det = tmp_path / "cam.txt"
    det.write_text("1,-1,10,10,20,40,0.9\n" + row + "\n")
    res = cli("track", "--det-file", str(det), "--out", str(tmp_path / "out"), timeout=60)
    line = one_error_line(res, "track")
    assert f"{det}:2" in line and message in line, line
    assert not (tmp_path / "out" / "cam.txt").exists()


@pytest.mark.parametrize("run_id, message", [
    ("x" * 201, "201 characters"), ("a/b", "may hold only"), ("", "may hold only"), ("-x", "may hold only"),
    ("a b", "may hold only"), ("ü", "may hold only")])
def test_bad_run_id_is_one_line_before_anything_runs(tmp_path, db_url, run_id, message):
    from storage import Repository, open_database

    repo = Repository(open_database(db_url))
    repo.start_run("kept", "{}", "kept", [])
    repo.finish_run("kept")
    config = _config(tmp_path, {"c1": str(tmp_path / "never-opened.mp4")})
    res = cli("run", str(config), "--out", str(tmp_path / "out"), "--db", db_url, f"--run-id={run_id}")
    assert message in one_error_line(res, "run")
    assert [r.id for r in repo.list_runs()] == ["kept"] and repo.run_status("kept") == "finished"
    assert not (tmp_path / "out").exists()


def test_library_refuses_a_bad_run_id(tmp_path):
    from mtmct.pipeline import run_cameras

    config = _config(tmp_path, {"c1": str(tmp_path / "never-opened.mp4")}, name="t" * 201)
    with pytest.raises(MtmctError, match="at most 200"):
        run_cameras(config, tmp_path / "out", use_ray=False, progress=False, handle_signals=False)


@pytest.mark.parametrize("url", ["postgresql+psycopg://u@127.0.0.1:abc/test", "postgresql+psycopg://u@127.0.0.1:/x:1/db"])
def test_database_url_with_a_bad_port_is_one_line(tmp_path, url):
    config = _config(tmp_path, {"c1": str(tmp_path / "never-opened.mp4")})
    res = cli("run", str(config), "--out", str(tmp_path / "out"), "--db", url)
    line = one_error_line(res, "run")
    assert "database URL" in line or "cannot" in line, line


# ---- --resume with an edited config ---------------------------------------------------------------------------

def test_resume_with_a_changed_source_is_refused_unless_told(tmp_path, db_url):
    from mtmct.pipeline import run_cameras
    from storage import Repository, open_database

    data = shared_path("data", "mtmc-pets09-overlap")
    first = _config(tmp_path, {"c1": str(data / "c1" / "video.mp4")})
    kw = dict(use_ray=False, progress=False, max_frames=2, db=db_url, run_id="edit", handle_signals=False)
    run_cameras(first, tmp_path / "out", **kw)
    repo = Repository(open_database(db_url))
    before = repo.list_cameras("edit")
    (tmp_path / "edited").mkdir()
    edited = _config(tmp_path / "edited", {"c1": str(data / "c2" / "video.mp4")})
    with pytest.raises(MtmctError, match=r"--resume: camera c1 of run 'edit' changed source or fps.*--redo-changed"):
        run_cameras(edited, tmp_path / "out", resume=True, **kw)
    assert repo.list_cameras("edit") == before and repo.run_status("edit") == "finished"  # nothing lost
    res = cli("run", str(edited), "--out", str(tmp_path / "out"), "--db", db_url, "--run-id", "edit", "--resume",
              "--max-frames", "2")
    assert "--redo-changed" in one_error_line(res, "run")
    run_cameras(edited, tmp_path / "out", resume=True, redo_changed=True, **kw)
    (cam,) = repo.list_cameras("edit")
    assert cam.source == str(data / "c2" / "video.mp4") and cam.status == "finished"


def test_resume_into_another_out_writes_every_output_file(tmp_path, db_url):
    """Found: `--resume` into another `--out` wrote only the redone cameras' files. Now the kept cameras' MOT files
    come back from storage byte for byte, and every file equals the first folder's."""
    from mtmct.pipeline import run_cameras

    data = shared_path("data", "mtmc-pets09-overlap")
    config = _config(tmp_path, {"c1": str(data / "c1" / "video.mp4"), "c2": str(data / "c2" / "video.mp4")})
    kw = dict(use_ray=False, progress=False, max_frames=15, db=db_url, run_id="moved", handle_signals=False)
    run_cameras(config, tmp_path / "first", **kw)
    run_cameras(config, tmp_path / "second", resume=True, **kw)  # every camera kept: nothing is run again

    def files(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    first, second = files(tmp_path / "first"), files(tmp_path / "second")
    assert {"cameras/c1.txt", "cameras/c2.txt", "mtmct_result.txt", "tracklets.jsonl"} <= set(second)
    assert sum(len(first[f"cameras/{c}.txt"].splitlines()) for c in ("c1", "c2")) > 10  # tracks were written
    assert second.keys() == first.keys() - {"mtmct.db"}  # SQLite's file lives in the first folder only
    assert all(second[name] == first[name] for name in second), [n for n in second if second[n] != first[n]]


# ---- secrets ----------------------------------------------------------------------------------------------------

def test_a_camera_password_reaches_no_output_log_or_stored_row(tmp_path):
    """Found: `source: rtsp://admin:CamPass123@host/stream` was stored verbatim in the run's config. Now nothing the
    run prints (verbose logs included), writes or stores holds the password; the user name is kept. (Masking happens
    before storage, whatever the engine: SQLite here, both engines in tests/test_faults_secrets.py.)"""
    db_url = f"sqlite:///{tmp_path / 'secret.db'}"
    from sqlalchemy import text

    from storage.engine import create_db_engine

    secret = "CamPass123"
    data = shared_path("data", "mtmc-pets09-overlap")
    # port 1 on loopback refuses at once: the camera fails with its URL in the error, as a real outage would
    config = _config(tmp_path, {"door": f"rtsp://admin:{secret}@127.0.0.1:1/stream", "c1": str(data / "c1" / "video.mp4")})
    res = cli("-v", "run", str(config), "--out", str(tmp_path / "out"), "--db", db_url, "--max-frames", "3",
              timeout=300)
    assert "rtsp://admin:***@127.0.0.1:1/stream" in res.stdout + res.stderr  # shown, masked
    assert secret not in res.stdout + res.stderr
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert written and not [p for p in written if secret.encode() in p.read_bytes()]
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        stored = [str(v) for table in ("runs", "cameras") for row in conn.execute(text(f"SELECT * FROM {table}"))
                  for v in row]
    engine.dispose()
    assert any("admin:***@" in v for v in stored) and not [v for v in stored if secret in v]
