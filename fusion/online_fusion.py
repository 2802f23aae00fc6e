"""Global ids while the cameras are still running: fusion applied again as tracklets close, with stable ids.

Offline, fusion sees every tracklet once and numbers the identities it finds. Live, tracklets close one by one and
a user (a query, the dashboard) needs an id for each soon after it closes, and the same id tomorrow. So
:class:`OnlineFusion` keeps every closed tracklet and, at each :meth:`~OnlineFusion.step`, fuses those that
closed at least ``delay_s`` ago (the same rules and self-calibration as the offline run: :func:`fusion.fusion.fuse_report`)
and reconciles the result with the ids already given:

* a new group of tracklets none of which has an id gets the next id;
* a group holding tracklets of one existing id keeps that id;
* a group holding tracklets of several ids (later evidence joined two identities) keeps the oldest id, and each
  other one is recorded as **merged** into it (:class:`IdChange`: old id, new id, when, why);
* an id whose tracklets are now in several groups stays with the group holding most of them (ties: the earliest
  tracklet); each tracklet moved elsewhere is recorded as **split** off to that group's id.

Nothing is renumbered silently: applying the recorded changes, in order, to the ids as first given yields the
current ids, and after the last step (every tracklet fused) the grouping is exactly the offline fusion's of the
same tracklets. The delay bounds when a tracklet gets its id: at the first step at or after its close + ``delay_s``.
A piece of a track still open (flag ``OPEN``: a live camera hands long tracks over every few seconds) takes part at
once, so a person who stays in view has an id while they stay; its later pieces and finally its closed tracklet
replace it under the same key, and a key that took part once always does.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

from mtmct.core.config.fusion import FusionConfig
from mtmct.core.id_history import MERGE, SPLIT, Assignment, IdChange, Key, replay
from mtmct.core.tracklet import OPEN, GlobalIdentity, Tracklet

from fusion.topology import Topology

__all__ = ["MERGE", "SPLIT", "Assignment", "IdChange", "OnlineFusion", "replay"]

FuseFn = Callable[[Sequence[Tracklet]], list[GlobalIdentity]]


class OnlineFusion:
    """Incremental global ids with a history (see the module docstring).

    Args:
        topology: the camera set's topology, as for offline fusion.
        config: its fusion config (None: the defaults).
        delay_s: how long after a tracklet closes it waits before it takes part (and gets its id). Longer lets
            the people it could be linked to close too (fewer merges later), at the price of later ids.
        fuse: the grouping function (default: offline fusion with ``topology`` and ``config``); a function of the
            tracklets alone, since a step with nothing newly ready does not call it again.
    """

    def __init__(self, topology: Topology | None = None, config: FusionConfig | None = None, delay_s: float = 3.0,
                 fuse: FuseFn | None = None) -> None:
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        if fuse is None:
            if topology is None:
                raise ValueError("OnlineFusion needs a topology (or its own fuse function)")
            from fusion.fusion import fuse_report

            fuse = lambda tracklets: fuse_report(tracklets, topology, config)[0]  # noqa: E731
        self.delay_s, self._fuse = delay_s, fuse
        self._tracklets: dict[Key, Tracklet] = {}
        self._ready_at: dict[Key, float] = {}  # stream time from which each key takes part
        self.ids: dict[Key, int] = {}  # the current id of every tracklet that has one
        self.first: list[Assignment] = []  # each tracklet's first id, in the order given
        self.history: list[IdChange] = []
        self._next_id = 1
        self.now = float("-inf")
        self._fused: list[tuple[Key, float]] = []  # what the last step fused (key, close), to skip repeats

    def add(self, tracklets: Iterable[Tracklet]) -> list[Tracklet]:
        """Closed tracklets and pieces of open tracks (a camera's emit); a key seen before replaces its tracklet (a
        longer piece of it, or its close), but a piece never replaces a closed tracklet. Returns those taken."""
        taken = []
        for t in tracklets:
            old = self._tracklets.get(t.key)
            if old is not None and OPEN in t.flags and OPEN not in old.flags:
                continue
            self._tracklets[t.key] = t
            taken.append(t)
            ready = t.end_time + (0.0 if OPEN in t.flags else self.delay_s)
            self._ready_at[t.key] = min(self._ready_at.get(t.key, ready), ready)
        return taken

    def restore(self, tracklets: Iterable[Tracklet], first: Sequence[Assignment], history: Sequence[IdChange]
                ) -> None:
        """Go on from a stored history (a live run restarted after a crash): its tracklets, first ids and changes.
        The ids are what the history replays to, new ids continue after every id it ever gave, and stream time
        resumes at its last decision, so every id given before stays and later steps reconcile with them."""
        if self.first or self.history or self._tracklets:
            raise ValueError("restore() is for a new OnlineFusion")
        self.add(tracklets)
        self.first, self.history = list(first), list(history)
        self.ids = {key: gid for key, gid in replay(first, history).items() if key in self._tracklets}
        given = [a.global_id for a in first] + [c.new_id for c in history]
        self._next_id = max(given, default=0) + 1
        self.now = max([a.time for a in first] + [c.time for c in history], default=float("-inf"))

    def step(self, now: float) -> list[IdChange]:
        """Fuse every tracklet closed by ``now - delay_s`` (stream time, seconds) and reconcile the ids; returns
        the changes to ids given before (new ids are in :attr:`first`). ``now`` never goes back."""
        if now < self.now:
            raise ValueError(f"step({now}) after step({self.now}): stream time never goes back")
        self.now = now
        # in key order (camera, track), so the last step groups exactly as offline fusion of the same sorted list
        ready = sorted((t for key, t in self._tracklets.items() if self._ready_at[key] <= now), key=lambda t: t.key)
        fused = [(t.key, t.end_time) for t in ready]
        if not ready or fused == self._fused:  # nothing new is ready: fusion would group the same way again
            return []
        self._fused = fused
        groups = [list(identity.members) for identity in self._fuse(ready)]
        changes: list[IdChange] = []
        # each existing id's home: the group holding most of its tracklets (ties: the one with its earliest)
        start = {t.key: t.start_time for t in ready}
        where: dict[Key, int] = {key: g for g, members in enumerate(groups) for key in members}
        homes: dict[int, int] = {}
        by_id: dict[int, list[Key]] = defaultdict(list)
        for key, gid in self.ids.items():
            if key in where:
                by_id[gid].append(key)
        for gid, keys in by_id.items():
            counts = Counter(where[k] for k in keys)
            homes[gid] = max(counts, key=lambda g: (counts[g], -min(start[k] for k in keys if where[k] == g)))
        claims: dict[int, list[int]] = defaultdict(list)
        for gid, g in homes.items():
            claims[g].append(gid)
        for g, members in enumerate(groups):
            owners = sorted(claims.get(g, []))
            if owners:
                gid = owners[0]
                for old in owners[1:]:  # later evidence joined these identities: the oldest id stays
                    changes.append(IdChange(now, old, gid, MERGE))
            else:
                gid, self._next_id = self._next_id, self._next_id + 1
            for key in sorted(members, key=lambda k: (start[k], k)):
                old = self.ids.get(key)
                if old is None:
                    t = self._tracklets[key]
                    self.first.append(Assignment(key, gid, now, now - t.end_time))
                elif old != gid and old not in owners:  # moved away from its id's home group
                    changes.append(IdChange(now, old, gid, SPLIT, key))
                self.ids[key] = gid
        self.history.extend(changes)
        return changes

    def finish(self) -> list[IdChange]:
        """Fuse everything (the end of every stream): the grouping is then the offline fusion's."""
        return self.step(max(self.now, max(self._ready_at.values(), default=self.now)))

    def identities(self) -> list[GlobalIdentity]:
        """The current identities, by id (members as the offline fusion lists them: by camera and track)."""
        members: dict[int, list[Key]] = defaultdict(list)
        for key, gid in self.ids.items():
            members[gid].append(key)
        return [GlobalIdentity(gid, sorted(keys)) for gid, keys in sorted(members.items())]
