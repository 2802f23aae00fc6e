"""``mtmct reid adapt RUN``: fine-tune the ReID model on a stored run's own tracklets, re-embed, re-fuse, store.

Each round: pseudo-identities from the run's tracklets (:mod:`mtmct.reid_adapt`; from round 2 on, the identities
the previous round linked across cameras also count as one person each), fine-tuning (:mod:`mtmct.reid_train`),
the run's tracklets embedded again with the new model from the cameras' sources (:mod:`cameras.reembed`) and
fusion run again with the run's own config. The last round's model is stored with the run as its next version
(:meth:`storage.repository.Repository.write_adaptation`), together with the new embeddings and global ids, in one
transaction: a failure anywhere before leaves the run as it was.

No ground truth is read. ``gt`` (a ``mtmc_gt.txt``), when given, only scores each round for the report.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mtmct.core.errors import MtmctError
from mtmct.core.tracklet import GlobalIdentity, Tracklet
from mtmct.reid_adapt import PseudoLabelRules, crops_from_run
from mtmct.reid_train import CODE_FILE, CropSet, TrainConfig, read_preprocess, train

log = logging.getLogger(__name__)

# Pseudo-labels may split one person into several tracklets, so the identity loss (which pushes every label away
# from every other) is off; the triplet loss only separates tracklets known to be different people. Measured on
# the pets09-gap2 example run (one round, BENCHMARKS.md): with identity weight 0.3 own-footage mAP 0.555 and
# cross-camera IDF1 0.595, where the triplet alone gave 0.639-0.713 and 0.639-0.842. A fixed budget of 6 x 20 steps per round (about 3.5
# minutes on 2 CPU cores) keeps the time bounded whatever the run's length; more crops per tracklet give those
# steps more variety (PseudoLabelRules).
ADAPT_TRAINING = TrainConfig(epochs=6, steps_per_epoch=20, id_weight=0.0, lr=1e-4)


@dataclass
class RoundReport:
    round: int
    tracklets: int  # pseudo-identities trained on
    crops: int
    cross_camera_links: int  # previous round's linked tracklet groups merged into one pseudo-identity
    train_s: float
    identities: int
    multi_camera: int  # identities seen by more than one camera after re-fusion
    idf1: float | None = None  # against gt, when given

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class AdaptResult:
    run_id: str
    version: int
    name: str
    start_model: str
    before: dict  # identities, multi_camera, idf1 (gt given) of the run as stored
    rounds: list[RoundReport] = field(default_factory=list)
    seconds: float = 0.0


def trainable_start(model: str | Path, work: Path) -> Path:
    """A trainable network folder for ``model``: a folder made by ``mtmct models convert`` / ``reid train`` as it
    is; an ONNX model converted into ``work``; anything else is a one-line error."""
    from mtmct.core.models.backend import detect_format
    from mtmct.core.models.registry import resolve_model
    from mtmct.reid_convert import onnx_to_paddle

    path = resolve_model(str(model))
    if path.is_dir() and (path / CODE_FILE).exists():
        return path
    kind, _ = detect_format(path)
    if kind == "onnx":
        return onnx_to_paddle(path, work / "start")
    raise MtmctError(f"ReID model {model} is a {kind} model that cannot be trained; give --init an ONNX model or a "
                     "folder from `mtmct models convert` (e.g. --init ../shared/models/osnet-x0_25-msmt17)")


def merge_linked(data: CropSet, keys: list[tuple[str, int]], identities: list[GlobalIdentity]) -> tuple[CropSet, int]:
    """One pseudo-identity per cross-camera identity of the previous round: its tracklets' labels become one, and
    what was known to differ from any of them differs from the group. A group holding two tracklets known to differ
    (fusion erred) is not merged. Returns the new set and how many groups merged."""
    index = {k: i for i, k in enumerate(keys)}
    old = data.known_different()
    label = np.arange(len(keys))
    merged = 0
    for ident in identities:
        members = sorted({index[tuple(m)] for m in ident.members if tuple(m) in index})
        if len(ident.cameras) < 2 or len(members) < 2 or old[np.ix_(members, members)].any():
            continue
        label[members] = members[0]
        merged += 1
    _, new = np.unique(label, return_inverse=True)
    different = np.zeros((int(new.max()) + 1,) * 2, bool)
    a, b = np.nonzero(old)
    different[new[a], new[b]] = True
    return CropSet(data.images, new[data.labels], data.cams, different), merged


def adapt_run(repo: Any, run_id: str, init: str | None = None, rounds: int = 1,
              config: TrainConfig = ADAPT_TRAINING, rules: PseudoLabelRules = PseudoLabelRules(),
              gt: str | Path | None = None, name: str | None = None, progress: bool = True) -> AdaptResult:
    """Adapt ``run_id``'s ReID model to its own footage (module docstring); returns what each round did."""
    from cameras.embedder import load_embedder
    from cameras.reembed import reembed_tracklets
    from fusion.fusion import fuse_report
    from fusion.topology import Topology
    from mtmct.adapted_model import materialise, pack_model
    from mtmct.world_trajectories import world_table

    if rounds not in (1, 2):
        raise MtmctError(f"--rounds must be 1 or 2, got {rounds}")
    started = time.perf_counter()
    cfg = repo.run_config(run_id)
    if cfg is None:
        raise MtmctError(f"run {run_id!r} has no config that still loads; it cannot be adapted")
    # adapting again goes on from the run's latest adapted model, which its stored embeddings come from
    versions = repo.reid_models(run_id)  # without archives: only a start from the latest one needs its archive
    stored = versions[-1] if versions else None
    start = init or (str(materialise(repo.reid_model(run_id, stored.version))) if stored is not None
                     else cfg.models.reid)
    if not start:
        raise MtmctError(f"run {run_id!r} tracked without ReID; give --init (a model to adapt)")
    tracklets = [t for t in repo.load_tracklets(run_id) if t.embedding is not None]
    if not tracklets:
        raise MtmctError(f"run {run_id!r} has no tracklets with embeddings to adapt on")
    sources = {cam.id: str(cam.source) for cam in cfg.cameras}
    fps = {cam.id: cam.fps for cam in cfg.cameras}
    topology = Topology.from_config(cfg)
    gt_rows = _read_gt(gt)
    before = _describe(repo_identities(repo, run_id, tracklets), tracklets, gt_rows)
    result = AdaptResult(run_id, 0, "", str(start), before)
    with tempfile.TemporaryDirectory(prefix="mtmct-adapt-") as tmp:
        work = Path(tmp)
        model_dir = trainable_start(start, work)
        preprocess = read_preprocess(model_dir)
        data, keys = crops_from_run(tracklets, sources, preprocess, topology, rules, fps)
        identities: list[GlobalIdentity] = []
        report = None
        for r in range(1, rounds + 1):
            round_data, merged = merge_linked(data, keys, identities) if r > 1 else (data, 0)
            t0 = time.perf_counter()
            out = work / f"round{r}"
            train(model_dir, round_data, out, config,
                  about={"adapted_from": str(start), "run": run_id, "round": r,
                         "pseudo_identities": round_data.num_labels, "crops": len(round_data.labels)})
            train_s = time.perf_counter() - t0
            embedder = load_embedder(out, cfg.models.device)
            for camera in sorted({t.camera_id for t in tracklets}):
                group = [t for t in tracklets if t.camera_id == camera]
                new = reembed_tracklets(group, sources[camera], embedder, fps[camera],
                                        cfg.tracklets.min_height, progress)
                for t in group:
                    t.embedding = new[t.key]
            identities, report = fuse_report(tracklets, topology, cfg.fusion)
            row = RoundReport(r, round_data.num_labels, len(round_data.labels), merged, round(train_s, 1),
                              **_describe(identities, tracklets, gt_rows))
            result.rounds.append(row)
            log.info("round %d: %s", r, row.as_dict())
            model_dir = out
        base = stored.name.split("-adapted-")[0] if stored is not None and init is None else Path(str(start)).name
        version = stored.version + 1 if stored is not None else 1  # what write_adaptation numbers it (one writer)
        result.name = name or f"{base}-adapted-{run_id.replace('/', '-')}-v{version}"
        world = world_table(tracklets, clock_offsets=report.clock_offsets)
        summary = {"start_model": str(start), "before": before, "rounds": [r.as_dict() for r in result.rounds],
                   "train": config.__dict__, "rules": rules.__dict__, "seconds": round(time.perf_counter() - started, 1)}
        result.version = repo.write_adaptation(run_id, result.name, pack_model(model_dir), summary,
                                               {t.key: t.embedding for t in tracklets}, identities, report, world)
    result.seconds = time.perf_counter() - started
    return result


def repo_identities(repo: Any, run_id: str, tracklets: list[Tracklet]) -> list[GlobalIdentity]:
    """The run's stored global ids as identities (from its tracklets' global ids)."""
    groups: dict[int, list[tuple[str, int]]] = {}
    for t in tracklets:
        if t.global_id is not None:
            groups.setdefault(int(t.global_id), []).append(t.key)
    return [GlobalIdentity(g, members) for g, members in sorted(groups.items())]


def _read_gt(gt: str | Path | None) -> list | None:
    if gt is None:
        return None
    from mtmct.eval_mtmc import read_mtmc

    return read_mtmc(gt)


def _describe(identities: list[GlobalIdentity], tracklets: list[Tracklet], gt_rows: list | None) -> dict:
    gid = {m: ident.global_id for ident in identities for m in ident.members}
    out: dict = {"identities": len(identities), "multi_camera": sum(1 for i in identities if len(i.cameras) > 1)}
    if gt_rows is not None:
        from mtmct.eval_mtmc import evaluate_mtmc

        pred = [(t.camera_id, gid.get(t.key, -1), int(f), *map(float, box))
                for t in tracklets for f, box in zip(t.frames, t.boxes)]
        out["idf1"] = round(float(evaluate_mtmc(gt_rows, pred)["idf1"]), 4)
    return out
