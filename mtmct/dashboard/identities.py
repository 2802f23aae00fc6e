"""One identity: entry and exit per camera, crops in time order, and each camera's trajectory drawn on a frame
of that camera (foot points of its boxes, rendered server-side as JPEG)."""

from __future__ import annotations

import base64
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from mtmct.dashboard import frames as drawing
from mtmct.dashboard import trajectories
from mtmct.dashboard.runs import run_detail
from mtmct.dashboard.timeline import colours
from mtmct.dashboard.web import ERRORS, IMAGE, GlobalId, frames, page, store
from storage.repository import IdentityInfo, TrackletSpan

router = APIRouter()


class TrackletOut(BaseModel):
    camera_id: str
    track_id: int
    start_time: float
    end_time: float
    start_frame: int
    end_frame: int
    n_frames: int
    crops_jpeg_base64: list[str]


class CameraVisitOut(BaseModel):
    camera_id: str
    entry_time: float  # first sighting in this camera
    exit_time: float  # last sighting
    entry_frame: int
    exit_frame: int
    visits: int  # separate stays (gaps over 2 s split them)
    trajectory_url: str  # JPEG: the foot-point path on a frame of this camera
    video_url: str  # the annotated camera player, at the entry frame


class IdentityOut(BaseModel):
    run_id: str
    global_id: int
    first_time: float | None
    last_time: float | None
    cameras: list[CameraVisitOut]  # in order of entry
    tracklets: list[TrackletOut]  # in time order


def build(info: IdentityInfo) -> IdentityOut:
    spans = [TrackletSpan(t.camera_id, t.track_id, info.global_id, t.start_frame, t.end_frame, t.start_time,
                          t.end_time, len(t)) for t in info.tracklets]
    visits = trajectories.visits(spans).get(info.global_id, [])
    base = f"/runs/{quote(info.run_id, safe='/')}"
    cameras = []
    for cam in dict.fromkeys(v.camera_id for v in visits):
        mine = [v for v in visits if v.camera_id == cam]
        cameras.append(CameraVisitOut(
            camera_id=cam, entry_time=mine[0].start_time, exit_time=max(v.end_time for v in mine),
            entry_frame=mine[0].start_frame, exit_frame=max(v.end_frame for v in mine), visits=len(mine),
            trajectory_url=f"/api{base}/identities/{info.global_id}/trajectory/{cam}.jpg",
            video_url=f"{base}/cameras/{cam}/video?frame={mine[0].start_frame}"))
    tracklets = [TrackletOut(camera_id=t.camera_id, track_id=t.track_id, start_time=t.start_time,
                             end_time=t.end_time, start_frame=t.start_frame, end_frame=t.end_frame, n_frames=len(t),
                             crops_jpeg_base64=[base64.b64encode(c).decode() for c in t.crops])
                 for t in info.tracklets]
    return IdentityOut(run_id=info.run_id, global_id=info.global_id, first_time=info.first_time,
                       last_time=info.last_time, cameras=cameras, tracklets=tracklets)


@router.get("/api/runs/{run_id:path}/identities/{global_id}", response_model=IdentityOut, responses=ERRORS,
            tags=["identities"])
def get_identity(request: Request, run_id: str, global_id: GlobalId) -> IdentityOut:
    """One global identity: per camera its entry and exit, and its tracklets with their crops (base64 JPEG)."""
    return build(store(request).identity(run_id, global_id))


@router.get("/api/runs/{run_id:path}/identities/{global_id}/trajectory/{camera_id}.jpg", response_class=Response,
            responses={**ERRORS, **IMAGE}, tags=["identities"])
def trajectory(request: Request, run_id: str, global_id: GlobalId, camera_id: str) -> Response:
    """The identity's path in one camera (foot points) drawn on that camera's frame from the middle of its stay;
    a grey canvas when the camera's source is no longer readable."""
    info = store(request).identity(run_id, global_id)
    mine = sorted((t for t in info.tracklets if t.camera_id == camera_id), key=lambda t: t.start_frame)
    if not mine:
        raise HTTPException(404, f"identity {global_id} was never seen by camera {camera_id!r}")
    boxes = np.concatenate([t.boxes for t in mine])
    numbers = np.concatenate([t.frames for t in mine])
    current = len(numbers) // 2
    cam = next((c for c in store(request).repo().list_cameras(run_id) if c.camera_id == camera_id), None)
    image = None if cam is None else frames(request).read(cam.source, int(numbers[current]), cam.fps)
    if image is None:
        image = drawing.blank(boxes, f"{camera_id}: source unavailable")
    return Response(drawing.jpeg(drawing.draw_trajectory(image, boxes, global_id, current)), media_type="image/jpeg")


@router.get("/runs/{run_id:path}/identities/{global_id}", response_class=HTMLResponse, include_in_schema=False)
def identity_page(request: Request, run_id: str, global_id: GlobalId) -> HTMLResponse:
    run = run_detail(request, run_id)
    data = build(store(request).identity(run_id, global_id))
    return page(request, "identity.html", run=run, ident=data,
                colours=colours([c.camera_id for c in run.camera_list]))
