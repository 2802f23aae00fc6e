"""A floor-plan image under the dashboard's ground map (``floor_plan:`` in the camera-set YAML), so trajectories in
metres are read against the walls and doors they pass.

The image is placed by its scale and the ground position of its top-left corner; image x grows along ground +X and
image y along ground -Y (the map draws ground Y up, an image's rows go down):

    floor_plan: {image: plans/ground_floor.png, metres_per_pixel: 0.05, origin: [-20.0, 9.0]}

covers X from -20 to -20 + 0.05 * width and Y from 9 - 0.05 * height to 9. The plan is only drawn, never used to
place anyone, so a wrong scale misleads the eye but not the tracking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from mtmct.core.config.base import Number, Positive, StrictModel, Text, resolve_path

MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
               ".gif": "image/gif", ".bmp": "image/bmp"}  # raster formats every browser draws (SVG: no pixel size)
STORED = "stored"  # validation context key: a run's stored config, whose plan image may have moved since the run


class FloorPlanConfig(StrictModel):
    """A floor-plan image and where it lies on the ground plane (lengths in metres)."""

    image: Annotated[Text, Field(description=(
        "PNG, JPEG, WebP, GIF or BMP file (relative to this config) drawn under the dashboard's ground map."))]
    metres_per_pixel: Annotated[Positive, Field(description=(
        "Ground metres one image pixel spans, on both axes (the plan's scale)."))]
    origin: Annotated[tuple[Number, Number], Field(description=(
        "Ground [X, Y] in metres of the image's top-left corner; image x runs along +X, image y along -Y."))]

    @field_validator("image")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        """Resolved against the config's folder and checked now, so a typo stops the run before it starts; a stored
        run's config (context ``stored``) keeps a plan that has gone: the map is then drawn without it."""
        path = resolve_path(value, info)
        if Path(path).suffix.lower() not in MEDIA_TYPES:
            raise ValueError(f"{path}: a floor plan must be one of {', '.join(MEDIA_TYPES)} (got "
                             f"{Path(path).suffix or 'no suffix'})")
        if not (info.context or {}).get(STORED) and not Path(path).is_file():
            raise ValueError(f"{path} does not exist")
        return path

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[Path(self.image).suffix.lower()]

    def extent(self, width: int, height: int) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``: the ground rectangle in metres (min corner, max corner) covered by an image of
        ``width`` x ``height`` pixels."""
        x0, y1 = self.origin
        return x0, y1 - height * self.metres_per_pixel, x0 + width * self.metres_per_pixel, y1
