"""``create_app(db_url)``: the dashboard's FastAPI application (JSON API under /api, pages elsewhere).

Errors are JSON ``{"error": "..."}`` with a status code for API clients (``/api/`` routes, or a request that does
not accept HTML) and a small HTML page with the same one line for a browser opening a page; a traceback never
leaves the server (it is logged). The database is opened on first use, so an app whose database goes down keeps
running and answers 503 until it is back (``mtmct serve`` checks the database before it starts); a 503 says only
"database unavailable", never the database's host, port, user or name (those go to the server log). Every answer,
a crash's 500 included, carries the security headers, and no answer or log line shows a camera password
(:mod:`mtmct.dashboard.masking`). The API docs
(/docs, /redoc) load Swagger UI and ReDoc from files installed with the app (fastapi-offline), not from a CDN, so
they work offline.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from sqlalchemy import exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from mtmct.core.secrets import mask_secrets
from mtmct.dashboard import flows, graph, identities, live, runs, search, timeline, videos, world_map
from mtmct.dashboard.frames import FrameReader
from mtmct.dashboard.masking import mask_logs
from mtmct.dashboard.store import DATABASE_UNAVAILABLE, Store, is_database_error
from mtmct.core.errors import MtmctError
from mtmct.dashboard.web import HERE, templates
from mtmct.query_service import QueryService

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
# the pages load scripts only from /static (no inline script); inline style attributes position the timeline bars;
# search shows crops as data: URLs
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
CRASHED = "internal server error (logged on the server)"
SECURITY_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin"}


def create_app(db_url: str, max_upload_bytes: int = MAX_UPLOAD_BYTES, device: str = "cpu") -> FastAPI:
    """The dashboard over the database at ``db_url`` (read only); uploads over ``max_upload_bytes`` get 413;
    search runs its models on ``device``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mask_logs()  # again: uvicorn sets up its handlers after create_app
        yield
        app.state.frames.close()
        app.state.store.close()

    app = FastAPIOffline(title="mtmct dashboard", version="1", lifespan=lifespan,
                         description="Global trajectories of people across cameras: runs, timelines, the camera graph, "
                                     "identities, flows, annotated camera frames and search by photo. Every error is "
                                     '`{"error": "..."}` with its status code.')
    app.state.store = Store(db_url)
    app.state.frames = FrameReader()
    app.state.queries = QueryService(device)
    app.state.max_upload_bytes = max_upload_bytes
    mask_logs()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # a run id may hold "/" ({run_id:path}): a route ending in the run id would also match /runs/a/flows, so those
    # are tried after every longer route
    modules = (runs, timeline, graph, flows, identities, videos, search, world_map, live)
    routes = [r for module in modules for r in module.router.routes]
    app.include_router(APIRouter(routes=sorted(routes, key=lambda r: getattr(r, "path", "").endswith(
        "{run_id:path}"))))

    @app.middleware("http")
    async def limit_upload(request: Request, call_next):  # type: ignore[no-untyped-def]
        """Refuse a declared oversized body before it is read (search also checks what it actually reads)."""
        length = request.headers.get("content-length", "")
        if request.method == "POST" and length.isdigit() and int(length) > max_upload_bytes + 64 * 1024:
            return _error(request, 413, f"upload larger than {max_upload_bytes // (1024 * 1024)} MB")
        return await call_next(request)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        """Every answer, errors included (added last, so outermost), forbids framing, MIME sniffing, foreign
        scripts and cross-site referrers. A crash is answered here, not by Starlette's outermost error middleware
        (whose 500 would bypass this one and go out without the headers)."""
        try:
            response = await call_next(request)
        except Exception:  # noqa: BLE001 - any crash is a generic 500; the traceback stays in the (masked) log
            log.exception("%s %s failed", request.method, request.url.path)
            response = _error(request, 500, CRASHED)
        docs = request.url.path in ("/docs", "/redoc")  # Swagger UI and ReDoc start from an inline script
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        return _error(request, error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in error.errors()]
        return _error(request, 422, "; ".join(parts) or "invalid request")

    @app.exception_handler(MtmctError)
    async def mtmct_error(request: Request, error: MtmctError) -> Response:
        if is_database_error(error):
            log.warning("database error: %s", " ".join(str(error).split()))
            return _error(request, 503, DATABASE_UNAVAILABLE)
        return _error(request, 400, str(error))

    @app.exception_handler(exc.OperationalError)
    @app.exception_handler(exc.InterfaceError)
    async def database_down(request: Request, error: exc.DBAPIError) -> Response:
        log.warning("database error: %s", " ".join(str(error.orig).split()))
        return _error(request, 503, DATABASE_UNAVAILABLE)

    @app.exception_handler(Exception)
    async def crash(request: Request, error: Exception) -> Response:  # only if security_headers itself failed
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(request, 500, CRASHED)

    return app


def wants_html(request: Request) -> bool:
    """A browser opening a page (it asks for text/html), not an API client nor a script fetching /api/."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _error(request: Request, status: int, message: str) -> Response:
    """The one-line error answer; masked, since a message may quote a stored source or the request's own path."""
    message = mask_secrets(" ".join(message.split()))
    if wants_html(request):
        return templates.TemplateResponse(request, "error.html", {"status": status, "message": message, "run": None},
                                          status_code=status)
    return JSONResponse({"error": message}, status_code=status)
