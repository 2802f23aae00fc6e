"""`mtmct serve --db URL [--host 127.0.0.1] [--port 8000]`: the dashboard of global trajectories (uvicorn)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os

from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="web dashboard of runs, timelines, camera graph, identities and search",
                       description="Serves the dashboard and its JSON API (OpenAPI at /docs) over a database "
                                   "written by `mtmct run`. Reads only; binds loopback unless told otherwise.")
    p.add_argument("--db", help="database URL (default $MTMCT_DB)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; another address exposes the footage to the network)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from mtmct.dashboard import create_app

    url = args.db or os.environ.get("MTMCT_DB")
    if not url:
        raise MtmctError("no database: pass --db URL or set $MTMCT_DB")
    if not 0 < args.port < 65536:
        raise MtmctError(f"--port must be in 1..65535, got {args.port}")
    if not _loopback(args.host):
        log.warning("serving on %s: anyone who can reach it sees the footage (no authentication)", args.host)
    print(f"mtmct dashboard on http://{args.host}:{args.port}/ (API docs at /docs); Ctrl+C stops it")
    uvicorn.run(create_app(url), host=args.host, port=args.port, log_level="info" if args.verbose else "warning")
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
