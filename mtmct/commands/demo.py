"""`mtmct demo`: the main job on the example footage (what `make demo` runs).

Runs the multi-camera pipeline on the two camera sets shipped in configs/cameras/, whose footage and models
live in ../shared beside the checkout, scores the one with ground truth, and says where everything went.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from mtmct.core.errors import MtmctError

ROOT = Path(__file__).resolve().parents[2]
DEMOS = {  # config -> ground truth (relative to the config's folder) or None
    "pets09-overlap": "../../../shared/data/mtmc-pets09-overlap/mtmc_gt.txt",
    "tud-campus-gap2": "../../../shared/data/mtmc-tud-campus-gap2/mtmc_gt.txt",  # cameras that do not overlap
    "epfl-lab-2cam": None,
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the multi-camera job on the example footage in ../shared")
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--max-frames", type=int, help="only the first N frames of each camera (a quick look)")
    p.set_defaults(run=run)


def command_name() -> str:
    """How the user can type this program from where they are: ``mtmct`` when the shell finds this very script
    on PATH (an activated venv), else its path (``.venv/bin/mtmct`` from the checkout), since ``make demo`` does
    not activate the venv and a bare ``mtmct`` would be "command not found"."""
    script = Path(sys.executable).with_name("mtmct")
    on_path = shutil.which("mtmct")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "mtmct"
    try:
        relative = os.path.relpath(script, Path.cwd())
    except ValueError:  # another drive (Windows)
        return str(script)
    return str(script) if relative.startswith("..") else relative


def _check_inputs(config) -> None:
    """Name the first missing file with the fix, before any work starts."""
    paths = [cam.source for cam in config.cameras] + [config.models.detector, config.models.reid]
    for path in paths:
        if path and ("/" in str(path)) and not Path(path).exists():
            raise MtmctError(f"example input {path} is missing: put the project's shared/ folder (models/ and data/) "
                             f"beside the checkout, i.e. at {ROOT.parent / 'shared'}")


def run(args: argparse.Namespace) -> int:
    from mtmct.core.camera_config import load_camera_config
    from mtmct.pipeline import RunInterrupted, run_cameras
    from mtmct.run_summary import camera_lines, evaluation_lines, fusion_lines
    from storage.engine import safe_url

    mtmct = command_name()
    configs = {name: ROOT / "configs" / "cameras" / f"{name}.yaml" for name in DEMOS}
    loaded = {name: load_camera_config(path) for name, path in configs.items()}
    for cfg in loaded.values():
        _check_inputs(cfg)

    def interrupted(stop: RunInterrupted) -> None:
        print(f"mtmct demo: {stop}", file=sys.stderr, flush=True)

    for name, cfg in loaded.items():
        out = Path(args.out) / name
        print(f"== {name}: {len(cfg.cameras)} cameras ({', '.join(c.id for c in cfg.cameras)})")
        try:
            result = run_cameras(cfg, out, max_frames=args.max_frames, announce=interrupted)
        except RunInterrupted as stop:  # Ctrl-C / SIGTERM: one line and the shell's code (130 / 143), as `run`
            interrupted(stop)
            return stop.exit_code
        lines = camera_lines(result) + fusion_lines(result.fusion)
        if DEMOS[name] and not args.max_frames:
            lines += evaluation_lines((configs[name].parent / DEMOS[name]).resolve(), result.result_file)
        print("\n".join(f"   {line}" for line in lines))
        print(f"   outputs in {out.resolve()}:")
        print("     mtmct_result.txt (camera,global_id,frame,x,y,w,h), cameras/<camera>.txt (MOT, local ids),")
        print("     tracklets.jsonl + tracklets.npz (embeddings), crops/ (JPEG crops per tracklet)")
        print(f"   database: {safe_url(result.db_url)} (run '{result.run_id}')")
        print(f"     browse it: {mtmct} serve --db {safe_url(result.db_url)}")
    return 0
