"""Model registry: pull from archives built here (file:// URLs, no network), failures that explain themselves, CLI."""

from __future__ import annotations

import zlib  # noqa: F401  (before paddle: see tests/conftest.py)

import zipfile
from pathlib import Path

import numpy as np
import pytest

from cameras.embedder import load_embedder
from mtmct.core.models import registry as model_registry
from mtmct.cli import main
from mtmct.core.errors import MtmctError
from mtmct.core.models.registry import REGISTRY, is_cached, pull, resolve_model


@pytest.fixture(autouse=True)
def model_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "model-home"
    monkeypatch.setenv("MTMCT_MODEL_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def reid_folder(tmp_path_factory) -> Path:
    """A real (tiny) PaddleClas-format ReID export, so the pulled model can be loaded and run."""
    import paddle
    from mtmct.core.models.export import export_reid

    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 8, 3, stride=4), paddle.nn.ReLU(), paddle.nn.AdaptiveAvgPool2D(1),
                               paddle.nn.Flatten(), paddle.nn.Linear(8, 16))
    return export_reid(tmp_path_factory.mktemp("reid") / "reid_model", network=net)


def _zip(folder: Path, archive: Path, top: str = "reid_model") -> Path:
    """Like PaddleDetection's archives: one top folder holding the model files."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"{top}/{f.name}")
    return archive


def test_pull_from_file_url_unpacks_and_verifies(tmp_path, model_home, reid_folder):
    url = _zip(reid_folder, tmp_path / "reid_model.zip").as_uri()
    assert not is_cached("reid_model")
    folder = pull("reid_model", url=url)
    assert folder == model_home / "reid_model" and is_cached("reid_model")
    assert {"inference.pdmodel", "inference.pdiparams", "inference.yml"} <= {p.name for p in folder.iterdir()}
    assert pull("reid_model", url="http://127.0.0.1:9/never-fetched.zip") == folder  # cached: no download
    assert resolve_model("reid_model") == folder
    emb = load_embedder("reid_model")  # by registry name, from the cache
    feats = emb.embed([np.full((120, 50, 3), 90, np.uint8), np.full((80, 40, 3), 200, np.uint8)])
    assert feats.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)


def test_cli_pull_and_list(tmp_path, capsys, model_home, reid_folder):
    url = _zip(reid_folder, tmp_path / "reid_model.zip").as_uri()
    assert main(["models", "pull", "reid_model", "--url", url, "--force"]) == 0
    assert capsys.readouterr().out.strip() == str(model_home / "reid_model")
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in REGISTRY:
        assert name in out
    line = next(ln for ln in out.splitlines() if ln.startswith("reid_model "))
    assert " yes " in line
    assert " no " in next(ln for ln in out.splitlines() if ln.startswith("picodet_s_192_lcnet_pedestrian "))


def _corrupt_zip(path: Path, folder: Path) -> Path:
    _zip(folder, path)
    data = bytearray(path.read_bytes())
    start = data.index(b"PreProcess")  # inside a stored member: flip bytes so its CRC fails
    data[start:start + 10] = b"XXXXXXXXXX"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("kind, message", [("crc", "is corrupt"), ("garbage", "not a zip"), ("truncated", "not a zip")])
def test_damaged_archive_raises(tmp_path, reid_folder, kind, message):
    archive = tmp_path / "reid_model.zip"
    if kind == "crc":
        _corrupt_zip(archive, reid_folder)
    elif kind == "garbage":
        archive.write_bytes(b"<html>proxy error</html>")
    else:
        _zip(reid_folder, archive)
        archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(MtmctError, match=message):
        pull("reid_model", url=archive.as_uri())
    assert not is_cached("reid_model")


def test_archive_without_model_files_raises(tmp_path):
    archive = tmp_path / "reid_model.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("reid_model/README.txt", "nothing here")
    with pytest.raises(MtmctError, match="holds no model"):
        pull("reid_model", url=archive.as_uri())
    assert not is_cached("reid_model")


def test_unreachable_url_gives_manual_steps(capsys):
    entry = REGISTRY["picodet_s_192_lcnet_pedestrian"]
    with pytest.raises(MtmctError) as info:
        pull(entry.name, url="http://127.0.0.1:9/x.zip")
    message = str(info.value)
    assert "by hand" in message and entry.url in message and "\n" not in message
    assert main(["models", "pull", entry.name, "--url", "http://127.0.0.1:9/x.zip"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mtmct models: error:") and "by hand" in err


def test_unknown_names_raise():
    with pytest.raises(MtmctError, match="unknown model"):
        resolve_model("no_such_model")
    with pytest.raises(MtmctError, match="does not exist"):
        resolve_model("some/missing/folder")
    with pytest.raises(MtmctError, match="unknown model"):
        pull("no_such_model")


def test_model_home_follows_environment(model_home):
    assert model_registry.model_home() == model_home
