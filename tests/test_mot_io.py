"""MOTChallenge text I/O: round trip, the column counts other tools write, and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError
from mtmct.core.mot_io import format_det_rows, read_mot, write_mot_dets


def test_round_trip(tmp_path: Path) -> None:
    frame1 = Detections(np.array([[10.123, 20.0, 30.5, 60.25], [0, 0, 5, 5]]), np.array([0.9, 0.45678]), np.zeros(2))
    frame3 = Detections(np.array([[100, 100, 150, 220]]), np.array([0.5]), np.zeros(1))
    path = tmp_path / "out" / "det.txt"
    assert write_mot_dets(path, [(1, frame1), (2, Detections.empty()), (3, frame3)]) == 3
    assert path.read_text().splitlines()[0] == "1,-1,10.12,20.00,20.38,40.25,0.9000,-1,-1,-1"
    rows = read_mot(path)
    assert rows.shape == (3, 10)
    assert rows[:, 0].tolist() == [1, 1, 3] and (rows[:, 1] == -1).all()
    back = Detections.from_tlwh(rows[rows[:, 0] == 1, 2:6], rows[rows[:, 0] == 1, 6])
    np.testing.assert_allclose(back.xyxy, frame1.xyxy, atol=0.01)
    np.testing.assert_allclose(back.scores, frame1.scores, atol=1e-4)


@pytest.mark.parametrize("line,width", [
    ("1,2,3,4,5,6", 7),  # no confidence: conf = 1 added
    ("1,2,3,4,5,6,0.5", 7),  # MOT17 det.txt
    ("1,2,3,4,5,6,1,1,0.8", 9),  # MOT17 gt.txt: flag, class, visibility
    ("1, 2, 3.5, 4, 5, 6, 1, -1, -1, -1", 10),  # MOT15 with spaces
])
def test_column_counts(tmp_path: Path, line: str, width: int) -> None:
    path = tmp_path / "a.txt"
    path.write_text(line + "\n\n")
    rows = read_mot(path)
    assert rows.shape == (1, width)
    assert rows[0, 6] == (1.0 if line.count(",") == 5 else float(line.split(",")[6]))


def test_unsorted_rows_come_back_by_frame_then_id(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("3,1,0,0,1,1,1\n1,7,0,0,1,1,1\n1,2,0,0,1,1,1\n2,5,0,0,1,1,1\n")
    rows = read_mot(path)
    assert rows[:, :2].tolist() == [[1, 2], [1, 7], [2, 5], [3, 1]]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("")
    assert read_mot(path).shape == (0, 7)


@pytest.mark.parametrize("text,message", [
    ("1,2,3,4,5\n", "5 columns"),
    ("1,2,3,4,5,6,7,8,9,10,11\n", "11 columns"),
    ("1,2,3,4,5,6,1\n1,2,3,4,5,6,1,1,1\n", "earlier rows have 7"),
    ("1,2,3,4,5,6,1\n2,x,3,4,5,6,1\n", "not a number"),
    ("0,2,3,4,5,6,1\n", "frame must be"),
    ("1.5,2,3,4,5,6,1\n", "frame must be"),
    ("1,2,3,4,-5,6,1\n", "negative box size"),
    ("1,2,3,4,nan,6,1\n", "non-finite"),
])
def test_bad_file_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    line = text.count("\n")
    with pytest.raises(MtmctError, match=message) as err:
        read_mot(path)
    assert f"{path}:{line}" in str(err.value)


def test_missing_or_binary_file(tmp_path: Path) -> None:
    with pytest.raises(MtmctError, match="nope.txt"):
        read_mot(tmp_path / "nope.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(MtmctError, match="bin.txt"):
        read_mot(tmp_path / "bin.txt")


def test_write_rejects_frame_0(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_mot_dets(tmp_path / "a.txt", [(0, Detections.empty())])


def test_format_det_rows_matches_written_file(tmp_path: Path) -> None:
    dets = Detections(np.array([[1, 2, 3, 4]]), np.array([0.5]), np.zeros(1))
    write_mot_dets(tmp_path / "a.txt", [(7, dets)])
    assert format_det_rows(7, dets) == (tmp_path / "a.txt").read_text() == "7,-1,1.00,2.00,2.00,2.00,0.5000,-1,-1,-1\n"
    assert format_det_rows(7, Detections.empty()) == ""
