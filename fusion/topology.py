"""Camera topology and time rules: which tracklet pairs may be the same person.

Two questions, both answered for single pairs (:meth:`Topology.may_link`, :meth:`Topology.may_coexist`) and
vectorised over candidate arrays (:meth:`Topology.link_mask`, :meth:`Topology.coexist_mask`) with the same
rules, so fusion never loops over pairs in Python:

* **may_link** (a direct graph edge; the person walked from one tracklet straight into the other):
  - same camera: never while overlapping in time; after a gap of at most ``reentry_max_s`` (re-entry, or a
    track broken by an occlusion);
  - cameras with no link: never (``unlisted: auto`` makes fusion learn a window for such a pair first, see
    :meth:`Topology.learnable` and :mod:`fusion.calibration`; a pair without enough evidence stays unlinked);
  - transit link: never simultaneous; the gap from the earlier end to the later start lies in
    ``[min_s, max_s]`` (``None`` = 0 and unbounded);
  - overlap link: simultaneous is allowed (positions must agree when geometry is given, see below); one may
    also follow the other after a gap in ``[min_s, max_s]`` (defaults 0 and ``overlap_gap_s``), because a
    person can leave the shared area a moment before the other camera's tracker picks them up.
* **may_coexist** (two members of one identity, not necessarily adjacent): they may overlap in time only
  through an overlap link (with agreeing positions); otherwise the gap must be at least the shortest sum of
  link ``min_s`` over any camera path (a person cannot teleport), and cameras with no path never share an
  identity. Upper bounds are not checked here: a person may linger or come back. Every identity fusion
  outputs is connected by may_link edges and consistent under may_coexist for every pair of its members.
  may_link implies may_coexist.

Geometry (optional, per camera): a homography (image to ground plane) on both cameras of an overlap link
makes simultaneous tracklets agree only when their foot points are within ``max_ground_distance`` (median over
samples at the same time). Without homographies, hand-over zones (image polygons) on both cameras gate a
direct link: the earlier tracklet must end, and the later start, inside a zone; simultaneous tracklets must
both be inside a zone at some common time.

Tracklets overlap in time exactly when :meth:`Tracklet.overlaps_in_time` says so (closed intervals): a gap of 0
seconds counts as overlapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import networkx as nx
import numpy as np

from mtmct.core.boxes import foot_points, tlwh_to_xyxy
from mtmct.core.config.camera_set import CameraSetConfig
from mtmct.core.config.topology import Link, TopologyConfig
from fusion.ground import common_distances, common_samples
from mtmct.core.errors import MtmctError
from mtmct.core.tracklet import Tracklet

__all__ = ["NONE", "TRANSIT", "OVERLAP", "SAME", "Link", "CameraGeometry", "Topology", "to_ground",
           "in_zones"]

NONE, TRANSIT, OVERLAP, SAME = 0, 1, 2, 3
"""Kinds of camera pair in :attr:`Topology.kind`."""

_DEFAULTS = TopologyConfig()  # the knobs' one set of defaults


@dataclass(frozen=True)
class CameraGeometry:
    """Optional geometry of one camera: image-to-ground homography (3x3) and hand-over zones (polygons, px)."""

    homography: np.ndarray | None = None
    zones: tuple[np.ndarray, ...] = ()
    ground: bool = False  # calibrated: its tracklets carry ground positions (Tracklet.world), compared directly

    def __post_init__(self) -> None:
        if self.homography is not None:
            h = np.asarray(self.homography, np.float64)
            if h.shape != (3, 3):
                raise MtmctError(f"homography must be 3x3, got shape {h.shape}")
            object.__setattr__(self, "homography", h)
        zones = tuple(np.asarray(z, np.float64).reshape(-1, 2) for z in self.zones)
        if any(len(z) < 3 for z in zones):
            raise MtmctError("a zone polygon needs at least 3 points")
        object.__setattr__(self, "zones", zones)


def to_ground(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Image points (N, 2) mapped by a 3x3 homography to ground-plane points (N, 2)."""
    p = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ homography.T
    return p[:, :2] / p[:, 2:3]


def in_zones(points: np.ndarray, zones: Sequence[np.ndarray]) -> np.ndarray:
    """Whether each point (N, 2) lies inside any polygon (even-odd ray casting, vectorised over points)."""
    inside = np.zeros(len(points), bool)
    x, y = points[:, 0:1], points[:, 1:2]
    for poly in zones:
        x0, y0 = poly[:, 0], poly[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside |= (crosses & (x < x_cross)).sum(axis=1) % 2 == 1
    return inside


@dataclass
class Topology:
    """Cameras, the links between them, optional geometry, and the rules of the module docstring.

    ``links`` are :class:`~mtmct.core.config.topology.Link`; ``overlap_gap_s``, ``reentry_max_s``,
    ``max_ground_distance`` and ``sync_tolerance_s`` are documented, with their trade-offs and defaults, on
    :class:`~mtmct.core.config.topology.TopologyConfig`. A camera set builds one with :meth:`from_config`.
    """

    cameras: Sequence[str]
    links: Sequence[Link] = ()
    geometry: Mapping[str, CameraGeometry] = field(default_factory=dict)
    overlap_gap_s: float = _DEFAULTS.overlap_gap_s
    reentry_max_s: float | None = _DEFAULTS.reentry_max_s
    max_ground_distance: float = _DEFAULTS.max_ground_distance
    sync_tolerance_s: float = _DEFAULTS.sync_tolerance_s
    max_ground_speed: float = _DEFAULTS.max_ground_speed
    unlisted: str = "never"  # a hand-built topology means its links; camera sets default to TopologyConfig's auto
    auto_max_s: float = _DEFAULTS.auto_max_s

    @classmethod
    def from_config(cls, config: CameraSetConfig) -> Topology:
        """A camera set's topology: its cameras in order, its links and knobs, and the geometry (zones,
        homography) of the cameras that have any."""
        geometry = {cam.id: CameraGeometry(homography=cam.homography, zones=tuple(z.polygon for z in cam.zones),
                                           ground=cam.calibration is not None or cam.homography is not None)
                    for cam in config.cameras if cam.zones or cam.homography is not None or cam.calibration}
        t = config.topology
        return cls([cam.id for cam in config.cameras], t.links, geometry, overlap_gap_s=t.overlap_gap_s,
                   reentry_max_s=t.reentry_max_s, max_ground_distance=t.max_ground_distance,
                   sync_tolerance_s=t.sync_tolerance_s, unlisted=t.unlisted, auto_max_s=t.auto_max_s,
                   max_ground_speed=t.max_ground_speed)

    # ---- learned windows (see fusion.calibration) ------------------------------------------------------------
    def learnable(self) -> list[Link]:
        """The transit links whose window fusion learns: configured links with a bound left out (or 'auto'),
        and with ``unlisted: auto`` one link per unlisted camera pair; each with its bounds as configured."""
        listed = {frozenset((k.a, k.b)) for k in self.links}
        out = [k for k in self.links if k.learned]
        if self.unlisted == "auto":
            out += [Link(a=a, b=b) for i, a in enumerate(self.cameras) for b in self.cameras[i + 1:]
                    if frozenset((a, b)) not in listed]
        return out

    def search(self) -> Topology:
        """This topology with every learnable link open over its search range: its fixed bounds, else 0 and
        ``auto_max_s`` (where fusion looks for the confident matches a window is learned from)."""
        windows = {(k.a, k.b): (k.fixed_min_s or 0.0, self.auto_max_s if k.fixed_max_s is None
                                else k.fixed_max_s) for k in self.learnable()}
        return self.with_windows(windows)

    def with_windows(self, windows: Mapping[tuple[str, str], tuple[float, float] | None]) -> Topology:
        """A copy whose learnable links get the given ``(min_s, max_s)`` windows; a pair missing from
        ``windows`` (or None) keeps its configured bounds (0 and unbounded where left out), and an unlisted pair
        without a window stays unlinked."""
        listed = {frozenset((k.a, k.b)): k for k in self.links}
        links = [k for k in self.links if not k.learned]
        for k in self.learnable():
            window = windows.get((k.a, k.b)) or windows.get((k.b, k.a))
            if window is not None:
                links.append(Link(a=k.a, b=k.b, min_s=float(window[0]), max_s=float(window[1])))
            elif frozenset((k.a, k.b)) in listed:
                links.append(Link(a=k.a, b=k.b, min_s=k.fixed_min_s, max_s=k.fixed_max_s))
        return replace(self, links=tuple(links), unlisted="never")

    def __post_init__(self) -> None:
        self.cameras = tuple(self.cameras)
        self.links = tuple(self.links)
        if len(set(self.cameras)) != len(self.cameras):
            raise MtmctError(f"topology: duplicate camera ids in {list(self.cameras)}")
        self._index = {c: i for i, c in enumerate(self.cameras)}
        n = len(self.cameras)
        self.kind = np.full((n, n), NONE, np.int8)
        np.fill_diagonal(self.kind, SAME)
        self.gap_min = np.zeros((n, n))
        self.gap_max = np.full((n, n), np.inf)
        np.fill_diagonal(self.gap_max, np.inf if self.reentry_max_s is None else self.reentry_max_s)
        for link in self.links:
            for cam in (link.a, link.b):
                if cam not in self._index:
                    raise MtmctError(f"link {link.a}-{link.b}: unknown camera {cam!r}; "
                                     f"cameras are {list(self.cameras)}")
            i, j = self._index[link.a], self._index[link.b]
            if self.kind[i, j] != NONE:
                raise MtmctError(f"topology: cameras {link.a} and {link.b} are linked twice")
            default_max = self.overlap_gap_s if link.overlap else np.inf
            for a, b in ((i, j), (j, i)):
                self.kind[a, b] = OVERLAP if link.overlap else TRANSIT
                self.gap_min[a, b] = link.fixed_min_s or 0.0
                self.gap_max[a, b] = default_max if link.fixed_max_s is None else link.fixed_max_s
        for cam in self.geometry:
            if cam not in self._index:
                raise MtmctError(f"topology geometry: unknown camera {cam!r}")
        # Shortest possible travel time between any two cameras: the lower bound of may_coexist.
        graph = nx.Graph()
        graph.add_nodes_from(range(n))
        graph.add_weighted_edges_from((self._index[k.a], self._index[k.b], k.fixed_min_s or 0.0) for k in self.links)
        self.min_travel = np.asarray(nx.floyd_warshall_numpy(graph, nodelist=range(n), weight="weight"))
        self.has_geometry = np.array([c in self.geometry for c in self.cameras], bool)
        self.has_ground = np.array([c in self.geometry and self.geometry[c].ground for c in self.cameras], bool)

    def camera_index(self, camera_id: str) -> int:
        try:
            return self._index[camera_id]
        except KeyError:
            raise MtmctError(f"camera {camera_id!r} is not in the topology {list(self.cameras)}") from None

    # ---- vectorised time and camera rules -------------------------------------------------------------------
    @staticmethod
    def _gap(start_a: np.ndarray, end_a: np.ndarray, start_b: np.ndarray, end_b: np.ndarray) -> np.ndarray:
        """Seconds from the earlier tracklet's end to the later one's start; <= 0 when they overlap."""
        return np.maximum(start_b - end_a, start_a - end_b)

    def link_mask(self, cam_a, start_a, end_a, cam_b, start_b, end_b) -> np.ndarray:
        """may_link over aligned arrays, time and camera rules only (geometry: :meth:`positions_agree`)."""
        gap = self._gap(start_a, end_a, start_b, end_b)
        kind = self.kind[cam_a, cam_b]
        sequential = (gap > 0) & (gap >= self.gap_min[cam_a, cam_b]) & (gap <= self.gap_max[cam_a, cam_b])
        return (kind != NONE) & (sequential | ((gap <= 0) & (kind == OVERLAP)))

    def coexist_mask(self, cam_a, start_a, end_a, cam_b, start_b, end_b) -> np.ndarray:
        """may_coexist over aligned arrays, time and camera rules only."""
        gap = self._gap(start_a, end_a, start_b, end_b)
        sequential = (gap > 0) & (gap >= self.min_travel[cam_a, cam_b])
        return sequential | ((gap <= 0) & (self.kind[cam_a, cam_b] == OVERLAP))

    def geometry_applies(self, cam_a, start_a, end_a, cam_b, start_b, end_b, direct: bool) -> np.ndarray:
        """Which pairs need :meth:`positions_agree`: overlap-linked cameras that both have geometry, for direct
        links also sequential hand-overs between cameras with zones, and any pair of two calibrated cameras (ground
        positions and transit speeds)."""
        both = self.has_geometry[cam_a] & self.has_geometry[cam_b] & (cam_a != cam_b)
        overlapping = self._gap(start_a, end_a, start_b, end_b) <= 0
        ground = self.has_ground[cam_a] & self.has_ground[cam_b] & (cam_a != cam_b)  # transits checked in metres
        return (both & (overlapping | direct)) | ground

    # ---- single pairs -----------------------------------------------------------------------------------------
    def _arrays(self, x: Tracklet, y: Tracklet):
        return (np.array([self.camera_index(x.camera_id)]), np.array([x.start_time]), np.array([x.end_time]),
                np.array([self.camera_index(y.camera_id)]), np.array([y.start_time]), np.array([y.end_time]))

    def may_link(self, x: Tracklet, y: Tracklet) -> bool:
        """May ``y`` directly continue ``x`` (or run beside it in an overlapping view) as the same person?"""
        args = self._arrays(x, y)
        if not self.link_mask(*args)[0]:
            return False
        return not self.geometry_applies(*args, direct=True)[0] or self.positions_agree(x, y, direct=True)

    def may_coexist(self, x: Tracklet, y: Tracklet) -> bool:
        """May ``x`` and ``y`` both belong to one person's trajectory (not necessarily adjacent)?"""
        args = self._arrays(x, y)
        if not self.coexist_mask(*args)[0]:
            return False
        return not self.geometry_applies(*args, direct=False)[0] or self.positions_agree(x, y, direct=False)

    def transit_possible(self, x: Tracklet, y: Tracklet) -> bool:
        """Whether someone could walk from where the earlier of ``x``, ``y`` leaves the ground to where the later
        appears in the gap: at most ``max_ground_speed`` beyond ``max_ground_distance`` of slack."""
        first, second = (x, y) if x.end_time <= y.start_time else (y, x)
        a = first.world[~np.isnan(first.world).any(axis=1)]
        b = second.world[~np.isnan(second.world).any(axis=1)]
        if not len(a) or not len(b):
            return True
        gap = max(second.start_time - first.end_time, 0.0)
        # ends as the median of a few samples: one foot point at a view's border can be metres off
        leave, enter = np.median(a[-5:], axis=0), np.median(b[:5], axis=0)
        return bool(np.linalg.norm(enter - leave) <= self.max_ground_distance + self.max_ground_speed * gap)

    def positions_agree(self, x: Tracklet, y: Tracklet, direct: bool) -> bool:
        """Geometry check for a pair on two cameras with geometry (see module docstring)."""
        gx, gy = self.geometry.get(x.camera_id), self.geometry.get(y.camera_id)
        if gx is None or gy is None:
            return True
        if x.world is not None and y.world is not None:  # calibrated: metres
            if x.overlaps_in_time(y):
                dist = common_distances(x, y, self.sync_tolerance_s)
                return not len(dist) or bool(np.median(dist) <= self.max_ground_distance)
            return self.transit_possible(x, y)
        if x.overlaps_in_time(y):
            same, near = common_samples(x, y, self.sync_tolerance_s)  # samples at (nearly) the same moment
            if not same.any():
                return True  # no common sample to compare: cannot tell, time rules decide
            fx, fy = foot_points(tlwh_to_xyxy(x.boxes[same])), foot_points(tlwh_to_xyxy(y.boxes[near]))
            if gx.homography is not None and gy.homography is not None:
                dist = np.linalg.norm(to_ground(gx.homography, fx) - to_ground(gy.homography, fy), axis=1)
                return bool(np.median(dist) <= self.max_ground_distance)
            if gx.zones and gy.zones:
                return bool((in_zones(fx, gx.zones) & in_zones(fy, gy.zones)).any())
            return True
        if direct and gx.zones and gy.zones:
            first, second = (x, y) if x.end_time < y.start_time else (y, x)
            g1, g2 = (gx, gy) if first is x else (gy, gx)
            return bool(in_zones(foot_points(tlwh_to_xyxy(first.boxes[-1:])), g1.zones)[0]
                        and in_zones(foot_points(tlwh_to_xyxy(second.boxes[:1])), g2.zones)[0])
        return True
