"""Clock offsets estimated from ground positions (fusion/clock_offset.py): synthetic walkers, then PETS09.

The synthetic scene (``_walkers``): ``n`` people on a 20 x 20 m square, each present for a random interval, walking
at 1.2-1.6 m/s with a heading that turns by a random walk (0.3 rad per sqrt(s)) and bounces off the walls. A
camera sees the people inside its rectangle of the square at every frame of the shared clock (``fps``), adds
Gaussian noise of 0.15 m to each ground point, and reports its times as true time + its clock error; each
visible run of a person becomes one tracklet. The estimate must give the correction (-clock error) relative to
the other cameras, within one step.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from conftest import shared_path

from fusion.clock_offset import ClockOffsets, apply_clock_offsets, estimate_clock_offsets
from mtmct.core.tracklet import Tracklet

FPS = 10.0
LEFT, RIGHT, BOTTOM, ALL = (0, 0, 13, 20), (7, 0, 20, 20), (0, 0, 20, 12), (0, 0, 20, 20)


def _walkers(n: int, frames: int, fps: float, seed: int) -> np.ndarray:
    """(n, frames, 2) ground positions, NaN where the person is absent (rule in the module docstring)."""
    rng = np.random.default_rng(seed)
    dt = 1.0 / fps
    out = np.full((n, frames, 2), np.nan)
    for p in range(n):
        start = int(rng.integers(0, frames // 3))
        stop = min(frames, start + int(rng.integers(frames // 2, frames)))
        pos, heading, speed = rng.uniform(2, 18, 2), rng.uniform(0, 2 * np.pi), rng.uniform(1.2, 1.6)
        for f in range(start, stop):
            heading += rng.normal(0, 0.3 * np.sqrt(dt))
            pos = pos + speed * dt * np.array([np.cos(heading), np.sin(heading)])
            for axis in range(2):
                if not 0 <= pos[axis] <= 20:
                    pos[axis] = np.clip(pos[axis], 0, 20)
                    heading = np.pi - heading if axis == 0 else -heading
            out[p, f] = pos
    return out


def _camera(camera_id: str, world: np.ndarray, view: tuple[float, float, float, float], clock_error: float,
            fps: float, seed: int, calibrated: bool = True) -> list[Tracklet]:
    """The tracklets of one camera seeing the rectangle ``view`` (x0, y0, x1, y1), its clock ``clock_error`` s
    ahead of the shared one, noise 0.15 m."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = view
    tracklets = []
    for p, track in enumerate(world):
        seen = (track[:, 0] >= x0) & (track[:, 0] <= x1) & (track[:, 1] >= y0) & (track[:, 1] <= y1)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], seen.astype(int), [0]])))
        for k, (a, b) in enumerate(zip(edges[::2], edges[1::2])):
            frames = np.arange(a, b)
            points = track[frames] + rng.normal(0, 0.15, (len(frames), 2))
            tracklets.append(Tracklet(camera_id, 100 * p + k, 0, frames + 1, frames / fps + clock_error,
                                      np.ones((len(frames), 4)), np.ones(len(frames)), None,
                                      world=points if calibrated else None))
    return tracklets


def _scene(errors: dict[str, float], views: dict[str, tuple] | None = None, n: int = 10, frames: int = 800,
           fps: float = FPS, seed: int = 0) -> list[Tracklet]:
    world = _walkers(n, frames, fps, seed)
    views = views or {"c1": LEFT, "c2": RIGHT, "c3": BOTTOM}
    return [t for k, (cam, view) in enumerate(views.items())
            for t in _camera(cam, world, view, errors.get(cam, 0.0), fps, seed + 1 + k)]


def _relative(result: ClockOffsets, cam: str, to: str) -> float:
    return result.offsets[cam] - result.offsets[to]


@pytest.mark.parametrize("errors", [
    {"c2": 0.4},
    {"c2": -0.25},
    {"c2": 0.4, "c3": -0.25},
    {},
], ids=["c2+0.4", "c2-0.25", "c2+0.4,c3-0.25", "synchronous"])
def test_recovers_known_clock_errors_within_one_step(errors):
    result = estimate_clock_offsets(_scene(errors), max_offset_s=1.0)
    assert result.step_s == pytest.approx(1 / FPS)  # one frame of the cameras
    assert not result.flagged and all(p.trusted for p in result.pairs)
    for cam in ("c2", "c3"):
        expected = -(errors.get(cam, 0.0) - errors.get("c1", 0.0))
        assert _relative(result, cam, "c1") == pytest.approx(expected, abs=result.step_s), cam
    assert result.offsets[result.reference] == 0.0
    for pair in result.pairs:  # the chosen shift brings the views together at least as well as none
        assert pair.median_at_shift <= pair.median_at_zero + 1e-9 and pair.median_at_shift < 0.4


def test_applying_the_estimate_synchronises_the_cameras_and_leaves_the_inputs_alone():
    tracklets = _scene({"c2": 0.4})
    before = [t.times.copy() for t in tracklets]
    result = estimate_clock_offsets(tracklets)
    shifted = apply_clock_offsets(tracklets, result)
    assert all(np.array_equal(t.times, b) for t, b in zip(tracklets, before))  # inputs untouched
    assert all(s is not t for s, t in zip(shifted, tracklets))
    again = estimate_clock_offsets(shifted)
    assert abs(_relative(again, "c2", "c1")) < again.step_s and abs(_relative(again, "c3", "c1")) < again.step_s
    plain = apply_clock_offsets(tracklets, {"c2": -0.5})
    assert [t.times[0] - u.times[0] for t, u in zip(plain, tracklets) if t.camera_id == "c2"][0] == pytest.approx(-0.5)
    assert all(np.array_equal(t.times, u.times) for t, u in zip(plain, tracklets) if t.camera_id != "c2")


def test_cameras_without_overlap_or_calibration_get_no_estimate():
    world = _walkers(10, 800, FPS, 0)
    far = _walkers(3, 800, FPS, 9) + 100.0  # people of another site, never near the others
    tracklets = (_camera("c1", world, LEFT, 0.0, FPS, 1) + _camera("c2", world, RIGHT, 0.3, FPS, 2)
                 + _camera("far", far, (100, 100, 120, 120), 0.3, FPS, 3)
                 + _camera("raw", world, ALL, 0.3, FPS, 4, calibrated=False))
    result = estimate_clock_offsets(tracklets)
    assert result.offsets["far"] == 0.0 and "no trusted pair" in result.flagged["far"]
    assert result.offsets["raw"] == 0.0 and "uncalibrated" in result.flagged["raw"]
    assert all("raw" not in (p.a, p.b) for p in result.pairs)
    assert _relative(result, "c2", "c1") == pytest.approx(-0.3, abs=result.step_s)
    far_pairs = [p for p in result.pairs if "far" in (p.a, p.b)]
    assert far_pairs and not any(p.trusted for p in far_pairs)


def test_thin_evidence_is_flagged():
    """Two views sharing a 1 m strip: a few seconds of common sightings at most, below min_matched."""
    world = _walkers(3, 300, FPS, 5)
    tracklets = _camera("c1", world, (0, 0, 10.5, 20), 0.0, FPS, 1) + _camera("c2", world, (9.5, 0, 20, 20), 0.4,
                                                                                 FPS, 2)
    result = estimate_clock_offsets(tracklets, min_matched=200)
    (pair,) = result.pairs
    assert not pair.trusted and pair.reason.startswith("thin evidence") and pair.matched < 200
    other = "c2" if result.reference == "c1" else "c1"
    assert result.offsets[other] == 0.0 and other in result.flagged


def test_offset_beyond_the_search_range_is_not_trusted():
    result = estimate_clock_offsets(_scene({"c2": 1.5}), max_offset_s=0.5)
    assert result.reference in ("c1", "c3") and result.offsets["c2"] == 0.0 and "c2" in result.flagged
    assert all("edge" in p.reason for p in result.pairs if "c2" in (p.a, p.b))
    assert abs(_relative(result, "c3", "c1")) < result.step_s  # the two that agree keep their estimate


def test_fast_enough_for_a_run():
    """800 frames at 25 fps, 3 cameras, 10 people, +-1 s by one frame (51 shifts): well under two seconds."""
    tracklets = _scene({"c2": 0.4}, fps=25.0)
    start = time.perf_counter()
    result = estimate_clock_offsets(tracklets, max_offset_s=1.0)
    elapsed = time.perf_counter() - start
    assert result.step_s == pytest.approx(0.04)
    assert _relative(result, "c2", "c1") == pytest.approx(-0.4, abs=0.04)
    assert elapsed < 2.0, f"{elapsed:.2f} s"


@pytest.mark.parametrize("kwargs", [{"max_offset_s": -1}, {"step_s": 0}, {"inlier_distance": 0},
                                    {"min_matched": 0}])
def test_misuse_is_a_value_error(kwargs):
    with pytest.raises(ValueError, match="estimate_clock_offsets"):
        estimate_clock_offsets(_scene({}, frames=50), **kwargs)


def test_no_calibrated_camera_gives_no_reference():
    world = _walkers(2, 50, FPS, 0)
    result = estimate_clock_offsets(_camera("raw", world, ALL, 0.0, FPS, 1, calibrated=False))
    assert result.reference is None and result.offsets == {"raw": 0.0} and "raw" in result.flagged


# ---- real data: PETS2009 S2.L1, three calibrated views, synchronous within about +-2 frames at 7 fps ----------

PETS_FPS = 7.0
PETS_VIEWS = ("View_001", "View_005", "View_006")


def _pets_tracklets(base, view: str) -> list[Tracklet]:
    """One view's detections (score >= 0.5) tracked by motion-only DeepSort, foot points mapped to the ground by
    the shipped calibration (undistorted, then the homography), times = (frame - 1) / 7."""
    from cameras.tracker_registry import load_tracker
    from mtmct.core.calibration import load_calibration_file
    from mtmct.core.detections import Detections
    from mtmct.core.mot_io import read_mot, rows_by_frame

    det = read_mot(base / view / "det" / "det.txt")
    det = det[det[:, 6] >= 0.5]
    by_frame, tracker, rows = rows_by_frame(det), load_tracker(motion_only=True), []
    for frame in range(1, int(det[:, 0].max()) + 1):
        d = by_frame.get(frame, np.zeros((0, 10)))
        tracks = tracker.update(Detections.from_tlwh(d[:, 2:6], d[:, 6]))
        rows += [[frame, i, *box] for i, box in zip(tracks.ids, tracks.tlwh)]
    rows = np.array(rows, float)
    feet = np.column_stack([rows[:, 2] + rows[:, 4] / 2, rows[:, 3] + rows[:, 5]])
    world = load_calibration_file(base / "calibration.json", view).to_ground(feet)
    out = []
    for track_id in np.unique(rows[:, 1]):
        m = rows[:, 1] == track_id
        out.append(Tracklet(view, int(track_id), 0, rows[m, 0], (rows[m, 0] - 1) / PETS_FPS, rows[m, 2:6],
                            np.ones(int(m.sum())), None, world=world[m]))
    return out


@pytest.fixture(scope="module")
def pets_tracklets() -> list[Tracklet]:
    base = shared_path("data", "pets09-multiview")
    return [t for view in PETS_VIEWS for t in _pets_tracklets(base, view)]


def test_pets09_views_are_found_synchronous(pets_tracklets):
    """SOURCE.txt: the views agree within about +-2 frames (0.29 s), mostly 0; measured -0.04 and -0.08 s."""
    result = estimate_clock_offsets(pets_tracklets, max_offset_s=1.0)
    assert result.step_s == pytest.approx(1 / PETS_FPS, abs=1e-6) and not result.flagged
    assert all(p.trusted and p.matched > 1000 for p in result.pairs)
    for view in PETS_VIEWS:
        assert abs(result.offsets[view]) <= 0.2, result


@pytest.mark.parametrize("view", ["View_005", "View_001"])
def test_pets09_an_artificial_half_second_lag_is_recovered(pets_tracklets, view):
    """One view's clock set 0.5 s ahead: its correction relative to the others moves by -0.5 s (within 0.15 s;
    measured errors 0.04-0.09 s)."""
    base = estimate_clock_offsets(pets_tracklets)
    shifted = [replace(t, times=t.times + 0.5) if t.camera_id == view else t for t in pets_tracklets]
    result = estimate_clock_offsets(shifted)
    for other in PETS_VIEWS:
        if other != view:
            moved = _relative(result, view, other) - _relative(base, view, other)
            assert moved == pytest.approx(-0.5, abs=0.15), (other, result)
