"""Sinks: where tracked frames go (a MOT file, an annotated video, tracklets), so the loop itself only computes.

A sink has a ``stage`` (the name its time is booked under in the loop's per-stage timings), ``update`` called
with every :class:`~cameras.tracked_frame.TrackedFrame` in order, and ``close`` called once at the end, also when
the loop stops on an error, so what was written so far is kept.
"""

from __future__ import annotations

from typing import Protocol

from cameras.tracked_frame import TrackedFrame


class Sink(Protocol):
    stage: str

    def update(self, frame: TrackedFrame) -> None: ...

    def close(self) -> None: ...
