"""`mtmct config check FILE... | schema [--out FILE]`: validate camera sets, print the format's JSON Schema."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="check camera-set YAML files, print the format's JSON Schema",
                       description="The camera-set format: mtmct/core/camera_config.py REFERENCE; each key's "
                                   "trade-off is in the schema's descriptions.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="load and validate camera-set files as `mtmct run` would, run nothing",
                               description="Exit 0 and one line per file when every file is valid; otherwise "
                                           "the first problem on one line (file and key) and exit 2.")
    check.add_argument("files", nargs="+", help="camera set YAML files")
    check.set_defaults(run=run_check)
    schema = actions.add_parser("schema", help="print the JSON Schema of the camera-set format")
    schema.add_argument("--out", help="write it to this file instead of stdout")
    schema.set_defaults(run=run_schema)


def run_check(args: argparse.Namespace) -> int:
    from mtmct.core.camera_config import load_camera_config

    for path in args.files:
        cfg = load_camera_config(path)
        tracker = "shipped tracker preset" if cfg.tracker is None else "tracker checked"
        print(f"{path}: OK ({len(cfg.cameras)} cameras, {len(cfg.topology.links)} links, {tracker})")
    return 0


def schema_text() -> str:
    """The JSON Schema as written to stdout or ``--out`` (and checked in as configs/cameras/schema.json)."""
    import json

    from mtmct.core.camera_config import schema

    return json.dumps(schema(), indent=2) + "\n"


def run_schema(args: argparse.Namespace) -> int:
    from pathlib import Path

    text = schema_text()
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text, end="")
    return 0
