"""The run on the ground plane: every global identity's path in metres (calibrated cameras only), each calibrated
camera's field of view and the config's floor plan, as JSON and as an SVG map page with a time slider
(static/map.js)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel

from mtmct.core.camera_config import CameraSetConfig
from mtmct.core.colors import id_color_hex
from mtmct.core.config.floor_plan import FloorPlanConfig
from mtmct.core.errors import MtmctError
from mtmct.dashboard.runs import run_detail
from mtmct.dashboard.timeline import colours
from mtmct.dashboard.web import ERRORS, page, store
from mtmct.query_service import header_size
from storage.repository import WorldTrack

log = logging.getLogger(__name__)
router = APIRouter()

FOV_DISTANCE_M = 30.0  # how far a field of view is drawn: beyond this a view's ground positions are too coarse
NO_CALIBRATION = ("no ground positions: the run's cameras are not calibrated "
                  "(add calibration: to a camera in the config)")
NO_POSITIONS = "no ground positions: the calibrated cameras placed no global identity on the ground"


class CameraFovOut(BaseModel):
    camera_id: str
    polygon: list[tuple[float, float]]  # ground metres, the camera's view out to FOV_DISTANCE_M


class WorldIdentityOut(BaseModel):
    global_id: int
    colour: str  # the id's colour everywhere (mtmct.core.colors)
    url: str  # its identity page
    points: list[tuple[float, float, float]]  # [t s, X m, Y m], by time, at most one per step


class FloorPlanOut(BaseModel):
    url: str  # the image (GET /runs/{id}/floor-plan)
    x0: float  # ground metres it covers: min corner (x0, y0), max corner (x1, y1); its top-left pixel is (x0, y1)
    y0: float
    x1: float
    y1: float


class BoundsOut(BaseModel):
    min_x: float
    min_y: float
    max_x: float
    max_y: float


class WorldOut(BaseModel):
    run_id: str
    step: float
    start: float | None  # time range of the positions, seconds (None: no positions)
    end: float | None
    bounds: BoundsOut | None  # metres, of the positions, the fields of view and the floor plan
    cameras: list[CameraFovOut]
    identities: list[WorldIdentityOut]
    floor_plan: FloorPlanOut | None  # the config's floor plan, when its image is readable
    floor_plan_note: str | None  # why the config's floor plan is not drawn
    message: str | None  # why the map is empty


STEP = Query(0.5, ge=0, le=3600, allow_inf_nan=False,
             description="seconds between the samples kept per identity (0: every sample)")


def downsample(samples: np.ndarray, step: float) -> np.ndarray:
    """The first sample of each ``step``-second interval, plus the last one, so a path keeps its ends and a long
    run's answer stays small."""
    if step <= 0 or len(samples) < 3:
        return samples
    bins = np.floor((samples[:, 0] - samples[0, 0]) / step)
    keep = np.flatnonzero(np.r_[True, np.diff(bins) > 0])
    if keep[-1] != len(samples) - 1:
        keep = np.r_[keep, len(samples) - 1]
    return samples[keep]


def fields_of_view(config: CameraSetConfig | None, run_id: str) -> tuple[list[CameraFovOut], bool]:
    """The run's calibrated cameras' fields of view on the ground, and whether any camera is calibrated at all
    (a calibration without image_size, or a plain homography, has no drawable view but still places boxes)."""
    out, calibrated = [], False
    for cam in () if config is None else config.cameras:
        calibrated = calibrated or cam.calibration is not None or cam.homography is not None  # both place boxes
        if cam.calibration is None:  # the short homography: form has no image_size, so no drawable view
            continue
        try:
            polygon = cam.calibration.build().field_of_view(FOV_DISTANCE_M)
        except MtmctError as error:
            log.info("run %s camera %s: no field of view (%s)", run_id, cam.id, error)
            continue
        polygon = polygon[np.isfinite(polygon).all(axis=1)]
        if len(polygon) >= 3:
            out.append(CameraFovOut(camera_id=cam.id, polygon=[(round(x, 3), round(y, 3)) for x, y in polygon]))
    return out, calibrated


def plan_size(plan: FloorPlanConfig) -> tuple[int, int]:
    """The plan image's ``(width, height)`` in pixels from its header (a large plan is never decoded); a one-line
    MtmctError when the file is gone (moved since the run) or is no image."""
    try:
        with open(plan.image, "rb") as file:
            size = header_size(file.read())
    except OSError as error:
        raise MtmctError(f"floor plan {plan.image} cannot be read ({error.strerror})") from None
    if size is None:
        raise MtmctError(f"floor plan {plan.image} is not an image")
    return size


def floor_plan(config: CameraSetConfig | None, base: str) -> tuple[FloorPlanOut | None, str | None]:
    """The config's floor plan placed in metres, or None with the reason when it has one that cannot be drawn."""
    if config is None or config.floor_plan is None:
        return None, None
    try:
        x0, y0, x1, y1 = config.floor_plan.extent(*plan_size(config.floor_plan))
    except MtmctError as error:
        return None, f"{error}; drawn without it"
    return FloorPlanOut(url=f"{base}/floor-plan", x0=x0, y0=y0, x1=x1, y1=y1), None


def build(request: Request, run_id: str, step: float) -> WorldOut:
    run_detail(request, run_id)  # 404 for an unknown run
    tracks: list[WorldTrack] = store(request).repo().world_trajectories(run_id)
    config = store(request).repo().run_config(run_id)
    cameras, calibrated = fields_of_view(config, run_id)
    base = f"/runs/{quote(run_id, safe='/')}"
    plan, plan_note = floor_plan(config, base)
    identities = [WorldIdentityOut(global_id=t.global_id, colour=id_color_hex(t.global_id),
                                   url=f"{base}/identities/{t.global_id}",
                                   points=[(round(s, 3), round(x, 3), round(y, 3))
                                           for s, x, y in downsample(t.samples, step).tolist()])
                  for t in tracks]
    xy = [np.asarray(c.polygon) for c in cameras] + [t.samples[:, 1:] for t in tracks]
    xy += [] if plan is None else [np.array([[plan.x0, plan.y0], [plan.x1, plan.y1]])]
    bounds = None
    if xy:
        allxy = np.concatenate(xy)
        lo, hi = allxy.min(axis=0), allxy.max(axis=0)
        bounds = BoundsOut(min_x=float(lo[0]), min_y=float(lo[1]), max_x=float(hi[0]), max_y=float(hi[1]))
    times = [t.samples[i, 0] for t in tracks for i in (0, -1)]
    message = None if tracks else NO_POSITIONS if calibrated else NO_CALIBRATION
    return WorldOut(run_id=run_id, step=step, start=min(times, default=None), end=max(times, default=None),
                    bounds=bounds, cameras=cameras, identities=identities, floor_plan=plan,
                    floor_plan_note=plan_note, message=message)


@router.get("/api/runs/{run_id:path}/world", response_model=WorldOut, responses=ERRORS, tags=["map"])
def get_world(request: Request, run_id: str, step: float = STEP) -> WorldOut:
    """Every global identity's path on the ground plane in metres ([t, X, Y], the mean of the calibrated views
    seeing it, one sample per ``step`` seconds) and each calibrated camera's field of view; an uncalibrated run
    answers no identities and a message saying why."""
    return build(request, run_id, step)


@router.get("/runs/{run_id:path}/floor-plan", response_class=FileResponse, include_in_schema=False)
def get_floor_plan(request: Request, run_id: str) -> FileResponse:
    """The image the run's stored config names as its floor plan (no other path is ever served); 404 when the run
    has none or it cannot be read."""
    run_detail(request, run_id)  # 404 for an unknown run
    config = store(request).repo().run_config(run_id)
    if config is None or config.floor_plan is None:
        raise HTTPException(404, f"run {run_id!r} has no floor plan (add floor_plan: to its camera config)")
    try:
        plan_size(config.floor_plan)
    except MtmctError as error:
        raise HTTPException(404, str(error)) from None
    return FileResponse(config.floor_plan.image, media_type=config.floor_plan.media_type,
                        headers={"Cache-Control": "no-cache"})


@dataclass(frozen=True)
class MapLayout:
    """Metres to SVG pixels (y up on the ground, down on screen), with the axis ticks; map.js reads the same
    numbers from the SVG's data attributes."""

    width: float
    height: float
    pad: float
    scale: float  # pixels per metre
    min_x: float
    max_y: float
    ticks_x: list[tuple[float, float]]  # (pixel, metres)
    ticks_y: list[tuple[float, float]]
    bar_m: float  # the scale bar's length in metres

    def px(self, x: float, y: float) -> tuple[float, float]:
        return round(self.pad + (x - self.min_x) * self.scale, 1), round(self.pad + (self.max_y - y) * self.scale, 1)


def nice_step(span: float, count: int = 8) -> float:
    raw = max(span, 1e-6) / count
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def layout(bounds: BoundsOut, size: float = 760.0, pad: float = 44.0) -> MapLayout:
    """Fit the bounds (plus a metre of margin) into ``size`` pixels, one scale on both axes."""
    min_x, min_y, max_x, max_y = bounds.min_x - 1, bounds.min_y - 1, bounds.max_x + 1, bounds.max_y + 1
    scale = (size - 2 * pad) / max(max_x - min_x, max_y - min_y)
    width, height = 2 * pad + (max_x - min_x) * scale, 2 * pad + (max_y - min_y) * scale
    tick = nice_step(max(max_x - min_x, max_y - min_y))
    base = MapLayout(width, height, pad, scale, min_x, max_y, [], [], tick)
    xs = np.arange(math.ceil(min_x / tick) * tick, max_x + 1e-9, tick)
    ys = np.arange(math.ceil(min_y / tick) * tick, max_y + 1e-9, tick)
    return MapLayout(round(width, 1), round(height, 1), pad, scale, min_x, max_y,
                     [(base.px(x, 0)[0], round(float(x), 6)) for x in xs],
                     [(base.px(0, y)[1], round(float(y), 6)) for y in ys], tick)


@router.get("/runs/{run_id:path}/map", response_class=HTMLResponse, include_in_schema=False)
def map_page(request: Request, run_id: str, step: float = STEP) -> HTMLResponse:
    run = run_detail(request, run_id)
    data = build(request, run_id, step)
    view = layout(data.bounds) if data.bounds is not None else None
    paths, fovs = {}, {}
    if view is not None:
        for ident in data.identities:
            pts = [view.px(x, y) for _, x, y in ident.points]
            pts = pts if len(pts) > 1 else pts * 2  # one sample: a zero-length segment, drawn as a round dot
            paths[ident.global_id] = " ".join(f"{'L' if k else 'M'}{u},{v}" for k, (u, v) in enumerate(pts))
        for cam in data.cameras:
            pts = [view.px(x, y) for x, y in cam.polygon]
            fovs[cam.camera_id] = (" ".join(f"{u},{v}" for u, v in pts),
                                   view.px(*np.asarray(cam.polygon).mean(axis=0).tolist()))
    plan = None
    if view is not None and data.floor_plan is not None:  # its top-left and bottom-right corners, in pixels
        (u0, v0), (u1, v1) = view.px(data.floor_plan.x0, data.floor_plan.y1), view.px(data.floor_plan.x1,
                                                                                      data.floor_plan.y0)
        plan = (u0, v0, round(u1 - u0, 1), round(v1 - v0, 1))
    tracks = {i.global_id: ";".join(f"{t:g},{x:g},{y:g}" for t, x, y in i.points) for i in data.identities}
    return page(request, "map.html", run=run, world=data, view=view, paths=paths, fovs=fovs, tracks=tracks,
                plan=plan, fov_m=FOV_DISTANCE_M,
                colours=colours([c.camera_id for c in run.camera_list]))
