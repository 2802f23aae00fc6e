"""`mtmct models list | pull NAME [--force] | export CONFIG WEIGHTS --out DIR | convert SRC --out DIR`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, pull and export models",
                       description="Manage the model cache ($MTMCT_MODEL_HOME) and export trained checkpoints.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    actions.add_parser("list", help="show registry models and whether they are cached").set_defaults(run=run_list)

    pull = actions.add_parser("pull", help="download, verify and unpack a registry model")
    pull.add_argument("name", help="registry name (see `mtmct models list`)")
    pull.add_argument("--force", action="store_true", help="fetch again even when cached")
    pull.add_argument("--url", default=None, help="fetch from this URL (a mirror, or file:// of a downloaded archive)")
    pull.set_defaults(run=run_pull)

    export = actions.add_parser("export", help="export a PaddleDetection checkpoint for inference",
                                description="Writes DIR/model.pdmodel, model.pdiparams and infer_cfg.yml (NMS inside).")
    export.add_argument("config", help="PaddleDetection config the checkpoint was trained with (.yml)")
    export.add_argument("weights", help="trained checkpoint (.pdparams)")
    export.add_argument("--out", required=True, help="output folder")
    export.set_defaults(run=run_export)

    convert = actions.add_parser("convert", help="convert an ONNX ReID model into a trainable Paddle model",
                                 description="x2paddle translation into DIR: x2paddle_code.py + model.pdparams "
                                             "(trainable network) and model.pdmodel + model.pdiparams (Paddle "
                                             "Inference; usable as models.reid: DIR).")
    convert.add_argument("src", help="ONNX model: a .onnx file or a folder holding one")
    convert.add_argument("--out", required=True, help="output folder")
    convert.set_defaults(run=run_convert)


def run_list(args: argparse.Namespace) -> int:
    from mtmct.core.models.registry import REGISTRY, is_cached, model_home

    rows = [(e.name, e.task, "yes" if is_cached(e.name) else "no", e.description) for e in REGISTRY.values()]
    header = ("NAME", "TASK", "CACHED", "DESCRIPTION")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])
    print(f"cache: {model_home()}")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from mtmct.core.models.registry import pull

    print(pull(args.name, url=args.url, force=args.force))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from mtmct.core.models.export import export_model

    print(export_model(args.config, args.weights, args.out))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from mtmct.reid_convert import onnx_to_paddle

    print(f"converting {args.src} with x2paddle ...", flush=True)
    out = onnx_to_paddle(args.src, args.out)
    print(f"trainable network: {out}/x2paddle_code.py + model.pdparams (mtmct.reid_convert.load_trainable)")
    print(f"inference model:   {out}/model.pdmodel + model.pdiparams (use as models.reid: {out})")
    return 0
