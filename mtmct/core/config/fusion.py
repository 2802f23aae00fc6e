"""Cross-camera fusion's settings: the one set of defaults of ``fusion.fusion.fuse(tracklets, topology, config)``.

A camera set's ``fusion:`` mapping loads into :class:`FusionConfig`, so ``simlarity: 0.4`` or ``similarity: high``
stops the run at load, naming the key, instead of failing after every camera has run.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from mtmct.core.config.base import Fraction, Int, NonNegative, StrictModel
from mtmct.core.tracklet import SHORT, SMALL

Similarity = Annotated[NonNegative, Field(le=1)]


class FusionConfig(StrictModel):
    """How tracklets become global identities (see ``fusion/fusion.py``), each knob documented by its trade-off."""

    similarity: Annotated[Similarity, Field(description=(
        "Minimum cosine similarity of an appearance-only edge (a pair not seen together and not continuing each "
        "other's motion), and of the average cross pair when merging with average linkage. Raising it splits "
        "people whose look changes between cameras (light, pose) or who come back; lowering it merges "
        "look-alikes who come one after the other. Set it from the ReID model's different-person similarities, "
        "well above their bulk."))] = 0.5
    overlap_similarity: Annotated[Similarity, Field(description=(
        "Minimum similarity of a simultaneous pair on overlap-linked cameras, a strong edge. It can sit below "
        "similarity because only the people in view at that moment compete; raising it splits a person whose "
        "two views differ (size, angle), lowering it joins two people who cross the shared area together."))] = 0.55
    motion_gap_s: Annotated[NonNegative, Field(description=(
        "Longest gap in seconds for a motion continuation within one camera (0 disables). The extrapolation "
        "gets less certain with the gap: raising it joins longer occlusions but risks taking a newcomer who "
        "appears where the lost person was heading."))] = 2.0
    motion_tolerance: Annotated[NonNegative, Field(description=(
        "Largest distance, in box heights, between the extrapolated end and the next start. Raising it forgives "
        "turns and jittery boxes but joins neighbours."))] = 1.0
    motion_similarity: Annotated[Similarity, Field(description=(
        "Minimum similarity of a motion continuation: a veto for clear changes of person, kept low because "
        "fragments are often short and blurry."))] = 0.3
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
