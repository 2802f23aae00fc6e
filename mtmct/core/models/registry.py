"""Named models from PaddleDetection's published archives, cached under ``MTMCT_MODEL_HOME``.

Anywhere a model is taken, either a registry name or a path to a model folder/file works
(:func:`resolve_model`). Archives are fetched once, verified (archive integrity, the files the format needs,
and the sha256 when the registry knows it) and unpacked into ``$MTMCT_MODEL_HOME/<name>``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mtmct.core.models.backend import PADDLE_MODEL_NAMES
from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)

_PIPELINE = "https://bj.bcebos.com/v1/paddledet/models/pipeline/"
_MOT = "https://paddledet.bj.bcebos.com/models/mot/"
PPDET_CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "ppdet"


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    task: str  # "detector", "reid" or "oneshot" (FairMOT / JDE: boxes and embeddings from one network)
    url: str
    description: str
    sha256: str | None = None  # not published by PaddleDetection; set when known
    config: str | None = None  # a training checkpoint (.pdparams), exported with this configs/ppdet/ file on pull


REGISTRY: dict[str, RegistryEntry] = {
    e.name: e
    for e in [
        RegistryEntry("mot_ppyoloe_l_36e_pipeline", "detector", _PIPELINE + "mot_ppyoloe_l_36e_pipeline.zip",
                      "PP-Human pedestrian detector, PP-YOLOE-L (accurate, 182 MB)"),
        RegistryEntry("mot_ppyoloe_s_36e_pipeline", "detector", _PIPELINE + "mot_ppyoloe_s_36e_pipeline.zip",
                      "PP-Human pedestrian detector, PP-YOLOE-S (light, 27 MB)"),
        RegistryEntry("picodet_s_192_lcnet_pedestrian", "detector",
                      "https://bj.bcebos.com/v1/paddledet/models/keypoint/tinypose_enhance/picodet_s_192_lcnet_pedestrian.zip",
                      "PicoDet-S 192 pedestrian detector with LCNet backbone (PP-TinyPose / PP-Tracking)"),
        RegistryEntry("reid_model", "reid", _PIPELINE + "reid_model.zip",
                      "PP-Human person ReID, PP-LCNet backbone (cross-camera tracking)"),
        RegistryEntry("fairmot_hrnetv2_w18_dlafpn_30e_576x320", "oneshot",
                      "https://bj.bcebos.com/v1/paddledet/models/mot/fairmot_hrnetv2_w18_dlafpn_30e_576x320.tar",
                      "FairMOT HRNetV2-W18, 576x320, pedestrians (PP-Tracking's light one-shot tracker)"),
        RegistryEntry("fairmot_dla34", "oneshot", _MOT + "fairmot_dla34_30e_1088x608.pdparams",
                      "FairMOT DLA-34, 1088x608, pedestrians (PaddleHub's fairmot_dla34; checkpoint, exported on pull)",
                      config="fairmot_dla34_30e_1088x608.yml"),
        RegistryEntry("jde_darknet53_30e_1088x608", "oneshot", _MOT + "jde_darknet53_30e_1088x608.pdparams",
                      "JDE DarkNet-53, 1088x608, pedestrians (PaddleHub's module of that name; checkpoint, exported "
                      "on pull)", config="jde_darknet53_30e_1088x608.yml"),
    ]
}

REQUIRED_PADDLE_FILES = (PADDLE_MODEL_NAMES, tuple(n.replace(".pdmodel", ".pdiparams") for n in PADDLE_MODEL_NAMES))


def model_home() -> Path:
    """Where pulled models live: ``$MTMCT_MODEL_HOME`` or the user's cache folder."""
    env = os.environ.get("MTMCT_MODEL_HOME")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "mtmct" / "models"


def is_cached(name: str) -> bool:
    return (model_home() / name / ".verified").exists()


def resolve_model(spec: str | Path) -> Path:
    """A path for a registry name (pulled on first use) or an existing model file/folder."""
    spec = str(spec)
    path = Path(spec).expanduser()
    if path.exists():
        return path
    if spec in REGISTRY:
        return pull(spec)
    if os.sep in spec or path.suffix:
        raise MtmctError(f"model path {spec} does not exist")
    raise MtmctError(f"unknown model '{spec}': not a file or folder, and not one of {', '.join(REGISTRY)}")


def manual_steps(entry: RegistryEntry) -> str:
    target = model_home() / entry.name
    if entry.config:
        return (f"download {entry.url} on a machine with network access, then run `mtmct models export "
                f"{PPDET_CONFIGS / entry.config} <the downloaded .pdparams> --out {target}` (or pass the exported "
                "folder's path instead of the name)")
    return (f"download {entry.url} on a machine with network access and unpack it so that {target}/ holds "
            "model.pdmodel, model.pdiparams and infer_cfg.yml (or pass the unpacked folder's path instead of the name)")


def pull(name: str, url: str | None = None, force: bool = False) -> Path:
    """Fetch, verify and unpack a registry model; returns its folder. Idempotent."""
    if name not in REGISTRY:
        raise MtmctError(f"unknown model '{name}': choose one of {', '.join(REGISTRY)}")
    entry = REGISTRY[name]
    target = model_home() / name
    if is_cached(name) and not force:
        return target
    url = url or entry.url
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
        archive = Path(tmp) / Path(url).name
        log.info("downloading %s from %s", name, url)
        try:
            _download(url, archive)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise MtmctError(f"cannot download model '{name}' ({reason}); no network? To install it by hand: "
                             + manual_steps(entry)) from exc
        if entry.sha256 and _sha256(archive) != entry.sha256:
            raise MtmctError(f"model '{name}': downloaded archive fails its sha256 check; try `mtmct models pull {name} --force`")
        if entry.config:  # a training checkpoint: export it with the config it was trained with
            from mtmct.core.models.export import export_model

            folder = export_model(PPDET_CONFIGS / entry.config, archive, Path(tmp) / "exported")
        else:
            unpacked = Path(tmp) / "unpacked"
            _unpack(archive, unpacked, name)
            folder = _model_folder(unpacked, name)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(folder), str(target))
    (target / ".verified").write_text(url + "\n")
    log.info("model %s ready in %s", name, target)
    return target


def _download(url: str, dest: Path) -> None:
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=30) as resp, open(dest, "wb") as out:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, leave=False) as bar:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _unpack(archive: Path, dest: Path, name: str) -> None:
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                bad = z.testzip()
                if bad is not None:
                    raise MtmctError(f"model '{name}': archive member {bad} is corrupt; pull again with --force")
                z.extractall(dest)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                t.extractall(dest, filter="data")
        else:
            raise MtmctError(f"model '{name}': downloaded file is not a zip or tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise MtmctError(f"model '{name}': archive is damaged ({exc}); pull again with --force") from exc


def _model_folder(root: Path, name: str) -> Path:
    """The folder inside an unpacked archive that holds the Paddle inference files."""
    for cand in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if all(any((cand / f).exists() for f in alts) for alts in REQUIRED_PADDLE_FILES):
            return cand
    raise MtmctError(f"model '{name}': archive holds no model.pdmodel + model.pdiparams")
