"""Query by person image, the Python API: which stored global identities look like the person in a photo.

    results = query_image("photo.jpg", "sqlite:///out/mtmct.db", top_k=5)        # one QueryResult per person
    data = search_by_image(jpeg_bytes, url, run_id="pets")                         # the same as JSON-ready data

Each call opens the database and, unless given a ``service``, loads its models afresh; a process that queries
repeatedly (the dashboard, a notebook loop) keeps one :class:`mtmct.query_service.QueryService` and passes it,
so models and indexes stay loaded. How images become queries, and which runs and models a query uses, is
described in :mod:`mtmct.query_service`.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mtmct.core.errors import MtmctError
from mtmct.query_service import MODES, Match, Mode, QueryResult, QueryService, read_image
from storage import Repository, open_database

__all__ = ["MODES", "Match", "Mode", "QueryResult", "QueryService", "query_image", "read_image", "results_to_dict",
           "save_crops", "search_by_image"]


def query_image(image: str | os.PathLike[str] | bytes | np.ndarray, db_url: str, run_id: str | None = None,
                top_k: int = 10, mode: Mode = "auto", reid: str | None = None, detector: str | None = None,
                device: str = "cpu", service: QueryService | None = None, classes: list[int] | None = None,
                ) -> list[QueryResult]:
    """Ranked stored identities per person in ``image`` (one :class:`QueryResult` per query person); ``classes``
    keeps only identities of those object classes.

    ``service`` keeps models and indexes loaded across calls (its own device then applies, not ``device``).
    """
    if mode not in MODES:  # before opening anything
        raise MtmctError(f"unknown query mode {mode!r}: use one of {', '.join(MODES)}")
    img = read_image(image)
    db = open_database(db_url, reader=True)  # a query never creates a database nor changes a schema
    try:
        return (service or QueryService(device)).query(Repository(db), img, run_id=run_id, top_k=top_k, mode=mode,
                                                       reid=reid, detector=detector, classes=classes)
    finally:
        db.close()


def search_by_image(image_bytes: bytes, db_url: str, run_id: str | None = None, top_k: int = 10,
                    service: QueryService | None = None) -> dict[str, Any]:
    """:func:`query_image` as JSON-ready data (crops as base64 JPEG)."""
    return results_to_dict(query_image(image_bytes, db_url, run_id=run_id, top_k=top_k, service=service),
                           crops="base64")


def results_to_dict(results: list[QueryResult], crops: Literal["base64", "none"] | dict[tuple[int, int], str] = "none",
                    ) -> dict[str, Any]:
    """JSON-ready results; ``crops`` a mapping (query index, rank) -> path puts saved crop paths in."""
    out = []
    for qi, res in enumerate(results):
        matches = []
        for m in res.matches:
            item: dict[str, Any] = {
                "rank": m.rank, "run_id": m.run_id, "global_id": m.global_id, "score": round(m.score, 5),
                "camera_id": m.camera_id, "track_id": m.track_id, "cameras": m.cameras,
                "times": {c: [round(s, 3), round(e, 3)] for c, (s, e) in sorted(m.times.items())}}
            if crops == "base64":
                item["crop_jpeg_base64"] = base64.b64encode(m.crop).decode() if m.crop else None
            elif isinstance(crops, dict):
                item["crop"] = crops.get((qi, m.rank))
            matches.append(item)
        out.append({"box": None if res.box is None else [round(v, 1) for v in res.box], "matches": matches})
    return {"queries": out}


def save_crops(results: list[QueryResult], out_dir: str | os.PathLike[str]) -> dict[tuple[int, int], str]:
    """Write each match's crop as ``q<query>_r<rank>_<run>_<gid>.jpg``; returns (query, rank) -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for qi, res in enumerate(results):
        for m in res.matches:
            if m.crop:
                safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in m.run_id)
                path = out / f"q{qi + 1}_r{m.rank}_{safe}_{m.global_id if m.global_id is not None else 'none'}.jpg"
                path.write_bytes(m.crop)
                paths[(qi, m.rank)] = str(path)
    return paths
