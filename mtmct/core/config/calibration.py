"""A camera's ground-plane calibration in the camera-set YAML (``cameras[i].calibration``), all lengths in metres.

One of four forms, checked when the config loads (a singular homography or a camera below the ground is a one-line
config error naming the key, not a crash mid-run):

    calibration: {homography: [[...], [...], [...]]}                       # undistorted pixel -> ground metres
    calibration: {points: {image: [[u, v], ...], ground: [[X, Y], ...]}}   # >= 4 pairs, fitted
    calibration: {K: [[...]], R: [[...]], t: [x, y, z], dist: [...]}       # full camera model, t in metres
    calibration: {file: calib/calibration.json, view: View_001}            # JSON or WILDTRACK-style XML folder

``image_size`` says which pixel size the numbers are for; frames of another size (a resized copy) are scaled to
it at run time (:meth:`GroundCalibration.for_size`). The camera's plain ``homography:`` key is the short form of
``calibration: {homography: ...}``; giving both is an error.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from mtmct.core.calibration import (GroundCalibration, from_homography, from_krtd, from_points,
                                    load_calibration_file)
from mtmct.core.config.base import Int, Number, Positive, StrictModel, Text, resolve_path
from mtmct.core.errors import MtmctError

Point = tuple[Number, Number]
Row = tuple[Number, Number, Number]
Matrix = tuple[Row, Row, Row]
Size = tuple[Annotated[Int, Field(gt=0)], Annotated[Int, Field(gt=0)]]


class PointPairs(StrictModel):
    """Pixel <-> ground pairs to fit a homography from (same order in both lists)."""

    image: Annotated[tuple[Point, ...], Field(min_length=4, description=(
        "At least 4 [u, v] pixels (as seen in the video, distortion included), no 3 on one line."))]
    ground: Annotated[tuple[Point, ...], Field(min_length=4, description=(
        "The ground position [X, Y] in metres of each image point, same order; X, Y, up right-handed."))]


class CalibrationConfig(StrictModel):
    """Exactly one of homography, points, K/R/t (+dist) or file (+view); lengths in metres. K and dist may also
    come with homography or points: the lens model, so pixels are undistorted first."""

    homography: Annotated[Matrix | None, Field(description=(
        "3x3 matrix (rows) from undistorted pixels (u, v, 1) to ground metres (X, Y, 1)."))] = None
    points: Annotated[PointPairs | None, Field(description=(
        "Fit the homography from >= 4 pixel <-> ground-metre pairs; a pair missing by more than 0.5 m after "
        "the fit is logged as a warning."))] = None
    K: Annotated[Matrix | None, Field(description=(
        "3x3 intrinsics [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] in the pixels of image_size; with R and t."))] = None
    R: Annotated[Matrix | tuple[Number, Number, Number] | None, Field(description=(
        "World-to-camera rotation: 3x3, or a Rodrigues vector (3 numbers); world Z up, ground at Z = 0."))] = None
    t: Annotated[tuple[Number, Number, Number] | None, Field(description=(
        "World-to-camera translation in metres (x_cam = R X + t)."))] = None
    dist: Annotated[tuple[Number, ...] | None, Field(description=(
        "OpenCV distortion (k1, k2, p1, p2[, k3...]) for K; pixels are undistorted before the homography."))] = None
    file: Annotated[Text | None, Field(description=(
        "A calibration file (relative to this config): JSON of views (image_size, K, R, t in metres, dist, "
        "H_img_to_ground) or a WILDTRACK/MultiviewX folder of intrinsic_/extrinsic_<view>.xml; with view."))] = None
    view: Annotated[Text | None, Field(description="Which view of file is this camera.")] = None
    units_per_metre: Annotated[Positive | None, Field(description=(
        "file only: the file's length unit per metre (100 for WILDTRACK's centimetres); null: metres for JSON, "
        "guessed from the camera height for XML."))] = None
    image_size: Annotated[Size | None, Field(description=(
        "[width, height] of the pixels the numbers are for; frames of another size are scaled to it. A file's "
        "own image_size is used when this is null."))] = None

    _built: GroundCalibration | None = PrivateAttr(default=None)

    @field_validator("file")
    @classmethod
    def _resolve(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_path(value, info)

    @model_validator(mode="after")
    def _one_form(self) -> CalibrationConfig:
        forms = [name for name, given in (("homography", self.homography is not None),
                                          ("points", self.points is not None),
                                          ("K/R/t", self.R is not None or self.t is not None),
                                          ("file", self.file is not None)) if given]
        if self.K is not None and not forms:  # K alone only describes the lens of a homography or points
            forms = ["K/R/t"]
        if self.K is not None and "file" in forms:  # the file has its own K
            forms.append("K")
        if len(forms) != 1:
            raise ValueError(f"give exactly one of homography, points, K/R/t or file, got "
                             f"{' and '.join(forms) if forms else 'none'}")
        if forms == ["K/R/t"] and any(v is None for v in (self.K, self.R, self.t)):
            missing = [n for n, v in (("K", self.K), ("R", self.R), ("t", self.t)) if v is None]
            raise ValueError(f"K, R and t go together: missing {', '.join(missing)}")
        if (self.file is None) != (self.view is None):
            raise ValueError("file and view go together")
        if self.units_per_metre is not None and self.file is None:
            raise ValueError("units_per_metre applies to file only (write other numbers in metres)")
        if self.dist is not None and forms[0] in ("homography", "points") and self.K is None:
            raise ValueError("dist needs K (give K, R, t, or K with the homography's pixels)")
        if self.points is not None and len(self.points.image) != len(self.points.ground):
            raise ValueError(f"points: {len(self.points.image)} image points but {len(self.points.ground)} "
                             f"ground points (they are pairs)")
        try:
            self._built = self._build()
        except MtmctError as exc:
            raise ValueError(str(exc)) from None
        return self

    def _build(self) -> GroundCalibration:
        if self.homography is not None:
            return from_homography(self.homography, self.image_size, self.K, self.dist)
        if self.points is not None:
            return from_points(self.points.image, self.points.ground, self.image_size, self.K, self.dist)
        if self.file is not None:
            cal = load_calibration_file(self.file, str(self.view), self.units_per_metre)
            if self.image_size is not None and cal.image_size is not None and cal.image_size != self.image_size:
                raise MtmctError(f"image_size {list(self.image_size)} differs from the file's "
                                 f"{list(cal.image_size)} (leave it out: frames are scaled from the file's)")
            return cal if self.image_size is None else GroundCalibration(
                cal.homography, cal.K, cal.dist, cal.R, cal.t, self.image_size, cal.reprojection_error)
        return from_krtd(self.K, self.R, self.t, self.dist, self.image_size)

    def build(self) -> GroundCalibration:
        """The checked :class:`GroundCalibration` (built once, when the config was validated)."""
        return self._built if self._built is not None else self._build()


def no_homography_too(value: CalibrationConfig | None, info: ValidationInfo) -> CalibrationConfig | None:
    """A camera gives ``homography:`` (short form) or ``calibration:`` (full form), never both."""
    if value is not None and info.data.get("homography") is not None:
        raise ValueError("give either homography (short form) or calibration (full form), not both")
    return value

