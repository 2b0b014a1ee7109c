"""GroundingScorer: is each response sentence supported by the source, and by which passage?

For every pair the scorer gathers *evidence*: the pair's own source text when the data has one
(``source``), the passages of its named document (``source_id``), or else the top-``k`` passages
retrieved from a :class:`~curator.index.PassageIndex`. Each response sentence (a *claim*) is then
aligned to its best evidence sentences and judged with cheap, transferable features:

* embedding similarity of the claim (with the question prepended when the claim is a short
  answer) to its best evidence sentences;
* lexical support: the share of the claim's new content words (words not already in the prompt)
  that the aligned evidence contains, locally (top-2 aligned sentences) and anywhere in the
  evidence; numbers and capitalised names missing from the evidence; negation mismatches;
* rapidfuzz similarity of the claim to its best evidence sentence.

A logistic model over these features (parameters in ``curator/data/grounding_params.json``, fitted
by ``benchmarks/grounding_logo.py --fit``) gives each sentence a probability of being unsupported.
A sentence is judged only when its evidence is *about* it (:func:`is_about`); a pair is
``hallucinated`` when a judged sentence reaches the threshold, doubtful (``unverifiable``,
confidence "low") between the doubt threshold and it, ``supported`` when its judged sentences are
below, else ``unverifiable``; ``hallucination_prob`` is its worst judged sentence's probability
(docs/grounding.md, section 3), ``grounding`` is 1 minus it.

>>> scorer = GroundingScorer()                                                  # doctest: +SKIP
>>> res = scorer.score([PairInput("Capital of France?", "Lyon.", source="Paris is the capital of France.")])  # doctest: +SKIP
>>> res[0].hallucinated                                                         # doctest: +SKIP
True

The package, bottom to top (a module imports only the ones listed before it, and curator's
lower modules: :mod:`curator.text`, :mod:`curator.errors`, :mod:`curator.embed`):

* :mod:`~curator.grounding.claims`: the pair, its claims, one claim's verdict (segmentation glue);
* :mod:`~curator.grounding.evidence`: a pair's evidence sentences (own source, named document or
  retrieval) and the evidence window a cross-encoder reads;
* :mod:`~curator.grounding.features`: the per-claim features;
* :mod:`~curator.grounding.combiner`: parameters, threshold, verdicts;
* :mod:`~curator.grounding.verifier`: the optional cross-encoder (inference and training);
* :mod:`~curator.grounding.scorer`: :class:`GroundingScorer`, which runs them in order.
"""

from __future__ import annotations

from ..text import stem
from .claims import SHORT_CLAIM_WORDS, PairInput, SentenceVerdict, claim_words, make_claim
from .combiner import (
    ABOUT_MIN_COVERAGE,
    ABOUT_MIN_SIM,
    RETRIEVAL_FLOOR,
    RETRIEVAL_MIN_COVERAGE,
    VERDICTS,
    GroundingParams,
    PairGrounding,
    about_mask,
    is_about,
    judge_pair,
    verdicts_json,
)
from .evidence import MAX_UNIT_WORDS, evidence_window, gather_evidence
from .features import (
    AGAINST_FEATURES,
    ALL_FEATURES,
    FEATURES,
    NEGATIONS,
    SUPPORT_FEATURES,
    claim_features,
)
from .scorer import GroundingScorer
from .verifier import (
    SHIPPED_DIR,
    GroundingVerifier,
    base_model_dir,
    check_model_dir,
    label_spec,
    labelled_examples,
    shipped_model_dir,
    train_verifier,
)

__all__ = [
    "ABOUT_MIN_COVERAGE", "ABOUT_MIN_SIM", "AGAINST_FEATURES", "ALL_FEATURES", "FEATURES", "MAX_UNIT_WORDS", "NEGATIONS", "RETRIEVAL_FLOOR",
    "RETRIEVAL_MIN_COVERAGE", "SHIPPED_DIR", "SHORT_CLAIM_WORDS", "SUPPORT_FEATURES", "VERDICTS",
    "GroundingParams", "GroundingScorer", "GroundingVerifier", "PairGrounding", "PairInput",
    "SentenceVerdict", "about_mask", "base_model_dir", "check_model_dir", "claim_features", "claim_words",
    "evidence_window", "gather_evidence", "is_about", "judge_pair", "label_spec", "labelled_examples",
    "make_claim", "shipped_model_dir", "stem", "train_verifier", "verdicts_json",
]
