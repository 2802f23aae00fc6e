"""Frames at the pace the world makes them: a camera that cannot keep up drops frames instead of falling behind.

A live camera delivers a frame every ``1 / fps`` seconds whether or not anyone is ready for it. A reader that
takes each frame in turn and is slower than that falls further and further behind the present (FFmpeg and the
network buffer the backlog), so the ids it reports describe a moment that keeps receding. :class:`RealtimeFrames`
reads the source in a thread of its own and hands the consumer only the newest ``buffer`` frames; a frame still
waiting when a newer one arrives past the buffer is dropped and counted (:attr:`RealtimeFrames.dropped`). Files
and frame folders are paced at their own fps (each frame is released at its timestamp after the start), so a
file rehearses a live camera: ``mtmct run CONFIG --realtime``.

The drop policy, stated: **keep the newest frames, drop the oldest**. The consumer is never more than ``buffer``
frames behind the source, and the frames it does process keep their source numbers and timestamps (the tracker
sees a gap, as after a missed detection). Decoding overlaps the consumer's work as a side effect.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator
from types import TracebackType

from cameras.source import Source
from mtmct.core.frame import Frame


class RealtimeFrames:
    """Iterate ``source`` in real time with the drop policy of the module docstring.

    Args:
        source: any :class:`~cameras.source.Source`. A finite one (``frame_count`` known) is paced at its fps;
            a live one (device, stream) is read as fast as it delivers.
        buffer: frames kept for the consumer. 1 (default) always hands over the newest frame; more absorbs
            short stalls (a slow frame, a model warm-up) without drops, at the price of up to ``buffer / fps``
            seconds of extra delay.
        limit: read only the source's first ``limit`` frames (a run's ``max_frames``: the first N of the footage,
            each processed or dropped), None for all.

    A source error (a stream lost for good, a truncated file) is raised to the consumer after the frames read
    before it, as the plain source would.
    """

    def __init__(self, source: Source, buffer: int = 1, limit: int | None = None) -> None:
        if buffer < 1 or (limit is not None and limit < 1):
            raise ValueError(f"need buffer >= 1 frame and limit None or >= 1, got {buffer} and {limit}")
        self.source, self.buffer, self.limit = source, buffer, limit
        self.paced = source.frame_count is not None
        self.dropped = 0  # frames the consumer never saw
        self.read = 0  # frames the source delivered
        self._frames: deque[Frame] = deque()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._done = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    # what the camera loop and the progress bars read from a source
    @property
    def fps(self) -> float:
        return self.source.fps

    @property
    def frame_count(self) -> int | None:
        return self.source.frame_count

    @property
    def name(self) -> str:
        return self.source.name

    def _reader(self) -> None:
        start, first = time.monotonic(), None
        try:
            for frame in itertools.islice(self.source, self.limit):
                if self._stop.is_set():
                    return
                if self.paced:  # release the frame at its timestamp, as the camera would have (from the first read)
                    first = frame.timestamp if first is None else first
                    wait = start + frame.timestamp - first - time.monotonic()
                    if wait > 0 and self._stop.wait(wait):
                        return
                with self._ready:
                    self.read += 1
                    if len(self._frames) == self.buffer:
                        self._frames.popleft()
                        self.dropped += 1
                    self._frames.append(frame)
                    self._ready.notify()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer's thread
            self._error = exc
        finally:
            with self._ready:
                self._done = True
                self._ready.notify()

    def __iter__(self) -> Iterator[Frame]:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: a real-time source is read once")
        self._thread = threading.Thread(target=self._reader, name=f"realtime {self.name}", daemon=True)
        self._thread.start()
        try:
            while True:
                with self._ready:
                    while not self._frames and not self._done:
                        self._ready.wait()
                    if self._frames:
                        frame = self._frames.popleft()
                    elif self._error is not None:
                        raise self._error
                    else:
                        return
                yield frame
        finally:
            self.close()

    def close(self) -> None:
        """Stop the reader and release the source. Frames it had not handed over yet are not counted as
        dropped: the consumer stopped (``max_frames``, a signal), nothing overtook them."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        with self._ready:
            self._frames.clear()
        self.source.close()

    def __enter__(self) -> RealtimeFrames:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
