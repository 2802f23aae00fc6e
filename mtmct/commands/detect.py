"""`mtmct detect SOURCE --detector MODEL --out DIR [--save-video]`."""

from __future__ import annotations

import argparse

from mtmct.core.models.backend import DEVICES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect people in a video, frame folder, camera or stream",
                       description="Writes DIR/<source>.txt as MOTChallenge det rows: frame,-1,x,y,w,h,score,-1,-1,-1.")
    p.add_argument("source", help="video file, folder of frames (MOT img1/ layout), camera index, or rtsp/http URL")
    p.add_argument("--detector", required=True, help="registry name or path to a model folder/file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--save-video", action="store_true", help="also write an annotated video DIR/<source>.mp4")
    p.add_argument("--conf", type=float, default=0.3, help="minimum detection score (default 0.3)")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.add_argument("--fps", type=float, default=None, help="override the source's frame rate for timestamps")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mtmct.detect import run_detect
    from mtmct.core.errors import MtmctError

    if not 0.0 <= args.conf <= 1.0:
        raise MtmctError(f"--conf must be between 0 and 1, got {args.conf}")
    result = run_detect(args.source, args.detector, args.out, save_video=args.save_video,
                        conf=args.conf, device=args.device, fps=args.fps)
    print(f"{result.frames} frames, {result.detections} detections, {result.fps:.1f} frames/s")
    print(f"detections: {result.det_file}")
    if result.video_file:
        print(f"video: {result.video_file}")
    if result.error:
        raise MtmctError(f"{result.error} (the {result.frames} frames before it are saved)")
    return 0
