"""Camera actors on Ray: two real cameras give tracklets with embeddings and crops; a missing source is reported;
the pool runs more cameras than slots, frees each finished camera's CPU, and stops on request."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras.camera_actor import CameraResult, CameraWorker, camera_actor_class, pool_slots, run_camera_actors
from conftest import shared_path
from mtmct.core.camera_config import load_camera_config
from mtmct.core.mot_io import read_mot

ray = pytest.importorskip("ray")
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cameras" / "pets09-overlap.yaml"
FRAMES = 60


@pytest.fixture(scope="module")
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def cameras():
    shared_path("data", "mtmc-pets09-overlap")
    shared_path("models", "yolox-nano-coco")
    return load_camera_config(CONFIG)


def test_two_actors_return_tracklets_with_embeddings_and_crops(ray_session, cameras, tmp_path):
    actor_cls = camera_actor_class()
    actors = [actor_cls.remote(cam, cameras.models, cameras.tracker, tmp_path, threads=1, max_frames=FRAMES)
              for cam in cameras.cameras]
    assert ray.get([a.progress.remote() for a in actors], timeout=60) == [(0, None, 0)] * 2
    refs = [a.run.remote() for a in actors]
    seen = []  # progress answers while run() works
    while len(ray.wait(refs, num_returns=2, timeout=0)[0]) < 2:
        seen.append(ray.get(actors[0].progress.remote(), timeout=30))
        time.sleep(0.2)
    results: list[CameraResult] = ray.get(refs)
    assert any(0 < done < FRAMES and total == FRAMES for done, total, _ in seen), seen
    assert ray.get(actors[0].progress.remote()) == (FRAMES, FRAMES, 0)  # not real time: nothing dropped
    for cam, res in zip(cameras.cameras, results):
        assert res.error is None and res.camera_id == cam.id and res.frames == FRAMES
        assert {"decode", "detect", "embed", "track", "tracklets"} <= set(res.seconds) and res.wall_s > 0
        assert res.tracklets, f"{cam.id}: no tracklets"
        mot = read_mot(res.mot_file)
        assert res.mot_file == tmp_path / f"{cam.id}.txt" and mot[:, 0].max() <= FRAMES
        # the tracklets hold exactly the MOT rows, one local id each
        assert sum(len(t) for t in res.tracklets) == len(mot)
        assert sorted(t.track_id for t in res.tracklets) == sorted(set(mot[:, 1].astype(int)))
        for t in res.tracklets:
            assert t.camera_id == cam.id and t.embedding is not None and t.embedding.shape == (256,)
            assert np.linalg.norm(t.embedding) == pytest.approx(1.0, abs=1e-5) and 0 <= t.quality <= 1
            assert t.times[0] == pytest.approx((t.frames[0] - 1) / 10)
            assert 1 <= len(t.crops) <= 3
            crop = cv2.imdecode(np.frombuffer(t.crops[0], np.uint8), cv2.IMREAD_COLOR)
            assert crop is not None and crop.shape[0] == 128
    # the same people are seen by both cameras in the overlap, so some cross-camera pair must look alike
    sims = np.array([[a.embedding @ b.embedding for b in results[1].tracklets] for a in results[0].tracklets])
    assert sims.max() > 0.7


def _workers(cameras, tmp_path, cams, frames):
    return [dict(camera_cfg=cam, models_cfg=cameras.models, tracker_cfg=cameras.tracker, out_dir=tmp_path,
                 max_frames=frames) for cam in cams]


def test_missing_source_is_reported_while_the_other_camera_finishes(ray_session, cameras, tmp_path):
    missing = cameras.cameras[1].model_copy(update={"id": "gone", "source": str(tmp_path / "no-such-video.mp4")})
    good, bad = run_camera_actors(_workers(cameras, tmp_path, (cameras.cameras[0], missing), 20), progress=False)
    assert good.error is None and good.frames == 20 and good.tracklets
    assert bad.frames == 0 and bad.tracklets == [] and bad.mot_file is None
    assert "no-such-video.mp4" in bad.error and "\n" not in bad.error


def test_pool_slots_follow_the_cluster_cpus(ray_session):
    assert pool_slots() == 2 and pool_slots(0.5) == 4 and pool_slots(4) == 1  # never 0: one camera still runs
    with pytest.raises(ValueError, match="positive"):
        pool_slots(0)


def test_pool_runs_more_cameras_than_slots_one_at_a_time(ray_session, cameras, tmp_path):
    """Three cameras through one slot: each waits for the one before (the old code created every actor up front,
    and cameras beyond the CPUs waited forever); results come back in the workers' order, each seen by on_result
    as it finishes, and every CPU is free afterwards."""
    cams = [cameras.cameras[0].model_copy(update={"id": f"q{i}"}) for i in range(3)]
    seen: list[tuple[str, float]] = []
    results = run_camera_actors(_workers(cameras, tmp_path, cams, 5), slots=1, progress=False,
                                on_result=lambda r: seen.append((r.camera_id, time.monotonic())))
    assert [r.camera_id for r in results] == [c for c, _ in seen] == ["q0", "q1", "q2"]
    assert all(r.ok and r.frames == 5 for r in results)
    _assert_cpus_free()


def test_pool_stops_when_asked_and_frees_its_cpus(ray_session, cameras, tmp_path):
    """``stop`` set by the first result (as a signal handler would): the running camera is killed, the queued one
    never starts, and only the finished camera is returned."""
    cams = [cameras.cameras[0].model_copy(update={"id": f"s{i}"}) for i in range(4)]
    stop = threading.Event()
    results = run_camera_actors(_workers(cameras, tmp_path, cams, 5), slots=2, progress=False,
                                on_result=lambda r: stop.set(), stop=stop)
    assert len(results) == 1 and results[0].ok and results[0].camera_id in ("s0", "s1")
    assert not (tmp_path / "s2.txt").exists() and not (tmp_path / "s3.txt").exists()  # never started
    _assert_cpus_free()


def _assert_cpus_free() -> None:
    """Killed actors give their CPUs back within a moment."""
    deadline = time.monotonic() + 10
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.available_resources().get("CPU", 0) == 2


def test_worker_reports_a_model_that_will_not_load(cameras, tmp_path):
    """Any failure, not only the source's, comes back in the result (plain class, no Ray needed)."""
    models = cameras.models.model_copy(update={"detector": str(tmp_path / "no-model.onnx")})
    res = CameraWorker(cameras.cameras[0], models, cameras.tracker, tmp_path, max_frames=5).run()
    assert res.error is not None and "no-model.onnx" in res.error and res.frames == 0
