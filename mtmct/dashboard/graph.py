"""The camera graph: cameras as nodes, observed transitions between consecutive camera visits of the same
identity as edges (count and median transit time), drawn server-side as inline SVG."""

from __future__ import annotations

import math
from collections import Counter

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from mtmct.dashboard import trajectories
from mtmct.dashboard.runs import run_detail
from mtmct.dashboard.timeline import colours
from mtmct.core.camera_config import Link
from mtmct.dashboard.web import ERRORS, page, store

router = APIRouter()


class NodeOut(BaseModel):
    camera_id: str
    visits: int
    identities: int


class EdgeOut(BaseModel):
    a: str  # from
    b: str  # to
    count: int
    median_s: float  # median (entry into b) - (exit from a); negative when the views overlap


class GraphOut(BaseModel):
    run_id: str
    nodes: list[NodeOut]
    edges: list[EdgeOut]
    topology: list[Link]  # the links the run's config allowed (fusion's constraints), for comparison


def build(request: Request, run_id: str) -> GraphOut:
    cameras = [c.camera_id for c in run_detail(request, run_id).camera_list]
    by_id = trajectories.visits(store(request).repo().tracklet_spans(run_id))
    n_visits = Counter(v.camera_id for vs in by_id.values() for v in vs)
    n_ids = Counter(c for vs in by_id.values() for c in {v.camera_id for v in vs})
    config = store(request).repo().run_config(run_id)  # None: it no longer loads (logged); no links to show
    links = list(config.topology.links) if config is not None else []
    return GraphOut(run_id=run_id, nodes=[NodeOut(camera_id=c, visits=n_visits[c], identities=n_ids[c])
                                          for c in cameras],
                    edges=[EdgeOut(**vars(t)) for t in trajectories.transitions(by_id)], topology=links)


@router.get("/api/runs/{run_id}/graph", response_model=GraphOut, responses=ERRORS, tags=["graph"])
def get_graph(request: Request, run_id: str) -> GraphOut:
    """Transitions between cameras: consecutive visits of one identity in two different cameras."""
    return build(request, run_id)


def layout(graph: GraphOut, size: int = 520) -> dict:
    """Node positions on a circle and one drawn segment per camera pair (both directions labelled on it)."""
    n, r, mid = len(graph.nodes), size * 0.34, size / 2
    pos = {node.camera_id: (mid + r * math.cos(math.pi + 2 * math.pi * i / max(n, 1)),
                            mid + r * math.sin(math.pi + 2 * math.pi * i / max(n, 1)))
           for i, node in enumerate(graph.nodes)}
    pairs: dict[tuple[str, str], list[EdgeOut]] = {}
    for e in graph.edges:
        if e.a in pos and e.b in pos:
            pairs.setdefault(tuple(sorted((e.a, e.b))), []).append(e)
    configured = {tuple(sorted((link.a, link.b))) for link in graph.topology}
    segments = [dict(a=a, b=b, x1=pos[a][0], y1=pos[a][1], x2=pos[b][0], y2=pos[b][1], edges=edges,
                     count=sum(e.count for e in edges)) for (a, b), edges in sorted(pairs.items())]
    unused = [dict(x1=pos[a][0], y1=pos[a][1], x2=pos[b][0], y2=pos[b][1]) for a, b in sorted(configured - set(pairs))
              if a in pos and b in pos]
    most = max((s["count"] for s in segments), default=1)
    for s in segments:
        s["width"] = 2 + 8 * s["count"] / most
    return dict(size=size, pos=pos, segments=segments, unused=unused)


@router.get("/runs/{run_id}/graph", response_class=HTMLResponse, include_in_schema=False)
def graph_page(request: Request, run_id: str) -> HTMLResponse:
    run = run_detail(request, run_id)
    graph = build(request, run_id)
    return page(request, "graph.html", run=run, graph=graph, svg=layout(graph),
                colours=colours([c.camera_id for c in run.camera_list]))
