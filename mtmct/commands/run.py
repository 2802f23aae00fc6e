"""`mtmct run CONFIG [--out DIR] [--ray-address ADDR]`: the multi-camera job.

Exit codes: 0 every camera ok (run ``finished``); 1 some cameras failed (run ``partial``, the failed cameras'
errors stored with them); 2 a one-line error (bad config, every camera failed,
database unreachable); 130 / 143 stopped by SIGINT (Ctrl-C) / SIGTERM, with the cameras already stored kept
and the run left unfinished for ``--resume``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="track every camera of a camera set and link people across cameras",
                       description="Writes DIR/cameras/<camera>.txt, DIR/mtmct_result.txt "
                                   "(camera,global_id,frame,x,y,w,h), DIR/tracklets.jsonl/.npz and DIR/crops/.")
    p.add_argument("config", help="camera set YAML (see configs/cameras/)")
    p.add_argument("--out", default="out/run", help="output folder (default out/run)")
    p.add_argument("--ray-address", help="join a running Ray cluster instead of starting Ray locally")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: every core); cameras beyond them "
                                             "wait for a free one. Ignored with --ray-address (the cluster's count)")
    p.add_argument("--max-frames", type=int, help="only the first N frames of each camera")
    p.add_argument("--embed-every-frame", action="store_true",
                   help="run ReID on every box of every frame (slower; the config's models.embed_every_frame), not "
                        "only where association needs it")
    p.add_argument("--realtime", action="store_true",
                   help="read every camera at its own pace, all at once (a file at its fps, as a live camera); a "
                        "camera that cannot keep up drops frames, keeping the newest, and the counts are shown and "
                        "stored")
    p.add_argument("--tracker", help="deepsort, bytetrack, ocsort, botsort or jde (its shipped preset) or a tracker "
                                     "YAML: replaces the config's tracker")
    p.add_argument("--live", action="store_true",
                   help="give global ids while the cameras work: each tracklet stored as it closes, its id --live-delay "
                        "seconds later, every id decision (merges, splits) stored as history")
    p.add_argument("--live-delay", type=float, metavar="S",
                   help="seconds after a tracklet closes before it is fused (--live; default 3)")
    p.add_argument("--live-pieces", type=float, metavar="S",
                   help="seconds of footage between the pieces of a track still open that are fused meanwhile, so "
                        "someone who stays in view gets an id (--live; default 5; 0: only closed tracks)")
    p.add_argument("--db", help="database URL (default $MTMCT_DB, else sqlite:///OUT/mtmct.db), e.g. "
                                "postgresql+psycopg://user@host/db")
    p.add_argument("--run-id", help="id of this run in the database (default: the config's name); "
                                    "re-running an id replaces it")
    p.add_argument("--gt", help="ground truth (camera,global_id,frame,x,y,w,h, e.g. mtmc_gt.txt): the summary adds "
                                "cross-camera IDF1 and who was linked, split or merged, as `mtmct eval mtmc` does")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted run (Ctrl-C, SIGTERM, a crash): skip its stored cameras; a --live run "
                        "resumes with --live and keeps the ids it gave")
    p.add_argument("--take-over", action="store_true",
                   help="write this run id even while another live `mtmct run` holds it (that run then stops and "
                        "stores nothing more); without it such a run is refused")
    p.add_argument("--redo-changed", action="store_true",
                   help="with --resume: run again the stored cameras whose source or fps the config changed "
                        "(without it such a resume is refused)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mtmct.core.camera_config import load_camera_config
    from mtmct.core.errors import MtmctError
    from mtmct.world_trajectories import WORLD_FILE

    if args.max_frames is not None and args.max_frames < 1:
        raise MtmctError(f"--max-frames must be at least 1, got {args.max_frames}")
    if args.num_cpus is not None and args.num_cpus < 1:
        raise MtmctError(f"--num-cpus must be at least 1, got {args.num_cpus}")
    if args.redo_changed and not args.resume:
        raise MtmctError("--redo-changed only goes with --resume")
    if (args.live_delay is not None or args.live_pieces is not None) and not args.live:
        raise MtmctError("--live-delay and --live-pieces only go with --live")
    if args.gt is not None and not Path(args.gt).is_file():
        raise MtmctError(f"--gt {args.gt} does not exist")
    config = load_camera_config(args.config)  # every section checked before Ray, models or the database load
    if args.tracker is not None:  # stored with the run's config, so a resume tracks the same way
        from cameras.tracker_registry import TRACKERS, preset
        from mtmct.core.config.tracker import tracker_config_file

        path = preset(args.tracker, motion_only=config.models.reid is None) if args.tracker in TRACKERS else args.tracker
        if not Path(path).is_file():
            raise MtmctError(f"--tracker {args.tracker}: not a tracker type ({', '.join(TRACKERS)}) nor a file")
        config = config.model_copy(update={"tracker": tracker_config_file(path)})
    if args.embed_every_frame:  # stored with the run's config, so a resume embeds the same way
        config = config.model_copy(update={"models": config.models.model_copy(update={"embed_every_frame": True})})

    from mtmct.pipeline import RunInterrupted, check_run_id, run_cameras

    check_run_id(config.name if args.run_id is None else args.run_id)  # before the database or Ray
    from mtmct.run_summary import camera_lines, evaluation_lines, fusion_lines
    from storage.engine import safe_url

    def interrupted(stop: RunInterrupted) -> None:
        resume = "; finish with --resume" if stop.run_id is not None else ""
        print(f"mtmct run: {stop}{resume}", file=sys.stderr, flush=True)

    try:
        result = run_cameras(config, args.out, ray_address=args.ray_address, max_frames=args.max_frames,
                             num_cpus=args.num_cpus, db=args.db, run_id=args.run_id, resume=args.resume,
                             redo_changed=args.redo_changed, take_over=args.take_over, announce=interrupted,
                             realtime=args.realtime, live=args.live, live_delay_s=args.live_delay,
                             live_piece_s=args.live_pieces)
    except RunInterrupted as stop:
        interrupted(stop)
        return stop.exit_code
    lines = camera_lines(result) + fusion_lines(result.fusion)
    if args.gt is not None:
        lines += evaluation_lines(args.gt, result.result_file)
    print("\n".join(lines))
    print(f"results: {result.result_file}")
    world = result.out_dir / WORLD_FILE
    if world.is_file():  # calibrated cameras: trajectories on the ground plane
        print(f"ground trajectories: {world}")
    print(f"database: run '{result.run_id}' in {safe_url(result.db_url)}")
    if result.failed:
        if len(result.failed) == len(result.cameras):
            raise MtmctError("every camera failed: " + "; ".join(c.error for c in result.failed))
        return 1
    return 0
