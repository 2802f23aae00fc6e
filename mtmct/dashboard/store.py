"""The dashboard's access to the database: opened lazily, so the server starts (and answers 503) while the
database is down, and every failure becomes an HTTP status instead of a traceback."""

from __future__ import annotations

import logging
import threading

from fastapi import HTTPException
from sqlalchemy import exc

from mtmct.core.errors import MtmctError
from mtmct.core.secrets import mask_secrets
from storage import Database, Repository, open_database
from storage.repository import IdentityInfo, RunInfo

log = logging.getLogger(__name__)

# all a client learns of a database failure: its host, port, user and name are for the operator, in the log
DATABASE_UNAVAILABLE = "database unavailable (the server log says why)"


class Store:
    """One :class:`Repository` per application, connected on first use and retried after a failure."""

    def __init__(self, db_url: str) -> None:
        self.url = db_url
        self._db: Database | None = None
        self._lock = threading.Lock()

    def repo(self) -> Repository:
        with self._lock:
            if self._db is None:
                self._db = self._open()
            return Repository(self._db)

    def _open(self) -> Database:
        try:
            return open_database(self.url, reader=True)  # a viewer never creates a database nor changes a schema
        except Exception as error:  # noqa: BLE001 - any reason the database is unusable is a 503
            log.warning("database unavailable: %s", mask_secrets(" ".join(str(error).split()) or repr(error)))
            raise HTTPException(503, DATABASE_UNAVAILABLE) from None

    def run(self, run_id: str) -> RunInfo:
        """The run, or 404."""
        for run in self.repo().list_runs(run_id):
            return run
        raise HTTPException(404, f"unknown run id {run_id!r}")

    def identity(self, run_id: str, global_id: int) -> IdentityInfo:
        """The identity with its tracklets and crops, or 404 (get_identity checks the run id itself)."""
        try:
            return self.repo().get_identity(run_id, global_id)
        except MtmctError as error:
            if is_database_error(error):
                raise
            raise HTTPException(404, str(error)) from None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def is_database_error(error: BaseException) -> bool:
    """Whether ``error`` came from the database connection (a 503), not from the request (a 4xx)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, exc.OperationalError | exc.InterfaceError):
            return True
        seen = seen.__cause__
    return False
