"""`mtmct run CONFIG [--out DIR] [--ray-address ADDR]`: the multi-camera job."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="track every camera of a camera set and link people across cameras",
                       description="Writes DIR/cameras/<camera>.txt, DIR/mtmct_result.txt "
                                   "(camera,global_id,frame,x,y,w,h), DIR/tracklets.jsonl/.npz and DIR/crops/.")
    p.add_argument("config", help="camera set YAML (see configs/cameras/)")
    p.add_argument("--out", default="out/run", help="output folder (default out/run)")
    p.add_argument("--ray-address", help="join a running Ray cluster instead of starting Ray locally")
    p.add_argument("--max-frames", type=int, help="only the first N frames of each camera")
    p.add_argument("--db", help="database URL (default $MTMCT_DB, else sqlite:///OUT/mtmct.db), e.g. "
                                "postgresql+psycopg://user@host/db")
    p.add_argument("--run-id", help="id of this run in the database (default: the config's name); "
                                    "re-running an id replaces it")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run: skip its stored cameras")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mtmct.core.camera_config import load_camera_config
    from mtmct.core.errors import MtmctError

    if args.max_frames is not None and args.max_frames < 1:
        raise MtmctError(f"--max-frames must be at least 1, got {args.max_frames}")
    config = load_camera_config(args.config)  # every section checked before Ray, models or the database load

    from mtmct.pipeline import run_cameras
    from storage.engine import safe_url

    result = run_cameras(config, args.out, ray_address=args.ray_address, max_frames=args.max_frames,
                         db=args.db, run_id=args.run_id, resume=args.resume)
    for cam in result.cameras:
        status = f"error: {cam.error}" if cam.error else "ok"
        fps = cam.frames / cam.wall_s if cam.wall_s else 0.0
        print(f"camera {cam.camera_id}: {cam.frames} frames, {len(cam.tracklets)} tracklets, {fps:.1f} frames/s, {status}")
    multi = sum(1 for i in result.identities if len(i.cameras) > 1)
    print(f"{len(result.identities)} global identities ({multi} seen by more than one camera), "
          f"fusion {result.fusion_s:.2f} s, total {result.wall_s:.1f} s")
    print(f"results: {result.result_file}")
    print(f"database: run '{result.run_id}' in {safe_url(result.db_url)}")
    if result.failed:
        if len(result.failed) == len(result.cameras):
            raise MtmctError("every camera failed: " + "; ".join(c.error for c in result.failed))
        return 1
    return 0
