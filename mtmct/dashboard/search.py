"""Search by photo: an uploaded person crop (or scene) ranked against the stored identities, by the app's one
:class:`mtmct.query_service.QueryService` (models and index loaded once, safe under concurrent requests)."""

from __future__ import annotations

from urllib.parse import quote

import cv2
import numpy as np
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from mtmct.dashboard.web import ERRORS, ErrorOut, page, queries, store
from mtmct.query import results_to_dict
from mtmct.query_service import ImageTooLarge, check_pixels

router = APIRouter()


class MatchOut(BaseModel):
    rank: int
    run_id: str
    global_id: int | None  # None: a tracklet of a run that was never fused
    score: float  # cosine similarity of the best tracklet
    camera_id: str  # the best tracklet
    track_id: int
    cameras: list[str]
    times: dict[str, list[float]]  # camera -> [first, last] seconds seen there
    crop_jpeg_base64: str | None
    url: str | None  # the identity's page


class QueryOut(BaseModel):
    box: list[float] | None  # the query person's xyxy box in the photo (None: the whole photo)
    matches: list[MatchOut]


class SearchOut(BaseModel):
    queries: list[QueryOut]


@router.post("/api/search", response_model=SearchOut, tags=["search"], responses={
    **ERRORS, 400: {"model": ErrorOut, "description": "nothing to search (e.g. no run with a ReID model)"},
    413: {"model": ErrorOut, "description": "upload too large (bytes, or pixels: $MTMCT_MAX_PIXELS, default 50 M)"},
    415: {"model": ErrorOut, "description": "the upload is not an image"}})
def search(request: Request, file: UploadFile = File(description="a photo: person crop or scene (JPEG, PNG...)"),
           run_id: str | None = Form(None, max_length=200, description="search this run only"),
           top_k: int = Form(10, ge=1, le=100)) -> SearchOut:
    """Rank stored identities by appearance similarity to each person in the photo."""
    limit = request.app.state.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"upload larger than {limit // (1024 * 1024)} MB")
    try:
        check_pixels(data, file.filename or "the upload")  # from the header: an image bomb is never decoded
    except ImageTooLarge as error:
        raise HTTPException(413, str(error)) from None
    if not data or cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is None:
        raise HTTPException(415, f"{file.filename or 'the upload'} is not an image (JPEG, PNG, BMP, ...)")
    if run_id:
        store(request).run(run_id)  # 404 before loading any model
    results = queries(request).query(store(request).repo(), data, run_id=run_id or None, top_k=top_k)
    result = results_to_dict(results, crops="base64")
    for query in result["queries"]:
        for m in query["matches"]:
            m["url"] = None if m["global_id"] is None else f"/runs/{quote(m['run_id'], safe='/')}/identities/{m['global_id']}"
    return SearchOut(**result)


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request) -> HTMLResponse:
    return page(request, "search.html", runs=store(request).repo().list_runs(),
                max_mb=request.app.state.max_upload_bytes // (1024 * 1024))
