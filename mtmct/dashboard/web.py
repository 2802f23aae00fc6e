"""What every route module shares: the store, frame reader and query service of the app, page rendering, the
error model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from mtmct.dashboard.frames import FrameReader
from mtmct.dashboard.masking import finalize
from mtmct.dashboard.store import Store
from mtmct.query_service import QueryService

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.finalize = finalize  # every printed value masked: no page shows a camera password


class ErrorOut(BaseModel):
    """Every error answer: one line for a person, never a traceback."""

    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "unknown run, identity, camera or tracklet"},
    422: {"model": ErrorOut, "description": "invalid path or query parameter"},
    503: {"model": ErrorOut, "description": "database unavailable"},
}
BIGINT = 2**63 - 1  # ids are stored as SQL BIGINT: a number outside its range is no id (422, not a database overflow)
GlobalId = Annotated[int, PathParam(ge=-BIGINT - 1, le=BIGINT, description="global identity id")]
IMAGE = {200: {"content": {"image/jpeg": {}}, "description": "a JPEG image"}}


def store(request: Request) -> Store:
    return request.app.state.store


def frames(request: Request) -> FrameReader:
    return request.app.state.frames


def queries(request: Request) -> QueryService:
    return request.app.state.queries


def page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context)


def seconds(value: float | None) -> str:
    """Seconds as the pages show them: ``83.4 s`` or ``1:23.4``."""
    if value is None:
        return "-"
    sign, value = ("-" if value < 0 else ""), abs(value)
    return f"{sign}{value:.1f} s" if value < 60 else f"{sign}{int(value // 60)}:{value % 60:04.1f}"


templates.env.filters["seconds"] = seconds
