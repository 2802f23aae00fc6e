"""Annotated camera video: each frame drawn on demand (stored boxes, global id on each) and served as JPEG.

Why frames and not a video file: browsers play neither OpenCV's mp4v nor MJPG AVI, and an MJPEG
``multipart/x-mixed-replace`` stream cannot be paused or seeked without a new request anyway. The player page
steps through ``frames/{n}.jpg`` itself (play/pause, slider, step), prefetching the next frame, so seeking is
free and nothing is cached on disk; the reader (:mod:`mtmct.dashboard.frames`) reads through the pipeline's own
sources and keeps each video open at its position, so playing forward costs one decode per frame.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from mtmct.core.secrets import mask_secrets
from mtmct.dashboard import frames as drawing
from mtmct.dashboard.masking import public_camera
from mtmct.dashboard.runs import run_detail
from mtmct.dashboard.web import ERRORS, IMAGE, frames, page, store
from storage.repository import CameraInfo

router = APIRouter()


def camera(request: Request, run_id: str, camera_id: str) -> CameraInfo:
    """The stored camera row, source unmasked: for opening the source only, never for showing (mask_secrets)."""
    store(request).run(run_id)  # 404 for an unknown run
    for cam in store(request).repo().list_cameras(run_id):
        if cam.camera_id == camera_id:
            return cam
    raise HTTPException(404, f"unknown camera {camera_id!r} in run {run_id!r}")


@router.get("/api/runs/{run_id:path}/cameras/{camera_id}/frames/{frame}.jpg", response_class=Response,
            responses={**ERRORS, **IMAGE}, tags=["videos"])
def annotated_frame(request: Request, run_id: str, camera_id: str,
                    frame: int = Path(ge=1, le=10**9, description="MOT frame number, from 1")) -> Response:
    """Frame ``frame`` of the camera's source with every stored box and its global id (``g7``; ``t3`` for a
    local track fusion left without one). 404 when the source or the frame cannot be read."""
    cam = camera(request, run_id, camera_id)
    image = frames(request).read(cam.source, frame, cam.fps)
    if image is None:
        raise HTTPException(404, f"frame {frame} of camera {camera_id!r} cannot be read from "
                                 f"{mask_secrets(str(cam.source))}")
    rows = store(request).repo().camera_boxes(run_id, camera_id, frame, frame)
    return Response(drawing.jpeg(drawing.draw_boxes(image, rows)), media_type="image/jpeg",
                    headers={"Cache-Control": "max-age=60"})


@router.get("/runs/{run_id:path}/cameras/{camera_id}/video", response_class=HTMLResponse, include_in_schema=False)
def player_page(request: Request, run_id: str, camera_id: str,
                frame: int = Query(1, ge=1, le=10**9)) -> HTMLResponse:
    run = run_detail(request, run_id)
    cam = camera(request, run_id, camera_id)
    last = max(cam.frames or 1, 1)
    fps = frames(request).fps(cam.source, cam.fps)  # the rate the run read the source at
    if fps is None:
        raise HTTPException(404, f"camera {camera_id!r} of run {run_id!r}: its source "
                                 f"{mask_secrets(str(cam.source))} cannot be read")
    return page(request, "video.html", run=run, cam=public_camera(cam), frame=min(frame, last), last=last, fps=round(fps, 3))
