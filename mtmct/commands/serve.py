"""`mtmct serve --db URL [--host 127.0.0.1] [--port 8000]`: the dashboard of global trajectories (uvicorn).

What can be checked before serving is checked first, each failure one line and exit 2: the database opens (a
missing SQLite file or an unreachable server would otherwise give a dashboard that answers only 503) and the
address can be bound (a busy port would otherwise fail after the banner claimed the dashboard was up). The
socket bound for that check is the one uvicorn serves on, so nothing can take the port in between.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import os
import socket

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
    from storage import Repository, open_database

    db = open_database(url, reader=True)  # MtmctError (one line, exit 2) when missing or unreachable
    try:
        runs = len(Repository(db).list_runs())
    finally:
        db.close()
    from mtmct.query_service import max_pixels_default

    max_pixels_default()  # a bad $MTMCT_MAX_PIXELS (the pixel limit of uploads) fails here, not at the first upload
    sock = bind(args.host, args.port)
    if not _loopback(args.host):
        log.warning("serving on %s: anyone who can reach it sees the footage (no authentication)", args.host)
    print(f"mtmct dashboard on http://{args.host}:{args.port}/ ({runs} runs; API docs at /docs); Ctrl+C stops it")
    server = uvicorn.Server(uvicorn.Config(create_app(url), log_level="info" if args.verbose else "warning"))
    server.run(sockets=[sock])
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or MtmctError saying why not (busy port, unknown address...)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise MtmctError(f"cannot serve on {host}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart over TIME_WAIT
        sock.bind(address)
        sock.listen(2048)
    except OSError as error:
        sock.close()
        why = "the port is in use (another mtmct serve?): pass --port" if error.errno == errno.EADDRINUSE else (
            error.strerror or str(error))
        raise MtmctError(f"cannot serve on {host}:{port}: {why}") from None
    sock.set_inheritable(True)
    return sock


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
