"""Opening a database: PostgreSQL (``postgresql+psycopg://``, the deployment) or SQLite (the embedded default).

SQLite gets WAL (readers never block the writer) and a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE`` so two runs writing at once queue for the lock instead of one failing on a lock upgrade.
Connection problems become a one-line :class:`MtmctError` without the password, after a few seconds at most.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
SQLITE_BUSY_MS = 60_000  # how long a SQLite writer waits for another run's transaction before giving up


def default_url(out_dir: str | os.PathLike[str]) -> str:
    """The embedded database of a run's output folder: ``sqlite:///<out>/mtmct.db``."""
    return f"sqlite:///{(Path(out_dir) / 'mtmct.db').resolve()}"


def resolve_url(db: str | None, out_dir: str | os.PathLike[str]) -> str:
    """``--db`` if given, else ``$MTMCT_DB``, else the embedded default in ``out_dir``."""
    return db or os.environ.get("MTMCT_DB") or default_url(out_dir)


def safe_url(url: str | URL) -> str:
    """The URL as it may be shown to users: password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (exc.ArgumentError, ValueError):  # ValueError: a non-numeric port
        return "<unparseable database URL>"


def one_line(error: BaseException, url: str | URL) -> str:
    """A driver error as one line, with the URL's password removed wherever it appears."""
    text = " ".join(str(getattr(error, "orig", None) or error).split())
    try:
        password = make_url(url).password
    except (exc.ArgumentError, ValueError):
        password = None
    return text.replace(str(password), "***") if password else text


def _rights_hint(error: BaseException) -> str:
    """What to do when the database refused a write for lack of rights (a read-only role, INSERT revoked, a
    read-only SQLite file); empty for any other error. ``error``: SQLAlchemy's wrapper or the driver's own."""
    orig = getattr(error, "orig", None) or error
    if getattr(orig, "sqlstate", None) == "42501" or "readonly database" in str(orig):
        return (" (the database user needs SELECT, INSERT, UPDATE and DELETE on mtmct's tables, or write access "
                "to the SQLite file)")
    return ""


class Database:
    """An engine plus the dialect-specific knowledge the repository needs (bulk path, write transactions)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = safe_url(engine.url)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (BEGIN IMMEDIATE on SQLite): committed on success, rolled back on any error."""
        with self._one_line():
            with self.engine.connect() as conn:
                conn = conn.execution_options(sqlite_immediate=True)
                with conn.begin():
                    yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._one_line():
            with self.engine.connect() as conn:
                yield conn

    @contextmanager
    def _one_line(self) -> Iterator[None]:
        """The operator's database problems (unreachable, locked, no rights) as a one-line MtmctError; anything
        else (a bug of ours) keeps its traceback."""
        try:
            yield
        except (exc.OperationalError, exc.InterfaceError, exc.ProgrammingError) as error:
            hint = _rights_hint(error)
            if isinstance(error, exc.ProgrammingError) and not hint:
                raise
            raise MtmctError(f"database {self.url}: {one_line(error, self.engine.url)}{hint}") from error
        except Exception as error:  # the bulk path's COPY raises the driver's own errors, unwrapped
            if not _rights_hint(error):
                raise
            raise MtmctError(f"database {self.url}: {one_line(error, self.engine.url)}{_rights_hint(error)}") from error

    def close(self) -> None:
        self.engine.dispose()


def create_db_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite folders created), not yet connected; bad URLs raise MtmctError."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        raise MtmctError(f"not a database URL: {safe_url(url)} (expected postgresql+psycopg://user@host/db "
                         "or sqlite:///path.db)") from error
    except ValueError as error:  # make_url's int() of a port such as host:abc
        raise MtmctError(f"not a database URL: {safe_url(url)} (the port must be a number, as in "
                         "postgresql+psycopg://user@host:5432/db)") from error
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise MtmctError("SQLite needs a file: sqlite:///path/to/mtmct.db")
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, pool_pre_ping=True, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        _sqlite_pragmas(engine)
        return engine
    if backend != "postgresql":
        raise MtmctError(f"unsupported database {safe_url(url)}: use postgresql+psycopg:// or sqlite:///")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    except (exc.ArgumentError, exc.NoSuchModuleError) as error:
        raise MtmctError(f"cannot use {safe_url(url)}: {one_line(error, parsed)}") from error


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cur.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE needs it
        cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a commit is not an fsync
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
