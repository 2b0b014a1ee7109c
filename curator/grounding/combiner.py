"""The combiner: per-claim features -> P(unsupported) -> verdicts.

:class:`GroundingParams` is a logistic model over the features (parameters shipped in
``curator/data/grounding_params.json``, refitted by ``curator calibrate``) plus contradiction
floors; :func:`judge_pair` turns the claims' probabilities into their verdicts and the pair's
(the worst judged claim decides; ``threshold``; ``unverifiable`` when nothing can be judged).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .claims import SentenceVerdict
from .features import ALL_FEATURES

#: In index mode a claim whose best retrieved evidence sentence has a cosine similarity below this
#: is ``unverifiable``: the index has nothing about it (see benchmarks/grounding.py --parts floor).
RETRIEVAL_FLOOR = 0.35
#: In index mode a claim is also ``unverifiable`` when its aligned evidence shares none of the
#: prompt's content words and holds less than this share of the claim's own new words: the
#: least unrelated passage of an index that does not cover the data (see
#: benchmarks/grounding.py --parts ood).
RETRIEVAL_MIN_COVERAGE = 0.3
VERDICTS = ("supported", "hallucinated", "unverifiable")


@dataclass
class PairGrounding:
    """The judgement of one pair."""

    grounding: float             # 1 - hallucination_prob
    hallucination_prob: float
    hallucinated: bool
    evidence_mode: str           # "source" | "source_id" | "index" | "none"
    sentences: list[SentenceVerdict]
    worst_sentence: str | None
    confidence: str = "normal"   # "low" when the text looks non-English or evidence is missing
    verdict: str = "supported"   # "supported" | "hallucinated" | "unverifiable" (see VERDICTS)

    @property
    def n_unsupported(self) -> int:
        return sum(s.verdict == "unsupported" for s in self.sentences)

    @property
    def citations(self) -> list[str]:
        return [s.citation for s in self.sentences if s.citation]


def _non_ascii_letter_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(ord(c) > 0x24F for c in letters) / len(letters)


@dataclass
class GroundingParams:
    """Logistic model over FEATURES: P(unsupported) = sigmoid(intercept + coef · (x - mean) / scale)."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)
    #: Contradiction rules: a claim whose feature ``f`` is >= 0.5 gets P(unsupported) of at least
    #: ``floors[f]`` (e.g. ``{"swap": 0.95}``: a fact stated with one slot changed is a
    #: contradiction however much of the wording the evidence shares). Empty = combiner only.
    floors: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> GroundingParams:
        """Load parameters from JSON (default: the ones shipped with curator)."""
        try:
            if path is None:
                text = resources.files("curator").joinpath("data/grounding_params.json").read_text("utf-8")
            else:
                text = Path(path).read_text("utf-8")
            raw = json.loads(text)
            params = cls(**{k: raw[k] for k in ("features", "mean", "scale", "coef", "intercept")},
                         threshold=float(raw.get("threshold", 0.5)), meta=raw.get("meta", {}),
                         floors={str(k): float(v) for k, v in (raw.get("floors") or {}).items()})
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"could not read grounding parameters from {path or 'package data'}: {exc}") from exc
        unknown = [f for f in [*params.features, *params.floors] if f not in ALL_FEATURES]
        if unknown or not (len(params.features) == len(params.mean) == len(params.scale) == len(params.coef)):
            raise ConfigError(f"grounding parameters {path or 'package data'} use features {unknown or params.features} "
                              f"that this curator does not compute ({', '.join(ALL_FEATURES)}); "
                              "refit them with `curator calibrate`.")
        return params

    def matrix(self, feats: Sequence[dict[str, float]]) -> np.ndarray:
        """The (n, len(features)) matrix of these parameters' features from per-claim dicts."""
        return np.array([[f[name] for name in self.features] for f in feats], dtype=np.float64).reshape(
            len(feats), len(self.features))

    def save(self, path: str | Path) -> None:
        from ..io import write_json

        write_json(path, asdict(self))

    def prob_unsupported(self, x: np.ndarray) -> np.ndarray:
        """The combiner's P(unsupported) for rows of ``x`` (columns = ``features``; no floors)."""
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = self.intercept + z @ np.asarray(self.coef)
        return 1.0 / (1.0 + np.exp(-logit))

    def apply_floors(self, prob: np.ndarray, fired: dict[str, np.ndarray]) -> np.ndarray:
        """Raise ``prob`` to each rule's floor where the rule's feature (values in ``fired``) is >= 0.5."""
        out = np.array(prob, dtype=np.float64, copy=True)
        for f, floor in self.floors.items():
            hit = np.asarray(fired[f]) >= 0.5
            out[hit] = np.maximum(out[hit], floor)
        return out

    def predict(self, feats: Sequence[dict[str, float]]) -> np.ndarray:
        """P(unsupported) of claims given their feature dicts: the combiner, then the floors."""
        prob = self.prob_unsupported(self.matrix(feats))
        return self.apply_floors(prob, {f: np.array([d[f] for d in feats]) for f in self.floors})


def judge_pair(response: str, verdicts: list[SentenceVerdict], mode: str, threshold: float,
               not_about: Callable[[dict[str, float]], bool]) -> PairGrounding:
    """A pair's judgement from its sentence verdicts, their support already set by the combiner
    (and the verifier); decides each checked sentence's verdict in place.

    A checked sentence is ``unverifiable`` when the pair has no evidence (``mode`` "none") or, in
    index mode, when ``not_about(features)`` says the retrieved evidence is not about it; else
    ``unsupported`` when its P(unsupported) reaches ``threshold``, else ``supported``. The pair is
    ``unverifiable`` (probabilities NaN) when no sentence is judged, else its worst judged
    sentence decides. ``confidence`` is "low" when the response is mostly non-Latin letters."""
    low_conf = _non_ascii_letter_share(response) > 0.5
    checked = [v for v in verdicts if v.features]
    judged = []
    for v in checked:
        if mode == "none" or (mode == "index" and not_about(v.features)):
            v.verdict = "unverifiable"
        else:
            v.verdict = "supported" if (1.0 - v.support) < threshold else "unsupported"
            judged.append(v)
    if not judged:
        for v in checked:
            v.support = float("nan")
        return PairGrounding(
            grounding=float("nan"), hallucination_prob=float("nan"), hallucinated=False,
            evidence_mode=mode, sentences=verdicts, worst_sentence=None,
            confidence="low", verdict="unverifiable")
    worst = min(judged, key=lambda v: v.support)
    prob = 1.0 - worst.support
    flagged = bool(prob >= threshold)
    return PairGrounding(
        grounding=worst.support, hallucination_prob=prob, hallucinated=flagged,
        evidence_mode=mode, sentences=verdicts, worst_sentence=worst.text,
        confidence="low" if low_conf else "normal",
        verdict="hallucinated" if flagged else "supported")


def verdicts_json(g: PairGrounding) -> str:
    """The per-sentence explanation as compact JSON (for scores.parquet / JSONL outputs)."""
    rows = []
    for v in g.sentences:
        rows.append({
            "text": v.text, "span": [v.start, v.end], "verdict": v.verdict,
            "support": None if math.isnan(v.support) else round(v.support, 4),
            "citation": v.citation, "citation_span": list(v.citation_span) if v.citation_span else None,
            "evidence": v.evidence, "unsupported_tokens": v.unsupported_tokens,
            **({"verifier_prob": round(v.verifier_prob, 4)} if v.verifier_prob is not None else {}),
        })
    return json.dumps(rows, ensure_ascii=False)
