"""`mtmct eval mot|mtmc|world|reid ...`: tracking metrics from maintained libraries, ReID retrieval metrics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mtmct.core.models.backend import DEVICES
from mtmct.core.errors import MtmctError

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
    mtmc = kinds.add_parser("mtmc", help="cross-camera tracking: IDF1, IDP, IDR, MOTA over all cameras, and who "
                                         "is linked, split or merged across cameras",
                            description="GT and PRED are camera,global_id,frame,x,y,w,h files (mtmct_result.txt). "
                                        "Identity counts (fully linked people, splits, merges, cross-camera pairs "
                                        "found/missed/wrong) are defined in mtmct/eval_mtmc.py.")
    mtmc.add_argument("--gt", required=True, help="ground truth, e.g. mtmc_gt.txt")
    mtmc.add_argument("--pred", required=True, help="predictions, e.g. OUT/mtmct_result.txt")
    mtmc.add_argument("--json", action="store_true", help="print one JSON object")
    mtmc.set_defaults(run=run_mtmc)
    world = kinds.add_parser("world", help="ground-plane tracking: MOTA, MODA, IDF1, IDP, IDR, ID switches, mean "
                                           "distance, matched by distance in metres",
                             description="GT and PRED are frame,id,X,Y files in metres (e.g. gt_world.txt and "
                                         "OUT/mtmct_world.txt), one row per frame and id. Per frame, points are "
                                         "matched one-to-one within --max-distance (py-motmetrics accumulator); "
                                         "with --footprint only points inside the polygon count.")
    world.add_argument("--gt", required=True, help="ground truth, e.g. gt_world.txt")
    world.add_argument("--pred", required=True, help="predictions, e.g. OUT/mtmct_world.txt")
    world.add_argument("--footprint", help='JSON {"polygon": [[X, Y], ...]} in metres, e.g. footprint_world.json')
    world.add_argument("--max-distance", type=float, default=1.0, metavar="M",
                       help="largest match distance in metres (default 1.0)")
    world.add_argument("--json", action="store_true", help="print one JSON object")
    world.set_defaults(run=run_world)
    reid = kinds.add_parser("reid", help="ReID retrieval: CMC rank-1/5/10 and mAP (Market-1501 protocol)",
                            description="QUERY and GALLERY hold Market-1501-named crops PPPP_cCsS_FFFFFF_NN.jpg; "
                                        "same-id same-camera and id -1 gallery images are junk, 0000 are distractors.")
    reid.add_argument("--query", required=True, help="folder of query crops")
    reid.add_argument("--gallery", required=True, help="folder of gallery crops")
    reid.add_argument("--reid", required=True, help="registry name or model path")
    reid.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3)")
    reid.add_argument("--device", choices=DEVICES, default="cpu")
    reid.add_argument("--json", action="store_true", help="print one JSON object")
    reid.set_defaults(run=run_reid)


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
    from mtmct.eval_mtmc import evaluate_mtmc, identity_metrics, identity_table, read_mtmc

    for label, path in (("ground truth", args.gt), ("predictions", args.pred)):
        if not Path(path).is_file():
            raise MtmctError(f"{label} {path} does not exist")
    gt, pred = read_mtmc(args.gt), read_mtmc(args.pred)
    result = evaluate_mtmc(gt, pred)
    identity = identity_metrics(gt, pred)
    if args.json:
        print(json.dumps({**result, "identity": identity.to_dict()}))
        return 0
    keys = ("idf1", "idp", "idr", "mota")
    print(f"{'camera':<16}" + "".join(f"{k:>10}" for k in keys))
    for camera, row in sorted(result.get("per_camera", {}).items()):
        print(f"{camera:<16}" + "".join(f"{row[k]:>10.3f}" for k in keys))
    print(f"{'ALL (global ids)':<16}" + "".join(f"{result[k]:>10.3f}" for k in keys))
    print()
    print(identity_table(identity))
    return 0


def run_world(args: argparse.Namespace) -> int:
    from mtmct.eval_world import evaluate_world_files, world_table

    result = evaluate_world_files(args.gt, args.pred, args.footprint, args.max_distance)
    print(json.dumps(result.to_dict()) if args.json else world_table(result))
    return 0


def run_reid(args: argparse.Namespace) -> int:
    from cameras.embedder import load_embedder
    from mtmct.eval_reid import evaluate_sets, read_market_folder

    query, gallery = read_market_folder(args.query), read_market_folder(args.gallery)  # before the model loads
    result = evaluate_sets(query, gallery, load_embedder(args.reid, args.device), rerank=args.rerank)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['queries'] - result['skipped']} queries ({result['skipped']} without a match skipped), "
          f"{result['gallery']} gallery images{', re-ranked' if args.rerank else ''}")
    print("".join(f"{k:>10}" for k in ("rank-1", "rank-5", "rank-10", "mAP")))
    print("".join(f"{result[k]:>10.3f}" for k in ("rank1", "rank5", "rank10", "map")))
    return 0
