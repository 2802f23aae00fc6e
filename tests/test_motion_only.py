"""Motion-only DeepSort on MOTChallenge public detections (no pixels) against SORT's published MOTA.

SORT (abewley/sort, sort.py) reads the same det.txt files, takes columns 2:7 as ``x, y, w, h, score``
(top-left + size) and uses every row: the files already hold only boxes scored >= 0.5. We feed the same rows.
Run with ``pytest -s`` to see the figures.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, shared_path

from cameras.tracker_registry import load_tracker
from mtmct.core.detections import Detections
from mtmct.eval_mot import evaluate_sequences
from mtmct.core.mot_io import read_mot

PRESET = ROOT / "configs" / "trackers" / "deepsort_motion.yaml"
SORT_MOTA = {"TUD-Campus": 0.627, "ETH-Sunnyday": 0.591}  # SORT README / paper, same detections


def track_sequence(folder, config=PRESET) -> tuple[np.ndarray, np.ndarray]:
    """(gt rows, predicted MOT rows) for one sequence folder with det/det.txt and gt/gt.txt."""
    det, gt = read_mot(folder / "det" / "det.txt"), read_mot(folder / "gt" / "gt.txt")
    tracker = load_tracker(config)
    rows = []
    for frame in range(1, int(max(det[:, 0].max(), gt[:, 0].max())) + 1):
        d = det[det[:, 0] == frame]
        tracks = tracker.update(Detections.from_tlwh(d[:, 2:6], d[:, 6]))
        rows += [[frame, i, *box, score, -1, -1, -1] for i, box, score in zip(tracks.ids, tracks.tlwh, tracks.scores)]
    return gt, np.array(rows, float).reshape(-1, 10)


def _report(rows: list[dict]) -> None:
    for r in rows:
        print(f"\n{r['sequence']:14s} MOTA {100 * r['mota']:5.1f}  IDF1 {100 * r['idf1']:5.1f}  "
              f"HOTA {100 * r['hota']:5.1f}  IDSW {r['idsw']:4d}  FP {r['fp']:5d}  FN {r['fn']:5d}  "
              f"MT {r['mt']:3d}  ML {r['ml']:3d}", end="")
    print()


@pytest.fixture(scope="module")
def benchmark_rows() -> dict[str, dict]:
    folders = {"TUD-Campus": shared_path("data", "tud-campus"),
               "ETH-Sunnyday": shared_path("data", "mot15-motion", "ETH-Sunnyday")}
    rows = evaluate_sequences({name: track_sequence(folder) for name, folder in folders.items()})
    _report(rows)
    return {r["sequence"]: r for r in rows}


@pytest.mark.parametrize("name", list(SORT_MOTA))
def test_motion_only_reaches_sort_mota(benchmark_rows, name):
    row = benchmark_rows[name]
    assert row["mota"] >= SORT_MOTA[name], f"{name}: MOTA {row['mota']:.3f} below SORT's {SORT_MOTA[name]}"


# the tracker family's public presets (chosen on other MOT15 sequences: see each file), on the two held-out ones;
# measured 2026-11-26 (benchmarks/bench_trackers.py): ByteTrack and BoT-SORT 64.3 / 61.0, OC-SORT 60.4 / 58.8, which
# does not reach SORT's figures: its floor is set a little below what it measured, to catch a regression
FLOORS = {"bytetrack": SORT_MOTA, "botsort": SORT_MOTA, "ocsort": {"TUD-Campus": 0.595, "ETH-Sunnyday": 0.58}}


@pytest.mark.parametrize("kind", list(FLOORS))
def test_the_tracker_family_on_held_out_public_detections(kind):
    folders = {"TUD-Campus": shared_path("data", "tud-campus"),
               "ETH-Sunnyday": shared_path("data", "mot15-motion", "ETH-Sunnyday")}
    preset = ROOT / "configs" / "trackers" / f"{kind}_public.yaml"
    rows = evaluate_sequences({name: track_sequence(folder, preset) for name, folder in folders.items()})
    _report(rows)
    for r in rows:
        if r["sequence"] in FLOORS[kind]:
            assert r["mota"] >= FLOORS[kind][r["sequence"]], f"{kind} {r['sequence']}: MOTA {r['mota']:.3f}"


def test_other_public_sequences_run():
    """No published per-sequence SORT figure: report, and only guard against a collapse."""
    base = shared_path("data", "mot15-motion")
    names = ["ETH-Bahnhof", "ADL-Rundle-6", "KITTI-13"]
    seqs = {name: track_sequence(base / name) for name in names}
    seqs["PETS09-S2L1"] = track_sequence(shared_path("data", "pets09-s2l1"))
    rows = evaluate_sequences(seqs)
    _report(rows)
    assert all(r["mota"] > 0.1 and r["hota"] > 0.2 for r in rows)
