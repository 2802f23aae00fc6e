"""Cross-camera fusion's settings: the one set of defaults of ``fusion.fusion.fuse(tracklets, topology, config)``.

A camera set's ``fusion:`` mapping loads into :class:`FusionConfig`, so ``simlarity: 0.4`` or ``similarity: high``
stops the run at load, naming the key, instead of failing after every camera has run.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PlainSerializer, WithJsonSchema, WrapValidator

from mtmct.core.config.base import Fraction, Int, NonNegative, StrictModel
from mtmct.core.tracklet import SHORT, SMALL

Similarity = Annotated[NonNegative, Field(le=1)]
AUTO = "auto"


def _auto_or(value, handler):
    """``'auto'`` as is; anything else through the number's own checks (so errors name the key plainly)."""
    return value if value == AUTO else handler(value)


def or_auto(kind, schema: dict) -> object:
    """``kind`` (a number type) that also accepts the word ``auto``."""
    return Annotated[kind, WrapValidator(_auto_or), PlainSerializer(lambda v: v), WithJsonSchema({"anyOf": [schema, {"const": AUTO}]})]


AutoSimilarity = or_auto(Similarity, {"type": "number", "minimum": 0, "maximum": 1})
"""A similarity threshold, or ``auto``: chosen by ``fusion.calibration`` from this run's own evidence."""


class FusionConfig(StrictModel):
    """How tracklets become global identities (see ``fusion/fusion.py``), each knob documented by its trade-off."""

    similarity: Annotated[AutoSimilarity, Field(description=(
        "Minimum cosine similarity of an appearance-only edge (a pair not seen together and not continuing each "
        "other's motion), and of the average cross pair when merging with average linkage. 'auto' (default): "
        "the similarity that only false_merge_rate of this run's different-person pairs reach (see "
        "fusion/calibration.py). A number fixes it: raising it splits people whose look changes between "
        "cameras (light, pose) or who come back; lowering it merges look-alikes who come one after the "
        "other."))] = AUTO
    overlap_similarity: Annotated[AutoSimilarity, Field(description=(
        "Minimum similarity of a simultaneous pair on overlap-linked cameras, a strong edge. 'auto' (default): "
        "the similarity that only veto_false_rate of this run's different-person pairs reach; it sits below "
        "similarity because only the people in view at that moment compete. A number fixes it: raising it "
        "splits a person whose two views differ (size, angle), lowering it joins two people who cross the "
        "shared area together."))] = AUTO
    motion_gap_s: Annotated[NonNegative, Field(description=(
        "Longest gap in seconds for a motion continuation within one camera (0 disables). The extrapolation "
        "gets less certain with the gap: raising it joins longer occlusions but risks taking a newcomer who "
        "appears where the lost person was heading."))] = 2.0
    motion_tolerance: Annotated[NonNegative, Field(description=(
        "Largest distance, in box heights, between the extrapolated end and the next start. Raising it forgives "
        "turns and jittery boxes but joins neighbours."))] = 1.0
    ground_distance: Annotated[NonNegative, Field(description=(
        "Calibrated cameras: simultaneous tracklets of two overlap-linked views whose foot points stand within "
        "this many metres (median over their common moments), each the other's closest, are one person, "
        "appearance or not (0 disables). Raising it forgives calibration error and unsynchronised clocks but "
        "joins people walking side by side."))] = 1.0
    ground_min_samples: Annotated[Annotated[int, Field(ge=1)], Field(description=(
        "Fewest common moments for that: more resists two people crossing, fewer links brief sightings."))] = 3
    ground_transit_s: Annotated[NonNegative, Field(description=(
        "Calibrated cameras: longest blind gap (s) through which a person leaving one view is carried on the "
        "ground (at their last velocity) to where they come out in another (0 disables). Longer gaps reach "
        "further but the predicted place gets vaguer (the tolerance grows 0.5 m per second)."))] = 10.0
    estimate_clock_offset: Annotated[bool, Field(strict=True, description=(
        "Calibrated cameras: before linking, estimate each camera's small clock offset from the ground positions "
        "of simultaneous detections (the shift that best superimposes two views' people; fusion/clock_offset.py), "
        "apply it and report it. Off (default): clocks are trusted as configured (cameras' clock_offset). On "
        "fixes lags of a few frames that weaken ground evidence (a walker moves ~0.2 m per 0.14 s), at the cost "
        "of a search over every calibrated pair; a pair with too few matched samples keeps offset 0."))] = False
    max_clock_offset_s: Annotated[NonNegative, Field(description=(
        "Largest offset in seconds searched when estimate_clock_offset is on. Raising it finds bigger lags but "
        "costs time and lets a periodic scene (people walking in step, one behind the other) offer a false "
        "match; an offset found at the edge is not trusted (raise this or set the camera's clock_offset)."))] = 1.0
    motion_similarity: Annotated[AutoSimilarity, Field(description=(
        "Minimum similarity of a motion continuation: a veto for clear changes of person. 'auto' (default): as "
        "overlap_similarity (in a crowd, people walking one behind the other continue each other's motion, "
        "so the veto must know what different people look like here). A number fixes it; low values let "
        "short, blurry fragments join, and let neighbours swap."))] = AUTO
    false_merge_rate: Annotated[Annotated[Fraction, Field(gt=0, lt=1)], Field(description=(
        "Calibration of similarity: the share of different-person pairs allowed to reach it (its expected "
        "false-merge rate per candidate pair; with competitors, per tracklet). Chosen on mtmc-pets09-overlap, "
        "checked on mtmc-pets09-gap2 and mtmc-tud-campus-gap2 (BENCHMARKS.md, fusion). Higher links more "
        "look-alikes who come back to a camera: 0.01 gives IDF1 0.789 instead of 0.811 on pets09-overlap and "
        "0.705 instead of 0.840 on pets09-gap2; 0.0001 gives the same figures as 0.001."))] = 0.001
    veto_false_rate: Annotated[Annotated[Fraction, Field(gt=0, lt=1)], Field(description=(
        "Calibration of overlap_similarity and motion_similarity: the share of different-person pairs that "
        "pass the veto; for a hand-over inside a learned transit window, per tracklet over the hand-overs "
        "either end could take. Laxer than false_merge_rate because time and place already narrow these pairs "
        "to a few candidates; lower vetoes more swaps and more true continuations (0.05: pets09-gap2 IDF1 "
        "0.811 instead of 0.840; 0.2: tud-campus-gap2 0.719 instead of 0.751)."))] = 0.1
    competitors: Annotated[bool, Field(strict=True, description=(
        "Raise an appearance-only edge's threshold with the number of tracklets that compete for it: those "
        "that start between the earlier one's end and the later one's start (each could be the person's real "
        "continuation), so the expected false merges per tracklet, not per pair, stay at false_merge_rate. "
        "Long gaps in a busy scene then need near-identical looks; off, every gap is judged alike (IDF1 0.795 "
        "instead of 0.811 on pets09-overlap, 0.713 instead of 0.840 on pets09-gap2)."))] = True
    min_evidence: Annotated[Int, Field(ge=1, description=(
        "Fewest different-person pairs to calibrate from; with fewer, the thresholds fall back to the "
        "defaults (similarity 0.5, overlap 0.55, motion 0.3) and the report says so. 10 is the fewest that can show "
        "the veto quantile (1 in veto_false_rate); rarer quantiles than the evidence shows come from an "
        "exponential tail fitted to its top tenth (fusion/calibration.py, rule 3)."))] = 10
    transit_matches: Annotated[Int, Field(ge=1, description=(
        "Fewest confident matches (mutual best, above the calibrated similarity) to learn a link's transit "
        "window from; with fewer, an auto link keeps its search range and an unlisted pair stays unlinked. "
        "Raising it learns fewer, steadier windows."))] = 4
    k: Annotated[Int, Field(ge=0, description=(
        "Appearance neighbours per tracklet. More finds a person's tracklets among many look-alikes at the cost "
        "of time and edges."))] = 10
    linkage: Annotated[Literal["single", "average"], Field(description=(
        "'average' resists chaining two people through one ambiguous tracklet; 'single' merges more "
        "eagerly."))] = "average"
    rerank: Annotated[bool, Field(strict=True, description=(
        "Order merges by k-reciprocal re-ranked distance (Zhong et al.) instead of raw similarity. Dense, so "
        "only up to rerank_max_n tracklets (beyond, it is skipped with a warning)."))] = False
    rerank_k1: Annotated[Int, Field(ge=1, description=(
        "Re-ranking's k-reciprocal neighbourhood size; larger smooths over more neighbours."))] = 20
    rerank_k2: Annotated[Int, Field(ge=1, description=(
        "Re-ranking's query-expansion size; larger averages more neighbours' evidence."))] = 6
    rerank_lambda: Annotated[Fraction, Field(description=(
        "Weight of the original distance against the Jaccard distance in re-ranking."))] = 0.3
    rerank_max_n: Annotated[Int, Field(ge=0, description=(
        "Most tracklets re-ranked (memory grows with its square)."))] = 5000
    min_quality: Annotated[Fraction, Field(description=(
        "Tracklets below this quality only attach to clusters of good tracklets and never bridge two; raising "
        "it stops poor fragments chaining people, at the cost of leaving more of them alone."))] = 0.0
    low_quality_flags: Annotated[tuple[Literal[SHORT, SMALL], ...], Field(description=(
        "Tracklets with any of these flags are treated like low-quality ones (attach only)."))] = (SHORT, SMALL)
    exact_max_n: Annotated[Int, Field(ge=0, description=(
        "Up to this many embeddings the neighbour index is exact; beyond, an IVF index (faster, may miss a "
        "few neighbours)."))] = 20_000
    nprobe: Annotated[Int, Field(ge=1, description=(
        "IVF lists searched per query; more finds more true neighbours at the cost of time."))] = 16
    use_gpu: Annotated[bool | None, Field(strict=True, description=(
        "Search neighbours on a GPU (FAISS); null: when one is present."))] = None
