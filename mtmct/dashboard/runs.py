"""The runs page and the run JSON: status, cameras and counts."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from mtmct.dashboard.web import ERRORS, page, store

router = APIRouter()


class RunOut(BaseModel):
    id: str
    name: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    cameras: int
    tracklets: int
    identities: int


class CameraOut(BaseModel):
    camera_id: str
    source: str | None
    fps: float | None
    frames: int | None
    status: str
    error: str | None


class RunDetailOut(RunOut):
    camera_list: list[CameraOut]


class HealthOut(BaseModel):
    database: str


@router.get("/api/health", response_model=HealthOut, responses=ERRORS, tags=["runs"])
def health(request: Request) -> HealthOut:
    """Whether the database answers (503 when it does not)."""
    store(request).repo().list_runs()
    return HealthOut(database="ok")


@router.get("/api/runs", response_model=list[RunOut], responses=ERRORS, tags=["runs"])
def list_runs(request: Request) -> list[RunOut]:
    """Every stored run, oldest first, with its counts of cameras, tracklets and global identities."""
    return [RunOut(**vars(r)) for r in store(request).repo().list_runs()]


@router.get("/api/runs/{run_id}", response_model=RunDetailOut, responses=ERRORS, tags=["runs"])
def get_run(request: Request, run_id: str) -> RunDetailOut:
    """One run with its cameras (source, fps, frames, status, error)."""
    return run_detail(request, run_id)


def run_detail(request: Request, run_id: str) -> RunDetailOut:
    run = store(request).run(run_id)
    cameras = [CameraOut(**vars(c)) for c in store(request).repo().list_cameras(run_id)]
    return RunDetailOut(**vars(run), camera_list=cameras)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def runs_page(request: Request) -> HTMLResponse:
    return page(request, "runs.html", runs=store(request).repo().list_runs())
