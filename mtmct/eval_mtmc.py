"""Cross-camera (MTMC) metrics: IDF1 / IDP / IDR / MOTA over all cameras with global ids, plus per camera, and
identity-level counts (who is linked across cameras, who is split, who is merged).

Rows are ``camera, global_id, frame, x, y, w, h`` (``mtmct_result.txt`` and ``mtmc_gt.txt``). The standard
trick makes py-motmetrics score identities across cameras: every (camera, frame) is one step of a single frame
axis, so the identity mapping that IDF1 optimises is global — a person who keeps one id in each camera but a
different one across cameras loses IDF1, while each camera's own scores (per_camera) are unchanged.
Boxes match at IoU >= 0.5.

IDF1 is one number; it does not say whether the 16 people who walk between cameras were linked. The identity
metrics (:func:`identity_metrics`) answer that in counts a person can check on the video. Definitions:

* **Matching.** In every camera and frame, gt and predicted boxes are paired by an optimal assignment
  (minimum total ``1 - IoU``, ``lap``) among pairs with IoU >= 0.5. Each pair credits predicted id ``p`` with one
  box of true person ``P`` in camera ``c``: ``n(c, P, p)``. Unlike IDF1 there is no global id mapping here: each
  count is read off the per-frame matches.
* **Visits.** ``P`` visits ``c`` when the gt has at least one box of ``P`` in ``c``; ``P`` is
  **multi-camera** when it visits two cameras or more.
* **Dominant id.** ``p`` is ``P``'s dominant id in ``c`` when ``n(c, P, p) > 0.5 * (P's gt boxes in c)`` — more
  than half of all of ``P``'s boxes there, missed boxes counting against it, so at most one id dominates. Missing
  most of a visit leaves it without a dominant id.
* **Fully linked.** A multi-camera ``P`` is fully linked when one predicted id is ``P``'s dominant id in every
  camera ``P`` visits.
* **Linked alone.** A fully linked ``P`` whose id is ``P``'s alone: in every camera ``P`` visits, ``P`` holds more
  than half of that id's matched boxes there. Fully linked counts can be raised by merging people (one id for
  everybody links everybody); this count cannot.
* **Splits (ids per person).** Predicted id ``p`` is one of ``P``'s ids when, in some camera ``c``, it holds at
  least ``min_share`` (:data:`MIN_SHARE`, 10 %) of ``P``'s *matched* boxes in ``c``. The per-camera share keeps a
  short visit to a second camera under a new id from drowning in a long first visit; the floor keeps a few
  frames of id swap at a crossing from counting as a split. ``ids_per_person`` is the mean over people with at
  least one matched box; ``split_people`` counts those with more than one id.
* **Merges (people per id).** The same rule with the roles swapped: ``P`` is one of ``p``'s people when it holds
  at least ``min_share`` of ``p``'s matched boxes in some camera. ``people_per_id`` is the mean over predicted
  ids with at least one matched box; ``merged_ids`` counts those with more than one person.
* **Cross-camera pairs, found / missed.** For every multi-camera ``P`` and every pair of cameras ``{a, b}`` it
  visits: *found* when ``P`` has a dominant id in both and it is the same id, *missed* otherwise. A person seen
  by k cameras contributes k(k-1)/2 pairs; fully linked means all of them found.
* **Cross-camera pairs, wrong.** ``P`` is predicted id ``p``'s dominant person in ``c`` when it holds more than
  half of ``p``'s matched boxes in ``c``. For every predicted id and every pair of cameras ``{a, b}`` where it has
  a dominant person in both: *wrong* when the two people differ (the id joined two people across cameras).

Pair counts are kept per camera pair, keyed ``"a|b"`` with ``a < b``.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from mtmct.core.errors import MtmctError
from mtmct.eval_mot import IOU_THRESHOLD
from mtmct.core.mot_io import rows_by_frame

Row = Sequence  # (camera, global_id, frame, x, y, w, h)
_MM_NAMES = {"idf1": "idf1", "idp": "idp", "idr": "idr", "mota": "mota", "motp": "motp", "idsw": "num_switches",
             "fp": "num_false_positives", "fn": "num_misses", "num_gt": "num_objects",
             "num_gt_ids": "num_unique_objects", "num_frames": "num_frames"}


def read_mtmc(path: str | Path) -> list[tuple[str, int, int, float, float, float, float]]:
    """Rows of a ``camera,global_id,frame,x,y,w,h`` text file (blank lines and ``#`` comments skipped).

    Exactly seven columns: a single-camera MOTChallenge file (``frame,id,x,y,w,h,score,...``, 9 or 10 columns)
    would otherwise read as camera = frame, frame = x, and score as nonsense instead of failing.
    """
    path = Path(path)
    if not path.is_file():
        raise MtmctError(f"MTMC file {path} does not exist")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 7:
            hint = " (a single-camera MOT file? give cross-camera rows)" if len(parts) > 7 else ""
            raise MtmctError(f"{path}:{n}: expected 7 columns camera,global_id,frame,x,y,w,h, got {len(parts)}"
                             f"{hint}: {line!r}")
        try:
            rows.append((parts[0], int(float(parts[1])), int(float(parts[2])), *map(float, parts[3:7])))
        except ValueError as exc:
            raise MtmctError(f"{path}:{n}: {exc}") from exc
    return rows


def _by_camera(rows: Iterable[Row], what: str) -> dict[str, np.ndarray]:
    """camera -> (N, 6) array ``frame, id, x, y, w, h``."""
    grouped: dict[str, list] = {}
    for row in rows:
        if len(row) < 7:
            raise ValueError(f"{what} rows need camera,global_id,frame,x,y,w,h, got {tuple(row)!r}")
        grouped.setdefault(str(row[0]), []).append([row[2], row[1], *row[3:7]])
    return {cam: np.asarray(v, np.float64).reshape(-1, 6) for cam, v in grouped.items()}


def _accumulate(acc, gt: np.ndarray, pred: np.ndarray, start: int) -> int:
    """Add one camera's frames to ``acc`` as frame ids ``start, start + 1, ...``; returns the next free id."""
    import motmetrics as mm

    frames = np.union1d(gt[:, 0], pred[:, 0])
    gt_at, pred_at = rows_by_frame(gt), rows_by_frame(pred)
    for offset, frame in enumerate(frames):
        g, p = gt_at.get(int(frame), gt[:0]), pred_at.get(int(frame), pred[:0])
        dist = mm.distances.iou_matrix(g[:, 2:6], p[:, 2:6], max_iou=1 - IOU_THRESHOLD)
        acc.update(g[:, 1].astype(int), p[:, 1].astype(int), dist, frameid=start + offset)
    return start + len(frames)


def _summary(acc) -> dict[str, float]:
    import motmetrics as mm

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        df = mm.metrics.create().compute(acc, metrics=list(_MM_NAMES.values()))
    out = {}
    for key, name in _MM_NAMES.items():
        value = float(df[name].iloc[0])
        out[key] = value if key in {"idf1", "idp", "idr", "mota", "motp"} else int(value)
    out["motp"] = 1.0 - out["motp"] if np.isfinite(out["motp"]) else float("nan")  # motmetrics gives 1 - IoU
    return out


def evaluate_mtmc(gt_rows: Iterable[Row], pred_rows: Iterable[Row]) -> dict:
    """Cross-camera metrics of ``pred_rows`` against ``gt_rows`` (both ``camera, global_id, frame, x, y, w, h``).

    Returns idf1, idp, idr, mota, motp (mean IoU of matches, as ``eval_mot``), idsw, fp, fn, num_gt, num_gt_ids,
    num_frames over all cameras, and ``per_camera``: the same keys for each camera alone. A camera only in the
    predictions counts as false positives.
    """
    import motmetrics as mm

    gt, pred = _by_camera(gt_rows, "gt"), _by_camera(pred_rows, "pred")
    empty = np.zeros((0, 6))
    overall = mm.MOTAccumulator(auto_id=False)
    per_camera, next_id = {}, 0
    for cam in sorted(set(gt) | set(pred)):
        g, p = gt.get(cam, empty), pred.get(cam, empty)
        next_id = _accumulate(overall, g, p, next_id)
        acc = mm.MOTAccumulator(auto_id=False)
        _accumulate(acc, g, p, 0)
        per_camera[cam] = _summary(acc)
    return {**_summary(overall), "per_camera": per_camera}


MIN_SHARE = 0.1
"""Share of a person's matched boxes in one camera that makes an id one of its ids (and the reverse for merges).
Raising it forgives longer id swaps at crossings but hides short real splits; 0 counts every stray frame."""

Key = tuple[str, int]  # (camera, id)


@dataclass(frozen=True)
class PairCounts:
    """Cross-camera pairs of one camera pair: people linked (found) or not (missed), ids joining two people."""

    found: int = 0
    missed: int = 0
    wrong: int = 0


@dataclass(frozen=True)
class IdentityMetrics:
    """Identity-level counts of one camera set; definitions in the module docstring."""

    people: int
    multi_camera: int
    fully_linked: int
    linked_alone: int
    not_linked: tuple[int, ...]
    pred_ids: int
    ids_per_person: float
    split_people: int
    people_per_id: float
    merged_ids: int
    pairs: dict[str, PairCounts] = field(default_factory=dict)
    min_share: float = MIN_SHARE

    @property
    def pairs_found(self) -> int:
        return sum(c.found for c in self.pairs.values())

    @property
    def pairs_missed(self) -> int:
        return sum(c.missed for c in self.pairs.values())

    @property
    def pairs_wrong(self) -> int:
        return sum(c.wrong for c in self.pairs.values())

    def to_dict(self) -> dict:
        """JSON-able: the fields plus the pair totals (``pairs_found``, ``pairs_missed``, ``pairs_wrong``)."""
        out = asdict(self)
        out["not_linked"] = list(self.not_linked)
        out.update(pairs_found=self.pairs_found, pairs_missed=self.pairs_missed, pairs_wrong=self.pairs_wrong)
        return out


def match_boxes(gt: np.ndarray, pred: np.ndarray) -> Counter:
    """``(gt_id, pred_id) -> boxes`` matched in one camera: per frame, an optimal assignment at IoU >= 0.5.

    ``gt`` and ``pred`` are ``(N, 6)`` arrays ``frame, id, x, y, w, h``.
    """
    from cameras.matching import iou_cost, linear_assignment
    from mtmct.core.boxes import tlwh_to_xyxy

    counts: Counter = Counter()
    pred_at = rows_by_frame(pred)
    for frame, g in rows_by_frame(gt).items():
        p = pred_at.get(frame)
        if p is None:
            continue
        matches, _, _ = linear_assignment(iou_cost(tlwh_to_xyxy(g[:, 2:6]), tlwh_to_xyxy(p[:, 2:6])),
                                          threshold=1 - IOU_THRESHOLD)
        counts.update(zip(g[matches[:, 0], 1].astype(int).tolist(), p[matches[:, 1], 1].astype(int).tolist()))
    return counts


def dominant(totals: Mapping[Key, int], matched: Mapping[tuple[str, int, int], int]) -> dict[Key, int]:
    """``(camera, a) -> b`` where ``b`` holds more than half of ``totals[(camera, a)]``; others left out.

    ``matched`` maps ``(camera, a, b)`` to boxes; ``totals`` the boxes each ``(camera, a)`` could have matched.
    """
    out = {}
    for (cam, a, b), n in matched.items():
        if n > 0.5 * totals[(cam, a)]:
            out[(cam, a)] = b
    return out


def _totals(matched: Mapping[tuple[str, int, int], int]) -> Counter:
    """``(camera, a) -> boxes`` of ``a`` matched to anyone: ``matched`` summed over its last key."""
    per_key: Counter = Counter()
    for (cam, a, _), n in matched.items():
        per_key[(cam, a)] += n
    return per_key


def shares(matched: Mapping[tuple[str, int, int], int], min_share: float) -> dict[int, set[int]]:
    """``a -> {b}``: the ``b`` holding at least ``min_share`` of ``a``'s matched boxes in some camera."""
    per_key = _totals(matched)
    out: dict[int, set[int]] = {}
    for (cam, a, b), n in matched.items():
        if n > 0 and n >= min_share * per_key[(cam, a)]:
            out.setdefault(a, set()).add(b)
    return out


def cross_camera_pairs(visits: Mapping[int, set[str]], person_id: Mapping[Key, int],
                       id_person: Mapping[Key, int]) -> dict[str, PairCounts]:
    """Found / missed per camera pair over people's ``visits``, wrong over predicted ids' dominant people.

    ``person_id``: ``(camera, person) -> dominant id``; ``id_person``: ``(camera, id) -> dominant person``.
    """
    counts: dict[str, Counter] = {}
    for person, cams in visits.items():
        for a, b in combinations(sorted(cams), 2):
            ida, idb = person_id.get((a, person)), person_id.get((b, person))
            counts.setdefault(f"{a}|{b}", Counter())["found" if ida is not None and ida == idb else "missed"] += 1
    by_id: dict[int, dict[str, int]] = {}
    for (cam, pid), person in id_person.items():
        by_id.setdefault(pid, {})[cam] = person
    for people in by_id.values():
        for a, b in combinations(sorted(people), 2):
            if people[a] != people[b]:
                counts.setdefault(f"{a}|{b}", Counter())["wrong"] += 1
    return {pair: PairCounts(c["found"], c["missed"], c["wrong"]) for pair, c in sorted(counts.items())}


def _mean_size(groups: Mapping[int, set[int]]) -> float:
    return sum(map(len, groups.values())) / len(groups) if groups else math.nan


def identity_metrics(gt_rows: Iterable[Row], pred_rows: Iterable[Row], min_share: float = MIN_SHARE
                     ) -> IdentityMetrics:
    """Who is linked across cameras, split or merged: ``pred_rows`` against ``gt_rows`` (both
    ``camera, global_id, frame, x, y, w, h``); definitions in the module docstring."""
    if not 0.0 <= min_share <= 1.0:
        raise ValueError(f"min_share is a share of boxes in [0, 1], got {min_share}")
    gt, pred = _by_camera(gt_rows, "gt"), _by_camera(pred_rows, "pred")
    gt_boxes: Counter = Counter()  # (camera, person) -> gt boxes
    matched: Counter = Counter()  # (camera, person, id) -> matched boxes
    for cam, g in gt.items():
        gt_boxes.update((cam, int(gid)) for gid in g[:, 1])
        if cam in pred:
            matched.update({(cam, a, b): n for (a, b), n in match_boxes(g, pred[cam]).items()})
    reverse = Counter({(cam, b, a): n for (cam, a, b), n in matched.items()})  # (camera, id, person)

    visits: dict[int, set[str]] = {}
    for cam, person in gt_boxes:
        visits.setdefault(person, set()).add(cam)
    multi = {person: cams for person, cams in visits.items() if len(cams) > 1}
    person_id = dominant(gt_boxes, matched)
    dominants = {person: {person_id.get((cam, person)) for cam in cams} for person, cams in multi.items()}
    not_linked = tuple(sorted(person for person, ids in dominants.items() if len(ids) != 1 or None in ids))
    id_person = dominant(_totals(reverse), reverse)
    linked = {person: next(iter(ids)) for person, ids in dominants.items() if person not in not_linked}
    linked_alone = sum(all(id_person.get((cam, pid)) == person for cam in multi[person])
                       for person, pid in linked.items())
    ids_of, people_of = shares(matched, min_share), shares(reverse, min_share)
    pred_ids = {int(i) for p in pred.values() for i in np.unique(p[:, 1])}
    return IdentityMetrics(
        people=len(visits), multi_camera=len(multi), fully_linked=len(linked), linked_alone=linked_alone,
        not_linked=not_linked,
        pred_ids=len(pred_ids),
        ids_per_person=_mean_size(ids_of), split_people=sum(len(v) > 1 for v in ids_of.values()),
        people_per_id=_mean_size(people_of), merged_ids=sum(len(v) > 1 for v in people_of.values()),
        pairs=cross_camera_pairs(multi, person_id, id_person), min_share=min_share)


def identity_table(m: IdentityMetrics) -> str:
    """The identity metrics of :func:`mtmct.eval_mtmc.identity_metrics` as a few lines of text."""
    not_linked = f" (not linked: gt ids {', '.join(map(str, m.not_linked))})" if m.not_linked else ""
    lines = [f"people in >1 camera   {m.fully_linked} of {m.multi_camera} fully linked{not_linked}, "
             f"{m.linked_alone} by an id of their own",
             f"ids per person        {m.ids_per_person:.2f} ({m.split_people} of {m.people} people split)",
             f"people per id         {m.people_per_id:.2f} ({m.merged_ids} of {m.pred_ids} ids merge people)",
             f"{'camera pair':<16}" + "".join(f"{k:>10}" for k in ("found", "missed", "wrong"))]
    rows = [(pair.replace("|", "-"), c.found, c.missed, c.wrong) for pair, c in m.pairs.items()]
    if len(rows) != 1:
        rows.append(("ALL", m.pairs_found, m.pairs_missed, m.pairs_wrong))
    lines += [f"{name:<16}{found:>10d}{missed:>10d}{wrong:>10d}" for name, found, missed, wrong in rows]
    return "\n".join(lines)
