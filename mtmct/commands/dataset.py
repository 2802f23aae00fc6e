"""`mtmct dataset reid-from-mot --video V --gt GT --camera-id C --out DIR`: ReID test sets from labelled video."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dataset", help="build evaluation datasets")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    mot = kinds.add_parser("reid-from-mot", help="Market-1501-style crops from a video and its MOT ground truth",
                           description="Writes DIR/PPPP_cCs1_FFFFFF_00.jpg for every gt box (conf flag != 0) of the "
                                       "chosen frames, clipped to the frame; evaluate with `mtmct eval reid`.")
    mot.add_argument("--video", required=True, help="video file or frame folder")
    mot.add_argument("--gt", required=True, help="MOTChallenge gt.txt (frame,id,x,y,w,h,conf,...)")
    mot.add_argument("--camera-id", required=True, help="camera number for the file names: 2 or c2")
    mot.add_argument("--frames", default="1:", help="inclusive 1-based range A:B (default: all)")
    mot.add_argument("--every", type=int, default=1, help="keep every N-th frame from A (default 1)")
    mot.add_argument("--min-height", type=float, default=0.0, help="skip boxes shorter than H pixels after clipping")
    mot.add_argument("--out", required=True, help="output folder")
    mot.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mtmct.reid_dataset import parse_camera_id, parse_frames, reid_from_mot

    camera, frames = parse_camera_id(args.camera_id), parse_frames(args.frames)
    result = reid_from_mot(args.video, args.gt, camera, args.out, frames=frames, every=args.every,
                           min_height=args.min_height)
    print(f"{result['crops']} crops of {result['ids']} ids from {result['frames']} frames -> {args.out}")
    return 0
