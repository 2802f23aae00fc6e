"""One writer per run id: a lease row per running run, renewed by a heartbeat, checked inside every write.

Two ``mtmct run --run-id mix`` at once used to overwrite each other silently. Now the first holds the lease row
``run_leases(run_id)``; a second is refused in one line naming the holder, unless it asks to take over
(``--take-over``). A lease whose holder is gone is taken over without asking: on the same host when its process
no longer exists (a SIGKILLed run, so ``--resume`` right after works), elsewhere once it has not renewed for
:data:`STALE_AFTER_S` seconds. The holder's writes check, in their own transaction and with the row locked, that
the lease is still theirs (a fence): a run that was taken over stores nothing more and stops with one line.

A row rather than PostgreSQL's advisory locks, so both engines share one path and the holder is visible (who,
where, since when); and not a foreign key of ``runs``, because the lease must exist before the run row does and
survive its replacement.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, delete, exc, insert, select, update

from mtmct.core.errors import MtmctError
from storage.engine import Database
from storage.schema import RunLease

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0  # how often a holder renews its lease
STALE_AFTER_S = 30.0  # a lease not renewed for this long is free (6 missed heartbeats: a loaded machine is no reason)


class RunLocked(MtmctError):
    """Another live writer holds the run id."""


class RunTakenOver(MtmctError):
    """This writer's lease was taken by another one: nothing more may be stored."""


@dataclass(frozen=True)
class Holder:
    """Who holds a run's lease, as shown in messages."""

    owner: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime

    def describe(self, now: datetime) -> str:
        return (f"pid {self.pid} on host {self.host} since {self.started_at:%Y-%m-%d %H:%M:%S} UTC "
                f"(last renewed {max(0.0, (now - self.heartbeat_at).total_seconds()):.0f} s ago)")


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored one is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _holder(conn: Connection, run_id: str, lock: bool = False) -> Holder | None:
    query = select(RunLease.owner, RunLease.host, RunLease.pid, RunLease.started_at, RunLease.heartbeat_at).where(
        RunLease.run_id == run_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else Holder(row.owner, row.host, row.pid, _utc(row.started_at), _utc(row.heartbeat_at))


def why_free(holder: Holder, now: datetime, stale_after_s: float = STALE_AFTER_S) -> str | None:
    """Why ``holder``'s lease may be taken without asking (its process is gone, or it stopped renewing), or None
    while it looks alive."""
    if holder.host == socket.gethostname() and not _alive(holder.pid):
        return f"its process {holder.pid} is gone"
    silent = (now - holder.heartbeat_at).total_seconds()
    if silent > stale_after_s:
        return f"not renewed for {silent:.0f} s"
    return None


def acquire(db: Database, run_id: str, take_over: bool = False, stale_after_s: float = STALE_AFTER_S) -> str:
    """Take ``run_id``'s lease and return its token; :class:`RunLocked` (one line) if a live writer holds it and
    ``take_over`` is False."""
    token = uuid.uuid4().hex
    for attempt in range(2):  # PostgreSQL: two first inserts race; the loser sees the winner's row next time
        now = datetime.now(timezone.utc)
        values = dict(owner=token, host=socket.gethostname(), pid=os.getpid(), started_at=now, heartbeat_at=now)
        try:
            with db.write() as conn:
                holder = _holder(conn, run_id, lock=True)
                if holder is None:
                    conn.execute(insert(RunLease).values(run_id=run_id, **values))
                    return token
                free = why_free(holder, now, stale_after_s)
                if not (free or take_over):
                    raise RunLocked(f"run '{run_id}' is being written by {holder.describe(now)}: wait for it to end, "
                                    "choose another --run-id, or add --take-over to take it over")
                conn.execute(update(RunLease).where(RunLease.run_id == run_id).values(**values))
                log.warning("run %s: took the lease over from %s (%s)", run_id, holder.describe(now),
                            free or "asked to take over")
                return token
        except exc.IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def check(conn: Connection, run_id: str, token: str) -> None:
    """The fence, inside a write transaction: raise :class:`RunTakenOver` unless ``token`` still holds the lease
    (the row stays locked until the transaction ends, so a take-over waits for this write or precedes it)."""
    holder = _holder(conn, run_id, lock=True)
    if holder is None or holder.owner != token:
        by = f" by {holder.describe(datetime.now(timezone.utc))}" if holder else ""
        raise RunTakenOver(f"run '{run_id}' was taken over{by}: this run stops and stores nothing more")


def renew(db: Database, run_id: str, token: str) -> bool:
    """Renew the lease; False if it is no longer ours."""
    with db.write() as conn:
        done = conn.execute(update(RunLease).where(RunLease.run_id == run_id, RunLease.owner == token)
                            .values(heartbeat_at=datetime.now(timezone.utc)))
    return done.rowcount == 1


def release(db: Database, run_id: str, token: str) -> None:
    """Give the lease back (only if still ours: a take-over's lease is not ours to drop)."""
    with db.write() as conn:
        conn.execute(delete(RunLease).where(RunLease.run_id == run_id, RunLease.owner == token))


def holder(db: Database, run_id: str) -> Holder | None:
    """Who holds ``run_id``'s lease now, if anyone."""
    with db.engine.connect() as conn:
        return _holder(conn, run_id)


@contextmanager
def held(db: Database, run_id: str, take_over: bool = False, heartbeat_s: float = HEARTBEAT_S) -> Iterator[str]:
    """Hold ``run_id``'s lease for the block, renewed every ``heartbeat_s`` seconds by a daemon thread, and
    released at the end whatever happens (a SIGKILL leaves it behind; the next writer finds its process gone)."""
    token = acquire(db, run_id, take_over)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(heartbeat_s):
            try:
                if not renew(db, run_id, token):
                    log.warning("run %s: the lease was taken over; the next write will stop this run", run_id)
                    return
            except Exception as error:  # noqa: BLE001 - a passing database hiccup must not kill the run
                log.warning("run %s: could not renew the lease: %s", run_id, " ".join(str(error).split())[:200])

    thread = threading.Thread(target=beat, name=f"lease-{run_id}", daemon=True)
    thread.start()
    try:
        yield token
    finally:
        stop.set()
        thread.join(timeout=heartbeat_s + 5)
        try:
            release(db, run_id, token)
        except Exception as error:  # noqa: BLE001 - the lease then expires by itself; the run's outcome stands
            log.warning("run %s: could not release the lease: %s", run_id, " ".join(str(error).split())[:200])
