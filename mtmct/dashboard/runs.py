"""The runs page and the run JSON: status, cameras and counts."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from mtmct.dashboard.masking import public_camera
from mtmct.dashboard.web import ERRORS, page, store
from storage.repository import CameraInfo, RunInfo

router = APIRouter()


@dataclasses.dataclass(frozen=True)
class RunDetailOut(RunInfo):
    """A run's summary (storage's own type, which FastAPI documents as it is) plus its cameras."""

    camera_list: list[CameraInfo]


class HealthOut(BaseModel):
    database: str


@router.get("/api/health", response_model=HealthOut, responses=ERRORS, tags=["runs"])
def health(request: Request) -> HealthOut:
    """Whether the database answers (503 when it does not)."""
    store(request).repo().list_runs()
    return HealthOut(database="ok")


@router.get("/api/runs", response_model=list[RunInfo], responses=ERRORS, tags=["runs"])
def list_runs(request: Request) -> list[RunInfo]:
    """Every stored run, oldest first, with its counts of cameras, tracklets and global identities."""
    return store(request).repo().list_runs()


@router.get("/api/runs/{run_id:path}", response_model=RunDetailOut, responses=ERRORS, tags=["runs"])
def get_run(request: Request, run_id: str) -> RunDetailOut:
    """One run with its cameras (source, fps, frames, status, error)."""
    return run_detail(request, run_id)


def run_detail(request: Request, run_id: str) -> RunDetailOut:
    """The run as the API and pages show it: camera sources and errors masked (a run stored before storage
    masked them holds camera passwords)."""
    run = store(request).run(run_id)
    return RunDetailOut(**vars(run), camera_list=[public_camera(c) for c in store(request).repo().list_cameras(run_id)])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def runs_page(request: Request) -> HTMLResponse:
    return page(request, "runs.html", runs=store(request).repo().list_runs())
