"""Flow counts: distinct identities entering each camera per N-second interval (a visit's start is an entry)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from mtmct.dashboard import trajectories
from mtmct.dashboard.runs import run_detail
from mtmct.dashboard.timeline import colours
from mtmct.dashboard.web import ERRORS, page, store

router = APIRouter()


class FlowsOut(BaseModel):
    run_id: str
    bin_s: float
    bins: list[float]  # start of each interval, seconds
    counts: dict[str, list[int]]  # camera -> identities entering it in each interval


BIN = Query(10.0, gt=0, le=86400, allow_inf_nan=False, description="interval length, seconds")


def build(request: Request, run_id: str, bin_s: float) -> FlowsOut:
    cameras = [c.camera_id for c in run_detail(request, run_id).camera_list]
    starts, counts = trajectories.flows(trajectories.visits(store(request).repo().tracklet_spans(run_id)), cameras,
                                        bin_s)
    return FlowsOut(run_id=run_id, bin_s=bin_s, bins=starts.tolist(), counts={c: v.tolist() for c, v in counts.items()})


@router.get("/api/runs/{run_id}/flows", response_model=FlowsOut, responses=ERRORS, tags=["flows"])
def get_flows(request: Request, run_id: str, bin_s: float = BIN) -> FlowsOut:
    """Per camera and interval, how many distinct identities entered the camera's view."""
    return build(request, run_id, bin_s)


@router.get("/runs/{run_id}/flows", response_class=HTMLResponse, include_in_schema=False)
def flows_page(request: Request, run_id: str, bin_s: float = BIN) -> HTMLResponse:
    run = run_detail(request, run_id)
    data = build(request, run_id, bin_s)
    most = max((n for v in data.counts.values() for n in v), default=0) or 1
    return page(request, "flows.html", run=run, flows=data, most=most,
                colours=colours([c.camera_id for c in run.camera_list]))
