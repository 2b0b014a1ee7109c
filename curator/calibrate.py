"""Fit the grounding combiner (and its threshold) on labelled examples.

Labelled examples are JSONL rows with ``source``, ``response``, ``hallucinated`` (0/1; null rows
are skipped) and optionally ``prompt`` and ``dataset`` — the shape of
``../shared/data/grounding/*.jsonl``. The fit is a logistic regression over the scorer's
features in which every dataset and class weighs the same, so a large dataset does not drown a
small one.

>>> params = calibrate("my_labels.jsonl", out="my_params.json")   # doctest: +SKIP
>>> # then: curator score pairs.jsonl --index docs --params my_params.json -o scored.jsonl
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, check_param
from .grounding import FEATURES, GroundingParams, GroundingScorer, PairInput

# Features where a larger value means less support: a pair takes its worst sentence's maximum.
_WORST_IS_MAX = {"num_novel", "ent_novel", "neg_mismatch", "short_claim"}


def pair_features(scorer: GroundingScorer, pairs: Sequence[PairInput]) -> np.ndarray:
    """Pair-level feature matrix: for each feature, its worst value over the response's sentences."""
    per_pair, _ = scorer.features(pairs)
    out = np.zeros((len(pairs), len(FEATURES)))
    for i, verdicts in enumerate(per_pair):
        if not verdicts:
            continue
        for j, f in enumerate(FEATURES):
            vals = [v.features[f] for v in verdicts]
            out[i, j] = max(vals) if f in _WORST_IS_MAX else min(vals)
    return out


def fit_params(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None,
               meta: dict[str, Any] | None = None, target_precision: float | None = None) -> GroundingParams:
    """Dataset- and class-balanced logistic regression -> GroundingParams.

    With ``target_precision`` the threshold is the lowest one whose precision on the training data
    reaches it (else 0.5)."""
    from sklearn.linear_model import LogisticRegression

    groups = np.zeros(len(y), dtype=int) if groups is None else np.asarray(groups)
    if len(np.unique(y)) < 2:
        raise InputError("calibration needs both hallucinated (1) and faithful (0) examples.")
    mean, scale = x.mean(0), x.std(0) + 1e-9
    w = np.ones(len(y))
    for g in np.unique(groups):
        for c in (0, 1):
            m = (groups == g) & (y == c)
            if m.any():
                w[m] = 1.0 / m.sum()
    w *= len(y) / w.sum()
    lr = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y, sample_weight=w)
    params = GroundingParams(list(FEATURES), mean.tolist(), scale.tolist(), lr.coef_[0].tolist(),
                             float(lr.intercept_[0]), 0.5, dict(meta or {}))
    if target_precision is not None:
        params.threshold = threshold_for_precision(y, params.prob_unsupported(x), target_precision, w)
        params.meta["target_precision"] = target_precision
    return params


def threshold_for_precision(y: np.ndarray, prob: np.ndarray, precision: float,
                            weights: np.ndarray | None = None) -> float:
    """Lowest threshold at which the (weighted) precision of ``prob >= t`` reaches ``precision``."""
    w = np.ones(len(y)) if weights is None else weights
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        flagged = prob >= t
        if flagged.any() and (w[flagged] * y[flagged]).sum() / w[flagged].sum() >= precision:
            return float(t)
    return 0.95


def load_labelled(path: str | Path) -> list[dict[str, Any]]:
    """Read labelled grounding examples; one-line errors for missing fields or labels."""
    from .io import BadRecord, read_table

    rows = []
    res = read_table(path)
    for rec, line in zip(res.items, res.lines):
        if isinstance(rec, BadRecord):  # pragma: no cover - read_table raises by default
            continue
        for key in ("source", "response", "hallucinated"):
            if key not in rec:
                raise InputError(f"{path}:{line}: missing field {key!r}; labelled rows need source, response, hallucinated (0/1).")
        if rec["hallucinated"] is None:
            continue
        if rec["hallucinated"] not in (0, 1, True, False):
            raise InputError(f"{path}:{line}: 'hallucinated' must be 0 or 1, got {rec['hallucinated']!r}.")
        rows.append(rec)
    if not rows:
        raise InputError(f"{path}: no labelled rows (hallucinated 0/1).")
    return rows


def calibrate(path: str | Path, out: str | Path | None = None, scorer: GroundingScorer | None = None,
              target_precision: float | None = None) -> GroundingParams:
    """Refit the grounding combiner on a user's labelled file; write the parameters to ``out``."""
    if target_precision is not None:
        check_param("calibrate", "target_precision", target_precision,
                    isinstance(target_precision, float) and 0 < target_precision < 1, "a float in (0, 1)")
    rows = load_labelled(path)
    scorer = scorer or GroundingScorer()
    x = pair_features(scorer, [PairInput(r.get("prompt") or "", r["response"] or "", r["source"] or "") for r in rows])
    y = np.array([int(r["hallucinated"]) for r in rows])
    groups = np.array([str(r.get("dataset", "")) for r in rows])
    params = fit_params(x, y, groups, {
        "trained_on": sorted(set(groups.tolist())), "n": int(len(y)), "file": str(path),
        "date": datetime.date.today().isoformat()}, target_precision)
    if len(np.unique(y)) == 2:
        from sklearn.metrics import roc_auc_score

        params.meta["in_sample_auroc"] = round(float(roc_auc_score(y, params.prob_unsupported(x))), 4)
    if out is not None:
        params.save(out)
    return params


def _metrics(y: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import (
        balanced_accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    flag = (prob >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "n": int(len(y)), "hallucinated": int(y.sum()),
        "auroc": float(roc_auc_score(y, prob)) if both else float("nan"),
        "balanced_accuracy": float(balanced_accuracy_score(y, flag)) if both else float("nan"),
        "precision": float(precision_score(y, flag, zero_division=0)),
        "recall": float(recall_score(y, flag, zero_division=0)),
        "f1": float(f1_score(y, flag, zero_division=0)),
    }


def evaluate(path: str | Path, scorer: GroundingScorer | None = None) -> dict[str, Any]:
    """Score a labelled file with ``scorer`` (its params, threshold and verifier) and measure it.

    Returns ``{"threshold": t, "datasets": {name: metrics}, "all": metrics}`` where metrics are
    n, hallucinated, AUROC of ``hallucination_prob``, and balanced accuracy, precision, recall and
    F1 of the ``hallucinated`` flag. Rows without a ``dataset`` column form one dataset "all".
    Rows whose evidence is empty get no probability and count as not flagged (prob 0).
    """
    rows = load_labelled(path)
    scorer = scorer or GroundingScorer()
    res = scorer.score([PairInput(r.get("prompt") or "", r["response"] or "", r["source"] or "") for r in rows])
    prob = np.array([0.0 if np.isnan(g.hallucination_prob) else g.hallucination_prob for g in res])
    y = np.array([int(r["hallucinated"]) for r in rows])
    names = np.array([str(r.get("dataset") or "all") for r in rows])
    threshold = float(scorer.threshold_)
    out: dict[str, Any] = {"threshold": threshold, "file": str(path), "datasets": {}}
    for name in sorted(set(names.tolist())):
        m = names == name
        out["datasets"][name] = _metrics(y[m], prob[m], threshold)
    out["all"] = _metrics(y, prob, threshold)
    return out
