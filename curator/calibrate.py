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
from .grounding import (
    AGAINST_FEATURES,
    ALL_FEATURES,
    FEATURES,
    SUPPORT_FEATURES,
    GroundingParams,
    GroundingScorer,
    PairInput,
    SentenceVerdict,
    is_about,
)

# Features where a larger value means less support: a pair takes its worst sentence's maximum.
_WORST_IS_MAX = AGAINST_FEATURES | {"neg_mismatch", "short_claim"}


def pair_features(scorer: GroundingScorer, pairs: Sequence[PairInput],
                  features: Sequence[str] = ALL_FEATURES) -> np.ndarray:
    """Pair-level feature matrix: for each feature, its worst value over the response's checked
    claims. A pair with no checkable claim (code only, "I don't know.") is a row of NaN."""
    per_pair, _ = scorer.features(pairs)
    return _aggregate(per_pair, features)


def _judged_probs(params: GroundingParams, per_pair: Sequence[Sequence[SentenceVerdict]]) -> np.ndarray:
    """Per pair, the largest P(unsupported) among the claims its evidence is about (NaN: none)."""
    out = np.full(len(per_pair), np.nan)
    for i, verdicts in enumerate(per_pair):
        about = [v.features for v in verdicts if v.features and is_about(v.features, params.about)]
        if about:
            out[i] = float(np.max(params.predict(about)))
    return out


def _balanced_weights(y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Weights under which every dataset and class weighs the same (as in :func:`fit_params`)."""
    w = np.ones(len(y))
    for g in np.unique(groups):
        for c in (0, 1):
            m = (groups == g) & (y == c)
            if m.any():
                w[m] = 1.0 / m.sum()
    return w * len(y) / w.sum()


def _aggregate(per_pair: Sequence[Sequence[SentenceVerdict]], features: Sequence[str]) -> np.ndarray:
    out = np.full((len(per_pair), len(features)), np.nan)
    for i, verdicts in enumerate(per_pair):
        checked = [v for v in verdicts if v.features]
        if not checked:
            continue
        for j, f in enumerate(features):
            vals = [v.features[f] for v in checked]
            out[i, j] = max(vals) if f in _WORST_IS_MAX else min(vals)
    return out


def fit_params(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None,
               meta: dict[str, Any] | None = None, target_precision: float | None = None,
               features: Sequence[str] | None = None, use: Sequence[str] | None = None,
               C: float = 1.0, floors: dict[str, float] | None = None) -> GroundingParams:
    """Dataset- and class-balanced logistic regression -> GroundingParams.

    ``x`` has one column per name in ``features`` (default: the shipped FEATURES); ``use`` picks
    the columns to fit on (default: all). Coefficients are sign-constrained: a feature that
    measures support (coverage, similarity) may only lower P(unsupported), one that measures
    missing facts may only raise it; a feature that fits the wrong sign is dropped and the model
    refitted. So more (or better) evidence can never make a claim look less supported: a pair
    cannot score worse against a larger index that still holds its own document.
    Rows with NaN (no checkable claim) are left out. ``floors`` are contradiction rules kept in
    the parameters (see :class:`GroundingParams`); their features must be among ``features``.
    With ``target_precision`` the threshold is the lowest one whose precision on the training data
    (combiner and floors) reaches it (else 0.5)."""
    from sklearn.linear_model import LogisticRegression

    names = list(features if features is not None else FEATURES)
    keep_rows = ~np.isnan(x).any(1)
    x, y = x[keep_rows], np.asarray(y)[keep_rows]
    groups = np.zeros(len(y), dtype=int) if groups is None else np.asarray(groups)[keep_rows]
    if len(np.unique(y)) < 2:
        raise InputError("calibration needs both hallucinated (1) and faithful (0) examples.")
    cols = [names.index(f) for f in (use if use is not None else names)]
    w = _balanced_weights(y, groups)
    while True:
        xs = x[:, cols]
        mean, scale = xs.mean(0), xs.std(0) + 1e-9
        lr = LogisticRegression(C=C, max_iter=1000).fit((xs - mean) / scale, y, sample_weight=w)
        coef = lr.coef_[0]
        wrong = [(abs(c), k) for k, (j, c) in enumerate(zip(cols, coef))
                 if (names[j] in SUPPORT_FEATURES and c > 0) or (names[j] in AGAINST_FEATURES and c < 0)]
        if not wrong or len(cols) == 1:
            break
        del cols[max(wrong)[1]]
    params = GroundingParams([names[j] for j in cols], mean.tolist(), scale.tolist(), coef.tolist(),
                             float(lr.intercept_[0]), 0.5, dict(meta or {}), dict(floors or {}))
    if target_precision is not None:
        prob = params.apply_floors(params.prob_unsupported(x[:, cols]),
                                   {f: x[:, names.index(f)] for f in params.floors})
        params.threshold = threshold_for_precision(y, prob, target_precision, w)
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
    # Start from the shipped parameters' features (a user's few hundred labels should not pick
    # features on their own); the sign constraints may still drop some. The contradiction rules,
    # the about test, the doubt band and the regularisation (meta "C") come with them.
    shipped = GroundingParams.load()
    use = shipped.features
    per_pair, _ = scorer.features([PairInput(r.get("prompt") or "", r["response"] or "", r["source"] or "")
                                   for r in rows])
    x = _aggregate(per_pair, ALL_FEATURES)
    y = np.array([int(r["hallucinated"]) for r in rows])
    groups = np.array([str(r.get("dataset", "")) for r in rows])
    params = fit_params(x, y, groups, {
        "trained_on": sorted(set(groups.tolist())), "n": int(len(y)), "file": str(path),
        "date": datetime.date.today().isoformat()}, None, features=ALL_FEATURES, use=use,
        floors=shipped.floors, C=float(shipped.meta.get("C", 1.0)))
    params.about = dict(shipped.about)
    params.threshold, params.doubt = shipped.threshold, shipped.doubt
    if target_precision is not None:
        # The verdict's precision: a pair is flagged when a claim its evidence is about reaches
        # the threshold (the about test; see combiner.judge_pair), weighted as in the fit.
        judged = _judged_probs(params, per_pair)
        w = _balanced_weights(y, groups)
        params.threshold = threshold_for_precision(y, np.nan_to_num(judged, nan=0.0), target_precision, w)
        params.doubt = None if shipped.doubt is None else min(shipped.doubt, params.threshold)
        params.meta["target_precision"] = target_precision
    ok = ~np.isnan(x).any(1)
    if len(np.unique(y[ok])) == 2:
        from sklearn.metrics import roc_auc_score

        xs = x[ok][:, [ALL_FEATURES.index(f) for f in params.features]]
        prob = params.apply_floors(params.prob_unsupported(xs),
                                   {f: x[ok][:, ALL_FEATURES.index(f)] for f in params.floors})
        params.meta["in_sample_auroc"] = round(float(roc_auc_score(y[ok], prob)), 4)
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
