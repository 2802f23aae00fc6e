"""``create_app(db_url)``: the dashboard's FastAPI application (JSON API under /api, pages elsewhere).

Errors are always JSON ``{"error": "..."}`` with a status code, pages included: a traceback never leaves the
server (it is logged). The database is opened on first use, so the app starts and answers 503 while it is down.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from mtmct.dashboard import flows, graph, identities, runs, search, timeline, videos
from mtmct.dashboard.frames import FrameReader
from mtmct.dashboard.store import Store, is_database_error
from mtmct.dashboard.web import HERE
from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 8 * 1024 * 1024


def create_app(db_url: str, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The dashboard over the database at ``db_url`` (read only); uploads over ``max_upload_bytes`` get 413."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.frames.close()
        app.state.store.close()

    app = FastAPI(title="mtmct dashboard", version="1", lifespan=lifespan,
                  description="Global trajectories of people across cameras: runs, timelines, the camera graph, "
                              "identities, flows, annotated camera frames and search by photo. Every error is "
                              '`{"error": "..."}` with its status code.')
    app.state.store = Store(db_url)
    app.state.frames = FrameReader()
    app.state.max_upload_bytes = max_upload_bytes
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (runs, timeline, graph, flows, identities, videos, search):
        app.include_router(module.router)

    @app.middleware("http")
    async def limit_upload(request: Request, call_next):  # type: ignore[no-untyped-def]
        """Refuse a declared oversized body before it is read (search also checks what it actually reads)."""
        length = request.headers.get("content-length", "")
        if request.method == "POST" and length.isdigit() and int(length) > max_upload_bytes + 64 * 1024:
            return _error(413, f"upload larger than {max_upload_bytes // (1024 * 1024)} MB")
        return await call_next(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in error.errors()]
        return _error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(MtmctError)
    async def mtmct_error(_: Request, error: MtmctError) -> JSONResponse:
        return _error(503 if is_database_error(error) else 400, str(error))

    @app.exception_handler(exc.OperationalError)
    @app.exception_handler(exc.InterfaceError)
    async def database_down(_: Request, error: exc.DBAPIError) -> JSONResponse:
        log.warning("database error: %s", " ".join(str(error.orig).split()))
        return _error(503, "database unavailable")

    @app.exception_handler(Exception)
    async def crash(request: Request, error: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(500, "internal server error (logged on the server)")

    return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
