"""Does a learned pair decision beat embedding cosine, across datasets? (leave-one-dataset-out)

    python benchmarks/dedup_pairs.py              # ~1 min with cached embeddings
    python benchmarks/dedup_pairs.py --no-write   # print only

Every labelled pair of shared/data/pairs (MRPC, PAWS, QQP, STS-B score >= 4, SICK >= 4.5) gets
cheap features: embedding cosine (all-MiniLM-L6-v2), character-5-gram Jaccard, rapidfuzz
ratio / token_set_ratio, and what the two sides do *not* share (content words, numbers,
negations, length). A standardised logistic regression (each dataset weighted equally, classes
balanced within it) is trained on all datasets but one and tested on the held-out one: AUROC,
and precision/recall at the threshold chosen on the training folds (the lowest score at which
every large training set, n >= 1000, keeps precision >= 0.95). Baselines: cosine alone (same
threshold rule) and curator's default OR-decision (exact or near or semantic).

Results: benchmarks/RESULTS_dedup_pairs.md (a re-run rewrites the numbers and keeps the
hand-written conclusions below its ``<!-- conclusions -->`` marker). Outcome: no variant beat
cosine alone on held-out datasets, so curator.dedup keeps its OR-decision.

Embeddings are cached on disk (``curator.embed.default_cache_dir()``), so re-runs take
seconds. Data: ``$CURATOR_DATA_DIR`` or ``<repo>/../shared/data``; exits 0 when absent.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curator.dedup import (  # noqa: E402
    DEFAULT_NEAR_THRESHOLD,
    DEFAULT_SEMANTIC_THRESHOLD,
    NearDuplicateFinder,
    optimal_lsh_params,
)
from curator.text import normalize_text  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import data_dir  # noqa: E402
from dedup import load_pairs  # noqa: E402

OUT = Path(__file__).with_name("RESULTS_dedup_pairs.md")
TARGET_PRECISION = 0.95
LARGE = 1000  # training sets with at least this many pairs set the threshold


# ---------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------
NEGATIONS = frozenset("not no never nobody nothing none neither nor nowhere without cannot "
                      "n't isn't aren't wasn't weren't don't doesn't didn't can't couldn't won't "
                      "wouldn't shouldn't hasn't haven't hadn't".split())
PAIR_FEATURES = ("cosine", "jaccard", "ratio", "token_set", "cw_symdiff", "cw_missing_max",
                 "cw_missing_min", "num_mismatch", "neg_mismatch", "len_ratio")


def pair_features(ta: list[str], tb: list[str], cos: np.ndarray) -> np.ndarray:
    """(pairs, len(PAIR_FEATURES)) matrix of cheap pair features."""
    from rapidfuzz import fuzz, process, utils

    from curator.text import content_words, numbers, words

    n = len(ta)
    jac = NearDuplicateFinder()._exact_jaccard(list(ta) + list(tb), np.arange(n),
                                              np.arange(n) + n)
    proc = utils.default_process
    ratio = process.cpdist(ta, tb, scorer=fuzz.ratio, processor=proc, workers=1) / 100
    tset = process.cpdist(ta, tb, scorer=fuzz.token_set_ratio, processor=proc, workers=1) / 100
    out = np.zeros((n, len(PAIR_FEATURES)))
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = cos, jac, ratio, tset
    for k, (a, b) in enumerate(zip(ta, tb)):
        ca, cb = set(content_words(a)), set(content_words(b))
        miss_a = len(ca - cb) / len(ca) if ca else 0.0
        miss_b = len(cb - ca) / len(cb) if cb else 0.0
        wa, wb = words(a), words(b)
        neg_a = sum(w in NEGATIONS or w.endswith("n't") for w in wa)
        neg_b = sum(w in NEGATIONS or w.endswith("n't") for w in wb)
        out[k, 4] = np.log1p(len(ca ^ cb))
        out[k, 5] = max(miss_a, miss_b)
        out[k, 6] = min(miss_a, miss_b)
        out[k, 7] = float(set(numbers(a)) != set(numbers(b)))
        out[k, 8] = float((neg_a > 0) != (neg_b > 0))
        out[k, 9] = min(len(wa), len(wb)) / max(len(wa), len(wb), 1)
    return out


def features(ta: list[str], tb: list[str], cos: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(pairs, features) matrix and feature names."""
    return pair_features(ta, tb, cos), list(PAIR_FEATURES)


def or_decision(ta: list[str], tb: list[str], cos: np.ndarray, jac: np.ndarray,
                finder: NearDuplicateFinder, sigs: np.ndarray, ia: np.ndarray, ib: np.ndarray
                ) -> np.ndarray:
    """What Deduplicator decides for the pair alone at its defaults (as benchmarks/dedup.py)."""
    bands, rows = optimal_lsh_params(DEFAULT_NEAR_THRESHOLD, finder.num_perm)
    slack = 4 * 0.5 / np.sqrt(finder.num_perm)
    eq = sigs[ia] == sigs[ib]
    est = eq.mean(axis=1)
    band_hit = eq[:, :bands * rows].reshape(len(ia), bands, rows).all(axis=2).any(axis=1)
    near = band_hit & (est >= DEFAULT_NEAR_THRESHOLD - slack) & (jac >= DEFAULT_NEAR_THRESHOLD)
    na = [normalize_text(t, True, True, True) for t in ta]
    nb = [normalize_text(t, True, True, True) for t in tb]
    exact = np.array([bool(a) and a == b for a, b in zip(na, nb)])
    return exact | near | (cos >= DEFAULT_SEMANTIC_THRESHOLD)


# ---------------------------------------------------------------------------------------------
# Model and metrics
# ---------------------------------------------------------------------------------------------
def sample_weights(groups: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each dataset weighs the same, and within it each class weighs half."""
    w = np.zeros(len(y))
    names = np.unique(groups)
    for g in names:
        for c in (0, 1):
            m = (groups == g) & (y == c)
            if m.any():
                w[m] = 1.0 / (len(names) * 2 * m.sum())
    return w * len(y)


def fit_model(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float = 1.0,
              kind: str = "lr"):
    """Standardised logistic regression ("lr"), or gradient-boosted trees ("gbm": a check of
    whether a nonlinear combination transfers better)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if kind == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier

        gbm = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05,
                                             max_leaf_nodes=15, random_state=0)
        return None, gbm.fit(x, y, sample_weight=sample_weights(groups, y))
    scaler = StandardScaler().fit(x)
    lr = LogisticRegression(C=c, max_iter=2000)
    lr.fit(scaler.transform(x), y, sample_weight=sample_weights(groups, y))
    return scaler, lr


def score_model(model, x: np.ndarray) -> np.ndarray:
    scaler, clf = model
    return clf.predict_proba(x if scaler is None else scaler.transform(x))[:, 1]


def prec_rec(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    tp = int((pred & (y == 1)).sum())
    n_pred = int(pred.sum())
    return (tp / n_pred if n_pred else float("nan")), tp / max(int((y == 1).sum()), 1), n_pred


def choose_threshold(scores: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                     target: float = TARGET_PRECISION, min_pred: int = 20) -> float:
    """Lowest threshold t such that, at t and every higher candidate threshold, each training
    set of >= LARGE pairs keeps precision >= target (sets with < min_pred predicted positives at
    a threshold count as meeting it). Only training data is looked at."""
    large = [k for k in scores if len(scores[k]) >= LARGE]
    pool = np.concatenate([scores[k] for k in large])
    grid = np.unique(np.quantile(pool, np.linspace(0.5, 1.0, 2001)))
    ok = np.ones(len(grid), dtype=bool)
    for k in large:
        s, y = scores[k], labels[k]
        order = np.argsort(-s)
        s_sorted, y_sorted = s[order], y[order]
        tp_cum = np.concatenate(([0], np.cumsum(y_sorted)))
        n_pred = np.searchsorted(-s_sorted, -grid, side="right")  # count of s >= t
        prec = np.where(n_pred > 0, tp_cum[n_pred] / np.maximum(n_pred, 1), 1.0)
        ok &= (prec >= target) | (n_pred < min_pred)
    # suffix-all: the condition holds from t upwards
    good = np.flip(np.logical_and.accumulate(np.flip(ok)))
    idx = np.flatnonzero(good)
    return float(grid[idx[0]]) if len(idx) else float("inf")


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.mean() < 1 else float("nan")


def fmt(x: float, d: int = 3) -> str:
    return "–" if x != x else f"{x:.{d}f}"


# ---------------------------------------------------------------------------------------------
# Experiment
# ---------------------------------------------------------------------------------------------
def prepare(root: Path) -> dict:
    from curator.embed import Embedder, default_cache_dir

    datasets = dict(sorted(load_pairs(root, None).items()))  # same labels as benchmarks/dedup.py
    all_texts = sorted({t for a, b, _ in datasets.values() for t in a + b})
    index = {t: k for k, t in enumerate(all_texts)}
    t0 = time.perf_counter()
    emb = Embedder(cache_dir=default_cache_dir()).encode(all_texts)
    t_emb = time.perf_counter() - t0
    finder = NearDuplicateFinder()
    sigs = finder.signatures(all_texts)
    data = {}
    t0 = time.perf_counter()
    for name, (ta, tb, y) in datasets.items():
        ia = np.array([index[t] for t in ta])
        ib = np.array([index[t] for t in tb])
        cos = np.clip((emb[ia] * emb[ib]).sum(axis=1), -1.0, 1.0).astype(np.float64)
        x, names = features(ta, tb, cos)
        jac = x[:, names.index("jaccard")]
        # unordered pair identity: 1,500 STS-B pairs (MSRpar) are MRPC pairs, and a held-out
        # pair must not be in the training folds
        keys = np.array([hash((min(a, b), max(a, b))) for a, b in zip(ta, tb)], dtype=np.int64)
        data[name] = {"x": x, "y": y, "cos": cos, "keys": keys,
                      "or": or_decision(ta, tb, cos, jac, finder, sigs, ia, ib)}
    t_feat = time.perf_counter() - t0
    n_pairs = sum(len(d["y"]) for d in data.values())
    print(f"{len(all_texts)} unique texts embedded/loaded in {t_emb:.0f} s; features of "
          f"{n_pairs} pairs in {t_feat:.1f} s", flush=True)
    return {"data": data, "names": names, "n_texts": len(all_texts), "emb_s": t_emb,
            "feat_s": t_feat}


def lodo(prep: dict, cols: list[int] | None = None, train_exclude: tuple[str, ...] = (),
         c: float = 1.0, kind: str = "lr") -> dict[str, dict]:
    """Leave-one-dataset-out: per held-out dataset, the metrics of every decision."""
    data = prep["data"]
    out: dict[str, dict] = {}
    for held in data:
        train = [k for k in data if k != held and k not in train_exclude]
        sel = slice(None) if cols is None else cols
        fold = {k: ~np.isin(data[k]["keys"], data[held]["keys"]) for k in train}
        x = np.concatenate([data[k]["x"][fold[k]][:, sel] for k in train])
        y = np.concatenate([data[k]["y"][fold[k]] for k in train])
        g = np.concatenate([[k] * int(fold[k].sum()) for k in train])
        model = fit_model(x, y, g, c, kind)
        train_scores = {k: score_model(model, data[k]["x"][fold[k]][:, sel]) for k in train}
        train_labels = {k: data[k]["y"][fold[k]] for k in train}
        t_learn = choose_threshold(train_scores, train_labels)
        t_cos = choose_threshold({k: data[k]["cos"][fold[k]] for k in train}, train_labels)
        d = data[held]
        s = score_model(model, d["x"][:, sel])
        yh = d["y"]
        # as deployed: candidates of the default search (exact/near/semantic), confirmed by score
        out[held] = {
            "n": len(yh), "dup": float(yh.mean()),
            "cos_auc": auroc(yh, d["cos"]),
            "or": prec_rec(d["or"], yh),
            "t_cos": t_cos, "cos_at_t": prec_rec(d["cos"] >= t_cos, yh),
            "learn_auc": auroc(yh, s),
            "t_learn": t_learn, "learn_at_t": prec_rec(s >= t_learn, yh),
            "or_and_learn": prec_rec(d["or"] & (s >= t_learn), yh),
        }
    return out


def table(res: dict[str, dict]) -> list[str]:
    lines = [
        "| held-out set | n | dup share | cosine AUROC | OR-decision P / R | cosine @ train t: "
        "t, P / R | learned AUROC | learned @ train t: t, P / R | OR-candidates ∧ learned P / R |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for k, r in res.items():
        lines.append(
            f"| {k} | {r['n']} | {r['dup']:.2f} | {fmt(r['cos_auc'])} | "
            f"{fmt(r['or'][0], 2)} / {fmt(r['or'][1], 2)} | "
            f"{fmt(r['t_cos'])}: {fmt(r['cos_at_t'][0], 2)} / {fmt(r['cos_at_t'][1], 2)} | "
            f"{fmt(r['learn_auc'])} | "
            f"{fmt(r['t_learn'])}: {fmt(r['learn_at_t'][0], 2)} / {fmt(r['learn_at_t'][1], 2)} | "
            f"{fmt(r['or_and_learn'][0], 2)} / {fmt(r['or_and_learn'][1], 2)} |")
    cos_m = np.mean([r["cos_auc"] for r in res.values()])
    learn_m = np.mean([r["learn_auc"] for r in res.values()])
    big = [r for r in res.values() if r["n"] >= LARGE]
    lines.append(f"| **mean (all 5)** | | | {cos_m:.3f} | | | {learn_m:.3f} "
                 f"(Δ {learn_m - cos_m:+.3f}) | | |")
    cb = np.mean([r["cos_auc"] for r in big])
    lb = np.mean([r["learn_auc"] for r in big])
    lines.append(f"| **mean (MRPC, SICK, STS-B)** | | | {cb:.3f} | | | {lb:.3f} "
                 f"(Δ {lb - cb:+.3f}) | | |")
    return lines


def coef_table(model, names: list[str]) -> list[str]:
    scaler, lr = model
    lines = ["| feature | mean | scale | coefficient (standardised) |", "|---|---|---|---|"]
    for k, nm in enumerate(names):
        lines.append(f"| {nm} | {scaler.mean_[k]:.3f} | {scaler.scale_[k]:.3f} | "
                     f"{lr.coef_[0][k]:+.3f} |")
    lines.append(f"| intercept | | | {lr.intercept_[0]:+.3f} |")
    return lines


def max_recall_at_precision(y: np.ndarray, s: np.ndarray, target: float = TARGET_PRECISION,
                            min_pred: int = 10) -> float:
    """Highest recall over all thresholds whose precision >= target (>= min_pred flagged).

    An oracle: the threshold is picked on the evaluated data itself, so this bounds what any
    threshold on the score could do there."""
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(y[order])
    n_pred = np.arange(1, len(y) + 1)
    # only cut between distinct scores
    last = np.concatenate((s[order][1:] != s[order][:-1], [True]))
    ok = last & (n_pred >= min_pred) & (tp / n_pred >= target)
    return float(tp[ok].max() / max(y.sum(), 1)) if ok.any() else 0.0


def in_domain(prep: dict, folds: int = 5) -> dict[str, dict]:
    """Optimistic ceiling: 5-fold CV of the same model within each dataset."""
    from sklearn.model_selection import StratifiedKFold

    out = {}
    for k, d in prep["data"].items():
        s = np.zeros(len(d["y"]))
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(d["x"], d["y"]):
            model = fit_model(d["x"][tr], d["y"][tr], np.array([k] * len(tr)))
            s[te] = score_model(model, d["x"][te])
        out[k] = {"auc": auroc(d["y"], s), "cos_auc": auroc(d["y"], d["cos"]),
                  "cos_r95": max_recall_at_precision(d["y"], d["cos"]),
                  "lr_r95": max_recall_at_precision(d["y"], s)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-write", action="store_true", help="print only, do not write --out")
    args = ap.parse_args()
    root = data_dir()
    if not (root / "pairs").exists():
        print(f"skipped: evaluation data not found ({root / 'pairs'}); set CURATOR_DATA_DIR.")
        return 0
    command = "python benchmarks/dedup_pairs.py"
    started = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    prep = prepare(root)
    names = prep["names"]
    data = prep["data"]

    # The pre-registered setup (the one the conclusion rests on): all features, all five sets.
    res = lodo(prep)
    main_lines = table(res)
    print("\n".join(main_lines), flush=True)

    # Every other variant that was tried, reported whatever it gave; none chose anything above.
    ix = [names.index(n) for n in ("cosine", "cw_symdiff", "cw_missing_max", "cw_missing_min",
                                   "num_mismatch", "neg_mismatch", "len_ratio")]
    pq = ("paws", "qqp")
    variants: list[tuple[str, dict[str, dict]]] = [
        ("LR, all features (above)", res),
        ("LR, all features, trained w/o PAWS+QQP", lodo(prep, train_exclude=pq)),
        ("LR, all features, C = 0.01", lodo(prep, c=0.01)),
        ("LR, no cosine feature", lodo(prep, cols=[k for k, n in enumerate(names)
                                                   if n != "cosine"])),
        ("LR, cosine + Jaccard", lodo(prep, cols=[names.index("cosine"),
                                                  names.index("jaccard")])),
        ("LR, cosine + difference features", lodo(prep, cols=ix)),
        ("LR, cosine + difference features, w/o PAWS+QQP", lodo(prep, cols=ix,
                                                                train_exclude=pq)),
        ("LR, cosine + cw_missing_max", lodo(prep, cols=[names.index("cosine"),
                                                         names.index("cw_missing_max")])),
        ("gradient-boosted trees, all features", lodo(prep, kind="gbm")),
        ("gradient-boosted trees, all features, w/o PAWS+QQP", lodo(prep, train_exclude=pq, kind="gbm")),
    ]
    big = [k for k in data if len(data[k]["y"]) >= LARGE]
    sens = ["| held-out AUROC | " + " | ".join(data) + " | mean (5) | mean (" + ", ".join(big)
            + ") |", "|---" * (len(data) + 3) + "|"]
    cos_auc = {k: auroc(d["y"], d["cos"]) for k, d in data.items()}
    sens.append("| cosine alone (no training) | " + " | ".join(fmt(v) for v in cos_auc.values())
                + f" | {np.mean(list(cos_auc.values())):.3f} | "
                + f"{np.mean([cos_auc[k] for k in big]):.3f} |")
    for label, r in variants:
        a = [r[k]["learn_auc"] for k in data]
        sens.append(f"| {label} | " + " | ".join(fmt(v) for v in a)
                    + f" | {np.mean(a):.3f} | {np.mean([r[k]['learn_auc'] for k in big]):.3f} |")
    print("\n".join(sens), flush=True)

    ceil = in_domain(prep)
    ceil_lines = ["| set | cosine AUROC | LR in-domain 5-fold AUROC | max recall at P >= 0.95: "
                  "cosine | same: LR in-domain |", "|---|---|---|---|---|"]
    for k, row in ceil.items():
        ceil_lines.append(f"| {k} | {fmt(row['cos_auc'])} | {fmt(row['auc'])} | "
                          f"{row['cos_r95']:.2f} | {row['lr_r95']:.2f} |")
    print("\n".join(ceil_lines), flush=True)

    x = np.concatenate([d["x"] for d in data.values()])
    y = np.concatenate([d["y"] for d in data.values()])
    g = np.concatenate([[k] * len(d["y"]) for k, d in data.items()])
    model = fit_model(x, y, g)
    coefs = coef_table(model, names)
    print("\n".join(coefs), flush=True)

    if not args.no_write:
        write_md(args.out, command, started, prep, main_lines, sens, ceil_lines, coefs)
    return 0


def write_md(path: Path, command: str, started: str, prep: dict, main_lines: list[str],
             sens: list[str], ceil_lines: list[str], coefs: list[str]) -> None:
    # The prose conclusions are kept by hand below a marker; a re-run regenerates the numbers.
    marker = "<!-- conclusions -->"
    keep = ""
    if path.exists() and marker in (old := path.read_text(encoding="utf-8")):
        keep = old[old.index(marker):]
    md = [
        "## Learned pair decision vs cosine (leave-one-dataset-out)", "",
        f"Command: `HF_HUB_OFFLINE=1 /tmp/venv/bin/python benchmarks/dedup_pairs.py` — run "
        f"{started}; {os.cpu_count()} cores (shared). {prep['n_texts']:,d} unique texts "
        f"(embeddings: {prep['emb_s']:.0f} s from the disk cache; ~9.5 min when fresh); "
        f"features of all pairs {prep['feat_s']:.0f} s.", "",
        "Features per pair: " + ", ".join(f"`{n}`" for n in prep["names"]) + " (cosine of "
        "all-MiniLM-L6-v2; Jaccard of character 5-grams as NearDuplicateFinder; rapidfuzz "
        "ratio / token_set_ratio with default_process; content words "
        "(`curator.text.content_words`) in the symmetric difference (log1p) and the larger / "
        "smaller share of a side's content words missing from the other; numbers "
        "(`curator.text.numbers`) differ; one side negated and the other not; word-count "
        "ratio). Logistic regression on standardised features (C = 1), each training dataset "
        "weighted equally with balanced classes within it; trained on the other sets, tested on "
        "the held-out one. Pairs of the held-out set are removed from the training folds (1,500 "
        "STS-B pairs, MSRpar, are MRPC pairs). Threshold 't' (for cosine and the learned score "
        "alike) = the lowest score at which every *training* set of >= 1000 pairs keeps "
        f"precision >= {TARGET_PRECISION} (at t and above). OR-decision = curator's defaults "
        "(exact, or near Jaccard >= 0.7 via LSH, or cosine >= 0.95), no training. "
        "'OR-candidates ∧ learned' = pairs the default search finds, confirmed by learned "
        "score >= t (the option that would have been implemented). PAWS and QQP have 200 pairs "
        "each: a handful of pairs moves their numbers by several points ('–' = nothing "
        "flagged).", "",
        *main_lines, "",
        "All variants tried (held-out AUROC; each row is a full LODO run; nothing here was "
        "used to pick the setup above):", "",
        *sens, "",
        "Ceiling of these signals *within* each dataset (optimistic: 5-fold CV inside the set, "
        "folds share sentences; 'max recall at P >= 0.95' picks the best threshold on the "
        "evaluated data itself, >= 10 pairs flagged):", "",
        *ceil_lines, "",
        "Model refitted on all five sets (for the signs; not shipped):", "",
        *coefs, "",
    ]
    path.write_text("\n".join(md) + ("\n" + keep if keep else ""), encoding="utf-8")
    print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
