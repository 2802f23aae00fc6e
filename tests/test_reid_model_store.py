"""Adapted ReID models kept with their run (revision 0006): stored, versioned and dropped with the run's rows on both
engines; packed and unpacked byte for byte; and the query embeds an adapted run's photos with the adapted model.

No Ray, no video, no model inference: tiny runs through the Repository API, hand-made tracklets (test_storage's)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from mtmct.adapted_model import adapted_folder, materialise, pack_model
from mtmct.core.errors import MtmctError
from mtmct.core.fusion_report import FusionReport, Threshold
from mtmct.core.tracklet import GlobalIdentity
from mtmct.query_service import select_runs
from storage import Repository, open_database
from storage.repository import StoredReidModel
from storage.schema import Identity, ReidModel
from test_storage import downgrade_drops, empty_url, make_tracklets, migrate, store_old_run  # noqa: F401 (empty_url: a fixture)

CONFIG = ("name: test\nmodels: {reid: reid_model, detector: picodet_s_192_lcnet_pedestrian}\n"
          "cameras: [{id: c1, source: /nowhere/c1.mp4}, {id: c2, source: /nowhere/c2.mp4}]\n")
IDS = [GlobalIdentity(1, [("c1", 1), ("c2", 2)]), GlobalIdentity(2, [("c1", 3)])]


@pytest.fixture
def repo(db_url):
    db = open_database(db_url)
    yield Repository(db)
    db.close()


@pytest.fixture
def model_home(monkeypatch, tmp_path) -> Path:
    home = tmp_path / "models"
    monkeypatch.setenv("MTMCT_MODEL_HOME", str(home))
    return home


def store_run(repo: Repository, run_id: str, seed: int = 0) -> None:
    """A fused run of cameras c1 and c2, six tracklets each (the last of each without an embedding)."""
    repo.start_run(run_id, CONFIG, "test", ["c1", "c2"])
    for i, camera in enumerate(("c1", "c2")):
        repo.write_camera(run_id, camera, None, make_tracklets(camera, seed=seed + i))
    repo.write_identities(run_id, IDS)
    repo.finish_run(run_id)


def new_embeddings(repo: Repository, run_id: str, seed: int, dim: int = 256) -> dict[tuple[str, int], np.ndarray]:
    """One unit vector for every tracklet of the run (those stored without one too)."""
    rng = np.random.default_rng(seed)
    out = {}
    for span in repo.tracklet_spans(run_id):
        v = rng.standard_normal(dim)
        out[(span.camera_id, span.track_id)] = v / np.linalg.norm(v)  # float64: stored as float32
    return out


def adapt(repo: Repository, run_id: str, archive: bytes = b"model v1", seed: int = 1, identities=IDS,
          **kwargs) -> int:
    return repo.write_adaptation(run_id, "osnet-x0_25-msmt17-adapted", archive, {"pairs": 12, "seed": seed},
                                 new_embeddings(repo, run_id, seed), identities, **kwargs)


def state(repo: Repository, run_id: str) -> dict:
    """What an adaptation may change: embeddings (bytes), global ids, identities, report, world points, models."""
    emb = repo.load_embeddings(run_id)
    with repo.db.read() as conn:
        identities = conn.execute(select(*Identity.__table__.c).where(Identity.run_id == run_id)
                                  .order_by(Identity.global_id)).all()
    return {"embeddings": {k: row.tobytes() for k, row in zip(emb.keys, emb.matrix)},
            "ids": [(s.camera_id, s.track_id, s.global_id) for s in repo.tracklet_spans(run_id)],
            "identities": [tuple(row) for row in identities], "report": repo.fusion_report(run_id),
            "world": [w.samples.tolist() for w in repo.world_trajectories(run_id)], "models": repo.reid_models(run_id)}


# ---- storage ---------------------------------------------------------------------------------------------------


def test_versions_count_up_and_read_back_latest_or_given(repo):
    store_run(repo, "r1")
    store_run(repo, "r2", seed=5)
    before = datetime.now(timezone.utc)
    assert repo.reid_model("r1") is None and repo.reid_models("r1") == []
    assert adapt(repo, "r1", b"first archive", seed=1) == 1
    assert adapt(repo, "r1", b"second archive", seed=2) == 2
    assert adapt(repo, "r2", b"r2's archive") == 1  # versions count per run

    latest, first = repo.reid_model("r1"), repo.reid_model("r1", version=1)
    assert (latest.version, latest.archive, latest.sha256) == (
        2, b"second archive", hashlib.sha256(b"second archive").hexdigest())
    assert (first.version, first.archive, first.report) == (1, b"first archive", {"pairs": 12, "seed": 1})
    assert first.name == "osnet-x0_25-msmt17-adapted" and first.run_id == "r1"
    assert before <= first.created_at <= latest.created_at <= datetime.now(timezone.utc)  # aware, UTC
    assert repo.reid_model("r1", version=3) is None
    listed = repo.reid_models("r1")
    assert [(m.version, m.archive, m.sha256) for m in listed] == [(1, b"", first.sha256), (2, b"", latest.sha256)]
    assert listed[1].report == {"pairs": 12, "seed": 2}
    assert {r: m.version for r, m in repo.latest_reid_models().items()} == {"r1": 2, "r2": 1}
    assert repo.reid_model("r2").archive == b"r2's archive"
    with pytest.raises(MtmctError, match="unknown run id 'nope'"):
        repo.reid_model("nope")


def test_an_adaptation_replaces_embeddings_and_ids(repo):
    store_run(repo, "r1")
    store_run(repo, "r2", seed=5)
    other = state(repo, "r2")
    new = new_embeddings(repo, "r1", seed=3)
    report = FusionReport(thresholds=(Threshold("similarity", 0.61, "adapted"),), identities=2)
    world = (np.array([[3, 7, 0.25, -1.5], [4, 7, 0.5, -1.25]]), np.array([0.2, 0.3]))
    version = repo.write_adaptation("r1", "adapted", b"tgz", {"mAP": np.float32(0.5), "n": np.int64(3)}, new,
                                    [GlobalIdentity(7, [("c1", 1), ("c1", 2), ("c2", 1)]),
                                     GlobalIdentity(8, [("c2", 6)])], report, world)
    assert version == 1
    got = {(t.camera_id, t.track_id): t.embedding for t in repo.load_tracklets("r1")}
    assert got.keys() == new.keys()
    for key, vec in new.items():  # encoded as the tracklets' own: float32, bit for bit
        assert got[key].dtype == np.float32 and got[key].tobytes() == vec.astype(np.float32).tobytes(), key
    assert len(repo.load_embeddings("r1")) == 12  # the two stored without an embedding have one now
    ids = {(s.camera_id, s.track_id): s.global_id for s in repo.tracklet_spans("r1")}
    assert {k for k, g in ids.items() if g == 7} == {("c1", 1), ("c1", 2), ("c2", 1)}
    assert {k for k, g in ids.items() if g == 8} == {("c2", 6)}
    assert sum(g is not None for g in ids.values()) == 4  # the old ids 1 and 2 are gone
    assert repo.get_identity("r1", 7).n_cameras == 2 and [r.identities for r in repo.list_runs("r1")] == [2]
    with pytest.raises(MtmctError, match="unknown global id 1"):
        repo.get_identity("r1", 1)
    assert repo.fusion_report("r1") == report
    assert [w.samples.tolist() for w in repo.world_trajectories("r1")] == [[[0.2, 0.25, -1.5], [0.3, 0.5, -1.25]]]
    assert repo.reid_model("r1").report == {"mAP": 0.5, "n": 3}
    assert state(repo, "r2") == other  # one run's adaptation is not another's


def _unknown_key(repo):
    new = new_embeddings(repo, "r1", seed=4)
    new[("c9", 1)] = new[("c1", 1)]
    return dict(embeddings=new), MtmctError, r"no tracklet \('c9', 1\)"


def _left_out(repo):
    new = new_embeddings(repo, "r1", seed=4)
    del new[("c2", 3)]
    return dict(embeddings=new), MtmctError, r"tracklet \('c2', 3\) .* none from the adapted model"


def _duplicate_id(repo):  # fails midway: after the embeddings are updated, when the identities are inserted
    return (dict(identities=[GlobalIdentity(5, [("c1", 1)]), GlobalIdentity(5, [("c1", 2)])]), Exception,
            "(?i)unique|duplicate")


def _bad_report(repo):
    return dict(report={"loss": float("nan")}), ValueError, "not JSON-ready"


def _two_sizes(repo):
    new = new_embeddings(repo, "r1", seed=4)
    new[("c1", 1)] = np.ones(128) / np.sqrt(128)
    return dict(embeddings=new), ValueError, r"different sizes \[128, 256\]"


@pytest.mark.parametrize("case", [_unknown_key, _left_out, _duplicate_id, _bad_report, _two_sizes])
def test_a_failed_adaptation_changes_nothing(repo, case):
    store_run(repo, "r1")
    adapt(repo, "r1", b"v1", seed=1)
    before = state(repo, "r1")
    kwargs, error, match = case(repo)
    args = dict(run_id="r1", name="v2", archive=b"v2", report={"ok": True},
                embeddings=new_embeddings(repo, "r1", seed=4), identities=[GlobalIdentity(9, [("c1", 1)])],
                fusion_report=FusionReport(identities=1))
    with pytest.raises(error, match=match):
        repo.write_adaptation(**{**args, **kwargs})
    assert state(repo, "r1") == before
    assert repo.reid_model("r1").archive == b"v1"
    assert repo.write_adaptation(**args) == 2  # the same call without the fault goes through


def test_rerunning_the_run_id_drops_its_models_and_a_mixed_resume_is_refused(repo):
    store_run(repo, "r1")
    store_run(repo, "r2", seed=5)
    adapt(repo, "r1", b"r1 v1")
    adapt(repo, "r1", b"r1 v2")
    adapt(repo, "r2", b"r2 v1")
    adapted = state(repo, "r1")["embeddings"]
    # a resume that runs c2 again would put the config model's embeddings beside the adapted model's
    with pytest.raises(MtmctError, match=r"run 'r1' was adapted \(ReID model version 2\).*cameras c2"):
        repo.start_run("r1", CONFIG, "test", ["c1", "c2"], resume=True, redo=["c2"])
    assert repo.run_status("r1") == "finished" and repo.stored_cameras("r1") == ["c1", "c2"]
    # a resume that runs no camera again (fusion only) keeps the adapted embeddings, so it keeps their model
    assert repo.start_run("r1", CONFIG, "test", ["c1", "c2"], resume=True) == ["c1", "c2"]
    assert [m.version for m in repo.reid_models("r1")] == [1, 2] and state(repo, "r1")["embeddings"] == adapted
    store_run(repo, "r1", seed=9)  # the same id run again: new tracklets, not the adapted model's
    assert repo.reid_model("r1") is None and repo.reid_models("r1") == []
    with repo.db.read() as conn:
        assert conn.execute(select(ReidModel.run_id, func.count()).group_by(ReidModel.run_id)).all() == [("r2", 1)]
    assert adapt(repo, "r1", b"r1 again") == 1  # numbering starts over with the new run


def test_fingerprint_changes_with_each_adaptation(repo):
    store_run(repo, "r1")
    store_run(repo, "r2", seed=5)
    both, r2 = repo.fingerprint(["r1", "r2"]), repo.fingerprint(["r2"])
    adapt(repo, "r1", b"v1")  # the same ids (same lowest/highest): only the model version tells
    once = repo.fingerprint(["r1", "r2"])
    adapt(repo, "r1", b"v2")
    assert len({both, once, repo.fingerprint(["r1", "r2"])}) == 3
    assert repo.fingerprint(["r2"]) == r2
    assert repo.fingerprint(["r1"]) == repo.fingerprint(["r1"])  # stable while nothing changes


# ---- pack and unpack ---------------------------------------------------------------------------------------------


def model_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    files = {"model.pdmodel": rng.bytes(5000), "model.pdiparams": rng.bytes(300_000), "mtmct.yaml": b"reid: {}\n",
             "sub/extra.txt": b"kept\n", "checkpoints/epoch_3.pdparams": b"training state",
             ".verified": b"hidden", ".git/HEAD": b"hidden", "sub/.cache": b"hidden"}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def stored(archive: bytes, sha256: str | None = None, version: int = 1) -> StoredReidModel:
    return StoredReidModel("r1", version, "adapted", sha256 or hashlib.sha256(archive).hexdigest(),
                           datetime.now(timezone.utc), {}, archive)


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_pack_and_materialise_round_trip_byte_for_byte(tmp_path, model_home):
    folder = model_folder(tmp_path / "adapted-model")
    archive = pack_model(folder)
    (folder / "mtmct.yaml").touch()  # a newer mtime: the same bytes pack the same
    assert pack_model(folder) == archive
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.getnames() == ["model.pdiparams", "model.pdmodel", "mtmct.yaml", "sub/extra.txt"]
    model = stored(archive)
    out = materialise(model)
    assert out == model_home / "adapted" / model.sha256 == adapted_folder(model.sha256)
    expected = {k: v for k, v in files_under(folder).items()
                if not k.startswith(("checkpoints/", ".")) and "/." not in k}
    assert files_under(out) == expected and len(expected) == 4
    (out / "marker").write_bytes(b"")  # there already: not unpacked again
    assert materialise(model) == out and (out / "marker").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == [model.sha256]  # no temporary folder left
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    (tmp_path / "empty" / "checkpoints" / "last.pdparams").write_bytes(b"state")
    with pytest.raises(MtmctError, match="holds no files"):
        pack_model(tmp_path / "empty")


def test_racing_processes_unpack_once(tmp_path, model_home):
    archive = pack_model(model_folder(tmp_path / "m"))
    gate, results, errors = threading.Barrier(6), [], []

    def one() -> None:
        gate.wait()
        try:
            results.append(materialise(stored(archive)))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1 and len(results) == 6
    assert files_under(results[0])["model.pdiparams"] == (tmp_path / "m" / "model.pdiparams").read_bytes()
    assert [p.name for p in results[0].parent.iterdir()] == [results[0].name]


def test_a_tampered_archive_is_refused(tmp_path, model_home):
    archive = pack_model(model_folder(tmp_path / "m"))
    sha = hashlib.sha256(archive).hexdigest()
    flipped = bytearray(archive)
    flipped[len(flipped) // 2] ^= 1
    with pytest.raises(MtmctError, match="fails|not the stored"):
        materialise(stored(bytes(flipped), sha))
    with pytest.raises(MtmctError, match="listed without its archive"):
        materialise(stored(b"", sha))  # a listing's model (reid_models) carries no archive
    assert not (model_home / "adapted" / sha).exists()
    with pytest.raises(MtmctError, match="archive is damaged"):  # right digest, not a .tar.gz
        materialise(stored(b"not a tar.gz at all"))


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["../evil", "sub/../../evil", "/tmp/evil-abs"])
def test_a_member_outside_the_folder_is_refused(tmp_path, model_home, name):
    archive = _tar({"model.pdmodel": b"ok", name: b"evil"})
    with pytest.raises(MtmctError, match="not a plain file inside the model folder"):
        materialise(stored(archive))
    (model_home / "adapted").mkdir(parents=True, exist_ok=True)
    assert list((model_home / "adapted").iterdir()) == []  # neither the model nor a temporary folder
    assert not (model_home / "evil").exists() and not (model_home / "adapted" / "evil").exists()
    assert not Path("/tmp/evil-abs").exists()


def test_a_link_member_is_refused(model_home):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.pdiparams")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(MtmctError, match="'model.pdiparams' is not a plain file"):
        materialise(stored(buffer.getvalue()))


# ---- the query's model ------------------------------------------------------------------------------------------


def test_select_runs_embeds_an_adapted_run_with_its_adapted_model(repo, tmp_path, model_home):
    for run in ("plain", "adapted", "adapted-too"):  # started in this order: "adapted-too" is the latest
        store_run(repo, run)
    archive = pack_model(model_folder(tmp_path / "m"))
    adapt(repo, "adapted", b"an older version")
    adapt(repo, "adapted", archive)
    adapt(repo, "adapted-too", archive)  # adapted to the same bytes: the same model
    folder = model_home / "adapted" / hashlib.sha256(archive).hexdigest()
    assert not folder.exists()

    chosen = select_runs(repo, "adapted", None, None)
    assert chosen.reid == str(folder) and chosen.run_ids == ["adapted"]
    assert files_under(folder)["model.pdmodel"] == (tmp_path / "m" / "model.pdmodel").read_bytes()  # unpacked
    assert chosen.detector == "picodet_s_192_lcnet_pedestrian"  # the rest still from the run's config
    assert select_runs(repo, "plain", None, None).reid == "reid_model"
    # every run: the latest run's model, so the adapted runs together and never the plain run of their base model
    every = select_runs(repo, None, None, None)
    assert (every.run_ids, every.reid) == (["adapted", "adapted-too"], str(folder))
    base = select_runs(repo, None, "reid_model", None)
    assert (base.run_ids, base.reid) == (["plain"], "reid_model")
    assert select_runs(repo, "adapted", "/my/own/model", None).reid == "/my/own/model"  # explicit --reid wins
    store_run(repo, "adapted")  # replaced: its new embeddings come from its config's model again
    assert select_runs(repo, "adapted", None, None).reid == "reid_model"


def test_reid_models_upgrade_from_0005_and_downgrade(empty_url):
    """Revision 0006 adds reid_models: a run stored at 0005 has no adapted model and takes one; downgrading drops
    only the table (the run stays), and upgrading again works."""
    store_old_run(empty_url, "0005")
    migrate(empty_url, "head")
    db = open_database(empty_url, upgrade=False)
    repo = Repository(db)
    try:
        assert repo.reid_model("old") is None
        assert repo.write_adaptation("old", "adapted", b"tgz", {}, {}, []) == 1
        assert repo.reid_model("old").archive == b"tgz"
    finally:
        db.close()
    downgrade_drops(empty_url, "0005", "reid_models")
    db = open_database(empty_url, upgrade=False)
    assert Repository(db).reid_models("old") == []
    db.close()
