"""A live run's global ids as the cameras work (``mtmct run --live``): tracklets stored as they close, ids given a
bounded delay later by :class:`fusion.online_fusion.OnlineFusion`, and every id decision stored as it is made.

The camera pool hands over each running camera's newly closed tracklets, pieces of its long open tracks (every
``--live-pieces`` seconds of footage, so someone who stays in view has an id meanwhile) and its present
(:meth:`LiveIds.tracklets`) every poll; each camera's whole result arrives when it finishes
(:meth:`LiveIds.finished`). After every hand-over the online fusion steps at the slowest running camera's present
(no camera's future is fused before its tracklets can have closed) and what changed is stored: the camera's new
tracklets and pieces (:meth:`storage.Repository.put_tracklets`: what a hand-over costs does not grow with the
camera's past; its row ``running`` until it finishes), the step's id decisions (``id_decisions``) and the current
identities, each in its own transaction, so a query or the dashboard sees the present. At the end the run's ids are
the online ones, whose grouping equals the offline fusion's of the same tracklets.
"""

from __future__ import annotations

import logging
import math

from fusion.online_fusion import OnlineFusion
from fusion.topology import Topology
from mtmct.core.config.fusion import FusionConfig
from mtmct.core.tracklet import GlobalIdentity, Tracklet
from storage import Repository

log = logging.getLogger(__name__)

DEFAULT_DELAY_S = 3.0
"""Seconds after a tracklet closes before it is fused (``--live-delay``): longer lets the people it may be linked
to close too (fewer later merges), shorter gives ids sooner."""
DEFAULT_PIECE_S = 5.0
"""Seconds of footage between the pieces of a track still open that a camera hands over (``--live-pieces``): a
person who stays in view gets an id this long after appearing, and the id follows the longer pieces; shorter costs
more fusion steps and stored rewrites of the open tracks."""


class LiveIds:
    """The live side of one run (see the module docstring)."""

    def __init__(self, repo: Repository, run_id: str, topology: Topology, config: FusionConfig | None,
                 delay_s: float = DEFAULT_DELAY_S, resumed: dict[str, list[Tracklet]] | None = None) -> None:
        """``resumed``: a restarted live run's stored tracklets by camera (see :meth:`resume`)."""
        self.repo, self.run_id = repo, run_id
        self.online = OnlineFusion(topology, config, delay_s=delay_s)
        self._present: dict[str, float] = {}  # running cameras' present, seconds
        self._done: set[str] = set()
        self._stored_first = 0
        if resumed is not None:
            self.resume(resumed)

    def resume(self, stored: dict[str, list[Tracklet]]) -> None:
        """Go on from what a killed live run stored: every camera's tracklets so far (the cameras it finished and
        the ones that go on) and its id history, so every id given before the crash is kept."""
        first, history = self.repo.id_decisions(self.run_id)
        self.online.restore([t for ts in stored.values() for t in ts], first, history)
        self._stored_first = len(first)
        log.info("run %s: live ids go on from %d given, %d changes recorded", self.run_id, len(first), len(history))

    def tracklets(self, camera: str, new: list[Tracklet], now: float | None) -> None:
        """A running camera's newly closed tracklets and pieces of its open tracks (flag ``OPEN``, stored as such
        until replaced) and its present (None before its first frame)."""
        if camera in self._done:
            return
        # a later piece or the close replaces a piece, never the other way round (what add takes is what is stored)
        taken = self.online.add(new)
        self.repo.put_tracklets(self.run_id, camera, taken)
        if now is not None:
            self._present[camera] = now
        self._step()  # what it replaced kept its ids; new ones have none yet

    def finished(self, camera: str, tracklets: list[Tracklet]) -> None:
        """A camera's whole result is stored: its tracklets are final and it no longer holds the present back."""
        self._done.add(camera)
        self._present.pop(camera, None)
        self.online.add(tracklets)
        self._step(rewrite_ids=True)  # storing the camera cleared its tracklets' ids

    def _step(self, rewrite_ids: bool = False) -> None:
        # the slowest running camera's present; with none running nothing bounds it (the final step fuses the rest)
        now = min(self._present.values(), default=math.inf)
        changes = self.online.step(now) if math.isfinite(now) and now > self.online.now else []
        first = self.online.first[self._stored_first:]
        if first or changes:
            self.repo.append_id_decisions(self.run_id, first, changes)
            self._stored_first = len(self.online.first)
        if first or changes or rewrite_ids:
            self.repo.write_identities(self.run_id, self.online.identities())

    def finish(self, tracklets: list[Tracklet]) -> list[GlobalIdentity]:
        """Fuse everything (every camera has ended), store the last decisions, set each tracklet's ``global_id`` to
        its live id, and return the identities (numbered as they were given live)."""
        self.online.add(tracklets)
        changes = self.online.finish()
        first = self.online.first[self._stored_first:]
        self.repo.append_id_decisions(self.run_id, first, changes)
        self._stored_first = len(self.online.first)
        for t in tracklets:
            t.global_id = self.online.ids[t.key]
        log.info("run %s: %d ids given live, %d id changes recorded", self.run_id, len(self.online.first),
                 len(self.online.history))
        return self.online.identities()
