"""The fast write path of each engine, inside the caller's transaction: never one statement per row.

PostgreSQL: ``COPY ... FROM STDIN (FORMAT BINARY)`` through psycopg 3 on the connection SQLAlchemy already holds
(so a failure later in the transaction rolls the COPY back too). Boxes, the bulk of the data, are encoded as one
numpy structured array in COPY's binary layout, so a million rows cost one ``tobytes()`` instead of a Python loop.
SQLite: ``executemany`` in batches (one prepared statement, no round trips to speak of).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from itertools import islice

import numpy as np
from sqlalchemy import Connection

# One row per tracked box; ``write_camera`` takes this structured array (or rows in this column order).
BOX_DTYPE = np.dtype([("frame", "<i8"), ("time", "<f8"), ("track_id", "<i8"), ("x", "<f4"), ("y", "<f4"),
                      ("w", "<f4"), ("h", "<f4"), ("score", "<f4"), ("cls", "<i8"), ("gx", "<f4"), ("gy", "<f4")])
# gx, gy: the foot point on the ground plane in metres; NaN when unknown (no calibration, beyond the horizon):
# PostgreSQL's COPY keeps the NaN, SQLite stores NULL; readers treat both as missing
BOX_COLUMNS = ("run_id", "camera_id") + BOX_DTYPE.names
_BOX_PG = {"frame": ">i4", "time": ">f8", "track_id": ">i4", "x": ">f4", "y": ">f4", "w": ">f4", "h": ">f4",
           "score": ">f4", "cls": ">i4", "gx": ">f4", "gy": ">f4"}  # the column types of storage.schema.Box, in network byte order
_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_PGCOPY_TRAILER = struct.pack(">h", -1)
SQLITE_BATCH = 50_000


def as_boxes(rows: np.ndarray | Iterable[Sequence[float]]) -> np.ndarray:
    """Box rows as a :data:`BOX_DTYPE` array (from tuples ``frame, time, track_id, x, y, w, h, score, cls[, gx,
    gy]``; without ground coordinates they are NaN)."""
    if isinstance(rows, np.ndarray) and rows.dtype == BOX_DTYPE:
        return rows
    nan = (float("nan"), float("nan"))
    return np.array([tuple(r) if len(r) == len(BOX_DTYPE.names) else (*r, *nan) for r in rows], BOX_DTYPE)


def insert_boxes(conn: Connection, run_id: str, camera_id: str, boxes: np.ndarray) -> None:
    if not len(boxes):
        return
    if conn.dialect.name == "postgresql":
        _copy_raw(conn, "boxes", BOX_COLUMNS, _pg_binary_boxes(run_id, camera_id, boxes))
        return
    columns = [np.full(len(boxes), run_id, object), np.full(len(boxes), camera_id, object)]
    columns += [boxes[name].tolist() for name in BOX_DTYPE.names]
    insert_rows(conn, "boxes", BOX_COLUMNS, zip(*columns), pg_types=())


def insert_rows(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]],
                pg_types: Sequence[str]) -> None:
    """Rows of small tables (tracklets, crops, identities): binary COPY on PostgreSQL, executemany on SQLite."""
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(pg_types))
            for row in rows:
                copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        it = iter(rows)
        while batch := list(islice(it, SQLITE_BATCH)):
            cursor.executemany(sql, batch)
    finally:
        cursor.close()


def _copy_raw(conn: Connection, table: str, columns: Sequence[str], data: bytes) -> None:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        view = memoryview(data)
        for start in range(0, len(view), 8 << 20):
            copy.write(view[start:start + (8 << 20)])


def _pg_binary_boxes(run_id: str, camera_id: str, boxes: np.ndarray) -> bytes:
    """COPY BINARY: per row an int16 field count, then per field an int32 byte length and the big-endian value."""
    texts = {"run_id": run_id.encode(), "camera_id": camera_id.encode()}
    fields: list[tuple[str, str]] = [("n", ">i2")]
    for name in BOX_COLUMNS:
        fields += [(f"{name}_len", ">i4"), (name, f"S{len(texts[name])}" if name in texts else _BOX_PG[name])]
    out = np.empty(len(boxes), np.dtype(fields))
    out["n"] = len(BOX_COLUMNS)
    for name in BOX_COLUMNS:
        out[f"{name}_len"] = out.dtype[name].itemsize
        out[name] = texts[name] if name in texts else boxes[name]
    return _PGCOPY_HEADER + out.tobytes() + _PGCOPY_TRAILER
