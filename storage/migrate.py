"""Schema migrations with Alembic, configured in code so an installed package needs no alembic.ini.

``upgrade(url)`` brings a database to the newest revision (``mtmct db upgrade``); :func:`ensure_head` is the
check :func:`storage.engine.open_database` makes before any read or write.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, exc, make_url, text

from mtmct.core.errors import MtmctError
from storage.engine import Database, create_db_engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_UPGRADE_LOCK = 0x6D746D6374  # any constant; PostgreSQL advisory locks are keyed by a bigint


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"storage migrations have {len(heads)} heads {heads}: merge them")
    return heads[0]


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def ensure_head(db: Database, upgrade: bool) -> None:
    """Upgrade (inside one write transaction, so concurrent openers queue) or refuse a database behind head.

    The common case, a database already at head, is answered by a read: a SQLite write lock here would make every
    viewer or query wait behind a running ``mtmct run``'s camera transaction."""
    head = head_revision()
    with db.read() as conn:
        if current_revision(conn) == head:
            return
    with db.write() as conn:
        current = current_revision(conn)
        if current == head:
            return
        if upgrade and db.is_postgres:  # two `mtmct db upgrade` at once: the second waits, then finds head
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
            current = current_revision(conn)
            if current == head:
                return
        if not upgrade:
            raise MtmctError(f"database {db.url} is at schema revision {current or 'none (empty)'}, this mtmct "
                             f"needs {head}: run `mtmct db upgrade --db URL` first")
        log.info("upgrading %s from %s to %s", db.url, current, head)
        cfg = alembic_config(conn)
        command.upgrade(cfg, "head")


def upgrade(url: str) -> tuple[str | None, str]:
    """Bring ``url`` to the newest schema; returns (revision before, revision after)."""
    db = Database(create_db_engine(url))
    try:
        with db.read() as conn:
            before = current_revision(conn)
        ensure_head(db, upgrade=True)
        return before, head_revision()
    finally:
        db.close()


def current(url: str) -> str | None:
    """The schema revision ``url`` is at (None for an empty database)."""
    db = Database(create_db_engine(url))
    try:
        with db.read() as conn:
            return current_revision(conn)
    finally:
        db.close()


def revision(url: str, message: str) -> None:
    """Autogenerate a new revision file from the difference between ``url`` (at head) and storage/schema.py."""
    db = Database(create_db_engine(url))
    try:
        ensure_head(db, upgrade=True)
        with db.write() as conn:
            command.revision(alembic_config(conn), message=message, autogenerate=True)
    finally:
        db.close()


def _parse(url: str) -> URL | None:
    """The parsed URL, or None when it does not parse (:func:`create_db_engine` then words the error)."""
    try:
        return make_url(url)
    except exc.ArgumentError:
        return None


def open_database(url: str, upgrade: bool | None = None, reader: bool = False) -> Database:
    """Connect to ``url`` and check its schema is at the newest migration.

    ``upgrade`` None upgrades SQLite files in place (the embedded default must just work) and asks the user to
    run ``mtmct db upgrade`` on a server, where schema changes are an administrator's decision. ``reader`` (a
    query, the dashboard) never changes a schema and refuses a missing SQLite file instead of creating an empty
    one (and its folder).
    """
    if reader:
        upgrade = False
        parsed = _parse(url)
        if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database and not (
                Path(parsed.database).expanduser().is_file()):
            raise MtmctError(f"no database at {parsed.database}: run `mtmct run` first or pass --db")
    engine = create_db_engine(url)
    db = Database(engine)
    try:
        ensure_head(db, upgrade=engine.dialect.name == "sqlite" if upgrade is None else upgrade)
    except BaseException:
        engine.dispose()
        raise
    log.info("database %s ready", db.url)
    return db
