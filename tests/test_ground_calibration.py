"""Ground calibration (mtmct/core/calibration.py) and its camera-config form (mtmct/core/config/calibration.py),
checked against the real PETS2009 calibration in ../shared/data/pets09-multiview (K, R, t in metres, OpenCV dist,
H_img_to_ground on undistorted pixels) and the two-camera strip benchmark ../shared/data/mtmc-pets09-overlap."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from conftest import shared_path

from mtmct.core.calibration import (GroundCalibration, from_homography, from_krtd, from_points,
                                    load_calibration_file)
from mtmct.core.camera_config import load_camera_config
from mtmct.core.errors import MtmctError

VIEWS = ("View_001", "View_005", "View_006")


def multiview(*parts: str) -> Path:
    return shared_path("data", "pets09-multiview", *parts)


def raw(view: str) -> dict:
    return json.loads(multiview("calibration.json").read_text())[view]


def project(c: dict, ground: np.ndarray) -> np.ndarray:
    """The file's own recipe: cv2.projectPoints with K, R, t, dist (ground Z = 0)."""
    world = np.column_stack([ground, np.zeros(len(ground))]).reshape(-1, 1, 3)
    rvec = cv2.Rodrigues(np.array(c["R"], float))[0]
    return cv2.projectPoints(world, rvec, np.array(c["t"], float), np.array(c["K"], float),
                             np.array(c["dist"], float))[0].reshape(-1, 2)


def footprint_points(step: float = 0.5) -> np.ndarray:
    """A ``step`` m grid of ground points inside footprint_world.json (where the benchmark is scored)."""
    poly = np.array(json.loads(multiview("footprint_world.json").read_text())["polygon"], np.float32)
    (x0, y0), (x1, y1) = poly.min(axis=0), poly.max(axis=0)
    xs, ys = np.meshgrid(np.arange(x0, x1, step), np.arange(y0, y1, step))
    grid = np.column_stack([xs.ravel(), ys.ravel()])
    inside = [cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0 for x, y in grid]
    return grid[np.array(inside)]


def visible(c: dict, ground: np.ndarray, margin: int = 0) -> np.ndarray:
    """The ground points whose projection lands inside the view's image (and in front of the camera)."""
    w, h = c["image_size"]
    cam = np.column_stack([ground, np.zeros(len(ground))]) @ np.array(c["R"]).T + np.array(c["t"])
    px = project(c, ground)
    ok = (cam[:, 2] > 0) & (px[:, 0] >= margin) & (px[:, 0] <= w - 1 - margin) & (px[:, 1] >= margin) \
        & (px[:, 1] <= h - 1 - margin)
    return ground[ok]


def grid_pixels(c: dict) -> np.ndarray:
    """The rule for the fit's image points: a 5x5 grid over the lower half of the image (x 5%..95%, y 50%..95%),
    which is below the horizon in all three views (View_005's horizon is near row 135 of 576)."""
    w, h = c["image_size"]
    us, vs = np.meshgrid(np.linspace(0.05 * w, 0.95 * w, 5), np.linspace(0.5 * h, 0.95 * h, 5))
    return np.column_stack([us.ravel(), vs.ravel()])


# -- (1) a fit from point pairs reproduces the file's calibration -------------------------------------------------

@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("n_pairs", [4, 8])
def test_fit_from_points_reproduces_the_file_over_the_footprint(view: str, n_pairs: int):
    """Acceptance: 4 (grid corners) or 8 (corners + edge midpoints) pairs of the 5x5 grid, ground positions from
    the file's calibration; the fit maps the footprint's visible points back within 0.1 m (here ~1e-6 m: the
    pairs are exact) and, with pixels rounded to whole pixels as a person would click them, within 0.1 m too."""
    c = raw(view)
    file_cal = load_calibration_file(multiview("calibration.json"), view)
    grid = grid_pixels(c)
    pick = [0, 4, 20, 24] if n_pairs == 4 else [0, 2, 4, 10, 14, 20, 22, 24]
    pixels = grid[pick]
    ground = file_cal.to_ground(pixels)
    assert np.isfinite(ground).all()
    fit = from_points(pixels, ground, c["image_size"], c["K"], c["dist"])
    assert fit.reprojection_error is not None and fit.reprojection_error < 1e-6
    test = visible(c, footprint_points(), margin=1)
    assert len(test) > 50
    back = fit.to_ground(file_cal.to_image(test))
    err = np.linalg.norm(back - test, axis=1)
    assert err.max() < 0.1, f"{view}: fit from {n_pairs} pairs misses by up to {err.max():.3f} m"
    clicked = from_points(np.round(pixels), ground, c["image_size"], c["K"], c["dist"])
    err_clicked = np.linalg.norm(clicked.to_ground(file_cal.to_image(test)) - test, axis=1)
    print(f"{view} {n_pairs} pairs: max {err.max():.2e} m exact, {err_clicked.max():.3f} m (median "
          f"{np.median(err_clicked):.3f}) with whole-pixel clicks over {len(test)} footprint points")
    assert err_clicked.max() < 0.2


def test_fit_on_distorted_pixels_without_the_lens_model_is_worse():
    """Why K/dist are kept: a homography fitted on the raw pixels misses by decimetres at the border."""
    c = raw("View_005")
    file_cal = load_calibration_file(multiview("calibration.json"), "View_005")
    pixels = grid_pixels(c)
    plain = from_points(pixels, file_cal.to_ground(pixels))
    assert plain.reprojection_error > 0.05


# -- (2) round trips with distortion match cv2.projectPoints -------------------------------------------------------

@pytest.mark.parametrize("view", VIEWS)
def test_round_trip_with_distortion_matches_project_points(view: str):
    c = raw(view)
    cal = load_calibration_file(multiview("calibration.json"), view)
    assert cal.K is not None and cal.dist is not None and cal.image_size == tuple(c["image_size"])
    np.testing.assert_allclose(cal.homography, np.array(c["H_img_to_ground"]), rtol=1e-9, atol=1e-12)
    ground = visible(c, footprint_points())
    px = cal.to_image(ground)
    np.testing.assert_allclose(px, project(c, ground), atol=1e-6)
    assert np.linalg.norm(cal.to_ground(px) - ground, axis=1).max() < 0.01
    # the same through the homography path (no R, t): distortion applied with OpenCV after the inverse H
    h_only = from_homography(c["H_img_to_ground"], c["image_size"], c["K"], c["dist"])
    np.testing.assert_allclose(h_only.to_image(ground), project(c, ground), atol=1e-6)
    assert np.linalg.norm(h_only.to_ground(px) - ground, axis=1).max() < 0.01


def test_horizon_and_behind_the_camera_are_nan():
    cal = load_calibration_file(multiview("calibration.json"), "View_005")
    g = cal.to_ground(np.array([[360.0, 20.0], [360.0, 500.0]]))  # sky (above row ~135), then the ground
    assert np.isnan(g[0]).all() and np.isfinite(g[1]).all()
    cam = cal.camera_position()
    assert cam[2] > 0
    behind = cam[:2] - 10 * (cal.to_ground([[360.0, 500.0]])[0] - cam[:2])  # the ground behind the camera
    assert np.isnan(cal.to_image([behind])).all()
    assert np.isnan(from_homography(cal.homography).to_image([behind])).all()


def test_field_of_view_covers_what_view_001_sees():
    c = raw("View_001")
    cal = load_calibration_file(multiview("calibration.json"), "View_001")
    fov = cal.field_of_view(max_distance=60.0).astype(np.float32)
    assert np.isfinite(fov).all() and len(fov) == 128
    seen = visible(c, footprint_points(), margin=2)
    inside = [cv2.pointPolygonTest(fov, (float(x), float(y)), False) >= 0 for x, y in seen]
    assert np.mean(inside) > 0.99
    far = load_calibration_file(multiview("calibration.json"), "View_005").field_of_view(max_distance=30.0)
    cam = load_calibration_file(multiview("calibration.json"), "View_005").camera_position()
    assert np.isfinite(far).all() and np.linalg.norm(far - cam[:2], axis=1).max() <= 30.0 + 1e-6


# -- (3) the SOURCE.txt check, through a resized calibration -------------------------------------------------------

def test_gt_world_points_land_on_the_gt_boxes_of_the_480x360_video():
    """MOT15 gt boxes of ../pets09-s2l1 (480x360) carry world X, Y in columns 8-9: projected with View_001's
    calibration resized to 480x360, they land on the boxes' bottom centre (SOURCE check 1: median 2.24 px at
    768x576, i.e. ~1.4 px here)."""
    gt = np.loadtxt(shared_path("data", "pets09-s2l1", "gt", "gt.txt"), delimiter=",")
    cal = load_calibration_file(multiview("calibration.json"), "View_001").for_size(480, 360)
    px = cal.to_image(gt[:, 7:9])
    foot = np.column_stack([gt[:, 2] + gt[:, 4] / 2, gt[:, 3] + gt[:, 5]])
    err = np.linalg.norm(px - foot, axis=1)
    print(f"gt world -> 480x360 View_001: median {np.median(err):.2f} px, p90 {np.quantile(err, 0.9):.2f} px")
    assert np.median(err) < 2.0
    back = cal.to_ground(foot)
    assert np.median(np.linalg.norm(back - gt[:, 7:9], axis=1)) < 0.2


# -- (4) scaled / for_size -------------------------------------------------------------------------------------------

def test_scaled_calibration_maps_the_same_physical_pixel_to_the_same_ground_point():
    cal = load_calibration_file(multiview("calibration.json"), "View_001")
    small = cal.for_size(480, 360)
    assert small.image_size == (480, 360) and cal.for_size(768, 576) is cal
    np.testing.assert_allclose(small.K[:2], 0.625 * cal.K[:2])
    np.testing.assert_allclose(small.dist, cal.dist)
    us, vs = np.meshgrid(np.linspace(0, 767, 9), np.linspace(100, 575, 9))
    full = np.column_stack([us.ravel(), vs.ravel()])
    np.testing.assert_allclose(small.to_ground(full * 0.625), cal.to_ground(full), atol=1e-9)
    ground = cal.to_ground(full)
    np.testing.assert_allclose(small.to_image(ground), cal.to_image(ground) * 0.625, atol=1e-6)
    h_only = from_homography(cal.homography, (768, 576)).scaled(0.625)  # no K: the homography alone is scaled
    np.testing.assert_allclose(h_only.to_ground(full * 0.625), from_homography(cal.homography).to_ground(full),
                               atol=1e-9)
    assert from_homography(cal.homography).for_size(480, 360).image_size is None  # unknown size: unchanged


def test_to_dict_round_trip():
    cal = load_calibration_file(multiview("calibration.json"), "View_006")
    data = json.loads(json.dumps(cal.to_dict()))
    again = GroundCalibration.from_dict(data)
    assert again == cal and again.image_size == (720, 576)
    # ground Y = -v: image rows grow downwards, so X, Y, up stay right-handed (a mirrored frame is refused)
    fit = from_points([[0, 0], [10, 0], [10, 10], [0, 10], [5, 5]], [[0, 0], [1, 0], [1, -1], [0, -1], [0.5, -0.6]])
    assert GroundCalibration.from_dict(fit.to_dict()).reprojection_error == fit.reprojection_error
    with pytest.raises(MtmctError, match="unknown calibration key"):
        GroundCalibration.from_dict({**data, "extra": 1})


def test_bad_point_pair_is_logged(caplog: pytest.LogCaptureFixture):
    img = [[0, 0], [100, 0], [100, 100], [0, 100], [50, 50]]
    ground = [[0, 0], [10, 0], [10, -10], [0, -10], [9, -1]]  # the fifth is mistyped
    with caplog.at_level(logging.WARNING, logger="mtmct.core.calibration"):
        fit = from_points(img, ground)
    assert fit.reprojection_error > 0.5 and "misses pair" in caplog.text


# -- (5) bad calibrations are one-line config errors naming the key -------------------------------------------------

EYE = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
SQUARE = [[0, 0], [100, 0], [100, 100], [0, 100]]
K = [[800, 0, 320], [0, 800, 240], [0, 0, 1]]
R_DOWN = [[1, 0, 0], [0, -1, 0], [0, 0, -1]]  # looking straight down
BAD = [
    ({"homography": [[1, 2, 3], [2, 4, 6], [0, 0, 1]]}, "homography is singular"),
    ({"homography": [[1, 0], [0, 1]]}, "homography"),
    ({"homography": [[1, 0, 0], [0, 1, 0], [0, 0, "nan"]]}, "finite"),
    ({"homography": EYE, "file": "x.json", "view": "a"}, "exactly one of"),
    ({"file": "x.json", "view": "a", "K": K}, "got file and K"),
    ({}, "exactly one of homography, points, K/R/t or file, got none"),
    ({"points": {"image": SQUARE[:3], "ground": SQUARE[:3]}}, "at least 4"),
    ({"points": {"image": SQUARE, "ground": [[0, 0], [1, 1], [2, 2], [3, 3]]}}, "collinear"),
    ({"points": {"image": [[0, 0], [100, 0], [50, 0], [0, 100]], "ground": SQUARE}}, "collinear"),
    ({"points": {"image": SQUARE, "ground": SQUARE + [[5, 5]]}}, "pairs"),
    ({"points": {"image": SQUARE, "ground": SQUARE}}, "mirrored"),  # ground Y along image rows: left-handed
    ({"K": K, "R": R_DOWN, "t": [0, 0, -5]}, "camera is not above the ground"),
    ({"K": K, "R": R_DOWN}, "missing t"),
    ({"K": K, "R": [[1, 0, 0], [0, 1, 0], [0, 0, 2]], "t": [0, 0, 5]}, "not a rotation"),
    ({"K": [[800, 0, 320], [0, 800, 240], [1, 0, 1]], "R": R_DOWN, "t": [0, 0, 5]}, "K must be"),
    ({"K": K, "R": R_DOWN, "t": [0, 0, 5], "dist": [0.1, 0.2, 0.3]}, "dist must hold"),
    ({"homography": EYE, "dist": [0.1, 0, 0, 0]}, "dist needs K"),
    ({"file": "missing.json", "view": "a"}, "does not exist"),
    ({"file": "calibration.json"}, "file and view go together"),
    ({"file": "calibration.json", "view": "View_009"}, "unknown view 'View_009'"),
    ({"file": "broken.json", "view": "a"}, "not valid JSON"),
    ({"file": "calibration.json", "view": "View_001", "image_size": [480, 360]}, "differs from the file's"),
    ({"homography": EYE, "image_size": [0, 360]}, "image_size"),
    ({"homography": EYE, "units_per_metre": 100}, "units_per_metre applies to file only"),
    ({"homography": EYE, "scale": 2}, "unknown key"),
]


def _config(calibration: dict, homography: list | None = None) -> dict:
    cam = {"id": "c2", "source": "b.mp4", "calibration": calibration}
    if homography is not None:
        cam["homography"] = homography
    return {"cameras": [{"id": "c1", "source": "a.mp4"}, cam]}


@pytest.mark.parametrize("calibration, message", BAD, ids=[m for _, m in BAD])
def test_bad_calibration_is_a_one_line_config_error(tmp_path: Path, calibration: dict, message: str):
    (tmp_path / "calibration.json").write_text(multiview("calibration.json").read_text())
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(MtmctError) as exc:
        load_camera_config(_config(calibration), base_dir=tmp_path)
    text = str(exc.value)
    assert "\n" not in text and text.startswith("cameras[1].calibration"), text
    assert message in text, text


def test_homography_and_calibration_together_is_an_error():
    with pytest.raises(MtmctError, match=r"^cameras\[1\]\.calibration: give either homography .* not both$"):
        load_camera_config(_config({"homography": EYE}, homography=EYE))
    short = load_camera_config({"cameras": [{"id": "c1", "source": "a.mp4", "homography": EYE}]})
    assert short.cameras[0].homography is not None and short.cameras[0].calibration is None  # short form kept


PLAN = {"image": "plan.png", "metres_per_pixel": 0.05, "origin": [-20, 9]}
BAD_PLAN = [
    ({"metres_per_pixel": 0}, "floor_plan.metres_per_pixel: must be greater than 0"),
    ({"metres_per_pixel": -0.1}, "floor_plan.metres_per_pixel: must be greater than 0"),
    ({"origin": [1, 2, 3]}, "floor_plan.origin: expected at most 2 items, got 3"),
    ({"origin": 5}, "floor_plan.origin: must be a list"),
    ({"image": "gone.png"}, "floor_plan.image: {tmp}/gone.png does not exist"),
    ({"image": "plan.svg"}, "floor_plan.image: {tmp}/plan.svg: a floor plan must be one of .png"),
    ({"scale": 2}, "floor_plan.scale: unknown key"),
]


@pytest.mark.parametrize("change, message", BAD_PLAN, ids=[m.split(": ")[1] for _, m in BAD_PLAN])
def test_bad_floor_plan_is_a_one_line_config_error(tmp_path: Path, change: dict, message: str):
    """The plan's scale, origin and image are checked at load, the missing file named by its resolved path."""
    (tmp_path / "plan.png").write_bytes(b"")
    with pytest.raises(MtmctError) as exc:
        load_camera_config({**_config({"homography": EYE}), "floor_plan": {**PLAN, **change}},
                           base_dir=tmp_path)
    text = str(exc.value)
    assert "\n" not in text and text.startswith(message.format(tmp=tmp_path.resolve())), text


def test_floor_plan_resolves_against_the_config_and_a_stored_run_keeps_a_gone_one(tmp_path: Path):
    """The image path is relative to the config file; a run's stored config (stored=True) still loads when the
    image has gone since, so the dashboard keeps the run's map and only loses the plan."""
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plan.png").write_bytes(b"")
    data = {**_config({"homography": EYE}), "floor_plan": {**PLAN, "image": "plans/plan.png"}}
    (tmp_path / "set.yaml").write_text(yaml.safe_dump(data))
    plan = load_camera_config(tmp_path / "set.yaml").floor_plan
    assert plan.image == str(tmp_path.resolve() / "plans" / "plan.png") and plan.media_type == "image/png"
    assert plan.extent(400, 200) == (-20, 9 - 200 * 0.05, -20 + 400 * 0.05, 9)  # image y runs down ground Y
    (tmp_path / "plans" / "plan.png").unlink()
    assert load_camera_config(data, base_dir=tmp_path, stored=True).floor_plan.image == plan.image
    with pytest.raises(MtmctError, match="does not exist"):
        load_camera_config(data, base_dir=tmp_path)


def test_config_forms_build_the_same_calibration(tmp_path: Path):
    """A file relative to the config, K/R/t inline and the homography inline agree; image_size is carried."""
    (tmp_path / "calib").mkdir()
    (tmp_path / "calib" / "calibration.json").write_text(multiview("calibration.json").read_text())
    c = raw("View_001")
    forms = [{"file": "calib/calibration.json", "view": "View_001"},
             {"K": c["K"], "R": c["R"], "t": c["t"], "dist": c["dist"], "image_size": c["image_size"]},
             {"homography": c["H_img_to_ground"], "K": c["K"], "dist": c["dist"], "image_size": c["image_size"]}]
    cals = [load_camera_config(_config(f), base_dir=tmp_path).cameras[1].calibration.build() for f in forms]
    px = np.array([[100.0, 300.0], [700.0, 550.0]])
    for cal in cals:
        assert cal.image_size == (768, 576)
        np.testing.assert_allclose(cal.to_ground(px), cals[0].to_ground(px), atol=1e-9)
    yaml_file = tmp_path / "cams.yaml"
    yaml_file.write_text("cameras:\n  - id: c1\n    source: a.mp4\n    calibration:\n      file: calib/calibration.json\n"
                         "      view: View_001\n")
    assert load_camera_config(yaml_file).cameras[0].calibration.build() == cals[0]


# -- (6) WILDTRACK / MultiviewX XML ------------------------------------------------------------------------------------

INTRINSIC = """<?xml version="1.0"?>
<opencv_storage>
<camera_matrix type_id="opencv-matrix">
  <rows>3</rows>
  <cols>3</cols>
  <dt>d</dt>
  <data>
    {k}</data></camera_matrix>
<distortion_coefficients type_id="opencv-matrix">
  <rows>1</rows>
  <cols>5</cols>
  <dt>d</dt>
  <data>
    {d}</data></distortion_coefficients>
</opencv_storage>
"""
EXTRINSIC = """<?xml version="1.0"?>
<opencv_storage>
<rvec>{r}</rvec>
<tvec>{t}</tvec>
</opencv_storage>
"""


def _write_xml(folder: Path, intr: str, extr: str, c: dict, units: float) -> None:
    (folder / intr).parent.mkdir(parents=True, exist_ok=True)
    (folder / extr).parent.mkdir(parents=True, exist_ok=True)
    (folder / intr).write_text(INTRINSIC.format(k=" ".join(map(repr, np.ravel(c["K"]))),
                                                d=" ".join(map(repr, c["dist"]))))
    rvec = cv2.Rodrigues(np.array(c["R"], float))[0].ravel()
    (folder / extr).write_text(EXTRINSIC.format(r=" ".join(map(repr, rvec)),
                                                t=" ".join(map(repr, np.array(c["t"]) * units))))


def test_wildtrack_xml_in_centimetres_loads(tmp_path: Path):
    """WILDTRACK's layout (calibrations/intrinsic_zero/intr_<view>.xml, extrinsic/extr_<view>.xml, t in cm,
    rvec/tvec as plain number lists) with View_001's camera: the same calibration as the JSON, units guessed."""
    c = raw("View_001")
    _write_xml(tmp_path, "intrinsic_zero/intr_CVLab1.xml", "extrinsic/extr_CVLab1.xml", c, 100.0)
    ref = load_calibration_file(multiview("calibration.json"), "View_001")
    for cal in (load_calibration_file(tmp_path, "CVLab1"),
                load_calibration_file(tmp_path / "extrinsic" / "extr_CVLab1.xml", "CVLab1", units_per_metre=100)):
        np.testing.assert_allclose(cal.t, ref.t, rtol=1e-9)
        np.testing.assert_allclose(cal.homography, ref.homography, rtol=1e-7, atol=1e-9)
    with pytest.raises(MtmctError, match="unknown view 'CVLab9'.*views: CVLab1"):
        load_calibration_file(tmp_path, "CVLab9")


def test_flat_xml_in_metres_loads_through_the_config(tmp_path: Path):
    c = raw("View_006")
    _write_xml(tmp_path / "cal", "intrinsic_C6.xml", "extrinsic_C6.xml", c, 1.0)
    cfg = load_camera_config(_config({"file": "cal", "view": "C6", "image_size": [720, 576]}), base_dir=tmp_path)
    cal = cfg.cameras[1].calibration.build()
    ref = load_calibration_file(multiview("calibration.json"), "View_006")
    assert cal.image_size == (720, 576)
    np.testing.assert_allclose(cal.homography, ref.homography, rtol=1e-7, atol=1e-9)
    (tmp_path / "cal" / "extrinsic_C6.xml").write_text("<opencv_storage><rvec>1 2")
    with pytest.raises(MtmctError, match=r"^cameras\[1\]\.calibration: .*extrinsic_C6.xml: not a readable"):
        load_camera_config(_config({"file": "cal", "view": "C6"}), base_dir=tmp_path)


# -- (7) the two-camera strip benchmark ---------------------------------------------------------------------------------

def test_overlap_benchmark_calibration_loads_for_both_cameras():
    """c1 and c2 are the left and right 60% of the same 480x360 View_001 frame: a ground point seen by both lands
    192 px (0.4 x 480) further left in c2, and each camera maps its own pixel to the same ground point."""
    path = shared_path("data", "mtmc-pets09-overlap", "calibration.json")
    c1, c2 = load_calibration_file(path, "c1"), load_calibration_file(path, "c2")
    assert c1.image_size == c2.image_size == (288, 360)
    for cam in ("c1", "c2"):
        np.testing.assert_allclose(load_calibration_file(path, cam).homography,
                                   np.array(json.loads(path.read_text())[cam]["H_img_to_ground"]), rtol=1e-9)
    ground = np.array([[-8.0, -6.0], [-10.0, -4.0]])
    p1, p2 = c1.to_image(ground), c2.to_image(ground)
    np.testing.assert_allclose(p1[:, 0] - p2[:, 0], 192.0, atol=1e-6)
    np.testing.assert_allclose(c1.to_ground(p1), c2.to_ground(p2), atol=1e-9)
    with pytest.raises(MtmctError, match="unknown view 'c3'"):
        load_calibration_file(path, "c3")


def test_krtd_without_distortion_and_rodrigues_rotation():
    c = raw("View_001")
    rvec = cv2.Rodrigues(np.array(c["R"]))[0].ravel()
    cal = from_krtd(c["K"], rvec, c["t"], image_size=c["image_size"])
    assert cal.dist is None
    np.testing.assert_allclose(cal.homography, np.array(c["H_img_to_ground"]), rtol=1e-7, atol=1e-9)
