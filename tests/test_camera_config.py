"""Camera-set YAML: good configs load, every bad one is refused with a one-line message naming the field."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from mtmct.core.camera_config import (REFERENCE, CameraConfig, CameraSetConfig, LinkConfig, ModelsConfig, Zone,
                                 load_camera_config)
from mtmct.core.errors import MtmctError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "cameras"


def good() -> dict:
    return {
        "name": "lab",
        "models": {"detector": "models/det.onnx", "reid": "reid_model", "device": "cpu", "conf": 0.4},
        "tracker": {"max_age": 20, "n_init": 2},
        "cameras": [
            {"id": "c1", "source": "c1.mp4", "fps": 10, "clock_offset": 1.5,
             "zones": [{"name": "door", "polygon": [[0, 0], [10, 0], [10, 20]]}]},
            {"id": "c2", "source": "rtsp://cam2.local/stream"},
            {"id": "c3", "source": "${MTMCT_TEST_VIDEOS}/c3.mp4"},
        ],
        "topology": [{"a": "c1", "b": "c2", "overlap": True}, {"a": "c2", "b": "c3", "min_s": 5, "max_s": 60}],
        "fusion": {"k": 10, "nested": {"x": [1, 2]}},
    }


def test_good_config_loads_with_paths_resolved(tmp_path, monkeypatch):
    monkeypatch.setenv("MTMCT_TEST_VIDEOS", "/data/videos")
    cfg = load_camera_config(good(), base_dir=tmp_path)
    assert cfg.name == "lab" and [c.id for c in cfg.cameras] == ["c1", "c2", "c3"]
    c1, c2, c3 = cfg.cameras
    assert c1.source == str(tmp_path / "c1.mp4") and c1.fps == 10.0 and c1.clock_offset == 1.5
    assert c1.zones == (Zone("door", ((0.0, 0.0), (10.0, 0.0), (10.0, 20.0))),)
    assert c2.source == "rtsp://cam2.local/stream" and c2.fps is None and c2.zones == ()
    assert c3.source == "/data/videos/c3.mp4"
    assert cfg.models == ModelsConfig(str(tmp_path / "models" / "det.onnx"), "reid_model", "cpu", 0.4, None)
    assert cfg.tracker == {"max_age": 20, "n_init": 2}
    assert cfg.topology == (LinkConfig("c1", "c2", True, None, None), LinkConfig("c2", "c3", False, 5.0, 60.0))
    assert cfg.fusion == {"k": 10, "nested": {"x": [1, 2]}}
    assert cfg.camera("c2") is c2
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "other"  # type: ignore[misc]


def test_callers_dict_is_never_mutated(tmp_path, monkeypatch):
    monkeypatch.setenv("MTMCT_TEST_VIDEOS", "/data/videos")
    data = good()
    before = copy.deepcopy(data)
    cfg = load_camera_config(data, base_dir=tmp_path)
    assert data == before
    cfg.fusion["nested"]["x"].append(3)  # the result does not share mutable parts with the input
    cfg.tracker["max_age"] = 99
    assert data == before


def test_defaults_and_windowed_link_without_upper_bound(tmp_path):
    cfg = load_camera_config({"cameras": [{"id": "a", "source": "a.mp4"}, {"id": 2, "source": 0}],
                              "topology": [{"a": "a", "b": "2"}]}, base_dir=tmp_path)
    assert cfg.name == "cameras" and cfg.models == ModelsConfig() and cfg.tracker is None and cfg.fusion == {}
    assert cfg.cameras[1] == CameraConfig("2", "0")  # device index kept, int id made a string
    assert cfg.topology == (LinkConfig("a", "2", False, 0.0, None),)


def test_yaml_file_resolves_relative_to_its_folder(tmp_path, monkeypatch):
    sub = tmp_path / "cfg"
    sub.mkdir()
    (sub / "tracker.yaml").write_text("max_age: 10\n")
    (sub / "set.yaml").write_text(yaml.safe_dump({"tracker": "tracker.yaml", "models": {"reid": None},
                                                  "cameras": [{"id": "c1", "source": "../v.mp4"}]}))
    monkeypatch.chdir(tmp_path.parent)
    cfg = load_camera_config(sub / "set.yaml")
    assert cfg.name == "set" and cfg.tracker == str(sub / "tracker.yaml")
    assert cfg.cameras[0].source == str(tmp_path / "v.mp4") and cfg.models.reid is None


@pytest.mark.parametrize("name", ["pets09-overlap", "epfl-lab-2cam"])
def test_shipped_configs_load_and_point_at_real_files(name):
    cfg = load_camera_config(CONFIGS / f"{name}.yaml")
    assert len(cfg.cameras) == 2 and cfg.topology[0].overlap
    assert {cfg.topology[0].a, cfg.topology[0].b} == {c.id for c in cfg.cameras}
    for path in [cfg.models.detector, cfg.models.reid, *(c.source for c in cfg.cameras)]:
        if not Path(path).exists():
            pytest.skip(f"{path} is absent: shared/ is not beside the checkout")


def _set(path: str, value):
    """A good config with ``path`` (dotted, [i] for list items) set to ``value`` (or deleted for DELETE)."""
    data = good()
    keys = [int(k) if k.isdigit() else k for k in path.replace("[", ".").replace("]", "").split(".")]
    parent = data
    for key in keys[:-1]:
        parent = parent[key]
    if value is DELETE:
        del parent[keys[-1]]
    else:
        parent[keys[-1]] = value
    return data


DELETE = object()
BAD = [
    ("cameras[1].source", DELETE, "cameras[1].source: missing"),
    ("cameras[0].id", DELETE, "cameras[0].id: missing"),
    ("cameras[1].id", "c1", "cameras[1].id: duplicate camera id 'c1'"),
    ("cameras[0].id", "a/b", "cameras[0].id: 'a/b' may hold only"),
    ("cameras[0].fps", 0, "cameras[0].fps: must be > 0"),
    ("cameras[0].fps", "ten", "cameras[0].fps: expected a number"),
    ("cameras[0].clock_offset", None, "cameras[0].clock_offset: expected a number"),
    ("cameras[0].zones[0].polygon", [[0, 0], [1, 1]], "cameras[0].zones[0].polygon: expected at least 3"),
    ("cameras[0].zones[0].name", DELETE, "cameras[0].zones[0].name: missing"),
    ("cameras[0].zones[0].colour", "red", "cameras[0].zones[0]: unknown key 'colour'; known keys: name, polygon"),
    ("cameras[0].url", "x", "cameras[0]: unknown key 'url'; known keys: id, source, fps, clock_offset, zones"),
    ("cameras", [], "cameras: expected a non-empty list"),
    ("cameras", DELETE, "cameras: expected a non-empty list"),
    ("topology[0].b", "c9", "topology[0]: unknown camera 'c9'"),
    ("topology[0].b", "c1", "topology[0]: a link joins two different cameras"),
    ("topology[0].a", DELETE, "topology[0].a: missing"),
    ("topology[1].min_s", -1, "topology[1].min_s: negative window"),
    ("topology[1].max_s", -1, "topology[1].max_s: negative window"),
    ("topology[1].min_s", 90, "topology[1]: min_s 90 > max_s 60"),
    ("topology[0].max_s", 30, "topology[0]: a link is either overlap: true or a min_s/max_s window, not both"),
    ("topology[0].overlap", "yes", "topology[0].overlap: expected true or false"),
    ("topology[1].cameras", ["c2", "c3"], "topology[1]: unknown key 'cameras'; known keys: a, b, overlap, min_s"),
    ("topology[1]", {"a": "c2", "b": "c1"}, "topology[1]: duplicate link c2-c1 (also topology[0])"),
    ("models.detecter", "x", "models: unknown key 'detecter'; known keys: detector, reid, device, conf, classes"),
    ("models.conf", 1.5, "models.conf: must be <= 1"),
    ("models.classes", "person", "models.classes: expected a list of class ids"),
    ("fusion", [1], "fusion: expected a mapping"),
    ("tracker", "no-such-tracker.yaml", "tracker: "),
    ("camera", [], "config: unknown key 'camera'; known keys: name, cameras, models, tracker, topology, fusion"),
    ("cameras[2].source", "${MTMCT_SURELY_UNSET_VAR}/x.mp4",
     "cameras[2].source: environment variable 'MTMCT_SURELY_UNSET_VAR' is not set"),
]


@pytest.mark.parametrize("path,value,message", BAD, ids=[f"{p}={v!r}"[:40] for p, v, _ in BAD])
def test_bad_config_is_refused_naming_the_field(tmp_path, monkeypatch, path, value, message):
    monkeypatch.setenv("MTMCT_TEST_VIDEOS", "/data/videos")
    monkeypatch.delenv("MTMCT_SURELY_UNSET_VAR", raising=False)
    with pytest.raises(MtmctError) as info:
        load_camera_config(_set(path, value), base_dir=tmp_path)
    text = str(info.value)
    assert text.startswith(message) and "\n" not in text


def test_missing_or_malformed_file(tmp_path):
    with pytest.raises(MtmctError, match="does not exist"):
        load_camera_config(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("cameras: [\n")
    with pytest.raises(MtmctError, match="not valid YAML"):
        load_camera_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(MtmctError, match="expected a mapping"):
        load_camera_config(tmp_path / "list.yaml")


def _keys(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_every_field_is_a_documented_key_and_vice_versa():
    """REFERENCE documents the format: its keys are exactly the dataclass fields at every level, and it loads."""
    doc = yaml.safe_load(REFERENCE)
    assert set(doc) == _keys(CameraSetConfig)
    assert set(doc["models"]) == _keys(ModelsConfig)
    assert set().union(*map(set, doc["cameras"])) == _keys(CameraConfig)
    assert set().union(*(set(z) for c in doc["cameras"] for z in c.get("zones", []))) == _keys(Zone)
    assert set().union(*map(set, doc["topology"])) == _keys(LinkConfig)
    load_camera_config(doc, base_dir=CONFIGS)  # every documented key is accepted
    every = _keys(CameraSetConfig) | _keys(ModelsConfig) | _keys(CameraConfig) | _keys(Zone) | _keys(LinkConfig)
    for key in every:  # and each key's first line says what it is for
        line = next(ln for ln in REFERENCE.splitlines() if re.match(rf"\s*(- )?{key}:", ln))
        assert "#" in line, f"REFERENCE does not explain {key!r}"
