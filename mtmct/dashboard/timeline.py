"""One run's timeline: a row per global identity, a bar per camera visit; filter by camera and time window."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from mtmct.dashboard import trajectories
from mtmct.dashboard.runs import run_detail
from mtmct.dashboard.web import ERRORS, page, store

router = APIRouter()

# camera colours of the pages (bars, legend, graph nodes): distinct on white, in camera order
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


class VisitOut(BaseModel):
    camera_id: str
    start_time: float
    end_time: float
    start_frame: int
    end_frame: int
    track_ids: list[int]


class RowOut(BaseModel):
    global_id: int
    cls: int  # the identity's object class (one per identity: fusion never mixes classes)
    cameras: list[str]
    visits: list[VisitOut]


class TimelineOut(BaseModel):
    run_id: str
    cameras: list[str]  # the cameras shown (all of the run's unless filtered)
    classes: list[int]  # the object classes shown (all of the run's unless filtered)
    all_classes: list[int]  # the object classes the run's identities have
    start: float  # the time window shown, seconds on the run's shared clock
    end: float
    rows: list[RowOut]


def colours(cameras: list[str]) -> dict[str, str]:
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(cameras)}


def class_colours(classes: list[int]) -> dict[int, str]:
    """Object class colours (row badges, class chips): the palette from its end, so the first class's colour is not
    the first camera's."""
    return {c: PALETTE[-1 - i % len(PALETTE)] for i, c in enumerate(sorted(classes))}


def parse_classes(value: str | None, known: list[int]) -> list[int]:
    """A comma-separated object class filter (None or empty: all), checked against the run's classes (422)."""
    try:
        chosen = [int(c) for c in (value or "").split(",") if c.strip()]
    except ValueError:
        raise HTTPException(422, f"classes: expected comma-separated class ids such as 0,2, got {value!r}") from None
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise HTTPException(422, f"classes: the run has no identity of class {', '.join(map(str, unknown))}; "
                                 f"it has {', '.join(map(str, known)) or 'none'}")
    return [c for c in known if c in chosen] or known


def parse_cameras(value: str | None, known: list[str]) -> list[str]:
    """A comma-separated camera filter (None or empty: all), checked against the run's cameras (422)."""
    chosen = [c for c in (value or "").split(",") if c.strip()]
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise HTTPException(422, f"cameras: unknown camera(s) {', '.join(unknown)}; the run has {', '.join(known)}")
    return [c for c in known if c in chosen] or known


def build(request: Request, run_id: str, cameras: str | None, start: float | None, end: float | None,
          classes: str | None = None) -> TimelineOut:
    if start is not None and end is not None and start >= end:
        raise HTTPException(422, f"start ({start}) must be before end ({end})")
    all_cameras = [c.camera_id for c in run_detail(request, run_id).camera_list]
    shown = parse_cameras(cameras, all_cameras)
    spans = store(request).repo().tracklet_spans(run_id)
    by_id = trajectories.visits(spans)
    class_of = {t.global_id: t.cls for t in spans if t.global_id is not None}
    all_classes = sorted(set(class_of.values()))
    shown_classes = parse_classes(classes, all_classes)
    span = [t for vs in by_id.values() for v in vs for t in (v.start_time, v.end_time)]
    lo = start if start is not None else min(span, default=0.0)
    hi = end if end is not None else max(span, default=lo + 1.0)
    hi = hi if hi > lo else lo + 1.0
    rows = []
    for gid, vs in by_id.items():
        keep = [VisitOut(camera_id=v.camera_id, start_time=v.start_time, end_time=v.end_time,
                         start_frame=v.start_frame, end_frame=v.end_frame, track_ids=v.track_ids)
                for v in vs if v.camera_id in shown and v.end_time >= lo and v.start_time <= hi]
        if keep and class_of.get(gid, 0) in shown_classes:
            rows.append(RowOut(global_id=gid, cls=class_of.get(gid, 0), cameras=sorted({v.camera_id for v in vs}),
                               visits=keep))
    return TimelineOut(run_id=run_id, cameras=shown, classes=shown_classes, all_classes=all_classes, start=lo, end=hi,
                       rows=rows)


FILTERS = dict(
    cameras=Query(None, max_length=2000, description="comma-separated camera ids to show (default all)"),
    start=Query(None, allow_inf_nan=False, description="window start, seconds"),
    end=Query(None, allow_inf_nan=False, description="window end, seconds"),
    classes=Query(None, max_length=200, description="comma-separated object class ids to show (default all)"))


@router.get("/api/runs/{run_id:path}/timeline", response_model=TimelineOut, responses=ERRORS, tags=["timeline"])
def get_timeline(request: Request, run_id: str, cameras: str | None = FILTERS["cameras"],
                 start: float | None = FILTERS["start"], end: float | None = FILTERS["end"],
                 classes: str | None = FILTERS["classes"]) -> TimelineOut:
    """Each global identity's camera visits (a person's tracklets in one camera closer than 2 s are one visit),
    limited to the chosen cameras, time window and object classes; identities with nothing left are omitted."""
    return build(request, run_id, cameras, start, end, classes)


@router.get("/runs/{run_id:path}", response_class=HTMLResponse, include_in_schema=False)
def timeline_page(request: Request, run_id: str, cameras: str | None = FILTERS["cameras"],
                  start: float | None = FILTERS["start"], end: float | None = FILTERS["end"],
                  classes: str | None = FILTERS["classes"]) -> HTMLResponse:
    run = run_detail(request, run_id)
    data = build(request, run_id, cameras, start, end, classes)
    all_cameras = [c.camera_id for c in run.camera_list]
    config = store(request).repo().run_config(run_id)  # calibrated cameras store ground positions: link the map
    grounded = config is not None and any(c.calibration is not None or c.homography is not None for c in config.cameras)
    return page(request, "timeline.html", run=run, tl=data, colours=colours(all_cameras), all_cameras=all_cameras,
                grounded=grounded, class_colours=class_colours(data.all_classes))
