"""Online fusion (fusion/online_fusion.py): ids given as tracklets close, merges and splits recorded as history,
and after the last step exactly the offline grouping.

The reconciliation rules run first on a scripted grouping (which tracklets fusion puts together at each step is
given, so each rule is hit on purpose), then on real tracklets: mtmc-tud-campus-gap2's two cameras through the
camera pipeline (seconds), fed in order of closing and fused every 0.5 s of stream time with a 2 s delay."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from fusion.fusion import fuse_report
from fusion.online_fusion import MERGE, SPLIT, IdChange, OnlineFusion, replay
from fusion.topology import Topology
from mtmct.core.camera_config import load_camera_config
from mtmct.core.tracklet import OPEN, GlobalIdentity, Tracklet

ROOT = Path(__file__).resolve().parents[1]


def tracklet(camera: str, track: int, start: float, end: float) -> Tracklet:
    times = np.array([start, end])
    return Tracklet(camera, track, 0, np.array([1, 2]), times, np.ones((2, 4), np.float32), np.ones(2, np.float32),
                    None)


class Script:
    """A fuse function that answers each call with the next scripted grouping of the keys it is given."""

    def __init__(self, *groupings: list[list[tuple[str, int]]]) -> None:
        self.groupings = list(groupings)

    def __call__(self, tracklets):
        given = {t.key for t in tracklets}
        groups = self.groupings.pop(0)
        assert {k for g in groups for k in g} == given, "the script must group exactly the ready tracklets"
        return [GlobalIdentity(i + 1, sorted(g)) for i, g in enumerate(groups)]


A, B, C, D = ("c1", 1), ("c1", 2), ("c2", 1), ("c2", 2)


def test_new_ids_then_a_merge_then_a_split_are_recorded_and_replay_to_the_current_ids() -> None:
    script = Script([[A], [B]],  # step 1: two people
                    [[A, B, C]],  # step 2: C joins both: ids 1 and 2 merge into 1
                    [[A, C], [B, D]])  # step 3: B goes its own way again (with D): a split, not a renumbering
    online = OnlineFusion(fuse=script, delay_s=1.0)
    online.add([tracklet(*A, 0, 2), tracklet(*B, 1, 3)])
    assert online.step(4.0) == [] and online.ids == {A: 1, B: 2}
    online.add([tracklet(*C, 3, 4)])
    assert online.step(5.0) == [IdChange(5.0, 2, 1, MERGE)] and online.ids == {A: 1, B: 1, C: 1}
    online.add([tracklet(*D, 4, 5)])
    assert online.step(6.0) == [IdChange(6.0, 1, 3, SPLIT, B)] and online.ids == {A: 1, C: 1, B: 3, D: 3}
    assert [(a.tracklet, a.global_id, a.time, a.delay) for a in online.first] == [
        (A, 1, 4.0, 2.0), (B, 2, 4.0, 1.0), (C, 1, 5.0, 1.0), (D, 3, 6.0, 1.0)]
    assert replay(online.first, online.history) == online.ids
    assert [(i.global_id, i.members) for i in online.identities()] == [(1, [A, C]), (3, [B, D])]


def test_restored_from_a_stored_history_the_ids_go_on() -> None:
    """A restarted live run: the ids are what the stored history replays to, a new person gets an id never given
    before (not a reused one), and a later merge is recorded against the restored ids."""
    before = OnlineFusion(fuse=Script([[A], [B], [C]]), delay_s=1.0)
    before.add([tracklet(*A, 0, 1), tracklet(*B, 0, 1), tracklet(*C, 0, 1)])
    before.step(2.0)
    # the killed run had given 1, 2, 3; then B's camera was re-run from scratch, so B is not among the stored
    online = OnlineFusion(fuse=Script([[A, C], [D]]), delay_s=1.0)
    online.restore([tracklet(*A, 0, 1), tracklet(*C, 0, 1)], before.first, before.history)
    assert online.ids == {A: 1, C: 3} and online.now == 2.0
    with pytest.raises(ValueError, match="never goes back"):
        online.step(1.0)
    online.add([tracklet(*D, 2, 3)])
    assert online.step(4.0) == [IdChange(4.0, 3, 1, MERGE)] and online.ids == {A: 1, C: 1, D: 4}
    assert replay(online.first, online.history) == {**online.ids, B: 2}
    with pytest.raises(ValueError, match="new OnlineFusion"):
        online.restore([], [], [])


def test_a_piece_of_an_open_track_takes_part_at_once_and_its_close_replaces_it() -> None:
    """A long track's piece gets its id without the delay; the closed tracklet then replaces it under the same key
    (no new id, no change), and a piece handed over late never replaces the closed tracklet."""
    online = OnlineFusion(fuse=Script([[A]], [[A], [B]]), delay_s=3.0)
    piece = replace(tracklet(*A, 0, 5), flags=frozenset({OPEN}))
    online.add([piece])
    assert online.step(5.0) == [] and online.ids == {A: 1} and online.first[0].delay == 0.0
    online.add([tracklet(*A, 0, 8), tracklet(*B, 6, 7)])  # A closed at 8 s: it stays in; B waits for 10 s
    online.add([replace(tracklet(*A, 0, 6), flags=frozenset({OPEN}))])  # a stale piece: ignored
    assert online.step(10.0) == [] and online.ids == {A: 1, B: 2}
    assert OPEN not in online._tracklets[A].flags and online._tracklets[A].end_time == 8.0


def test_a_tracklet_waits_for_the_delay_and_time_never_goes_back() -> None:
    online = OnlineFusion(fuse=Script([[A]]), delay_s=2.0)
    online.add([tracklet(*A, 0, 1)])
    assert online.step(2.9) == [] and online.ids == {}  # closed at 1 s: not before 3 s
    online.step(3.0)
    assert online.ids == {A: 1} and online.first[0].delay == pytest.approx(2.0)
    with pytest.raises(ValueError, match="never goes back"):
        online.step(2.0)
    with pytest.raises(ValueError, match="delay_s"):
        OnlineFusion(fuse=Script(), delay_s=-1)


def test_real_tracklets_online_end_with_the_offline_grouping_and_a_consistent_history(tmp_path) -> None:
    from mtmct.pipeline import run_cameras

    shared_path("data", "mtmc-tud-campus-gap2")
    cfg = load_camera_config(ROOT / "configs" / "cameras" / "tud-campus-gap2.yaml")
    result = run_cameras(cfg, tmp_path, progress=False, use_ray=False, handle_signals=False)
    assert not result.failed
    tracklets = [replace(t, global_id=None) for t in result.tracklets]
    topology = Topology.from_config(cfg)
    offline = fuse_report(sorted(tracklets, key=lambda t: t.key), topology, cfg.fusion)[0]

    delay, tick = 2.0, 0.5
    online = OnlineFusion(topology, cfg.fusion, delay_s=delay)
    pending = sorted(tracklets, key=lambda t: t.end_time)
    end = max(t.end_time for t in tracklets)
    now = min(t.start_time for t in tracklets)
    while now < end:  # the cameras stream: each tick, what closed by then arrives and fusion steps
        now += tick
        online.add([t for t in pending if t.end_time <= now])
        pending = [t for t in pending if t.end_time > now]
        online.step(now)
    assert any(a.time < end for a in online.first), "no id was given while the footage was still running"
    online.finish()
    assert sorted(i.members for i in online.identities()) == sorted(sorted(i.members) for i in offline)
    assert replay(online.first, online.history) == online.ids
    given_live = [a for a in online.first if a.time < end]
    assert all(delay <= a.delay <= delay + tick + 1e-9 for a in given_live)
    print(f"\n{len(tracklets)} tracklets, {len(given_live)} given ids live, {len(online.history)} id changes "
          f"({sum(c.reason == MERGE for c in online.history)} merges), {len(online.identities())} identities")
