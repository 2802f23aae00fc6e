"""RTSP for real: a GStreamer RTSP server on 127.0.0.1 (tests/rtsp_server.py) streams 40 JPEG frames of
PETS09-S2L1 as RTP/JPEG, read through OpenCV's FFmpeg as any `rtsp://` camera source is. The stream ends after the
40 frames, so the tests see a live source end, reconnect (the server starts a new session) and give up.

Needs Debian's gir1.2-gst-rtsp-server-1.0 and gstreamer1.0-plugins-good for the system python3 (`make test`
installs them as root); skipped with that reason without them."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras.open_source import open_source
from cameras.realtime_frames import RealtimeFrames
from cameras.source import SourceError
from cameras.video_source import VideoSource
from conftest import pets_frames

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
N, FPS = 40, 25


def _gst_rtsp_missing() -> str | None:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30)
    except OSError:
        return f"no {SYSTEM_PYTHON}"
    return None if done.returncode == 0 else "no gst-rtsp-server for the system python3"


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    return pets_frames(N)


@pytest.fixture(scope="module")
def rtsp_url(images: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    missing = _gst_rtsp_missing()
    if missing:
        pytest.skip(f"RTSP tests need a real RTSP server: {missing} (install Debian's gir1.2-gst-rtsp-server-1.0 "
                    "and gstreamer1.0-plugins-good; `make test` does it as root)")
    folder = tmp_path_factory.mktemp("rtsp")
    for i, image in enumerate(images, start=1):
        cv2.imwrite(str(folder / f"{i:06d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    server = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(folder), str(FPS)], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline().split()
        assert line[:1] == ["ready"], f"the RTSP server did not start: {line}"
        yield f"rtsp://127.0.0.1:{line[1]}/cam"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_an_rtsp_stream_is_read_numbered_and_ends_with_one_line(rtsp_url: str, images: list[np.ndarray]) -> None:
    source = open_source(rtsp_url, retries=0)
    assert isinstance(source, VideoSource) and source.live and source.frame_count is None
    assert source.size == (480, 360)
    frames = []
    with pytest.raises(SourceError) as excinfo:
        for frame in source:
            frames.append(frame)
            assert len(frames) <= N, "the stream should have ended"
    assert [f.index for f in frames] == list(range(1, N + 1))
    for frame, image in zip(frames, images):  # JPEG round trip: close, not equal
        assert np.abs(frame.image.astype(int) - image).mean() < 3
    message = str(excinfo.value)
    assert "\n" not in message and rtsp_url in message and f"after {N} frames" in message


def test_an_rtsp_stream_that_ends_is_reconnected_and_numbering_continues(rtsp_url: str) -> None:
    source = open_source(rtsp_url, retries=1, retry_delay=0.1)
    frames = list(itertools.islice(source, N + 10))  # past the first session's end: a second session's frames
    source.close()
    assert [f.index for f in frames] == list(range(1, N + 11))
    assert frames[-1].timestamp == pytest.approx((N + 9) / source.fps)


def test_realtime_reading_of_rtsp_is_not_paced_and_counts_every_frame(rtsp_url: str) -> None:
    paced = RealtimeFrames(open_source(rtsp_url, retries=0), buffer=N)  # room for all: nothing dropped
    assert not paced.paced
    seen = []
    with pytest.raises(SourceError):
        for frame in paced:
            seen.append(frame.index)
    assert seen == list(range(1, N + 1)) and paced.dropped == 0 and paced.read == N
