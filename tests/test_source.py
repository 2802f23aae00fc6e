"""Camera sources on real footage, broken inputs, and an MJPEG-over-HTTP stream served from 127.0.0.1."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras.frame_folder_source import FrameFolderSource
from cameras.source import SourceError
from cameras.open_source import open_source
from mtmct.core.frame import Frame
from cameras.video_source import VideoSource
from conftest import shared_path

PETS_FRAMES, PETS_FPS = 795, 10.0


@pytest.fixture(scope="module")
def pets() -> Path:
    return shared_path("data", "pets09-s2l1", "video.avi")


@pytest.fixture(scope="module")
def pets_images(pets: Path) -> list[np.ndarray]:
    """The first 20 frames of the real video, decoded independently of the code under test."""
    cap = cv2.VideoCapture(str(pets))
    images = [cap.read()[1] for _ in range(20)]
    cap.release()
    return images


def _assert_numbered(frames: list[Frame], fps: float, start: int = 1) -> None:
    assert [f.index for f in frames] == list(range(start, start + len(frames)))
    assert [f.timestamp for f in frames] == pytest.approx([(f.index - 1) / fps for f in frames])


def _one_line_error(excinfo: pytest.ExceptionInfo[SourceError], name: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and name in message, message
    return message


# --- real footage -------------------------------------------------------------------------------------------

def test_video_file_numbers_frames_from_one(pets: Path, pets_images: list[np.ndarray]) -> None:
    with open_source(pets) as source:
        assert isinstance(source, VideoSource)
        assert (source.fps, source.size, source.frame_count, len(source)) == (PETS_FPS, (480, 360), 795, 795)
        frames = list(itertools.islice(source, 5))
    _assert_numbered(frames, PETS_FPS)
    assert frames[3].image.shape == (360, 480, 3)
    assert np.array_equal(frames[3].image, pets_images[3])


def test_video_file_reads_to_the_end_and_again(pets: Path) -> None:
    source = open_source(str(pets))
    last = None
    for last in source:
        pass
    assert last is not None and last.index == PETS_FRAMES and last.timestamp == pytest.approx(79.4)
    assert next(iter(source)).index == 1  # a second pass starts over


def test_continue_after_skips_a_files_done_frames_and_renumbers_a_streams(pets: Path, pets_images: list[np.ndarray],
                                                                           serve: Serve) -> None:
    """A resumed camera goes on after the frames it stored: a file skips them (same numbers, same images), a stream
    numbers its new frames on from there, so no frame number or timestamp repeats a stored one."""
    source = open_source(pets)
    source.continue_after(3)
    frames = list(itertools.islice(source, 2))
    assert [f.index for f in frames] == [4, 5] and frames[0].timestamp == pytest.approx(3 / PETS_FPS)
    assert np.array_equal(frames[0].image, pets_images[3])
    stream = open_source(serve([4]).url, fps=PETS_FPS, retries=0, retry_delay=0.01)
    stream.continue_after(10)
    got, _ = _read_until_error(stream)
    assert [f.index for f in got] == [11, 12, 13, 14] and got[0].timestamp == pytest.approx(10 / PETS_FPS)
    with pytest.raises(ValueError, match="0 or more"):
        source.continue_after(-1)


def test_fps_override_changes_timestamps(pets: Path) -> None:
    frames = list(itertools.islice(open_source(pets, fps=25), 4))
    _assert_numbered(frames, 25.0)
    assert frames[-1].timestamp == pytest.approx(0.12)


def test_mot_sequence_folder_uses_seqinfo() -> None:
    seq = shared_path("data", "mot17-mini", "train", "MOT17-05-FRCNN")
    source = open_source(seq)
    assert isinstance(source, FrameFolderSource)
    assert source.fps == 14 and source.size == (640, 480)
    n = len(list((seq / "img1").glob("*.jpg")))
    frames = list(source)
    assert len(frames) == len(source) == n >= 4
    _assert_numbered(frames, 14.0)
    assert np.array_equal(frames[1].image, cv2.imread(str(seq / "img1" / "000002.jpg")))
    assert [f.timestamp for f in open_source(seq, fps=7)][:2] == pytest.approx([0.0, 1 / 7])


def test_plain_image_folder_sorted_by_name_with_default_fps(tmp_path: Path, pets_images: list[np.ndarray],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    for i in (10, 2, 1):  # natural order: 1, 2, 10
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), pets_images[i])
    (tmp_path / "notes.txt").write_text("not a frame")
    with caplog.at_level(logging.WARNING):
        source = open_source(tmp_path)
    assert "assuming 25 fps" in caplog.text
    frames = list(source)
    _assert_numbered(frames, 25.0)
    for frame, i in zip(frames, (1, 2, 10)):
        assert np.array_equal(frame.image, pets_images[i])
    assert [f.timestamp for f in open_source(tmp_path, fps=5)] == pytest.approx([0.0, 0.2, 0.4])


# --- bad inputs ---------------------------------------------------------------------------------------------

def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as excinfo:
        open_source(tmp_path / "nope.mp4")
    assert "no such" in _one_line_error(excinfo, "nope.mp4")


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video\n" * 100)
    with pytest.raises(SourceError) as excinfo:
        open_source(fake)
    _one_line_error(excinfo, str(fake))


def test_empty_folder_and_folder_without_images(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as excinfo:
        open_source(tmp_path)
    assert "no images" in _one_line_error(excinfo, str(tmp_path))
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(SourceError):
        open_source(tmp_path)


def test_unreadable_image_in_folder_is_named(tmp_path: Path, pets_images: list[np.ndarray]) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i + 1:06d}.jpg"), pets_images[i])
    bad = tmp_path / "000002.jpg"
    bad.write_bytes(b"garbage")
    source = open_source(tmp_path)
    got: list[int] = []
    with pytest.raises(SourceError) as excinfo:
        for frame in source:
            got.append(frame.index)
    assert got == [1]
    _one_line_error(excinfo, str(bad))


def test_truncated_video_yields_good_frames_then_fails(pets: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.avi"
    cut.write_bytes(pets.read_bytes()[: pets.stat().st_size // 2])
    source = open_source(cut)
    got: list[Frame] = []
    with pytest.raises(SourceError) as excinfo:
        for frame in source:
            got.append(frame)
    assert 100 < len(got) < PETS_FRAMES - 10
    _assert_numbered(got, PETS_FPS)
    message = _one_line_error(excinfo, str(cut))
    assert f"after frame {len(got)} " in message and "truncated" in message


@pytest.mark.parametrize("device", [99, "99"])
def test_device_that_does_not_open(device: int | str) -> None:
    with pytest.raises(SourceError) as excinfo:
        open_source(device)
    _one_line_error(excinfo, "device 99")


def test_bad_arguments(pets: Path) -> None:
    with pytest.raises(ValueError):
        open_source(pets, fps=0)
    with pytest.raises(ValueError):
        open_source(pets, retries=-1)


# --- streams: MJPEG over HTTP from a local server -----------------------------------------------------------

class MjpegServer:
    """Serves ``multipart/x-mixed-replace`` JPEG frames; each connection sends the next count in ``plan``
    and then drops, so a test scripts drops and reconnects. With the plan used up it answers 503."""

    def __init__(self, images: list[np.ndarray], plan: list[int]) -> None:
        self.jpegs = [cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() for image in images]
        self.plan, self.sent, self.connections = list(plan), 0, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.connections += 1
                if not server.plan:
                    self.send_error(503)
                    return
                count = server.plan.pop(0)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for _ in range(count):
                    jpeg = server.jpegs[server.sent % len(server.jpegs)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                     % (len(jpeg), jpeg))
                    server.sent += 1
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/cam.mjpg"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


Serve = Callable[[list[int]], MjpegServer]


@pytest.fixture
def serve(pets_images: list[np.ndarray]) -> Iterator[Serve]:
    servers: list[MjpegServer] = []

    def start(plan: list[int]) -> MjpegServer:
        servers.append(MjpegServer(pets_images, plan))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _read_until_error(source: VideoSource, limit: int = 100) -> tuple[list[Frame], SourceError]:
    frames: list[Frame] = []
    with pytest.raises(SourceError) as excinfo:
        for frame in source:
            frames.append(frame)
            assert len(frames) <= limit, "a stream that should have failed kept going"
    return frames, excinfo.value


def test_mjpeg_http_stream_is_read(serve: Serve, pets_images: list[np.ndarray]) -> None:
    server = serve([6])
    source = open_source(server.url, fps=PETS_FPS, retries=0, retry_delay=0.01)
    assert isinstance(source, VideoSource) and source.live
    assert source.frame_count is None and source.size == (480, 360)
    with pytest.raises(TypeError):
        len(source)
    frames, error = _read_until_error(source)
    _assert_numbered(frames, PETS_FPS)
    assert len(frames) == 6
    for frame, image in zip(frames, pets_images):  # JPEG round trip: close, not equal
        assert np.abs(frame.image.astype(int) - image).mean() < 3
    assert server.url in str(error) and "6 frames" in str(error)


def test_stream_drop_then_reconnect_continues_numbering(serve: Serve, pets_images: list[np.ndarray],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    server = serve([5, 4])
    with caplog.at_level(logging.WARNING):
        frames, error = _read_until_error(open_source(server.url, fps=PETS_FPS, retries=2, retry_delay=0.05))
    _assert_numbered(frames, PETS_FPS)
    assert len(frames) == 9
    # frames after the reconnect are the server's next frames, not a replay of the first ones
    assert np.abs(frames[6].image.astype(int) - pets_images[6]).mean() < 3
    assert "reconnected; numbering continues at frame 6" in caplog.text
    message = str(error)
    assert "\n" not in message and server.url in message and "9 frames" in message
    assert server.connections == 2 + 2  # two good connections, then both retries refused with 503


def test_stream_that_stays_down_exhausts_retries(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    server = serve([3])
    frames: list[Frame] = []
    with caplog.at_level(logging.WARNING), pytest.raises(SourceError) as excinfo:
        for frame in open_source(server.url, retries=3, retry_delay=0.05):
            frames.append(frame)
            if frame.index == 3:
                server.stop()  # the stream drops after this frame and connections are refused from now on
    assert [f.index for f in frames] == [1, 2, 3]
    assert caplog.text.count("reconnect ") == 3
    message = _one_line_error(excinfo, server.url)
    assert "3 frames" in message and "3 reconnects failed" in message


def test_unreachable_url_fails_at_open() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/cam.mjpg"
    with pytest.raises(SourceError) as excinfo:
        open_source(url, retries=5, retry_delay=10)  # no retries at open: a wrong address fails fast
    _one_line_error(excinfo, url)


def test_password_in_url_is_hidden(serve: Serve) -> None:
    server = serve([])
    url = server.url.replace("http://", "http://admin:secret@")
    with pytest.raises(SourceError) as excinfo:
        open_source(url)
    assert "secret" not in str(excinfo.value) and "admin:***@" in str(excinfo.value)
