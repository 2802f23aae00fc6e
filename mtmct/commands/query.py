"""`mtmct query IMAGE [--db URL] [--run ID] [--top-k K] [--as crop|scene] [--json] [--save-crops DIR] ...`."""

from __future__ import annotations

import argparse
import json
import math
import os

from mtmct.commands import class_ids
from mtmct.core.models.backend import DEVICES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="find a person from a photo among the stored global identities",
                       description="Ranks the stored global identities by appearance similarity to each person in "
                                   "IMAGE (a person crop, or a scene where the detector finds the people).")
    p.add_argument("image", help="a person crop or a scene image (JPEG, PNG, ...)")
    p.add_argument("--db", help="database URL (default $MTMCT_DB)")
    p.add_argument("--run", dest="run_id", metavar="ID",  # not dest "run": that is the command's callable
                   help="search this run only (default: all runs made with the same ReID model as the latest run, "
                        "or as --reid)")
    p.add_argument("--top-k", type=int, default=10, help="identities per query person (default 10)")
    p.add_argument("--class", dest="classes", metavar="IDS",
                   help="only identities of these object classes, e.g. 2 (COCO car) or 0,2 (default: all)")
    p.add_argument("--as", dest="mode", choices=("crop", "scene"), default="auto",
                   help="treat IMAGE as one person crop, or as a scene to detect people in (default: decide from "
                        "its shape and the detector)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--save-crops", metavar="DIR", help="write each match's stored crop as a JPEG into DIR")
    p.add_argument("--reid", help="ReID model for the query (default: the run's own; must match its embeddings)")
    p.add_argument("--detector", help="detector for scene images (default: the run's own)")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mtmct.core.errors import MtmctError
    from mtmct.query import query_image, results_to_dict, save_crops

    url = args.db or os.environ.get("MTMCT_DB")
    if not url:
        raise MtmctError("no database: pass --db URL or set $MTMCT_DB")
    results = query_image(args.image, url, run_id=args.run_id, top_k=args.top_k, mode=args.mode, reid=args.reid,
                          detector=args.detector, device=args.device,
                          classes=class_ids(args.classes, "--class"))
    paths = save_crops(results, args.save_crops) if args.save_crops else {}
    if args.json:
        print(json.dumps({"image": args.image, **results_to_dict(results, crops=paths)}))
        return 0
    for qi, res in enumerate(results, 1):
        where = "whole image" if res.box is None else "box " + ",".join(f"{v:.0f}" for v in res.box)
        print(f"query {qi} ({where})")
        print(f"{'rank':>4}  {'run':<16} {'global id':>9}  {'score':>6}  {'best':<12} {'cameras':<12} times (s)")
        for m in res.matches:
            gid = "-" if m.global_id is None else str(m.global_id)
            times = "; ".join(f"{c} {_sec(s)}-{_sec(e)}" for c, (s, e) in sorted(m.times.items()))
            print(f"{m.rank:>4}  {m.run_id:<16} {gid:>9}  {m.score:6.3f}  {m.camera_id + '/' + str(m.track_id):<12} "
                  f"{','.join(m.cameras):<12} {times}" + (f"  {paths[(qi - 1, m.rank)]}" if (qi - 1, m.rank) in paths
                                                          else ""))
        print()
    return 0


def _sec(value: float) -> str:
    return "?" if math.isnan(value) else f"{value:.1f}"
