"""`mtmct reid train --data DIR --out DIR [--init MODEL] | adapt RUN [--init MODEL] | models RUN`."""

from __future__ import annotations

import argparse
import json
import os


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reid", help="train a ReID model, or adapt one to a run's own footage",
                       description="Metric-learning training (identity + batch-hard triplet) in Paddle.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    tr = actions.add_parser("train", help="train on Market-1501-style folders (e.g. from `mtmct dataset reid-from-mot`)",
                            description="Writes OUT as a model folder: trainable (x2paddle_code.py + model.pdparams), "
                                        "Paddle Inference (model.pdmodel: use as models.reid: OUT), onnx/model.onnx, "
                                        "mtmct.yaml (preprocessing, history) and checkpoints/last.pdparams.")
    tr.add_argument("--data", required=True,
                    help="a Market-1501 root (bounding_box_train/, query/, bounding_box_test/) or a folder of "
                         "Market-named crops; from a single folder every 5th identity is held out for evaluation")
    tr.add_argument("--out", required=True, help="output model folder")
    tr.add_argument("--init", help="model to start from: an ONNX model (converted first), or a folder from "
                                   "`mtmct models convert` / an earlier `mtmct reid train`")
    tr.add_argument("--query", help="query folder to score each epoch (with --gallery)")
    tr.add_argument("--gallery", help="gallery folder to score each epoch (with --query)")
    _training_args(tr, epochs=10, id_weight=1.0)
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pdparams")
    tr.set_defaults(run=run_train)

    ad = actions.add_parser("adapt", help="fine-tune on a finished run's own tracklets (no labels), re-fuse, store",
                            description="Pseudo-identities from the run's tracklets (one per tracklet; tracklets "
                                        "seen together in one camera are different people), fine-tuning, the run "
                                        "embedded again and fused again; the adapted model is stored with the run "
                                        "(next version) and `mtmct query` and the dashboard use it.")
    ad.add_argument("run_id", metavar="RUN", help="run id in the database")
    ad.add_argument("--db", help="database URL (default $MTMCT_DB)")
    ad.add_argument("--init", help="model to start from (default: the run's ReID model, if trainable or ONNX)")
    ad.add_argument("--rounds", type=int, default=2, choices=(1, 2),
                    help="2: train again with the first round's cross-camera links as one person each (default)")
    ad.add_argument("--name", help="name of the adapted model (default: <model>-adapted-<run>-v<N>)")
    ad.add_argument("--gt", help="mtmc_gt.txt: also score each round's cross-camera IDF1 (never used to train)")
    _training_args(ad, epochs=None, id_weight=None)
    ad.add_argument("--json", action="store_true", help="print the report as JSON")
    ad.set_defaults(run=run_adapt)

    ls = actions.add_parser("models", help="list a run's adapted ReID models")
    ls.add_argument("run_id", metavar="RUN")
    ls.add_argument("--db", help="database URL (default $MTMCT_DB)")
    ls.set_defaults(run=run_models)


def _training_args(p: argparse.ArgumentParser, epochs: int | None, id_weight: float | None) -> None:
    """Options of :class:`mtmct.reid_train.TrainConfig`; None defaults leave the command's own preset."""
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the crops")
    p.add_argument("--steps-per-epoch", type=int,
                   help="batches per epoch (train default: one pass over the crops; adapt default: 20)")
    p.add_argument("--lr", type=float, help="peak learning rate (Adam, cosine decay; default 1e-4)")
    p.add_argument("--ids-per-batch", type=int, help="P identities per batch (default 8)")
    p.add_argument("--crops-per-id", type=int, help="K crops per identity (default 4)")
    p.add_argument("--id-weight", type=float, default=id_weight,
                   help="weight of the identity-classification loss beside the triplet loss")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--device", default="cpu", choices=("cpu", "gpu"), help="train on cpu or gpu (paddlepaddle-gpu)")


def _config(args: argparse.Namespace, base: object) -> object:
    from dataclasses import replace

    values = {"epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch, "lr": args.lr, "ids_per_batch": args.ids_per_batch,
              "crops_per_id": args.crops_per_id, "id_weight": args.id_weight, "seed": args.seed,
              "device": args.device}
    return replace(base, **{k: v for k, v in values.items() if v is not None})


def _db(args: argparse.Namespace) -> str:
    from mtmct.core.errors import MtmctError

    url = args.db or os.environ.get("MTMCT_DB")
    if not url:
        raise MtmctError("no database: pass --db URL or set $MTMCT_DB")
    return url


def run_train(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from mtmct.core.errors import MtmctError
    from mtmct.eval_reid import evaluate_sets
    from mtmct.reid_folders import load_crops, read_train_folders
    from mtmct.reid_train import CODE_FILE, TrainConfig, read_preprocess, train
    from mtmct.run_adaptation import trainable_start

    out = Path(args.out)
    config = _config(args, TrainConfig())
    folders = read_train_folders(args.data, args.query, args.gallery)
    with tempfile.TemporaryDirectory(prefix="mtmct-train-") as tmp:
        if args.resume:
            start = out
            if not (out / CODE_FILE).exists():
                raise MtmctError(f"--resume: {out} holds no network from an earlier `mtmct reid train`")
        elif args.init:
            start = trainable_start(args.init, Path(tmp))
        else:
            raise MtmctError("give --init: the model to start from (an ONNX ReID model, or a folder from "
                             "`mtmct models convert`)")
        preprocess = read_preprocess(start)
        data = load_crops(folders.train, preprocess)
        evaluate = None
        if folders.query is not None:
            def evaluate(embedder):  # noqa: ANN001, ANN202
                return evaluate_sets(folders.query, folders.gallery, embedder)
        print(f"training on {len(data.labels)} crops of {data.num_labels} identities from {folders.train.folder}"
              + (f"; scoring {len(folders.query.paths)} queries each epoch" if evaluate else ""), flush=True)
        result = train(start, data, out, config, evaluate=evaluate, resume=args.resume,
                       about={"init": str(args.init or out), "data": str(args.data)})
    for row in result.history:
        scores = f"  rank-1 {row['rank1']:.3f}  mAP {row['map']:.3f}" if "rank1" in row else ""
        loss = f"  loss {row['loss']:.3f}" if "loss" in row else "  (start)"
        print(f"epoch {row['epoch']:>3}{loss}{scores}")
    print(f"model: {out} (models.reid: {out}); ONNX: {out}/onnx/model.onnx; {result.seconds:.0f} s")
    return 0


def run_adapt(args: argparse.Namespace) -> int:
    from mtmct.run_adaptation import ADAPT_TRAINING, adapt_run
    from storage.migrate import open_database
    from storage.repository import Repository

    repo = Repository(open_database(_db(args)))
    config = _config(args, ADAPT_TRAINING)
    with repo.hold(args.run_id):
        result = adapt_run(repo, args.run_id, init=args.init, rounds=args.rounds, config=config, gt=args.gt,
                           name=args.name)
    if args.json:
        print(json.dumps({"run": result.run_id, "version": result.version, "name": result.name,
                          "start_model": result.start_model, "before": result.before,
                          "rounds": [r.as_dict() for r in result.rounds], "seconds": round(result.seconds, 1)}))
        return 0
    idf1 = lambda d: f", cross-camera IDF1 {d['idf1']:.3f}" if "idf1" in d else ""  # noqa: E731
    b = result.before
    print(f"before: {b['identities']} global ids, {b['multi_camera']} in more than one camera{idf1(b)}")
    for r in result.rounds:
        d = r.as_dict()
        print(f"round {r.round}: trained on {r.crops} crops of {r.tracklets} pseudo-identities "
              f"({r.cross_camera_links} cross-camera groups merged) in {r.train_s:.0f} s; "
              f"{r.identities} global ids, {r.multi_camera} in more than one camera{idf1(d)}")
    print(f"stored as {result.name} (version {result.version} of run '{result.run_id}'); "
          f"{result.seconds:.0f} s in all")
    return 0


def run_models(args: argparse.Namespace) -> int:
    from storage.migrate import open_database
    from storage.repository import Repository

    repo = Repository(open_database(_db(args)))
    models = repo.reid_models(args.run_id)
    if not models:
        print(f"run '{args.run_id}' has no adapted ReID model")
        return 0
    for m in models:
        rounds = m.report.get("rounds", [])
        last = rounds[-1] if rounds else {}
        print(f"v{m.version}  {m.name}  {m.created_at:%Y-%m-%d %H:%M}  from {m.report.get('start_model', '?')}  "
              f"{last.get('multi_camera', '?')} cross-camera ids  sha256 {m.sha256[:12]}")
    return 0
