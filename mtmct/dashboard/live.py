"""A run's live view: who is where now, the latest hand-overs between cameras, the newest global ids and id
changes, pushed to the page as they are stored (server-sent events), so a live run (``mtmct run --live``) is watched
without reloading.

One snapshot (:func:`build`) is what the page first renders, what ``GET /api/runs/{run}/live`` answers and what each
event carries. The event stream polls the database every :data:`POLL_S` seconds (the live run writes to it from
another process; a database has no portable change feed, and a poll of the run's spans is one light query) and
sends a snapshot only when it differs from the last one sent; it ends with an ``end`` event once the run is no
longer running, and the browser's EventSource reconnects by itself after a dropped connection.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel

from mtmct.dashboard import trajectories
from mtmct.dashboard.runs import run_detail
from mtmct.dashboard.timeline import colours
from mtmct.dashboard.web import ERRORS, page, store
from storage.schema import RUNNING

router = APIRouter()

POLL_S = 1.0  # how often the event stream looks at the database: ids are given seconds after a close anyway
KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing a quiet stream
NOW_S = 5.0  # someone seen by a camera within this many seconds of its present is "there now"
RECENT = 10  # hand-overs and id changes shown
NEWEST = 30  # identities shown, newest first


class PersonOut(BaseModel):
    global_id: int
    since: float  # start of the current visit, seconds on the run's clock
    last_seen: float


class CameraNowOut(BaseModel):
    camera_id: str
    status: str  # pending, running, finished, failed
    present: float | None  # the latest moment the camera's stored tracklets reach (None: nothing stored yet)
    people: list[PersonOut]  # identities seen within NOW_S of the present, most recent first


class HandoverOut(BaseModel):
    global_id: int
    from_camera: str
    to_camera: str
    left: float  # last seen in from_camera
    entered: float  # first seen in to_camera (before ``left`` when the views overlap)


class IdentityNowOut(BaseModel):
    global_id: int
    given: float | None  # stream time the live run gave the id (None: an offline run's id)
    first_seen: float
    last_seen: float
    cameras: list[str]


class IdChangeOut(BaseModel):
    time: float
    reason: str  # merge or split
    old_id: int
    new_id: int
    camera_id: str | None = None  # a split names the tracklet that moved
    track_id: int | None = None


class LiveOut(BaseModel):
    run_id: str
    status: str
    live: bool  # the run gives ids while it works (it has an id history)
    present: float | None  # the latest moment any camera's stored tracklets reach
    identities_total: int
    cameras: list[CameraNowOut]
    handovers: list[HandoverOut]  # most recent first
    identities: list[IdentityNowOut]  # newest first (by when the id was given, else first seen)
    changes: list[IdChangeOut]  # most recent first


def build(request: Request, run_id: str, now_s: float = NOW_S) -> LiveOut:
    """The run's present as stored (one read of the run, its cameras, its spans and its id history)."""
    run = run_detail(request, run_id)
    repo = store(request).repo()
    spans = repo.tracklet_spans(run_id)
    first, history = repo.id_decisions(run_id)
    by_identity = trajectories.visits(spans)
    present: dict[str, float] = {}
    for s in spans:
        present[s.camera_id] = max(present.get(s.camera_id, s.end_time), s.end_time)
    latest: dict[str, dict[int, trajectories.Visit]] = defaultdict(dict)  # camera -> identity -> its last visit
    for gid, vs in by_identity.items():
        for v in vs:
            latest[v.camera_id][gid] = v
    cameras = []
    for c in run.camera_list:
        now = present.get(c.camera_id)
        here = [] if now is None else sorted((v for v in latest[c.camera_id].values() if v.end_time >= now - now_s),
                                             key=lambda v: (-v.end_time, v.global_id))
        cameras.append(CameraNowOut(camera_id=c.camera_id, status=c.status, present=now, people=[
            PersonOut(global_id=v.global_id, since=v.start_time, last_seen=v.end_time) for v in here]))
    handovers = [HandoverOut(global_id=gid, from_camera=a.camera_id, to_camera=b.camera_id, left=a.end_time,
                             entered=b.start_time)
                 for gid, vs in by_identity.items() for a, b in zip(vs, vs[1:]) if a.camera_id != b.camera_id]
    handovers.sort(key=lambda h: (-h.entered, h.global_id))
    given: dict[int, float] = {}
    for a in first:
        given.setdefault(a.global_id, a.time)
    identities = [IdentityNowOut(global_id=gid, given=given.get(gid), first_seen=vs[0].start_time,
                                 last_seen=max(v.end_time for v in vs), cameras=sorted({v.camera_id for v in vs}))
                  for gid, vs in by_identity.items()]
    identities.sort(key=lambda i: (-(i.given if i.given is not None else i.first_seen), -i.global_id))
    changes = [IdChangeOut(time=c.time, reason=c.reason, old_id=c.old_id, new_id=c.new_id,
                           camera_id=None if c.tracklet is None else c.tracklet[0],
                           track_id=None if c.tracklet is None else c.tracklet[1]) for c in reversed(history)]
    return LiveOut(run_id=run_id, status=run.status, live=bool(first), present=max(present.values(), default=None),
                   identities_total=len(identities), cameras=cameras, handovers=handovers[:RECENT],
                   identities=identities[:NEWEST], changes=changes[:RECENT])


NOW = Query(NOW_S, gt=0, le=3600, allow_inf_nan=False,
            description="seconds before a camera's present within which someone counts as there now")


@router.get("/api/runs/{run_id:path}/live", response_model=LiveOut, responses=ERRORS, tags=["live"])
def get_live(request: Request, run_id: str, now_s: float = NOW) -> LiveOut:
    """Who is where now, recent hand-overs, the newest identities and id changes of a run (live or finished)."""
    return build(request, run_id, now_s)


@router.get("/api/runs/{run_id:path}/live/events", responses={
    200: {"content": {"text/event-stream": {}}, "description": "server-sent events: `live` (a snapshot as "
          "GET /api/runs/{run_id}/live answers it) whenever it changes, `end` once the run no longer runs"},
    **ERRORS}, tags=["live"])
async def live_events(request: Request, run_id: str, now_s: float = NOW) -> StreamingResponse:
    """The run's live snapshot as server-sent events, sent as it changes (polled every second)."""
    first = await run_in_threadpool(build, request, run_id, now_s)  # an unknown run is a 404 here, not a stream

    async def events():  # type: ignore[no-untyped-def]
        snapshot, sent, quiet = first, None, 0.0
        while True:
            text = snapshot.model_dump_json()
            if text != sent:
                yield f"event: live\ndata: {text}\n\n"
                sent, quiet = text, 0.0
            elif quiet >= KEEPALIVE_S:
                yield ": keep-alive\n\n"
                quiet = 0.0
            if snapshot.status != RUNNING:
                yield f"event: end\ndata: {json.dumps({'status': snapshot.status})}\n\n"
                return
            await asyncio.sleep(POLL_S)
            quiet += POLL_S
            if await request.is_disconnected():
                return
            snapshot = await run_in_threadpool(build, request, run_id, now_s)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/runs/{run_id:path}/live", response_class=HTMLResponse, include_in_schema=False)
def live_page(request: Request, run_id: str, now_s: float = NOW) -> HTMLResponse:
    run = run_detail(request, run_id)
    return page(request, "live.html", run=run, live=build(request, run_id, now_s), now_s=now_s,
                colours=colours([c.camera_id for c in run.camera_list]))
