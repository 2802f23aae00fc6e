"""The detector and ReID model every camera of a set uses."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from mtmct.core.config.base import Fraction, Int, StrictModel, Text, resolve_model


class ModelsConfig(StrictModel):
    """Detector and ReID model shared by all cameras (``reid`` null: motion-only tracking)."""

    detector: Annotated[Text, Field(description=(
        "Registry name, or a model folder/file (relative to the config file)."))] = "picodet_s_192_lcnet_pedestrian"
    reid: Annotated[Text | None, Field(description=(
        "Registry name, model path, or null for motion-only tracking (faster, but identities survive no "
        "occlusion and nothing links across cameras but time)."))] = "reid_model"
    device: Annotated[Text, Field(description="cpu, gpu, gpu:1 ...")] = "cpu"
    conf: Annotated[Fraction, Field(description=(
        "Detector threshold: lower finds more people and more clutter."))] = 0.3
    classes: Annotated[tuple[Annotated[Int, Field(ge=0)], ...] | None, Field(description=(
        "Class ids to keep; null: the model's default (person)."))] = None
    embed_every_frame: Annotated[bool, Field(strict=True, description=(
        "Run ReID on every box of every frame instead of only where the tracker's association needs it (see the "
        "tracker's embed_interval): several times slower, for comparison or for users who want every box's "
        "embedding. `mtmct run --embed-every-frame` sets it."))] = False

    @field_validator("detector", "reid")
    @classmethod
    def _resolve(cls, value: str | None, info: ValidationInfo) -> str | None:
        return resolve_model(value, info)
