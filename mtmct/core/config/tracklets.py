"""How each camera turns tracks into tracklets: the ``cameras.tracklet_builder.TrackletBuilder`` arguments that a
camera set chooses (tested against the constructor). The per-camera ones come from elsewhere: ``camera_id`` and
``clock_offset`` from the camera, ``max_gap`` from the tracker's ``max_age``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mtmct.core.config.base import Int, NonNegative, StrictModel


class TrackletsConfig(StrictModel):
    """TrackletBuilder settings shared by every camera of a set, each documented by its trade-off."""

    min_frames: Annotated[Int, Field(ge=1, description=(
        "Fewer frames than this flags a tracklet 'short' (fusion only attaches it, never bridges with it); "
        "quality also ramps up to this length. Raising it distrusts more brief tracks: fewer false links, "
        "more missed ones."))] = 10
    min_height: Annotated[NonNegative, Field(description=(
        "Box height in pixels below which a crop carries little identity: a tracklet whose median height is "
        "below it is flagged 'small'. Raising it discounts distant people more."))] = 50.0
    n_crops: Annotated[Int, Field(ge=0, description=(
        "Representative crops kept per tracklet; more helps people review matches but costs storage."))] = 3
    crop_height: Annotated[Int, Field(ge=8, description=(
        "Height in pixels the crops are resized to; JPEG size grows with its square."))] = 128
    jpeg_quality: Annotated[Int, Field(ge=0, le=100, description=(
        "JPEG quality of the crops, 0-100; higher keeps detail for review at the cost of bytes."))] = 90
