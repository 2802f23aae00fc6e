"""Self-calibration: linking thresholds and transit windows chosen from each run's own evidence.

A ReID model's cosine similarities mean different things on different scenes (resolution, light, how alike the
people dress), so a fixed threshold that links well on one camera set links nobody, or everybody, on the next.
Every run carries its own answer key, in pairs whose identity time alone decides:

* **different people**: two tracklets of one camera that overlap in time (one camera never sees one person
  twice at once), and on overlap-linked cameras the simultaneous pairs that are neither side's best match;
* **the same person**: motion continuations inside a camera that pass the veto, and simultaneous sightings on
  overlap-linked cameras that are each other's best match.

The rules (fusion applies them; :class:`~mtmct.core.config.fusion.FusionConfig` holds their parameters, and a
number in the config overrides any threshold):

1. **Vetoes** (``motion_similarity``, ``overlap_similarity``): the similarity that only ``veto_false_rate`` of the
   different-person pairs reach, ``Q_D(1 - veto_false_rate)``.
2. **Appearance-only** (``similarity``): ``Q_D(1 - false_merge_rate)``, the expected false-merge rate per
   candidate pair, but never above the median same-person similarity (with at least ``min_evidence`` /
   4 same pairs), so at least half of what "same" looks like here stays linkable, and never below the veto.
3. **Competition** (``competitors``): an appearance-only edge across a gap competes with every tracklet that
   starts inside that gap (any of them could be the person's real continuation), so its threshold is
   ``Q_D(1 - false_merge_rate / m)`` with ``m`` that count: the expected false merges per tracklet, not per pair,
   stay at the rate. Where the rate runs past the top :data:`TAIL_SHARE` of the evidence, the quantile comes from
   an exponential tail fitted there (peaks over threshold: ``u + mean excess * ln(share / rate)``), not from the
   largest pair seen: different people who look alike are rare in any one run's evidence (on pets09-gap2 the
   simultaneous pairs top out at 0.87 while people seen apart reach 0.93), and a threshold at the largest pair
   seen let every busy gap through at that value.
4. With fewer than ``min_evidence`` different-person pairs the thresholds fall back to the defaults
   (:data:`FALLBACK`) and the report says so.
5. **Transit windows**: on each link with a bound left out (and each unlisted pair under ``unlisted: auto``), the
   confident matches are the cross-camera pairs above their threshold that are each other's best match on that
   camera pair, within the search range. With at least ``transit_matches`` of them, the window is the shortest
   interval holding half their transit times (the *shorth*, a robust mode that ignores the scattered
   look-alikes) widened on both sides by ``w = max(its width, the median transit)``, then clamped to the
   configured bounds. With fewer, a listed link keeps its configured bounds (0 and unbounded where left out)
   and an unlisted pair stays unlinked.

6. **Hand-overs**: on each link with a learned window, every pair of tracklets on its two cameras whose gap lies
   in the window is a candidate (not only the look-alikes the neighbour search proposes). A pair that is both the
   earlier tracklet's most similar successor and the later one's most similar predecessor there is a strong edge
   if it reaches the veto quantile taken as rule 3 does, per tracklet: ``Q_D(1 - veto_false_rate / m)`` with
   ``m`` the hand-overs either end could have taken (itself once). Like a simultaneous sighting, time and place
   have narrowed the candidates to a few, so small and short tracklets take part as full members; cross-camera
   pairs above the appearance threshold are kept until then (windows are learned from them), and afterwards only
   those that are hand-overs or pass rule 3 stay.

Quantiles are empirical (numpy's linear interpolation) over the evidence, which is subsampled (fixed seed) past
``MAX_EVIDENCE`` pairs so calibration stays linear in the run's size.
"""

from __future__ import annotations

import numpy as np

from mtmct.core.fusion_report import LinkWindow, Threshold

FALLBACK = {"similarity": 0.5, "overlap_similarity": 0.55, "motion_similarity": 0.3}
"""Thresholds without enough evidence (the library's defaults before self-calibration)."""

TAIL_SHARE = 0.1
"""Share of the different-person evidence that rule 3's exponential tail is fitted to (the usual peaks-over-
threshold choice; 0.05 and 0.2 give the same figures on the three benchmark sets)."""

TAIL_MIN = 5
"""Fewest different-person pairs in that tail (a mean excess needs a few)."""

MAX_EVIDENCE = 1_000_000
"""Most evidence pairs kept per kind (a seeded random subset beyond)."""


def subsample(values: np.ndarray, limit: int = MAX_EVIDENCE, seed: int = 0) -> np.ndarray:
    """At most ``limit`` of ``values`` (a seeded random subset, so a rerun calibrates alike)."""
    if len(values) <= limit:
        return values
    return values[np.random.default_rng(seed).choice(len(values), limit, replace=False)]


def mutual_best(pairs: np.ndarray, sims: np.ndarray, n: int) -> np.ndarray:
    """Mask of the pairs (rows ``i``, ``j`` < ``n``) that are both ends' most similar pair in ``pairs``."""
    if not len(pairs):
        return np.zeros(0, bool)
    best = np.full(n, -np.inf)
    np.maximum.at(best, pairs[:, 0], sims)
    np.maximum.at(best, pairs[:, 1], sims)
    return (sims >= best[pairs[:, 0]]) & (sims >= best[pairs[:, 1]])


def _quantile(sorted_values: np.ndarray, q: np.ndarray | float) -> np.ndarray:
    return np.quantile(sorted_values, np.clip(q, 0.0, 1.0))


def thresholds(different: np.ndarray, same: np.ndarray, fixed: dict[str, float | str], false_merge_rate: float,
               veto_false_rate: float, min_evidence: int) -> dict[str, Threshold]:
    """The three linking thresholds by rules 1, 2 and 4 of the module docstring; ``fixed`` maps each name to its
    config value (a number wins over calibration, ``'auto'`` calibrates)."""
    different = np.sort(np.asarray(different, np.float64))
    same = np.asarray(same, np.float64)
    enough = len(different) >= min_evidence
    out: dict[str, Threshold] = {}
    veto = float(_quantile(different, 1.0 - veto_false_rate)) if enough else None
    for name in ("overlap_similarity", "motion_similarity"):
        value = fixed[name]
        if value != "auto":
            out[name] = Threshold(name, float(value), "config")
        elif enough:
            out[name] = Threshold(name, veto, "calibrated", len(same), len(different),
                                  f"reached by {veto_false_rate:g} of the different-person pairs")
        else:
            out[name] = Threshold(name, FALLBACK[name], "default", len(same), len(different),
                                  f"fewer than {min_evidence} different-person pairs")
    value = fixed["similarity"]
    if value != "auto":
        out["similarity"] = Threshold("similarity", float(value), "config")
    elif enough:
        sim = float(_quantile(different, 1.0 - false_merge_rate))
        rule = f"reached by {false_merge_rate:g} of the different-person pairs"
        if len(same) >= max(1, min_evidence // 4) and float(np.median(same)) < sim:
            sim, rule = float(np.median(same)), "median same-person similarity (below the false-merge quantile)"
        if sim < veto:
            sim, rule = veto, "the veto (above the false-merge quantile)"
        out["similarity"] = Threshold("similarity", sim, "calibrated", len(same), len(different), rule)
    else:
        out["similarity"] = Threshold("similarity", FALLBACK["similarity"], "default", len(same), len(different),
                                      f"fewer than {min_evidence} different-person pairs")
    return out


def _tail(sorted_values: np.ndarray) -> tuple[float, float, float]:
    """Peaks over threshold: ``(u, share, scale)``, the threshold ``u`` with ``share`` of the values above it
    (:data:`TAIL_SHARE`, at least :data:`TAIL_MIN` values) and the mean excess over it, the scale of an
    exponential tail."""
    n = len(sorted_values)
    k = min(max(int(np.ceil(TAIL_SHARE * n)), TAIL_MIN), n - 1)
    u = float(sorted_values[n - k - 1])
    return u, k / n, max(float(np.mean(sorted_values[n - k:] - u)), 1e-6)


def tail_share(different: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """``P_D(s >= sim)`` per similarity: empirical up to the tail, beyond it the exponential tail of rule 3
    (never 0, so a similarity above every different pair seen still has a finite false-merge rate)."""
    d = np.sort(np.asarray(different, np.float64))
    sims = np.asarray(sims, np.float64)
    if len(d) < 2:
        return np.ones(len(sims))
    u, share, scale = _tail(d)
    empirical = (len(d) - np.searchsorted(d, sims, side="left")) / len(d)
    return np.where(sims > u, share * np.exp(-(sims - u) / scale), empirical)


def competitor_thresholds(different: np.ndarray, competitors: np.ndarray, false_merge_rate: float,
                          floor: float) -> np.ndarray:
    """Rule 3: per edge, ``Q_D(1 - false_merge_rate / m)`` for ``m`` competitors (>= 1), never below ``floor``
    (the appearance threshold itself); beyond the top :data:`TAIL_SHARE` of the evidence, from its exponential
    tail."""
    different = np.sort(np.asarray(different, np.float64))
    m = np.maximum(np.asarray(competitors, np.float64), 1.0)
    if len(different) < 2:
        return np.full(len(m), floor)
    q = false_merge_rate / m
    u, share, scale = _tail(different)
    tail = u + scale * np.log(share / np.minimum(q, share))
    return np.maximum(np.where(q < share, tail, _quantile(different, 1.0 - q)), floor)


def handover_best(pairs: np.ndarray, sims: np.ndarray, start: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Mask of the pairs (tracklet rows) in ``among`` that are both the earlier tracklet's most similar
    successor and the later one's most similar predecessor there (rule 6): a person leaves for one place
    and arrives from one."""
    out = np.zeros(len(pairs), bool)
    idx, early, late = _ordered(pairs, start, among)
    best_next = np.full(len(start), -np.inf)
    best_prev = np.full(len(start), -np.inf)
    np.maximum.at(best_next, early, sims[idx])
    np.maximum.at(best_prev, late, sims[idx])
    out[idx] = (sims[idx] >= best_next[early]) & (sims[idx] >= best_prev[late])
    return out


def learn_window(gaps: np.ndarray, fixed_min: float | None, fixed_max: float | None,
                 min_matches: int) -> tuple[float, float] | None:
    """Rule 5: the transit window ``(min_s, max_s)`` from confident matches' transit times, or None (too few)."""
    g = np.sort(np.asarray(gaps, np.float64))
    if len(g) < min_matches:
        return None
    h = (len(g) + 1) // 2  # the shorth: shortest interval holding half the values
    widths = g[h - 1:] - g[:len(g) - h + 1]
    lo_i = int(np.argmin(widths))
    lo, hi = float(g[lo_i]), float(g[lo_i + h - 1])
    w = max(hi - lo, float(np.median(g)))
    lo, hi = max(0.0, lo - w), hi + w
    if fixed_min is not None:
        lo = max(lo, fixed_min)
    if fixed_max is not None:
        hi = min(hi, fixed_max)
    return lo, max(lo, hi)


def window_report(a: str, b: str, window: tuple[float, float] | None, matches: int, fixed_min: float | None,
                  fixed_max: float | None, listed: bool) -> LinkWindow | None:
    """The report's line for a learnable link (None for an unlisted pair left unlinked)."""
    if window is not None:
        return LinkWindow(a, b, "calibrated", min_s=round(window[0], 3), max_s=round(window[1], 3), matches=matches)
    if not listed:
        return None
    source = "config" if fixed_min is not None or fixed_max is not None else "default"
    return LinkWindow(a, b, source, min_s=fixed_min or 0.0, max_s=fixed_max, matches=matches)


def window_competitors(pairs: np.ndarray, start: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Rule 6's ``m`` per pair in ``among`` (1 elsewhere): the hand-overs either end could have taken, itself
    counted once (the earlier tracklet's successors plus the later one's predecessors in ``among``, less one)."""
    out = np.ones(len(pairs), np.int64)
    idx, early, late = _ordered(pairs, start, among)
    out[idx] = np.bincount(early, minlength=len(start))[early] + np.bincount(late, minlength=len(start))[late] - 1
    return out


def _ordered(pairs: np.ndarray, start: np.ndarray, among: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions of ``among``, their earlier-starting rows, their later-starting rows)."""
    idx = np.flatnonzero(among)
    a, b = pairs[idx, 0], pairs[idx, 1]
    early = np.where(start[a] <= start[b], a, b)
    return idx, early, np.where(early == a, b, a)
