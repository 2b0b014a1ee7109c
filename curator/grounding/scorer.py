"""GroundingScorer: is each response sentence supported by its evidence, and by which passage?

The scorer runs the package's steps in order: evidence (:mod:`~curator.grounding.evidence`),
claims and their features (:mod:`~curator.grounding.features`), the combiner
(:mod:`~curator.grounding.combiner`), an optional cross-encoder on the doubtful claims
(:mod:`~curator.grounding.verifier`), then each pair's verdict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..embed import Embedder
from ..errors import ConfigError, ModelError, check_param
from ..text import Segment, segment_claims
from .claims import (
    PairInput,
    SentenceVerdict,
    _claim_query,
    asked,
    is_label,
    is_lead_in,
    make_claim,
)
from .combiner import (
    OPEN_TASK_CONFLICT,
    RETRIEVAL_FLOOR,
    RETRIEVAL_MIN_COVERAGE,
    STRICT_OPEN_CONFLICTS,
    GroundingParams,
    PairGrounding,
    judge_pair,
)
from .coverage import set_aside_unreadable
from .evidence import _EvidenceSentence, evidence_window, gather_evidence
from .features import claim_features
from .tasks import STRICT_OPEN_KINDS, open_ended
from .verifier import GroundingVerifier

if False:  # typing only; keeps faiss out of import time
    from ..index import PassageIndex


class GroundingScorer:
    """Score (prompt, response) pairs for grounding in their evidence.

    Parameters
    ----------
    embedder : the Embedder; defaults to the index's, else the packaged model.
    index : a PassageIndex used for pairs with a ``source_id`` or no source at all.
    top_k : passages retrieved per query in index mode.
    threshold : ``hallucination_prob`` at or above which a pair is flagged; ``None`` = the
        threshold stored with the parameters.
    params : path to a parameters JSON (from ``curator calibrate``); ``None`` = shipped default.
    source_chunk_tokens : inline sources are cut into passages of this many tokens (citations
        point at these passages; a long source is chunked, never truncated).
    verifier : an optional cross-encoder that reads claim and evidence together: a local folder
        (an NLI CrossEncoder with an "entailment" label, or one trained by
        :func:`curator.grounding.train_verifier`), or any object with
        ``predict(claims, evidences) -> P(unsupported)``. ``None`` = features only.
    verifier_band : the verifier judges only *doubtful* sentences, those whose feature
        probability of being unsupported lies in this closed interval; ``(0, 1)`` = all.
    verifier_weight : a judged sentence's probability becomes
        ``(1 - w) * features + w * verifier``.
    retrieval_floor : in index mode (evidence retrieved, not named), a claim whose most similar
        evidence sentence has a cosine similarity below this is ``unverifiable``: the index has
        nothing about it. Measured in benchmarks/grounding.py --parts floor; 0 = never.
    retrieval_min_coverage : in index mode, a claim is also ``unverifiable`` when its two aligned
        evidence sentences share no content word with the prompt (a prompt that has some) and hold
        less than this share of the claim's new content words: the evidence is not about the
        pair, however similar. Measured in benchmarks/grounding.py --parts ood; 0 = never.
    """

    def __init__(self, embedder: Embedder | None = None, index: PassageIndex | None = None,
                 top_k: int = 5, threshold: float | None = None, params: str | Path | None = None,
                 source_chunk_tokens: int = 128, verifier: str | Path | Any | None = None,
                 verifier_band: Sequence[float] = (0.2, 0.8), verifier_weight: float = 0.5,
                 retrieval_floor: float = RETRIEVAL_FLOOR,
                 retrieval_min_coverage: float = RETRIEVAL_MIN_COVERAGE) -> None:
        self.embedder = embedder
        self.index = index
        self.top_k = top_k
        self.threshold = threshold
        self.params = params
        self.source_chunk_tokens = source_chunk_tokens
        self.verifier = verifier
        self.verifier_band = verifier_band
        self.verifier_weight = verifier_weight
        self.retrieval_floor = retrieval_floor
        self.retrieval_min_coverage = retrieval_min_coverage
        self._verifier: Any = None

    def _validate(self) -> tuple[Embedder, GroundingParams, float]:
        check_param("GroundingScorer", "top_k", self.top_k, isinstance(self.top_k, int) and self.top_k >= 1, "an int >= 1")
        if self.threshold is not None:
            check_param("GroundingScorer", "threshold", self.threshold,
                        isinstance(self.threshold, (int, float)) and 0.0 <= self.threshold <= 1.0, "a float in [0, 1]")
        check_param("GroundingScorer", "source_chunk_tokens", self.source_chunk_tokens,
                    isinstance(self.source_chunk_tokens, int) and self.source_chunk_tokens >= 8, "an int >= 8")
        embedder = self.embedder or (self.index.embedder if self.index is not None else Embedder())
        if self.index is not None and embedder is not self.index.embedder:
            self.index.check_embedder(self.index.manifest, embedder)
        band = self.verifier_band
        check_param("GroundingScorer", "verifier_band", band,
                    isinstance(band, (tuple, list)) and len(band) == 2
                    and all(isinstance(b, (int, float)) for b in band) and 0.0 <= band[0] <= band[1] <= 1.0,
                    "a pair (low, high) with 0 <= low <= high <= 1")
        check_param("GroundingScorer", "retrieval_floor", self.retrieval_floor,
                    isinstance(self.retrieval_floor, (int, float)) and -1.0 <= self.retrieval_floor <= 1.0,
                    "a float in [-1, 1]")
        check_param("GroundingScorer", "retrieval_min_coverage", self.retrieval_min_coverage,
                    isinstance(self.retrieval_min_coverage, (int, float)) and 0.0 <= self.retrieval_min_coverage <= 1.0,
                    "a float in [0, 1]")
        check_param("GroundingScorer", "verifier_weight", self.verifier_weight,
                    isinstance(self.verifier_weight, (int, float)) and 0.0 <= self.verifier_weight <= 1.0,
                    "a float in [0, 1]")
        if self.verifier is not None and self._verifier is None:
            if isinstance(self.verifier, (str, Path)):
                self._verifier = GroundingVerifier(self.verifier)
            elif callable(getattr(self.verifier, "predict", None)):
                self._verifier = self.verifier
            else:
                raise ConfigError("GroundingScorer: verifier must be a model folder or an object with "
                                  f"predict(claims, evidences), got {type(self.verifier).__name__}.")
        params = GroundingParams.load(self.params)
        threshold = params.threshold if self.threshold is None else float(self.threshold)
        return embedder, params, threshold

    # -- evidence gathering -------------------------------------------------------------------
    def _evidence(self, pairs: Sequence[PairInput], embedder: Embedder, open_tasks: Sequence[bool]
                  ) -> tuple[list[list[_EvidenceSentence]], list[str]]:
        return gather_evidence(pairs, embedder, self.index, self.top_k, self.source_chunk_tokens,
                               self.PAIR_QUERY, self.PAIR_QUERY_CONCAT_WORDS, open_tasks)

    #: How a pair's own retrieval query is made. "concat": prompt and response embedded as one
    #: text. "mean": the normalised sum of the prompt's and the response's own vectors, which the
    #: quality step has embedded already (nothing is embedded again). "auto" (default): concat
    #: for a short pair (at most PAIR_QUERY_CONCAT_WORDS words, or a response of one checked
    #: sentence: then the pair query is the claim's only query, and a short answer like "Roger
    #: Christian" finds its passage through its question), mean for a long multi-sentence response,
    #: whose every sentence also gets its own query and whose concatenation would be a third
    #: embedding of up to 256 word pieces (~45 % of grounding's embedding work on Alpaca/LIMA
    #: rows). An open-ended task's pair query is always the mean under "auto" (no short answer
    #: finds its passage through a prompt that asks for a piece of work). Measured in
    #: benchmarks/RESULTS.md ("Scale", pair query).
    PAIR_QUERY = "auto"
    PAIR_QUERY_CONCAT_WORDS = 64

    # -- scoring ------------------------------------------------------------------------------
    def features(self, pairs: Sequence[PairInput]) -> tuple[list[list[SentenceVerdict]], list[str]]:
        """Per pair, per sentence: the feature dict and alignment (verdicts not yet decided)."""
        embedder = self.embedder or (self.index.embedder if self.index is not None else Embedder())
        per_pair, modes, _, _ = self._features(pairs, embedder)
        return per_pair, modes

    def _features(self, pairs: Sequence[PairInput], embedder: Embedder
                  ) -> tuple[list[list[SentenceVerdict]], list[str], list[str], list[str | None]]:
        """Per pair: sentence verdicts with features, evidence mode, all evidence as one text, and
        its open-ended task kind or None (:func:`~curator.grounding.tasks.open_ended`).

        Not-checked segments (code, tables, headings, URLs, list markers alone, non-answers) get
        verdict ``not_checked`` and no features; they never change a pair's probability."""
        kinds = [open_ended(p.prompt, p.source, p.response) for p in pairs]
        opens = [k is not None for k in kinds]
        evidence, modes = self._evidence(pairs, embedder, opens)
        segs: list[list[Segment]] = []
        texts: list[str] = []
        asks = [asked(p) for p in pairs]
        for p, ask, ev in zip(pairs, asks, evidence):
            ss = [dataclasses.replace(s, kind="label", check="")
                  if s.checked and is_label(s.check, p.prompt, p.source)
                  else dataclasses.replace(s, kind="lead_in", check="")
                  if s.checked and is_lead_in(s.check, p.prompt) else s
                  for s in segment_claims(p.response)]
            segs.append(ss)
            texts.extend(_claim_query(ask, s.check) for s in ss if s.checked)
            texts.extend(e.text for e in ev)
        vecs = embedder.encode(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        out = claim_features(asks, segs, evidence, vecs)
        return out, modes, [" ".join(e.text for e in ev) for ev in evidence], kinds

    def _verify(self, pairs: Sequence[PairInput], per_pair: list[list[SentenceVerdict]],
                ev_texts: list[str], modes: list[str]) -> None:
        """Let the verifier re-judge the doubtful sentences (support already set from features)."""
        low, high = self.verifier_band
        todo = [(i, v) for i, vs in enumerate(per_pair) if modes[i] != "none"
                for v in vs if v.features and low <= 1.0 - v.support <= high]
        if not todo:
            return
        claims = [make_claim(v.text, asked(pairs[i])) for i, v in todo]
        evidences = [evidence_window(c, ev_texts[i]) for c, (i, _) in zip(claims, todo)]
        probs = np.asarray(self._verifier.predict(claims, evidences), dtype=np.float64)
        if probs.shape != (len(todo),):
            raise ModelError(f"verifier returned {probs.shape} scores for {len(todo)} claims.")
        w = float(self.verifier_weight)
        for (_, v), pv in zip(todo, np.clip(probs, 0.0, 1.0)):
            v.verifier_prob = float(pv)
            v.support = float(1.0 - ((1.0 - w) * (1.0 - v.support) + w * pv))

    def _not_about(self, f: dict[str, float]) -> bool:
        """Index mode: is the retrieved evidence not about this claim (so it cannot judge it)?"""
        if f["emb_max"] < self.retrieval_floor:
            return True
        return f["prompt_overlap"] == 0 and f["cov_local"] < self.retrieval_min_coverage

    def score(self, pairs: Sequence[PairInput]) -> list[PairGrounding]:
        """Judge every pair; the result list is aligned with ``pairs``.

        A claim is judged only when its evidence is about it (:func:`~curator.grounding.is_about`;
        in index mode also above ``retrieval_floor`` / ``retrieval_min_coverage``). A pair is
        ``hallucinated`` when a judged claim's probability reaches the threshold; ``unverifiable``
        with confidence "low" (doubtful) when one reaches the parameters' doubt threshold;
        ``supported`` when some claim is judged and all are below it; else ``unverifiable`` (no
        checkable claim, no evidence, or evidence about none of its claims). See
        :func:`~curator.grounding.judge_pair` for ``hallucination_prob`` (a number, or NaN when
        nothing could be scored or, in index mode, nothing was judged)."""
        embedder, params, threshold = self._validate()
        self.threshold_ = threshold
        per_pair, modes, ev_texts, kinds = self._features(pairs, embedder)
        set_aside_unreadable(per_pair)  # claims in a script or number words the checks cannot read
        flat = [v for vs in per_pair for v in vs if v.features]
        if flat:
            probs = params.predict([v.features for v in flat])
            for v, pr in zip(flat, probs):
                v.support = float(1.0 - pr)
            if self._verifier is not None:
                self._verify(pairs, per_pair, ev_texts, modes)
        return [judge_pair(p.response, verdicts, mode, threshold, self._not_about, params.doubt, params.about,
                           tuple(params.floors), kind is not None,
                           STRICT_OPEN_CONFLICTS if kind in STRICT_OPEN_KINDS else (OPEN_TASK_CONFLICT,))
                for p, verdicts, mode, kind in zip(pairs, per_pair, modes, kinds)]
