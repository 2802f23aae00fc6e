"""What `mtmct run` and `mtmct demo` print after a run: cameras, identities, what fusion chose, and the scores
against ground truth when there is some.

One place for these lines so both commands say the same things the same way; the commands add only where the
files and the database are.
"""

from __future__ import annotations

from pathlib import Path

from mtmct.core.fusion_report import FusionReport, LinkWindow
from mtmct.pipeline import RunResult


def camera_lines(result: RunResult) -> list[str]:
    lines = []
    for cam in result.cameras:
        status = f"error: {cam.error}" if cam.error else "ok"
        fps = cam.frames / cam.wall_s if cam.wall_s else 0.0
        reid = f", ReID on {cam.embedded / cam.detections:.0%} of boxes" if cam.embedded else ""
        dropped = f" (+{cam.dropped} dropped to keep up)" if cam.dropped else ""
        lines.append(f"camera {cam.camera_id}: {cam.frames} frames{dropped}, {len(cam.tracklets)} tracklets, "
                     f"{fps:.1f} frames/s{reid}, {status}")
    multi = sum(1 for i in result.identities if len(i.cameras) > 1)
    lines.append(f"{len(result.identities)} global identities ({multi} seen by more than one camera), "
                 f"fusion {result.fusion_s:.2f} s, total {result.wall_s:.1f} s")
    return lines


def _window(link: LinkWindow) -> str:
    if link.overlap:
        return "overlap"
    low = "0" if link.min_s is None else f"{link.min_s:.1f}"
    return f"{low}-{'any' if link.max_s is None else f'{link.max_s:.1f}'} s"


def fusion_lines(report: FusionReport | None) -> list[str]:
    """The thresholds and transit windows fusion applied, each with where it came from (calibrated on this run's
    evidence, fixed in the config, or the default)."""
    if report is None:
        return []
    parts = []
    for t in report.thresholds:
        evidence = f", {t.same} same / {t.different} different pairs" if t.source == "calibrated" else ""
        parts.append(f"{t.name} {t.value:.3f} ({t.source}{evidence})")
    lines = [f"fusion thresholds: {'; '.join(parts)}"] if parts else []
    for link in report.links:
        learned = f" from {link.matches} matches" if link.source == "calibrated" else ""
        lines.append(f"link {link.a}-{link.b}: {_window(link)} ({link.source}{learned})")
    lines += [f"fusion note: {note}" for note in report.notes]
    return lines


def evaluation_lines(gt: str | Path, result_file: str | Path) -> list[str]:
    """Cross-camera IDF1 / IDP / IDR / MOTA and the identity counts of ``result_file`` against ``gt`` (both
    ``camera,global_id,frame,x,y,w,h``), as ``mtmct eval mtmc`` prints them."""
    from mtmct.eval_mtmc import evaluate_mtmc, identity_metrics, identity_table, read_mtmc

    gt_rows, pred_rows = read_mtmc(gt), read_mtmc(result_file)
    scores = evaluate_mtmc(gt_rows, pred_rows)
    head = (f"cross-camera IDF1 {scores['idf1']:.3f}, IDP {scores['idp']:.3f}, IDR {scores['idr']:.3f}, "
            f"MOTA {scores['mota']:.3f} against {Path(gt).name}")
    return [head, *identity_table(identity_metrics(gt_rows, pred_rows)).splitlines()]
