"""`mtmct eval mot --gt GT --pred PRED [--json]`: tracking metrics from maintained libraries."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mtmct.errors import MtmctError

TABLE_KEYS = ("mota", "idf1", "hota", "idsw", "fp", "fn", "mt", "ml", "precision", "recall")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate results against ground truth")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    mot = kinds.add_parser("mot", help="single-camera tracking: MOTA, IDF1, HOTA, ID switches, FP, FN, MT/ML",
                           description="GT and PRED are MOTChallenge files, or folders for many sequences: GT holds "
                                       "SEQ/gt/gt.txt or SEQ.txt, PRED holds SEQ.txt; a summary row pools them.")
    mot.add_argument("--gt", required=True, help="ground-truth file or folder")
    mot.add_argument("--pred", required=True, help="tracker output file or folder")
    mot.add_argument("--json", action="store_true", help="print one JSON object (overall metrics + per sequence)")
    mot.set_defaults(run=run_mot)
    mtmc = kinds.add_parser("mtmc", help="cross-camera tracking: IDF1, IDP, IDR, MOTA over all cameras",
                            description="GT and PRED are camera,global_id,frame,x,y,w,h files (mtmct_result.txt).")
    mtmc.add_argument("--gt", required=True, help="ground truth, e.g. mtmc_gt.txt")
    mtmc.add_argument("--pred", required=True, help="predictions, e.g. OUT/mtmct_result.txt")
    mtmc.add_argument("--json", action="store_true", help="print one JSON object")
    mtmc.set_defaults(run=run_mtmc)


def sequence_pairs(gt: Path, pred: Path) -> dict[str, tuple[Path, Path]]:
    """Match ground-truth and prediction files by sequence name."""
    if not gt.exists():
        raise MtmctError(f"ground truth {gt} does not exist")
    if not pred.exists():
        raise MtmctError(f"predictions {pred} do not exist")
    if gt.is_file() and pred.is_file():
        name = gt.parent.parent.name if gt.parent.name == "gt" else gt.stem
        return {name: (gt, pred)}
    if gt.is_file() or pred.is_file():
        raise MtmctError("--gt and --pred must both be files or both be folders")
    gts = {p.parent.parent.name: p for p in gt.glob("*/gt/gt.txt")} or {p.stem: p for p in gt.glob("*.txt")}
    if not gts:
        raise MtmctError(f"no ground truth in {gt}: expected SEQ/gt/gt.txt or SEQ.txt files")
    missing = sorted(name for name in gts if not (pred / f"{name}.txt").exists())
    if missing:
        raise MtmctError(f"no predictions for {', '.join(missing)} in {pred} (expected {pred / (missing[0] + '.txt')})")
    return {name: (path, pred / f"{name}.txt") for name, path in sorted(gts.items())}


def run_mot(args: argparse.Namespace) -> int:
    from mtmct.eval_mot import evaluate_mot_files

    rows = evaluate_mot_files(sequence_pairs(Path(args.gt), Path(args.pred)))
    overall = rows[-1]
    if args.json:
        out = {k: v for k, v in overall.items() if k != "sequence"}
        out["sequences"] = {r["sequence"]: {k: v for k, v in r.items() if k != "sequence"} for r in rows[:-1]}
        print(json.dumps(out))
        return 0
    print(f"{'sequence':<24}" + "".join(f"{k:>10}" for k in TABLE_KEYS))
    for r in rows if len(rows) > 2 else rows[:1]:
        cells = "".join(f"{r[k]:>10.3f}" if isinstance(r[k], float) and k not in ("idsw", "fp", "fn", "mt", "ml")
                        else f"{int(r[k]):>10d}" for k in TABLE_KEYS)
        print(f"{r['sequence']:<24}{cells}")
    return 0


def run_mtmc(args: argparse.Namespace) -> int:
    from mtmct.eval_mtmc import evaluate_mtmc, read_mtmc

    for label, path in (("ground truth", args.gt), ("predictions", args.pred)):
        if not Path(path).is_file():
            raise MtmctError(f"{label} {path} does not exist")
    result = evaluate_mtmc(read_mtmc(args.gt), read_mtmc(args.pred))
    if args.json:
        print(json.dumps(result))
        return 0
    keys = ("idf1", "idp", "idr", "mota")
    print(f"{'camera':<16}" + "".join(f"{k:>10}" for k in keys))
    for camera, row in sorted(result.get("per_camera", {}).items()):
        print(f"{camera:<16}" + "".join(f"{row[k]:>10.3f}" for k in keys))
    print(f"{'ALL (global ids)':<16}" + "".join(f"{result[k]:>10.3f}" for k in keys))
    return 0
