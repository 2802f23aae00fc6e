"""The runs page and the run JSON: status, cameras, counts, and the ReID model the run's embeddings come from."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from mtmct.core.camera_config import CameraSetConfig
from mtmct.dashboard.masking import public_camera
from mtmct.dashboard.web import ERRORS, page, store
from storage.repository import CameraInfo, RunInfo, StoredReidModel

router = APIRouter()


class FusionCountsOut(BaseModel):
    """The run's global identities at one point of an adaptation (its report's ``before`` or last round)."""

    identities: int | None = None
    multi_camera: int | None = None  # identities seen by more than one camera
    idf1: float | None = None  # against ground truth, when the adaptation was given one


class ReidModelOut(BaseModel):
    """The ReID model of a run's stored embeddings: its config's ``models.reid``, or a version adapted to the run
    by ``mtmct reid adapt`` (kept in the database; searches of the run embed photos with it)."""

    name: str
    adapted: bool
    version: int | None = None  # adapted: 1, 2, ... per run
    created_at: datetime | None = None  # adapted: when it was stored (UTC)
    sha256: str | None = None  # adapted: the stored archive's digest
    start_model: str | None = None  # adapted: the model it was trained from
    start_version: int | None = None  # adapted from the run's own earlier version (start_model is its unpacked folder)
    before: FusionCountsOut | None = None  # adapted: the run's identities before this adaptation ...
    after: FusionCountsOut | None = None  # ... and after it (its last round), when its report has them
    seconds: float | None = None  # adapted: how long the adaptation took


@dataclasses.dataclass(frozen=True)
class RunOut(RunInfo):
    """A run's summary (storage's own type, which FastAPI documents as it is) plus its ReID model."""

    reid_model: ReidModelOut | None  # the stored embeddings' model; None: no ReID, or a config that no longer loads
    reid_models: list[ReidModelOut]  # every adapted version, newest first (the first is reid_model); empty: not adapted


@dataclasses.dataclass(frozen=True)
class RunDetailOut(RunOut):
    """A run's summary and ReID model plus its cameras."""

    camera_list: list[CameraInfo]


class HealthOut(BaseModel):
    database: str


@router.get("/api/health", response_model=HealthOut, responses=ERRORS, tags=["runs"])
def health(request: Request) -> HealthOut:
    """Whether the database answers (503 when it does not)."""
    store(request).repo().list_runs()
    return HealthOut(database="ok")


@router.get("/api/runs", response_model=list[RunOut], responses=ERRORS, tags=["runs"])
def list_runs(request: Request) -> list[RunOut]:
    """Every stored run, oldest first, with its counts of cameras, tracklets and global identities and its ReID
    model (every adapted version, newest first)."""
    return runs_with_models(request)


@router.get("/api/runs/{run_id:path}", response_model=RunDetailOut, responses=ERRORS, tags=["runs"])
def get_run(request: Request, run_id: str) -> RunDetailOut:
    """One run with its cameras (source, fps, frames, status, error) and its ReID model (every adapted version,
    newest first)."""
    return run_detail(request, run_id)


def run_detail(request: Request, run_id: str) -> RunDetailOut:
    """The run as the API and pages show it: camera sources and errors masked (a run stored before storage
    masked them holds camera passwords), and its ReID model."""
    repo = store(request).repo()
    run = store(request).run(run_id)
    versions = reid_versions(repo.reid_models(run_id))
    config = None if versions else repo.run_config(run_id)  # an adapted run's embeddings are not its config's model's
    return RunDetailOut(**vars(run), reid_model=versions[0] if versions else config_model(config),
                        reid_models=versions,
                        camera_list=[public_camera(c) for c in repo.list_cameras(run_id)])


def runs_with_models(request: Request) -> list[RunOut]:
    """Every run with its ReID model: one read of the runs, their configs and their latest adapted models, then
    one read of the versions of each adapted run only (no archives)."""
    repo = store(request).repo()
    runs = repo.list_runs()
    latest = repo.latest_reid_models()
    configs = repo.run_configs() if len(latest) < len(runs) else {}
    out = []
    for run in runs:
        versions = reid_versions(repo.reid_models(run.id)) if run.id in latest else []
        out.append(RunOut(**vars(run), reid_model=versions[0] if versions else config_model(configs.get(run.id)),
                          reid_models=versions))
    return out


def config_model(config: CameraSetConfig | None) -> ReidModelOut | None:
    """The ReID model a run's config names (None: tracked without ReID, or the config no longer loads)."""
    reid = None if config is None else config.models.reid
    return ReidModelOut(name=str(reid), adapted=False) if reid else None


def reid_versions(models: list[StoredReidModel]) -> list[ReidModelOut]:
    """A run's adapted models (:meth:`storage.Repository.reid_models`, oldest first) as shown, newest first."""
    by_digest: dict[str, int] = {}
    for m in models:
        by_digest.setdefault(m.sha256, m.version)
    return [adapted_model(m, by_digest) for m in reversed(models)]


def adapted_model(model: StoredReidModel, by_digest: dict[str, int]) -> ReidModelOut:
    """One adapted version with what its report says (a report written by hand or by an older version may hold
    none of it: every field of it is optional)."""
    report = model.report if isinstance(model.report, dict) else {}
    start = report.get("start_model")
    start = str(start) if start else None
    rounds = [r for r in report.get("rounds") or [] if isinstance(r, dict)]
    seconds = report.get("seconds")
    return ReidModelOut(
        name=model.name, adapted=True, version=model.version, created_at=model.created_at, sha256=model.sha256,
        start_model=start, start_version=start_version(start, model.version, by_digest),
        before=counts(report.get("before")), after=counts(rounds[-1]) if rounds else None,
        seconds=float(seconds) if isinstance(seconds, int | float) else None)


def start_version(start: str | None, version: int, by_digest: dict[str, int]) -> int | None:
    """The run's earlier version ``start`` is the unpacked folder of (``adapted/<sha256>``, what adapting an adapted
    run again starts from), else None."""
    if not start:
        return None
    path = PurePath(start)
    found = by_digest.get(path.name) if path.parent.name == "adapted" else None
    return found if found is not None and found < version else None


def counts(values: Any) -> FusionCountsOut | None:
    """The identity counts of a report's ``before`` or round, None when it has none."""
    if not isinstance(values, dict):
        return None

    def number(key: str, kind: type | tuple[type, ...]) -> Any:
        value = values.get(key)
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    found = FusionCountsOut(identities=number("identities", int), multi_camera=number("multi_camera", int),
                            idf1=number("idf1", (int, float)))
    return found if found.model_dump(exclude_none=True) else None


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def runs_page(request: Request) -> HTMLResponse:
    return page(request, "runs.html", runs=runs_with_models(request))
