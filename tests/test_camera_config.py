"""Camera-set YAML: good configs load, every bad one is refused with a one-line message naming the field; the
typed configs cover the constructors they feed (BoxMOT's config-covers-constructor test)."""

from __future__ import annotations

import copy
import inspect
import json
import re
from pathlib import Path

import pydantic
import pytest
import yaml

from cameras.botsort import BoTSort
from cameras.bytetrack import ByteTrack
from cameras.deepsort import DeepSort
from cameras.ocsort import OCSort
from cameras.tracklet_builder import TrackletBuilder
from mtmct.commands.config import schema_text
from mtmct.core.camera_config import (REFERENCE, CameraConfig, CameraSetConfig, FloorPlanConfig, FusionConfig,
                                      LinkConfig, ModelsConfig, TopologyConfig, TrackerConfig, TrackletsConfig, Zone,
                                      load_camera_config)
from mtmct.core.config.tracker import BoTSortConfig, ByteTrackConfig, OCSortConfig, tracker_config_file
from mtmct.core.errors import MtmctError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "cameras"
TRACKERS = ROOT / "configs" / "trackers"


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
        "fusion": {"k": 12, "low_quality_flags": ["short"]},
    }


def test_good_config_loads_with_paths_resolved(tmp_path, monkeypatch):
    monkeypatch.setenv("MTMCT_TEST_VIDEOS", "/data/videos")
    cfg = load_camera_config(good(), base_dir=tmp_path)
    assert cfg.name == "lab" and [c.id for c in cfg.cameras] == ["c1", "c2", "c3"]
    c1, c2, c3 = cfg.cameras
    assert c1.source == str(tmp_path / "c1.mp4") and c1.fps == 10.0 and c1.clock_offset == 1.5
    assert c1.zones == (Zone(name="door", polygon=((0.0, 0.0), (10.0, 0.0), (10.0, 20.0))),)
    assert c2.source == "rtsp://cam2.local/stream" and c2.fps is None and c2.zones == ()
    assert c3.source == "/data/videos/c3.mp4"
    assert cfg.models == ModelsConfig(detector=str(tmp_path / "models" / "det.onnx"), reid="reid_model", conf=0.4)
    assert cfg.tracker == TrackerConfig(max_age=20, n_init=2)
    assert cfg.topology.links == (LinkConfig(a="c1", b="c2", overlap=True),
                                  LinkConfig(a="c2", b="c3", min_s=5.0, max_s=60.0))
    assert cfg.topology.overlap_gap_s == TopologyConfig().overlap_gap_s
    assert cfg.fusion == FusionConfig(k=12, low_quality_flags=("short",))
    assert cfg.camera("c2") is c2
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        cfg.name = "other"  # type: ignore[misc]


def test_callers_dict_is_never_mutated(tmp_path, monkeypatch):
    monkeypatch.setenv("MTMCT_TEST_VIDEOS", "/data/videos")
    data = good()
    before = copy.deepcopy(data)
    load_camera_config(data, base_dir=tmp_path)
    assert data == before


def test_defaults_and_windowed_link_without_upper_bound(tmp_path):
    cfg = load_camera_config({"cameras": [{"id": "a", "source": "a.mp4"}, {"id": 2, "source": 0}],
                              "topology": [{"a": "a", "b": "2"}]}, base_dir=tmp_path)
    assert cfg.name == "cameras" and cfg.models == ModelsConfig() and cfg.tracker is None
    assert cfg.fusion == FusionConfig() and cfg.tracklets == TrackletsConfig()
    assert cfg.cameras[1] == CameraConfig(id="2", source="0")  # device index kept, int id made a string
    assert cfg.topology == TopologyConfig(links=(LinkConfig(a="a", b="2"),))


def test_topology_mapping_reaches_every_knob_and_homography(tmp_path, monkeypatch):
    monkeypatch.setenv("MTMCT_TEST_VIDEOS", "/data/videos")
    data = good()
    data["topology"] = {"links": data["topology"], "overlap_gap_s": 3, "reentry_max_s": 600,
                        "max_ground_distance": 2.5, "sync_tolerance_s": "1e-1"}  # YAML reads 1e-1 as text
    data["cameras"][0]["homography"] = [[0.01, 0, 0], [0, 0.01, 0], [0, 0, 1]]
    data["tracklets"] = {"min_frames": 5, "n_crops": 0}
    cfg = load_camera_config(data, base_dir=tmp_path)
    assert cfg.topology.overlap_gap_s == 3.0 and cfg.topology.reentry_max_s == 600.0
    assert cfg.topology.max_ground_distance == 2.5 and cfg.topology.sync_tolerance_s == 0.1
    assert cfg.cameras[0].homography == ((0.01, 0, 0), (0, 0.01, 0), (0, 0, 1))
    assert cfg.tracklets == TrackletsConfig(min_frames=5, n_crops=0)


def test_yaml_file_resolves_relative_to_its_folder(tmp_path, monkeypatch):
    sub = tmp_path / "cfg"
    sub.mkdir()
    (sub / "tracker.yaml").write_text("max_age: 10\n")
    (sub / "set.yaml").write_text(yaml.safe_dump({"tracker": "tracker.yaml", "models": {"reid": None},
                                                  "cameras": [{"id": "c1", "source": "../v.mp4"}]}))
    monkeypatch.chdir(tmp_path.parent)
    cfg = load_camera_config(sub / "set.yaml")
    assert cfg.name == "set" and cfg.tracker == TrackerConfig(max_age=10)
    assert cfg.cameras[0].source == str(tmp_path / "v.mp4") and cfg.models.reid is None


@pytest.mark.parametrize("name", ["pets09-overlap", "epfl-lab-2cam"])
def test_shipped_configs_load_and_point_at_real_files(name):
    cfg = load_camera_config(CONFIGS / f"{name}.yaml")
    link = cfg.topology.links[0]
    assert len(cfg.cameras) == 2 and link.overlap and {link.a, link.b} == {c.id for c in cfg.cameras}
    assert cfg.tracker == TrackerConfig.from_yaml(TRACKERS / "deepsort.yaml")
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
    ("cameras[1].id", "c1", "cameras: duplicate camera id 'c1' ([0] and [1])"),
    ("cameras[0].id", "a/b", "cameras[0].id: 'a/b' may hold only"),
    ("cameras[0].id", " ", "cameras[0].id: must not be blank"),
    ("cameras[0].fps", 0, "cameras[0].fps: must be greater than 0, got 0"),
    ("cameras[0].fps", "ten", "cameras[0].fps: must be a number, got 'ten'"),
    ("cameras[0].fps", float("inf"), "cameras[0].fps: must be a finite number, got inf"),
    ("cameras[0].clock_offset", None, "cameras[0].clock_offset: must be a number, got None"),
    ("cameras[0].clock_offset", float("inf"), "cameras[0].clock_offset: must be a finite number, got inf"),
    ("cameras[0].clock_offset", float("nan"), "cameras[0].clock_offset: must be a finite number, got nan"),
    ("cameras[0].clock_offset", True, "cameras[0].clock_offset: expected a number, got True"),
    ("cameras[0].zones[0].polygon", [[0, 0], [1, 1]], "cameras[0].zones[0].polygon: expected at least 3 items"),
    ("cameras[0].zones[0].name", DELETE, "cameras[0].zones[0].name: missing"),
    ("cameras[0].zones[0].colour", "red", "cameras[0].zones[0].colour: unknown key (known: name, polygon)"),
    ("cameras[0].zones", [{"name": "d", "polygon": [[0, 0], [1, 0], [1, 1]]}] * 2,
     "cameras[0].zones: duplicate zone name 'd' ([0] and [1])"),
    ("cameras[0].homography", [[1, 0], [0, 1]], "cameras[0].homography[0][2]: missing item"),
    ("cameras[0].url", "x", "cameras[0].url: unknown key (known: id, source, fps, det_conf, clock_offset, zones, homography, calibration)"),
    ("cameras", [], "cameras: expected at least 1 item, got 0"),
    ("cameras", DELETE, "cameras: missing"),
    ("topology[0].b", "c9", "topology: link c1-c9 names an unknown camera 'c9'; cameras: c1, c2, c3"),
    ("topology[0].b", "c1", "topology[0]: a link joins two different cameras"),
    ("topology[0].a", DELETE, "topology[0].a: missing"),
    ("topology[1].min_s", -1, "topology[1].min_s: must be greater than or equal to 0, got -1"),
    ("topology[1].max_s", -1, "topology[1].max_s: must be greater than or equal to 0, got -1"),
    ("topology[1].min_s", 90, "topology[1]: min_s 90 > max_s 60"),
    ("topology[0].max_s", 30, "topology[0]: a link is either overlap: true or a min_s/max_s window, not both"),
    ("topology[0].overlap", "yes", "topology[0].overlap: must be true or false, got 'yes'"),
    ("topology[1].cameras", ["c2", "c3"], "topology[1].cameras: unknown key (known: a, b, overlap, min_s, max_s)"),
    ("topology[1]", {"a": "c2", "b": "c1"}, "topology: duplicate link 'c1-c2' ([0] and [1])"),
    ("topology", {"links": [], "overlap_gap": 3}, "topology.overlap_gap: unknown key (known: links, overlap_gap_s"),
    ("topology", {"reentry_max_s": -5}, "topology.reentry_max_s: must be greater than or equal to 0, got -5"),
    ("topology", {"max_ground_distance": float("inf")}, "topology.max_ground_distance: must be a finite number"),
    ("models.detecter", "x", "models.detecter: unknown key (known: detector, reid, device, conf, classes, embed_every_frame)"),
    ("models.conf", 1.5, "models.conf: must be less than or equal to 1, got 1.5"),
    ("models.classes", "person", "models.classes: must be a list, got 'person'"),
    ("models.classes", [True], "models.classes[0]: expected a number, got True"),
    ("fusion", [1], "fusion: must be a mapping, got [1]"),
    ("fusion", {"simlarity": 0.4}, "fusion.simlarity: unknown key (known: similarity, overlap_similarity"),
    ("fusion", {"similarity": "high"}, "fusion.similarity: must be a number, got 'high'"),
    ("fusion", {"similarity": "yes"}, "fusion.similarity: must be a number, got 'yes'"),
    ("fusion", {"similarity": True}, "fusion.similarity: expected a number, got True"),
    ("fusion", {"similarity": 1.2}, "fusion.similarity: must be less than or equal to 1, got 1.2"),
    ("fusion", {"motion_gap_s": -1}, "fusion.motion_gap_s: must be greater than or equal to 0, got -1"),
    ("fusion", {"k": 2.5}, "fusion.k: must be a whole number, got 2.5"),
    ("fusion", {"linkage": "complete"}, "fusion.linkage: must be 'single' or 'average', got 'complete'"),
    ("fusion", {"low_quality_flags": ["tiny"]}, "fusion.low_quality_flags[0]: must be 'short' or 'small'"),
    ("fusion", {"progress": True}, "fusion.progress: unknown key"),
    ("tracker", {"max_agee": 3}, "tracker.max_agee: unknown key (known: type, max_age, n_init, max_iou_distance"),
    ("tracker", {"type": "sort"}, "tracker.type: unknown tracker 'sort'; known: deepsort, bytetrack, ocsort, botsort"),
    ("tracker", {"type": "ocsort", "low_score": 0.9}, "tracker: low_score 0.9 is above high_score 0.6"),
    ("tracker", {"max_age": -1}, "tracker.max_age: must be greater than or equal to 0, got -1"),
    ("tracker", {"low_score": 0.9}, "tracker: low_score 0.9 is above high_score 0.6"),
    ("tracker", {"warm_start": "yes"}, "tracker.warm_start: must be true or false, got 'yes'"),
    ("tracker", {"nn_budget": 0}, "tracker.nn_budget: must be greater than or equal to 1, got 0"),
    ("tracker", "no-such-tracker.yaml", "tracker: "),
    ("tracker", 3, "tracker: must be a mapping, got 3"),
    ("tracklets", {"min_frames": 0}, "tracklets.min_frames: must be greater than or equal to 1, got 0"),
    ("tracklets", {"max_gap": 5}, "tracklets.max_gap: unknown key (known: min_frames, min_height, n_crops"),
    ("camera", [], "camera: unknown key (known: name, models, tracker, tracklets, cameras, topology, fusion, "
                   "floor_plan)"),
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
    (tmp_path / "binary.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(MtmctError, match=r"binary.yaml: not a text \(UTF-8\) file") as info:
        load_camera_config(tmp_path / "binary.yaml")
    assert "\n" not in str(info.value)


def test_errors_name_the_file_and_the_tracker_file(tmp_path):
    (tmp_path / "tracker.yaml").write_text("max_age: 30\nn_inti: 2\n")
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump({"tracker": "tracker.yaml", "cameras": [{"id": "c1", "source": "v.mp4"}]}))
    with pytest.raises(MtmctError) as info:
        load_camera_config(path)
    assert str(info.value).startswith(f"{path}: tracker: {tmp_path / 'tracker.yaml'}: n_inti: unknown key (known: ")
    path.write_text("cameras:\n  - {id: c1, source: v.mp4, clock_offset: .inf}\n")
    with pytest.raises(MtmctError, match=re.escape(f"{path}: cameras[0].clock_offset: must be a finite number, "
                                                   "got inf")):
        load_camera_config(path)


@pytest.mark.parametrize("path", sorted(TRACKERS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_tracker_configs_validate_and_build_their_tracker(path):
    from cameras.tracker_registry import TRACKERS, load_tracker

    cfg = tracker_config_file(path)
    assert isinstance(load_tracker(cfg.model_dump()), TRACKERS[cfg.type])


def _arguments(cls: type, skip: set[str]) -> dict[str, object]:
    params = inspect.signature(cls.__init__).parameters
    return {name: p.default for name, p in params.items() if name not in {"self", *skip}}


@pytest.mark.parametrize("model,cls,skip", [
    (TrackerConfig, DeepSort, set()),
    (ByteTrackConfig, ByteTrack, set()),
    (OCSortConfig, OCSort, set()),
    (BoTSortConfig, BoTSort, set()),
    # per camera: the camera's id, clock and calibration, and max_gap = the tracker's max_age
    (TrackletsConfig, TrackletBuilder, {"camera_id", "clock_offset", "max_gap", "calibration"}),
], ids=["deepsort", "bytetrack", "ocsort", "botsort", "tracklets"])
def test_config_covers_the_constructor(model, cls, skip):
    """Keys equal constructor arguments (a tracker's ``type`` aside), defaults included, and a config builds the
    object it configures."""
    arguments = _arguments(cls, skip)
    fields = [f for f in model.model_fields if f != "type"]
    assert fields == list(arguments)
    assert model().model_dump(exclude={"type"}) == arguments
    cls(**({"camera_id": "c1"} if cls is TrackletBuilder else {}), **model().model_dump(exclude={"type"}))


def test_fusion_config_is_the_only_set_of_defaults():
    """fuse() takes a FusionConfig and has no keyword of its own but ``progress`` (display, not behaviour)."""
    from fusion.fusion import fuse

    params = inspect.signature(fuse).parameters
    assert list(params) == ["tracklets", "topology", "config", "progress"] and params["config"].default is None
    assert "progress" not in FusionConfig.model_fields


def _keys(model: type[pydantic.BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_every_field_is_a_documented_key_and_vice_versa(tmp_path: Path):
    """REFERENCE documents the format: its keys are exactly the model fields at every level, and it loads (its
    floor plan made real in tmp_path); every field also carries a description for the JSON Schema."""
    doc = yaml.safe_load(REFERENCE)
    assert set(doc) == _keys(CameraSetConfig)
    assert set(doc["models"]) == _keys(ModelsConfig)
    assert set(doc["tracklets"]) == _keys(TrackletsConfig)
    assert set(doc["fusion"]) == _keys(FusionConfig)
    assert set(doc["topology"]) == _keys(TopologyConfig)
    assert set().union(*map(set, doc["cameras"])) == _keys(CameraConfig)
    assert set().union(*(set(z) for c in doc["cameras"] for z in c.get("zones", []))) == _keys(Zone)
    assert set().union(*map(set, doc["topology"]["links"])) == _keys(LinkConfig)
    assert set(doc["floor_plan"]) == _keys(FloorPlanConfig)
    plan = tmp_path / doc["floor_plan"]["image"]
    plan.parent.mkdir()
    plan.write_bytes(b"")  # only its existence is checked at load
    doc["floor_plan"]["image"] = str(plan)
    cfg = load_camera_config(doc, base_dir=CONFIGS)  # every documented key is accepted
    assert cfg.fusion == FusionConfig() and cfg.tracklets == TrackletsConfig()  # and shows the defaults
    assert cfg.topology.model_dump(exclude={"links"}) == TopologyConfig().model_dump(exclude={"links"})
    models = [CameraSetConfig, ModelsConfig, TrackletsConfig, FusionConfig, TopologyConfig, CameraConfig, Zone,
              LinkConfig, TrackerConfig, FloorPlanConfig]
    for model in models:  # and each key's first line says what it is for
        for key, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{key} has no description"
            if model is not TrackerConfig:
                line = next(ln for ln in REFERENCE.splitlines() if re.match(rf"\s*(- )?{key}:", ln))
                assert "#" in line, f"REFERENCE does not explain {key!r}"


def test_checked_in_schema_is_current():
    """configs/cameras/schema.json is what `mtmct config schema` prints (regenerate with --out)."""
    assert (CONFIGS / "schema.json").read_text() == schema_text()
    schema = json.loads(schema_text())
    assert schema["additionalProperties"] is False and schema["required"] == ["cameras"]
    assert set(schema["$defs"]) >= {"FusionConfig", "TrackerConfig", "TrackletsConfig", "TopologyConfig", "Link"}


def test_stored_run_config_reloads_to_the_same_config():
    """A run stores its config as YAML (pipeline.config_text); the same loader reads it back unchanged."""
    from mtmct.pipeline import config_text

    cfg = load_camera_config(CONFIGS / "pets09-overlap.yaml")
    assert load_camera_config(yaml.safe_load(config_text(cfg))) == cfg
