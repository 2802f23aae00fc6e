"""The one per-frame loop and its sinks: outputs inside ``out``, stage timings, sinks closed on a dropped source,
drawing on a copy in the id's colour."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from conftest import shared_path

import mtmct
from cameras.annotate import Annotator, draw_boxes
from cameras.camera_loop import STAGES, run_camera_loop
from cameras.tracker_registry import load_tracker
from cameras.det_file import DetFile
from cameras.mot_writer import MotWriter
from cameras.open_source import open_source
from cameras.source import SourceError
from cameras.track_rows import TrackRows
from cameras.tracked_frame import TrackedFrame
from mtmct.core.colors import id_color
from mtmct.core.detections import Detections
from mtmct.core.frame import Frame
from mtmct.core.mot_io import read_mot


class Recorder:
    """A real sink that keeps what it was given, to check what the loop hands on."""

    stage = "record"

    def __init__(self) -> None:
        self.frames: list[TrackedFrame] = []
        self.closed = False

    def update(self, frame: TrackedFrame) -> None:
        self.frames.append(frame)

    def close(self) -> None:
        self.closed = True


def test_an_opened_source_writes_inside_out_named_by_its_camera_id(tmp_path):
    """``mtmct.track(open_source("/d/v.mp4"), out="o")`` used to write ``/d/v.mp4.txt`` beside the video."""
    seq = shared_path("data", "tud-campus")
    footage = tmp_path / "d"
    footage.mkdir()
    shutil.copy(seq / "video.mp4", footage / "v.mp4")
    out = tmp_path / "o"
    result = mtmct.track(open_source(footage / "v.mp4"), out=out, det_file=seq / "det" / "det.txt",
                         motion_only=True, save_video=True, max_frames=5, progress=False)
    assert result.camera_id == "v" and result.frames == 5
    assert result.mot_file == out / "v.txt" and result.video_file == out / "v.mp4"
    assert sorted(p.name for p in out.iterdir()) == ["v.mp4", "v.txt"]
    assert sorted(p.name for p in footage.iterdir()) == ["v.mp4"]  # nothing written beside the footage
    assert np.array_equal(read_mot(result.mot_file)[:, :6].round(2), result.rows[:, :6].round(2))


def test_loop_hands_every_sink_one_value_per_frame_with_stage_timings(tmp_path):
    seq = shared_path("data", "tud-campus")
    dets = DetFile(seq / "det" / "det.txt")
    recorder, writer = Recorder(), MotWriter(tmp_path / "t.txt")
    result = run_camera_loop(dets.frames(25.0), dets.detect, load_tracker(motion_only=True), [writer, recorder],
                             max_frames=20, progress=False)
    assert result.frames == 20 and result.error is None and recorder.closed
    assert set(result.seconds) == {*STAGES, "record"} and result.seconds["track"] > 0
    assert [f.index for f in recorder.frames] == list(range(1, 21))
    assert recorder.frames[1].timestamp == pytest.approx(1 / 25)
    for f in recorder.frames:
        assert f.image is None and isinstance(f.tracks, TrackRows) and len(f.detections) > 0
        # every reported track was assigned one of this frame's detections
        assert ((f.tracks.det_index >= 0) & (f.tracks.det_index < len(f.detections))).all()
    written = read_mot(tmp_path / "t.txt")
    assert len(written) == sum(len(f.tracks) for f in recorder.frames) == len(writer.rows)


def test_a_source_that_drops_ends_the_loop_with_sinks_closed_and_frames_kept(tmp_path):
    image = np.zeros((120, 160, 3), np.uint8)

    def frames():
        for i in range(1, 4):
            yield Frame(i, (i - 1) / 10, image)
        raise SourceError("cam: stream lost after 3 frames")

    box = Detections(xyxy=[[10, 10, 50, 110]], scores=[0.9], classes=[0])
    recorder, writer = Recorder(), MotWriter(tmp_path / "cam.txt")
    result = run_camera_loop(frames(), lambda frame: box, load_tracker(motion_only=True), [writer, recorder],
                             progress=False)
    assert result.frames == 3 and result.error == "cam: stream lost after 3 frames" and recorder.closed
    assert read_mot(tmp_path / "cam.txt")[:, 0].tolist() == [1, 2, 3]  # warm start reports the first frames


def test_detection_only_loop_has_no_tracks():
    image = np.zeros((60, 80, 3), np.uint8)
    box = Detections(xyxy=[[1, 1, 30, 50]], scores=[0.8], classes=[0])
    recorder = Recorder()
    run_camera_loop([Frame(1, 0.0, image)], lambda frame: box, None, [recorder], progress=False)
    (f,) = recorder.frames
    assert len(f.tracks) == 0 and len(f.detections) == 1


def test_annotator_draws_on_a_copy_in_the_ids_colour(tmp_path):
    image = np.zeros((120, 160, 3), np.uint8)
    rows = TrackRows(ids=[7, 8], xyxy=[[10, 10, 60, 100], [80, 10, 130, 100]], scores=[0.9, 0.2])
    annotator = Annotator(tmp_path / "a.avi", fps=10, draw_threshold=0.5)
    for i in range(1, 4):
        annotator.update(TrackedFrame(i, (i - 1) / 10, image, Detections.empty(), rows))
    annotator.close()
    assert not image.any()  # the tracklet builder crops from the same image after the annotator
    cap = cv2.VideoCapture(str(tmp_path / "a.avi"))
    ok, drawn = cap.read()
    cap.release()
    assert ok and drawn[55, 10].astype(int) @ np.ones(3) > 200  # id 7's box (left edge) is drawn
    assert drawn[55, 80].astype(int) @ np.ones(3) < 60  # id 8 scored below draw_threshold: not drawn
    exact = draw_boxes(np.zeros((120, 160, 3), np.uint8), rows.xyxy[:1], ["7"], [7])
    assert tuple(int(v) for v in exact[55, 10]) == id_color(7)


@pytest.mark.parametrize("key", [1, 2, 3, 17, 250])
def test_saved_videos_and_dashboard_colour_a_person_alike(key):
    """The saved video's box and the dashboard's box of the same id have one colour (mtmct.core.colors.id_color)."""
    from mtmct.dashboard.frames import draw_boxes as dashboard_boxes
    from storage.repository import CAMERA_BOX_DTYPE

    stored = np.zeros(1, CAMERA_BOX_DTYPE)
    stored["global_id"], stored["x"], stored["y"], stored["w"], stored["h"] = key, 5, 5, 25, 25
    video = draw_boxes(np.zeros((40, 40, 3), np.uint8), np.array([[5, 5, 30, 30]]), keys=[key])
    page = dashboard_boxes(np.zeros((40, 40, 3), np.uint8), stored)
    assert tuple(int(v) for v in video[20, 5]) == tuple(int(v) for v in page[20, 5]) == id_color(key)
