"""The camera graph: cameras as nodes, observed transitions between consecutive camera visits of the same
identity as edges (count and median transit time), drawn server-side as inline SVG; beside them what fusion
applied (each link's transit window, configured or learned from its matches, and the linking thresholds with
where they came from), read from the run's stored :class:`mtmct.core.fusion_report.FusionReport`.

Observed and applied are shown together because they answer one question: does the window fusion linked with
cover the transits its identities actually made? A run stored before reports were kept has none and shows its
observed transits and configured topology only."""

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
from mtmct.core.fusion_report import FusionReport, LinkWindow
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
    fusion: FusionReport | None = None  # what fusion applied: thresholds and windows; None for runs stored without


class PairRow(BaseModel):
    """One undirected camera pair as the page's links table shows it: configured, applied and observed."""

    a: str
    b: str
    configured: Link | None
    applied: LinkWindow | None
    observed: list[EdgeOut]  # both directions, a->b first


def build(request: Request, run_id: str) -> GraphOut:
    cameras = [c.camera_id for c in run_detail(request, run_id).camera_list]
    by_id = trajectories.visits(store(request).repo().tracklet_spans(run_id))
    n_visits = Counter(v.camera_id for vs in by_id.values() for v in vs)
    n_ids = Counter(c for vs in by_id.values() for c in {v.camera_id for v in vs})
    config = store(request).repo().run_config(run_id)  # None: it no longer loads (logged); no links to show
    links = list(config.topology.links) if config is not None else []
    return GraphOut(run_id=run_id, nodes=[NodeOut(camera_id=c, visits=n_visits[c], identities=n_ids[c])
                                          for c in cameras],
                    edges=[EdgeOut(**vars(t)) for t in trajectories.transitions(by_id)], topology=links,
                    fusion=store(request).repo().fusion_report(run_id))


@router.get("/api/runs/{run_id:path}/graph", response_model=GraphOut, responses=ERRORS, tags=["graph"])
def get_graph(request: Request, run_id: str) -> GraphOut:
    """Transitions between cameras (consecutive visits of one identity in two different cameras), the configured
    links, and ``fusion``: the thresholds and transit windows fusion applied with their source (calibrated,
    config, default) and evidence counts (null for a run stored without a fusion report)."""
    return build(request, run_id)


def pair_rows(graph: GraphOut) -> list[PairRow]:
    """Every camera pair that is configured, has an applied window or was observed, sorted by camera ids."""

    def key(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a <= b else (b, a)

    configured = {key(link.a, link.b): link for link in graph.topology}
    applied = {key(w.a, w.b): w for w in (graph.fusion.links if graph.fusion else ())}
    observed: dict[tuple[str, str], list[EdgeOut]] = {}
    for e in graph.edges:
        observed.setdefault(key(e.a, e.b), []).append(e)
    return [PairRow(a=a, b=b, configured=configured.get((a, b)), applied=applied.get((a, b)),
                    observed=sorted(observed.get((a, b), []), key=lambda e: e.a != a))
            for a, b in sorted({*configured, *applied, *observed})]


def window_text(window: Link | LinkWindow | None) -> str:
    """``overlapping views``, ``2.0–15.5 s``, ``≥ 3.0 s`` or ``any time``; ``-`` for no link."""
    if window is None:
        return "-"
    if window.overlap:
        return "overlapping views"
    lo, hi = window.min_s, window.max_s
    if hi is None:
        return f"≥ {lo:.1f} s" if lo else "any time"
    return f"{lo or 0:.1f}–{hi:.1f} s"


def source_text(window: LinkWindow) -> str:
    """Where an applied window came from, in the page's words."""
    if window.source == "calibrated":
        return f"learned from {window.matches} match{'' if window.matches == 1 else 'es'}"
    return {"config": "configured", "default": "default"}.get(window.source, window.source)


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
    applied = {tuple(sorted((w.a, w.b))): w for w in (graph.fusion.links if graph.fusion else ())}

    def label(pair: tuple[str, str]) -> str:
        w = applied.get(pair)
        return "" if w is None else f"window: {window_text(w)} ({source_text(w)})"

    segments = [dict(a=a, b=b, x1=pos[a][0], y1=pos[a][1], x2=pos[b][0], y2=pos[b][1], edges=edges,
                     count=sum(e.count for e in edges), window=label((a, b)))
                for (a, b), edges in sorted(pairs.items())]
    unused = [dict(a=a, b=b, x1=pos[a][0], y1=pos[a][1], x2=pos[b][0], y2=pos[b][1], window=label((a, b)))
              for a, b in sorted((configured | set(applied)) - set(pairs)) if a in pos and b in pos]
    most = max((s["count"] for s in segments), default=1)
    for s in segments:
        s["width"] = 2 + 8 * s["count"] / most
    return dict(size=size, pos=pos, segments=segments, unused=unused)


@router.get("/runs/{run_id:path}/graph", response_class=HTMLResponse, include_in_schema=False)
def graph_page(request: Request, run_id: str) -> HTMLResponse:
    run = run_detail(request, run_id)
    graph = build(request, run_id)
    return page(request, "graph.html", run=run, graph=graph, svg=layout(graph), pairs=pair_rows(graph),
                window_text=window_text, source_text=source_text,
                colours=colours([c.camera_id for c in run.camera_list]))
