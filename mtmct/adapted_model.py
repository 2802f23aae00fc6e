"""A run's adapted ReID model (``mtmct reid adapt``) between its folder on disk and the database.

The model is stored with its run (:meth:`storage.Repository.write_adaptation`) as a .tar.gz of its folder
(:func:`pack_model`), so a run, its embeddings and the model that made them are kept, copied and deleted together.
To embed with it, a process unpacks it once into ``$MTMCT_MODEL_HOME/adapted/<sha256>`` (:func:`materialise`).
The folder is named by the archive's digest: runs adapted to the same bytes share it, a new version never meets a
stale folder, and nothing needs invalidating. Unpacking goes to a temporary folder beside it, renamed into place,
so a folder under that name is always complete, whichever of two racing processes put it there.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from mtmct.core.errors import MtmctError
from mtmct.core.models.registry import model_home
from storage.repository import StoredReidModel

log = logging.getLogger(__name__)

SKIPPED = ("checkpoints",)  # top-level folders not packed: training state, not the inference model


def adapted_folder(sha256: str) -> Path:
    """Where the adapted model whose archive has digest ``sha256`` is (or will be) unpacked."""
    return model_home() / "adapted" / sha256


def pack_model(folder: str | os.PathLike[str]) -> bytes:
    """The model ``folder`` as .tar.gz bytes: its regular files (symlinks to files by their content) under their
    paths relative to it, in sorted order, with zeroed times, owners and modes, so an equal folder packs to equal
    bytes (and one digest). Hidden entries (``.verified``, ``.git``) and ``checkpoints/`` are left out."""
    root = Path(folder)
    if not root.is_dir():
        raise MtmctError(f"model folder {root} does not exist or is not a folder")
    files: list[tuple[str, Path]] = []
    for here, dirs, names in os.walk(root):
        rel = Path(here).relative_to(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (rel == Path(".") and d in SKIPPED))
        files += [((rel / n).as_posix(), Path(here) / n) for n in names
                  if not n.startswith(".") and (Path(here) / n).is_file()]
    if not files:
        raise MtmctError(f"model folder {root} holds no files to pack")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in sorted(files):
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def materialise(stored: StoredReidModel) -> Path:
    """The folder of ``stored`` (a model with its archive, :meth:`storage.Repository.reid_model`), unpacked into
    :func:`adapted_folder` unless it is there already. The archive is checked first: its sha256 must be the stored
    one, and every member a file or folder inside the target (no absolute path, no ``..``, no link); else
    MtmctError and nothing is unpacked."""
    what = f"run {stored.run_id!r} adapted ReID model version {stored.version} ({stored.name})"
    digest = hashlib.sha256(stored.archive).hexdigest()
    if digest != stored.sha256:
        detail = "was listed without its archive" if not stored.archive else f"archive has sha256 {digest[:12]}..."
        raise MtmctError(f"{what}: {detail}, not the stored {stored.sha256[:12]}...; adapt the run again")
    target = adapted_folder(stored.sha256)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{stored.sha256[:12]}-"))
    try:
        try:
            with tarfile.open(fileobj=io.BytesIO(stored.archive), mode="r:gz") as tar:
                members = tar.getmembers()
                bad = next((m.name for m in members if not _safe(m)), None)
                if bad is not None:
                    raise MtmctError(f"{what}: archive member {bad!r} is not a plain file inside the model folder")
                tar.extractall(tmp, filter="data")  # the same rules again, by the standard library
        except (tarfile.TarError, EOFError, OSError) as error:  # gzip.BadGzipFile is an OSError
            raise MtmctError(f"{what}: archive is damaged ({error}); adapt the run again") from error
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide it from other users of a shared model home
        try:
            os.rename(tmp, target)  # atomic; refused when the folder is there (non-empty): another process won
        except OSError:
            if not target.is_dir():
                raise
        else:
            log.info("%s unpacked into %s", what, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _safe(member: tarfile.TarInfo) -> bool:
    path = PurePosixPath(member.name)
    return (member.isfile() or member.isdir()) and not path.is_absolute() and ".." not in path.parts
