"""Ground-plane calibration of one camera: image pixels <-> ground metres (the world plane Z = 0).

Why a class and not a bare 3x3 matrix: a homography alone ignores lens distortion (up to ~0.7 m of ground error at
the image borders of PETS09 View_005) and says nothing about the horizon or about videos resized from the size the
calibration was made for. :class:`GroundCalibration` keeps the homography *and*, when known, the camera model
(K, dist, R, t) so that pixels are undistorted before the homography, points beyond the horizon become NaN
instead of a far-away mirror image, and a 480x360 copy of a 768x576 calibration maps the same physical pixel to the
same ground point.

Conventions (those of ``shared/data/pets09-multiview/calibration.json``): the world frame is right-handed with Z up
and the ground at Z = 0, lengths in metres; ``x_cam = R @ X_world + t``; pixels follow OpenCV (pixel (0, 0) is the
centre of the top-left pixel); ``dist`` is OpenCV's (k1, k2, p1, p2[, k3, ...]); the homography maps UNDISTORTED
pixels (u, v, 1) to ground (X, Y, 1). Which side of the horizon is "in front" follows from the right-handed frame:
a pixel p is in front of the camera iff ``(H @ p)[2] * det(H) < 0`` (true for any scale of H; see
:func:`_in_front`), so a homography fitted with the ground axes mirrored (X, Y, up left-handed) is refused.

Every constructor checks its input and raises a one-line :class:`MtmctError` (not 3x3, singular, NaN, camera
behind the plane, too few or collinear points, unknown view, unreadable file).
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mtmct.core.errors import MtmctError
from mtmct.core.json_file import read_json

log = logging.getLogger(__name__)

MAX_FIT_ERROR_M = 0.5
"""from_points logs a warning when a point pair misses by more than this (metres): half a stride, more than the
~0.2 m a person moves between two frames; a larger miss usually means a mistyped or swapped point."""

_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12)
_SINGULAR = 1e-12  # |det| / norm^3 below this: the matrix loses a dimension


def _array(value: Any, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape`` (None: any), or a one-line error naming ``name``."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise MtmctError(f"{name} must be numbers, got {_short(value)}") from None
    if shape is not None and arr.shape != shape:
        want = "x".join(map(str, shape)) if len(shape) > 1 else f"{shape[0]} numbers"
        raise MtmctError(f"{name} must be {want}, got shape {'x'.join(map(str, arr.shape)) or 'scalar'}")
    if not np.all(np.isfinite(arr)):
        raise MtmctError(f"{name} holds NaN or infinity")
    return arr


def _short(value: Any) -> str:
    return " ".join(repr(value).split())[:60]


def _points(value: Any, name: str) -> np.ndarray:
    """An (N, 2) finite float64 array (one [x, y] per row)."""
    arr = _array(value, name)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise MtmctError(f"{name} must be a list of [x, y] pairs, got shape {'x'.join(map(str, arr.shape))}")
    return arr


def _check_homography(h: Any, name: str = "homography") -> np.ndarray:
    """A finite, invertible 3x3 matrix scaled so that h[2, 2] = 1 when it can be (else unit norm)."""
    h = _array(h, name, (3, 3))
    norm = np.linalg.norm(h)
    if norm == 0 or abs(np.linalg.det(h)) / norm ** 3 < _SINGULAR:
        raise MtmctError(f"{name} is singular (not invertible)")
    scale = h[2, 2] if abs(h[2, 2]) > 1e-9 * norm else norm
    return h / scale


def _in_front(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Which homogeneous ground scales ``w = (h @ p)[2]`` belong to pixels in front of the camera.

    H ~ inv(K [r1 r2 t]) up to a scale s; then w = 1 / (s z_cam) and det(H) = -1 / (s^3 det(K) C_z) with C_z the
    camera height; for a camera above the ground (C_z > 0, right-handed frame, Z up) w * det(H) < 0 exactly when
    z_cam > 0. The product scales by s^4, so any scale of H works."""
    return w * np.sign(np.linalg.det(h)) < 0


def _check_k(k: Any) -> np.ndarray:
    k = _array(k, "K", (3, 3))
    if not (k[0, 0] > 0 and k[1, 1] > 0 and np.allclose(k[2], [0, 0, 1]) and k[1, 0] == 0):
        raise MtmctError("K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0")
    return k


def _check_dist(dist: Any) -> np.ndarray | None:
    if dist is None:
        return None
    d = _array(dist, "dist").ravel()
    if d.size not in (4, 5, 8, 12, 14):
        raise MtmctError(f"dist must hold 4, 5, 8, 12 or 14 OpenCV coefficients (k1, k2, p1, p2[, k3...]), "
                         f"got {d.size}")
    return None if not np.any(d) else d


def _check_r(r: Any) -> np.ndarray:
    """A rotation matrix, from a 3x3 matrix or a Rodrigues vector (3 numbers, as WILDTRACK's rvec)."""
    arr = _array(r, "R")
    if arr.size == 3:
        return cv2.Rodrigues(arr.reshape(3, 1))[0]
    if arr.shape != (3, 3):
        raise MtmctError(f"R must be 3x3 or a Rodrigues vector of 3 numbers, got shape "
                         f"{'x'.join(map(str, arr.shape))}")
    if not np.allclose(arr @ arr.T, np.eye(3), atol=1e-3) or np.linalg.det(arr) < 0:
        raise MtmctError("R is not a rotation (R @ R.T must be the identity, det(R) = +1)")
    return arr


def _check_size(size: Any) -> tuple[int, int] | None:
    if size is None:
        return None
    arr = _array(size, "image_size", (2,))
    if np.any(arr <= 0) or np.any(arr != np.round(arr)):
        raise MtmctError(f"image_size must be two positive whole numbers [width, height], got {_short(size)}")
    return int(arr[0]), int(arr[1])


@dataclass(frozen=True, eq=False)
class GroundCalibration:
    """Image pixels of one camera <-> ground-plane metres (Z = 0). Build it with :func:`from_homography`,
    :func:`from_points`, :func:`from_krtd` or :func:`load_calibration_file` (they check the input)."""

    homography: np.ndarray  # 3x3, UNDISTORTED image pixel -> ground (X, Y) metres, in THIS camera's pixels
    K: np.ndarray | None = None  # 3x3 intrinsics in this camera's pixels (None: no distortion model)
    dist: np.ndarray | None = None  # OpenCV (k1, k2, p1, p2[, k3...]); None: no distortion
    R: np.ndarray | None = None  # world -> camera rotation (when known)
    t: np.ndarray | None = None  # world -> camera translation, metres (when known)
    image_size: tuple[int, int] | None = None  # (w, h) pixels this calibration is for
    reprojection_error: float | None = None  # metres, the worst point pair's miss when fit from point pairs
    _inverse: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        h = _check_homography(self.homography)
        k = None if self.K is None else _check_k(self.K)
        dist = _check_dist(self.dist)
        if dist is not None and k is None:
            raise MtmctError("dist needs K (distortion is defined in normalised camera coordinates)")
        if (self.R is None) != (self.t is None):
            raise MtmctError("R and t go together (give both or neither)")
        r = None if self.R is None else _check_r(self.R)
        t = None if self.t is None else _array(self.t, "t", (3,)).ravel()
        for name, value in (("homography", h), ("K", k), ("dist", dist), ("R", r), ("t", t)):
            if value is not None:
                value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "image_size", _check_size(self.image_size))
        inverse = np.linalg.inv(h)
        inverse.setflags(write=False)
        object.__setattr__(self, "_inverse", inverse)

    # -- mapping -------------------------------------------------------------------------------------------------

    def undistort(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels (N, 2) with the lens distortion removed (same K), the input of the homography."""
        p = np.asarray(pixels, np.float64).reshape(-1, 2)
        if self.dist is None or len(p) == 0:
            return p.copy()
        out = cv2.undistortPointsIter(p.reshape(-1, 1, 2), self.K, self.dist, None, self.K, _UNDISTORT_CRITERIA)
        return out.reshape(-1, 2)

    def to_ground(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels (N, 2) -> ground points (N, 2) in metres; NaN for pixels at or beyond the horizon."""
        p = _points(np.asarray(pixels, np.float64).reshape(-1, 2), "pixels")
        u = self.undistort(p)
        g = np.column_stack([u, np.ones(len(u))]) @ self.homography.T
        w = g[:, 2]
        ok = _in_front(self.homography, w) & (np.abs(w) > 1e-15)
        out = np.full((len(p), 2), np.nan)
        out[ok] = g[ok, :2] / w[ok, None]
        return out

    def to_image(self, ground: np.ndarray) -> np.ndarray:
        """Ground points (N, 2) metres -> pixels (N, 2), distortion applied when known; NaN behind the camera."""
        g = _points(np.asarray(ground, np.float64).reshape(-1, 2), "ground")
        out = np.full((len(g), 2), np.nan)
        if len(g) == 0:
            return out
        if self.R is not None and self.K is not None:
            world = np.column_stack([g, np.zeros(len(g))])
            ok = (world @ self.R.T + self.t)[:, 2] > 0
            if ok.any():
                rvec = cv2.Rodrigues(self.R)[0]
                dist = self.dist if self.dist is not None else np.zeros(5)
                px = cv2.projectPoints(world[ok].reshape(-1, 1, 3), rvec, self.t, self.K, dist)[0]
                out[ok] = px.reshape(-1, 2)
            return out
        p = np.column_stack([g, np.ones(len(g))]) @ self._inverse.T
        w = p[:, 2]
        # a ground point is in front when its pixel is: the pixel's w' = 1 / w for H's scale
        ok = (np.abs(w) > 1e-15)
        ok[ok] = _in_front(self.homography, 1.0 / w[ok])
        undist = p[ok, :2] / w[ok, None]
        if self.dist is not None and len(undist):
            norm = cv2.undistortPoints(undist.reshape(-1, 1, 2), self.K, None).reshape(-1, 2)  # K^-1 only
            rays = np.column_stack([norm, np.ones(len(norm))]).reshape(-1, 1, 3)
            undist = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), self.K, self.dist)[0].reshape(-1, 2)
        out[ok] = undist
        return out

    # -- resizing ------------------------------------------------------------------------------------------------

    def scaled(self, sx: float, sy: float | None = None) -> GroundCalibration:
        """The same camera for a video resized by (sx, sy) from this calibration's pixels (new = old * s): K's
        first two rows scaled, H composed with the inverse scale; dist, R, t unchanged (they are size-free)."""
        sy = sx if sy is None else sy
        if not (math.isfinite(sx) and math.isfinite(sy) and sx > 0 and sy > 0):
            raise MtmctError(f"scale factors must be positive and finite, got {sx}, {sy}")
        s = np.diag([sx, sy, 1.0])
        k = None if self.K is None else s @ self.K
        size = None if self.image_size is None else (round(self.image_size[0] * sx), round(self.image_size[1] * sy))
        return GroundCalibration(self.homography @ np.linalg.inv(s), k, self.dist, self.R, self.t, size,
                                 self.reprojection_error)

    def for_size(self, width: int, height: int) -> GroundCalibration:
        """This calibration for frames of ``width`` x ``height`` (scaled from image_size; itself when the sizes are
        equal or image_size is unknown)."""
        if self.image_size is None or self.image_size == (width, height):
            return self
        return self.scaled(width / self.image_size[0], height / self.image_size[1])

    # -- geometry ------------------------------------------------------------------------------------------------

    def camera_position(self) -> np.ndarray | None:
        """The camera centre (X, Y, Z) in metres, when R and t are known."""
        return None if self.R is None else -self.R.T @ self.t

    def field_of_view(self, max_distance: float = 50.0, samples: int = 32) -> np.ndarray:
        """The ground polygon (M, 2) metres the image sees: the image border, sampled ``samples`` points per edge,
        mapped to the ground; a border pixel beyond the horizon or farther than ``max_distance`` metres (from the
        point below the camera, else from the bottom-centre pixel's ground point) is pulled towards the
        bottom-centre pixel until it is not (bisection), so the polygon stays finite. Needs image_size."""
        if self.image_size is None:
            raise MtmctError("field_of_view needs image_size (the pixel size of the calibrated image)")
        w, h = self.image_size
        ref = np.array([(w - 1) / 2.0, h - 1.0])
        ref_ground = self.to_ground(ref[None])[0]
        if not np.all(np.isfinite(ref_ground)):
            raise MtmctError("the bottom of the image is beyond the horizon: the camera does not see the ground")
        cam = self.camera_position()
        origin = ref_ground if cam is None else cam[:2]
        s = np.linspace(0.0, 1.0, samples, endpoint=False)
        x0, x1, y0, y1 = 0.0, w - 1.0, 0.0, h - 1.0
        border = np.concatenate([
            np.column_stack([x0 + s * (x1 - x0), np.full_like(s, y0)]),
            np.column_stack([np.full_like(s, x1), y0 + s * (y1 - y0)]),
            np.column_stack([x1 - s * (x1 - x0), np.full_like(s, y1)]),
            np.column_stack([np.full_like(s, x0), y1 - s * (y1 - y0)])])

        def good(px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            g = self.to_ground(px)
            ok = np.isfinite(g).all(axis=1)
            ok[ok] = np.linalg.norm(g[ok] - origin, axis=1) <= max_distance
            return ok, g

        ok, ground = good(border)
        lo, hi = np.zeros(len(border)), np.ones(len(border))
        for _ in range(40):  # largest fraction of the way from ref to the border pixel that is still good
            mid = (lo + hi) / 2
            mid_ok, _ = good(ref + mid[:, None] * (border - ref))
            lo, hi = np.where(mid_ok, mid, lo), np.where(mid_ok, hi, mid)
        _, clipped = good(ref + lo[:, None] * (border - ref))
        return np.where(ok[:, None], ground, clipped)

    # -- storage -------------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (lists and numbers; None for what is unknown); :meth:`from_dict` reads it back."""
        def lst(a: np.ndarray | None) -> list | None:
            return None if a is None else a.tolist()

        return {"homography": lst(self.homography), "K": lst(self.K), "dist": lst(self.dist), "R": lst(self.R),
                "t": lst(self.t), "image_size": None if self.image_size is None else list(self.image_size),
                "reprojection_error": self.reprojection_error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroundCalibration:
        """The calibration :meth:`to_dict` wrote (checked like any other input)."""
        if not isinstance(data, dict) or "homography" not in data:
            raise MtmctError(f"a stored calibration is a mapping with a 'homography', got {_short(data)}")
        unknown = set(data) - {"homography", "K", "dist", "R", "t", "image_size", "reprojection_error"}
        if unknown:
            raise MtmctError(f"unknown calibration key(s): {', '.join(sorted(unknown))}")
        err = data.get("reprojection_error")
        return cls(data["homography"], data.get("K"), data.get("dist"), data.get("R"), data.get("t"),
                   data.get("image_size"), None if err is None else float(err))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GroundCalibration):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # holds arrays


# -- constructors ------------------------------------------------------------------------------------------------

def from_homography(homography: Any, image_size: Any = None, K: Any = None, dist: Any = None) -> GroundCalibration:
    """From a 3x3 undistorted-pixel -> ground-metres homography (with K and dist when the lens is modelled)."""
    return GroundCalibration(_check_homography(homography), K, dist, image_size=image_size)


def _collinear(points: np.ndarray, tol: float = 1e-6) -> bool:
    """All points on one line, or (with 4 points) three of them on one line: a homography is then undefined."""
    centred = points - points.mean(axis=0)
    extent = max(float(np.abs(centred).max()), 1e-300)
    if np.linalg.matrix_rank(centred / extent, tol=tol) < 2:
        return True
    if len(points) == 4:
        for skip in range(4):
            a, b, c = (points[i] / extent for i in range(4) if i != skip)
            if abs(np.cross(b - a, c - a)) < tol:
                return True
    return False


def from_points(image_points: Any, ground_points: Any, image_size: Any = None, K: Any = None,
                dist: Any = None) -> GroundCalibration:
    """Fit from >= 4 pixel <-> ground-metre pairs (cv2.findHomography, least squares over all pairs).

    With K and dist the pixels are undistorted before the fit. ``reprojection_error`` is the worst pair's ground
    miss in metres; above :data:`MAX_FIT_ERROR_M` a warning is logged (a mistyped or swapped point, usually)."""
    img, ground = _points(image_points, "image points"), _points(ground_points, "ground points")
    if len(img) != len(ground):
        raise MtmctError(f"{len(img)} image points but {len(ground)} ground points (they are pairs)")
    if len(img) < 4:
        raise MtmctError(f"a homography needs at least 4 point pairs, got {len(img)}")
    for name, pts in (("image", img), ("ground", ground)):
        if _collinear(pts):
            raise MtmctError(f"{name} points are collinear (a homography needs 4 points, no 3 on one line)")
    probe = GroundCalibration(np.eye(3), K, dist, image_size=image_size)  # checks K, dist
    undist = probe.undistort(img)
    h, _ = cv2.findHomography(undist, ground, 0)
    if h is None:
        raise MtmctError("the point pairs do not determine a homography (degenerate layout)")
    h = _check_homography(h, "fitted homography")
    w = np.column_stack([undist, np.ones(len(undist))]) @ h[2]
    if not np.all(_in_front(h, w)):
        raise MtmctError("ground points behind the camera: the point pairs straddle the horizon, or the ground "
                         "axes are mirrored (X, Y and up must be right-handed)")
    cal = GroundCalibration(h, probe.K, probe.dist, image_size=probe.image_size)
    miss = np.linalg.norm(cal.to_ground(img) - ground, axis=1)
    err = float(miss.max())
    if err > MAX_FIT_ERROR_M:
        log.warning("calibration from %d point pairs misses pair %d by %.2f m (more than %.1f m): check that "
                    "point", len(img), int(miss.argmax()), err, MAX_FIT_ERROR_M)
    return replace(cal, reprojection_error=err)


def from_krtd(K: Any, R: Any, t: Any, dist: Any = None, image_size: Any = None) -> GroundCalibration:
    """From a full camera model: K (3x3 px), R (3x3 or a Rodrigues vector), t (metres), OpenCV dist.

    H = inv(K @ [r1 r2 t]), scaled so that H[2, 2] = 1 when it can be; K and dist are kept so that
    :meth:`GroundCalibration.to_ground` undistorts first and :meth:`GroundCalibration.to_image` projects exactly."""
    k, r, tv = _check_k(K), _check_r(R), _array(t, "t").ravel()
    if tv.shape != (3,):
        raise MtmctError(f"t must be 3 numbers, got {tv.size}")
    centre = -r.T @ tv
    if centre[2] <= 0:
        raise MtmctError(f"the camera is not above the ground plane (camera centre Z = {centre[2]:.3g} <= 0; the "
                         "world's Z must point up, away from the ground)")
    g = k @ np.column_stack([r[:, 0], r[:, 1], tv])
    if abs(np.linalg.det(g)) / np.linalg.norm(g) ** 3 < _SINGULAR:
        raise MtmctError("K @ [r1 r2 t] is singular (the camera looks along the ground plane)")
    return GroundCalibration(np.linalg.inv(g), k, dist, r, tv, image_size)


# -- files -------------------------------------------------------------------------------------------------------

def _guess_units(centre_z: float) -> float:
    """Units per metre from a camera height: <= 50 m, metres; up to 5000, centimetres (WILDTRACK); else mm."""
    return 1.0 if centre_z <= 50 else (100.0 if centre_z <= 5000 else 1000.0)


def load_calibration_file(path: str | Path, view: str, units_per_metre: float | None = None) -> GroundCalibration:
    """One view's calibration from a file.

    - ``*.json``: a mapping of views, each with image_size, and K, R, t (metres), dist and/or H_img_to_ground
      (the format of shared/data/pets09-multiview/calibration.json). K, R, t win when present (H is derived from
      them); H_img_to_ground alone also works.
    - WILDTRACK / MultiviewX: ``path`` is the calibration folder or one of its XML files; it holds
      ``intrinsic_<view>.xml`` (or ``intr_<view>.xml``, also under intrinsic_zero/ or intrinsic/) with
      camera_matrix and distortion_coefficients, and ``extrinsic_<view>.xml`` (or ``extr_<view>.xml``, also under
      extrinsic/) with rvec and tvec, read with cv2.FileStorage.

    ``units_per_metre`` divides t (100 for centimetres, WILDTRACK's unit); None: 1 for JSON (metres), guessed from
    the camera height for XML (<= 50: metres, <= 5000: centimetres, else millimetres; logged).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise MtmctError(f"calibration file {path} does not exist")
    if units_per_metre is not None and not (math.isfinite(units_per_metre) and units_per_metre > 0):
        raise MtmctError(f"units_per_metre must be positive, got {units_per_metre}")
    if path.is_file() and path.suffix.lower() == ".json":
        return _load_json(path, view, units_per_metre or 1.0)
    if path.is_dir() or path.suffix.lower() == ".xml":
        folder = path if path.is_dir() else path.parent  # a file of WILDTRACK's extrinsic/ names its parent too
        if not path.is_dir() and folder.name.startswith(("intrinsic", "extrinsic")):
            folder = folder.parent
        return _load_xml(folder, view, units_per_metre)
    raise MtmctError(f"{path}: unknown calibration format (expected .json, or a folder of WILDTRACK-style .xml)")


def _load_json(path: Path, view: str, units: float) -> GroundCalibration:
    data = read_json(path, "calibration file")
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise MtmctError(f"{path}: expected a mapping of view names to calibrations")
    if view not in data:
        raise MtmctError(f"{path}: unknown view {view!r} (views: {', '.join(map(str, data)) or 'none'})")
    entry = data[view]
    try:
        if "R" in entry or "t" in entry:
            missing = [k for k in ("K", "R", "t") if k not in entry]
            if missing:
                raise MtmctError(f"missing {', '.join(missing)}")
            cal = from_krtd(entry["K"], entry["R"], np.asarray(entry["t"], float) / units, entry.get("dist"),
                            entry.get("image_size"))
            if "H_img_to_ground" in entry:  # the file's own H must agree with its camera model
                given = _check_homography(entry["H_img_to_ground"], "H_img_to_ground")
                if units == 1.0 and not np.allclose(given, cal.homography, rtol=1e-6, atol=1e-9):
                    log.warning("%s: %s's H_img_to_ground differs from inv(K [r1 r2 t]); using K, R, t",
                                path, view)
            return cal
        if "H_img_to_ground" in entry or "homography" in entry:
            h = np.array(entry.get("H_img_to_ground", entry.get("homography")), dtype=float)
            h = np.diag([1 / units, 1 / units, 1.0]) @ h if units != 1.0 else h
            return from_homography(h, entry.get("image_size"), entry.get("K"), entry.get("dist"))
        raise MtmctError("needs K, R, t or H_img_to_ground")
    except MtmctError as exc:
        raise MtmctError(f"{path}: view {view!r}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise MtmctError(f"{path}: view {view!r}: {exc}") from None


def _find(folder: Path, names: list[str]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _read_node(fs: cv2.FileStorage, name: str, where: Path) -> np.ndarray | None:
    """A matrix node (opencv-matrix) or a plain list of numbers (WILDTRACK's ``<rvec>a b c</rvec>``)."""
    node = fs.getNode(name)
    if node.empty() or node.isNone():
        return None
    if node.isSeq():
        return np.array([node.at(i).real() for i in range(node.size())], float)
    if node.isString():
        try:
            return np.array(node.string().split(), float)
        except ValueError:
            raise MtmctError(f"{where}: {name} is not a list of numbers") from None
    mat = node.mat()
    return None if mat is None else np.asarray(mat, float)


def _read_xml(path: Path) -> cv2.FileStorage:
    try:
        ET.parse(path)  # a clear message for a broken file (OpenCV's is a multi-line assertion)
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except (ET.ParseError, cv2.error, OSError) as exc:
        raise MtmctError(f"{path}: not a readable OpenCV XML file ({' '.join(str(exc).split())[:120]})") from None
    if not fs.isOpened():
        raise MtmctError(f"{path}: not a readable OpenCV XML file")
    return fs


def _load_xml(folder: Path, view: str, units: float | None) -> GroundCalibration:
    intr = _find(folder, [f"intrinsic_{view}.xml", f"intr_{view}.xml", f"intrinsic_zero/intr_{view}.xml",
                          f"intrinsic/intr_{view}.xml", f"intrinsic_original/intr_{view}.xml"])
    extr = _find(folder, [f"extrinsic_{view}.xml", f"extr_{view}.xml", f"extrinsic/extr_{view}.xml"])
    if intr is None or extr is None:
        views = sorted({p.stem.split("_", 1)[1] for p in folder.rglob("*.xml")
                        if p.stem.startswith(("intr", "extr")) and "_" in p.stem})
        raise MtmctError(f"{folder}: unknown view {view!r}: no intrinsic_/extrinsic_{view}.xml "
                         f"(views: {', '.join(views) or 'none'})")
    fs = _read_xml(intr)
    try:
        k, dist = _read_node(fs, "camera_matrix", intr), _read_node(fs, "distortion_coefficients", intr)
    finally:
        fs.release()
    fs = _read_xml(extr)
    try:
        rvec, tvec = _read_node(fs, "rvec", extr), _read_node(fs, "tvec", extr)
    finally:
        fs.release()
    for name, value, where in (("camera_matrix", k, intr), ("rvec", rvec, extr), ("tvec", tvec, extr)):
        if value is None:
            raise MtmctError(f"{where}: no {name}")
    try:
        r = _check_r(np.ravel(rvec) if np.size(rvec) == 3 else rvec)
        tv = _array(tvec, "tvec").ravel()
        if tv.shape != (3,):
            raise MtmctError(f"tvec must be 3 numbers, got {tv.size}")
        if units is None:
            units = _guess_units(float((-r.T @ tv)[2]))
            log.info("%s: camera %s: t read as %s", extr, view, {1.0: "metres", 100.0: "centimetres"}.get(
                units, "millimetres"))
        return from_krtd(k, r, tv / units, None if dist is None else dist.ravel())
    except MtmctError as exc:
        raise MtmctError(f"{folder}: view {view!r}: {exc}") from None
