"""Golden tracking accuracy of the default pipeline on a real sequence: PETS09-S2L1 (795 frames, 19 people).

Runs what ``mtmct track`` runs with the shared YOLOX-nano detector, the OMZ person-reid-0277 embedder and the
default tracker config (``configs/trackers/deepsort.yaml``, ``track()``'s default conf), then scores the MOT
file as ``mtmct eval mot`` does. The defaults measure MOTA 0.777 and IDF1 0.714 (the same before and after the
redesign: the MOT file is byte-identical); the bars sit just below, so a real regression fails. Embedding every box dominates the run time (about 1.5 minutes on CPU).
Run with ``pytest -s`` to see the figures.
"""

from __future__ import annotations

import pytest
from conftest import shared_path

from mtmct.eval_mot import evaluate_mot_files
from mtmct.tracking import track

MIN_MOTA = 0.77  # measured 0.777 (IDSW 38, FP 382, FN 580); the redesign issue's bar
MIN_IDF1 = 0.705  # measured 0.714


@pytest.mark.shared
@pytest.mark.slow
def test_default_pipeline_on_pets09_s2l1(tmp_path):
    sequence = shared_path("data", "pets09-s2l1")
    result = track(str(sequence / "video.avi"), out=tmp_path,
                   detector=str(shared_path("models", "yolox-nano-coco")),
                   reid=str(shared_path("models", "omz-person-reid-0277")), progress=False)
    assert result.error is None, result.error
    assert result.frames == 795
    row = evaluate_mot_files({"PETS09-S2L1": (sequence / "gt" / "gt.txt", result.mot_file)})[0]
    print(f"\nPETS09-S2L1 MOTA {row['mota']:.3f}  IDF1 {row['idf1']:.3f}  HOTA {row['hota']:.3f}  "
          f"IDSW {row['idsw']}  FP {row['fp']}  FN {row['fn']}  ids {len(result.track_ids)} (19 people)")
    assert row["mota"] >= MIN_MOTA, f"MOTA {row['mota']:.3f} below {MIN_MOTA}"
    assert row["idf1"] >= MIN_IDF1, f"IDF1 {row['idf1']:.3f} below {MIN_IDF1}"
