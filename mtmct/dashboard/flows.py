"""Flow counts: distinct identities entering each camera per N-second interval (a visit's start is an entry)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
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


MIN_BIN_S = 0.1  # a frame at 10 fps: a finer interval counts no entry twice and only multiplies empty bins
MAX_BINS = 10_000  # intervals in one answer (about 100 KB of JSON): a longer run needs a coarser bin_s (422 says which)
BIN = Query(10.0, ge=MIN_BIN_S, le=86400, allow_inf_nan=False,
            description=f"interval length, seconds (at least {MIN_BIN_S}; at most {MAX_BINS} intervals per run)")


def build(request: Request, run_id: str, bin_s: float) -> FlowsOut:
    cameras = [c.camera_id for c in run_detail(request, run_id).camera_list]
    try:
        starts, counts = trajectories.flows(trajectories.visits(store(request).repo().tracklet_spans(run_id)),
                                            cameras, bin_s, max_bins=MAX_BINS)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    return FlowsOut(run_id=run_id, bin_s=bin_s, bins=starts.tolist(), counts={c: v.tolist() for c, v in counts.items()})


@router.get("/api/runs/{run_id:path}/flows", response_model=FlowsOut, responses=ERRORS, tags=["flows"])
def get_flows(request: Request, run_id: str, bin_s: float = BIN) -> FlowsOut:
    """Per camera and interval, how many distinct identities entered the camera's view."""
    return build(request, run_id, bin_s)


@router.get("/runs/{run_id:path}/flows", response_class=HTMLResponse, include_in_schema=False)
def flows_page(request: Request, run_id: str, bin_s: float = BIN) -> HTMLResponse:
    run = run_detail(request, run_id)
    data = build(request, run_id, bin_s)
    most = max((n for v in data.counts.values() for n in v), default=0) or 1
    return page(request, "flows.html", run=run, flows=data, most=most,
                colours=colours([c.camera_id for c in run.camera_list]))
