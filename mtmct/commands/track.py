"""`mtmct track [SOURCE] --out DIR ...`: single-camera tracking to MOTChallenge text (and a video)."""

from __future__ import annotations

import argparse

from mtmct.commands import class_ids
from mtmct.core.models.backend import DEVICES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("track", help="track people in one camera",
                       description="Writes DIR/<camera-id>.txt as MOTChallenge rows frame,id,x,y,w,h,score,-1,-1,-1.")
    p.add_argument("source", nargs="?", help="video file, frame folder, camera index or rtsp/http URL "
                                             "(omit with --det-file for motion-only tracking)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--camera-id", help="name of the output files (default: the source's stem)")
    p.add_argument("--detector", help="registry name or model path (default: picodet_s_192_lcnet_pedestrian)")
    p.add_argument("--reid", help="registry name or model path (default: reid_model)")
    p.add_argument("--det-file", help="MOTChallenge det file to use instead of a detector")
    p.add_argument("--motion-only", action="store_true", help="no ReID: associate by motion alone")
    p.add_argument("--conf", type=float, default=None, help="minimum detection score (default: the tracker's)")
    p.add_argument("--classes",
                   help="comma-separated class ids to track (COCO detectors default to person: 0)")
    p.add_argument("--tracker", help="deepsort, bytetrack, ocsort, botsort or jde (its shipped preset) or a tracker "
                                     "YAML "
                                     "(default configs/trackers/deepsort.yaml, or deepsort_motion.yaml)")
    p.add_argument("--save-video", action="store_true", help="also write DIR/<camera-id>.mp4 with ids and tails")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.add_argument("--fps", type=float, help="override the source's frame rate")
    p.add_argument("--embed-every-frame", action="store_true",
                   help="run ReID on every box of every frame (slower), not only where association needs it")
    p.add_argument("--realtime", action="store_true",
                   help="read the source at its own pace (a file at its fps, as a live camera) and drop the frames "
                        "tracking cannot keep up with, keeping the newest; the count is printed")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mtmct.core.errors import MtmctError
    from mtmct.tracking import DEFAULT_CONF, track

    conf = DEFAULT_CONF if args.conf is None else args.conf
    if not 0.0 <= conf <= 1.0:
        raise MtmctError(f"--conf must be between 0 and 1, got {conf}")
    classes = class_ids(args.classes, "--classes")
    result = track(args.source, out=args.out, camera_id=args.camera_id, detector=args.detector, reid=args.reid,
                   det_file=args.det_file, motion_only=args.motion_only, conf=conf, classes=classes,
                   save_video=args.save_video, device=args.device, tracker=args.tracker, fps=args.fps,
                   embed_every_frame=args.embed_every_frame, realtime=args.realtime)
    print(f"{result.frames} frames, {len(result.track_ids)} tracks, {len(result.rows)} boxes, {result.fps:.1f} frames/s"
          + (f", ReID on {result.embedded / result.detections:.0%} of boxes" if result.detections else "")
          + (f", {result.dropped} frames dropped to keep up" if args.realtime else ""))
    print(f"tracks: {result.mot_file}")
    if result.video_file:
        print(f"video: {result.video_file}")
    if result.error:
        raise MtmctError(f"{result.error} (the {result.frames} frames before it are saved)")
    return 0
