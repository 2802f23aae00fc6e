"""Real-time reading (cameras.realtime_frames): a file paced at its fps, a slow consumer that drops the oldest frames
and stays current, a stall the buffer absorbs, a source error after the good frames, and a live MJPEG stream
served from 127.0.0.1 that delivers faster than the consumer.

The clip is the first 40 frames of PETS09-S2L1, written by OpenCV as a real MJPG video at 20 fps (2 s): short
enough for the fast tier, long enough that a consumer three times too slow would take 6 s in order."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras.open_source import open_source
from cameras.realtime_frames import RealtimeFrames
from cameras.source import SourceError
from conftest import pets_frames, shared_path
from test_source import MjpegServer

FPS, N = 20.0, 40


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    return pets_frames(N)


@pytest.fixture(scope="module")
def clip(images: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("realtime") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (480, 360))
    for image in images:
        writer.write(image)
    writer.release()
    return path


def consume(paced: RealtimeFrames, work_s: float = 0.0, stall: tuple[int, float] | None = None
            ) -> tuple[list[int], list[int], float]:
    """(frame numbers seen, how many frames the source had delivered past each one when it arrived, seconds)."""
    seen, behind = [], []
    start = time.monotonic()
    for frame in paced:
        behind.append(paced.read - frame.index)
        seen.append(frame.index)
        time.sleep(stall[1] if stall and frame.index == stall[0] else work_s)
    return seen, behind, time.monotonic() - start


def test_a_file_is_paced_at_its_fps_and_a_fast_consumer_sees_every_frame(clip: Path) -> None:
    paced = RealtimeFrames(open_source(clip))
    assert (paced.fps, paced.frame_count, paced.paced) == (FPS, N, True)
    seen, _, seconds = consume(paced)
    assert seen == list(range(1, N + 1)) and paced.dropped == 0
    assert seconds >= (N - 1) / FPS * 0.95  # released at the timestamps, not as fast as decoding goes


def test_a_resumed_file_is_paced_from_where_it_goes_on(clip: Path) -> None:
    """A camera resumed 30 frames in starts at once, not 30 frames' time later, then keeps the footage's pace."""
    source = open_source(clip)
    source.continue_after(30)
    start = time.monotonic()
    seen = [frame.index for frame in RealtimeFrames(source)]
    took = time.monotonic() - start
    assert seen == list(range(31, N + 1))
    assert (N - 31) / FPS <= took < (N - 31) / FPS + 0.5, took  # without the fix: 30 / FPS = 1.5 s longer


def test_a_slow_consumer_drops_the_oldest_frames_and_never_falls_behind(clip: Path) -> None:
    paced = RealtimeFrames(open_source(clip))
    seen, behind, seconds = consume(paced, work_s=3 / FPS)  # three frame periods per frame
    assert len(seen) + paced.dropped == paced.read == N  # every frame is either processed or counted dropped
    assert seen == sorted(set(seen)) and seen[0] == 1 and paced.dropped >= N // 3
    assert int(np.median(behind)) == 0 and max(behind) <= 3  # always handed the newest frame
    assert seconds < N / FPS + 1.5  # in order, at 3 periods a frame, it would take 6 s


def test_a_buffer_absorbs_a_short_stall_without_drops(clip: Path) -> None:
    paced = RealtimeFrames(open_source(clip), buffer=6)
    seen, _, _ = consume(paced, stall=(5, 3 / FPS))  # one 3-period stall, then fast
    assert seen == list(range(1, N + 1)) and paced.dropped == 0


def test_a_source_error_comes_after_the_good_frames(tmp_path: Path) -> None:
    pets = shared_path("data", "pets09-s2l1", "video.avi")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(pets.read_bytes()[: pets.stat().st_size // 8])
    paced = RealtimeFrames(open_source(cut, fps=400.0))  # the ~90 good frames in a quarter second
    seen: list[int] = []
    with pytest.raises(SourceError, match="truncated"):
        for frame in paced:
            seen.append(frame.index)
    assert seen and len(seen) + paced.dropped == paced.read > 50


def test_a_live_stream_faster_than_the_consumer_keeps_the_newest(images: list[np.ndarray]) -> None:
    """An MJPEG stream that sends 30 frames at once and ends (no reconnect): a live source is read as it arrives,
    not paced, and a consumer at 50 ms a frame sees few of them, the last one among them, then the stream's
    error."""
    server = MjpegServer(images, [30])
    try:
        paced = RealtimeFrames(open_source(server.url, fps=FPS, retries=0, retry_delay=0.01))
        assert not paced.paced
        seen: list[int] = []
        with pytest.raises(SourceError, match="30 frames"):
            for frame in paced:
                seen.append(frame.index)
                time.sleep(0.05)
    finally:
        server.stop()
    assert len(seen) < 30 and seen[-1] == 30 and len(seen) + paced.dropped == 30


def test_a_limit_a_second_pass_and_bad_arguments(clip: Path) -> None:
    for bad in (dict(buffer=0), dict(limit=0)):
        with pytest.raises(ValueError, match="buffer >= 1"):
            RealtimeFrames(open_source(clip), **bad)
    paced = RealtimeFrames(open_source(clip, fps=400.0), limit=10)  # the first 10 of the source, each seen or dropped
    seen = [f.index for f in paced]
    assert seen[-1] == 10 and len(seen) + paced.dropped == paced.read == 10
    with pytest.raises(RuntimeError, match="read once"):
        list(paced)
