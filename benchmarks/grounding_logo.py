"""Leave-one-GENRE-out grounding: does curator's score transfer to a genre it was never fitted on?

Data: the seven labelled sets of ../shared/data/grounding/ in four genres

    dialogue            begin, q2
    qa                  halueval_qa
    summarization       summedits, fakesumm       (fakesumm: evaluation only)
    claim verification  fever_symmetric, factcg_doc  (factcg_doc: evaluation only)

each response scored against its own source (own-source mode). Claim-level features are extracted
once per set and cached on disk (npz, no pickle; the key is the set, ``--limit`` and a hash of the
grounding code), so fits, thresholds and rules are compared without re-extracting.

Reported per set, for the combiner fitted on the three other genres (FakeSumm / FactCG included in
those folds: that is measurement, never a shipped fit):

* AUROC of ``hallucination_prob`` (rows without a probability count as 0, i.e. not flagged);
* precision / recall of the ``hallucinated`` verdict at the shipped threshold, and at the lowest
  threshold whose leave-one-genre-out precision is >= ``--precision`` on every genre;
* the lexical-novelty baseline on the same rows: the share of the response's content words absent
  from the source (AUROC; and P / R at its own threshold chosen the same way).

    python benchmarks/grounding_logo.py --limit 300          # fast iteration (cache in ~/.cache)
    python benchmarks/grounding_logo.py                       # every labelled row
    python benchmarks/grounding_logo.py --limit 300 --fit     # also refit the shipped parameters
                                                              # on the shippable sets only
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import read_jsonl, require  # noqa: E402

import curator.grounding as grounding_mod  # noqa: E402
from curator.calibrate import fit_params  # noqa: E402
from curator.embed import Embedder  # noqa: E402
from curator.grounding import (  # noqa: E402
    AGAINST_FEATURES,
    ALL_FEATURES,
    GroundingParams,
    GroundingScorer,
    PairInput,
)
from curator.text import STOPWORDS, words  # noqa: E402

GENRES: dict[str, tuple[str, ...]] = {
    "dialogue": ("begin", "q2"),
    "qa": ("halueval_qa",),
    "summarization": ("summedits", "fakesumm"),
    "claim_verification": ("fever_symmetric", "factcg_doc"),
}
SETS = tuple(s for g in GENRES.values() for s in g)
GENRE_OF = {s: g for g, ss in GENRES.items() for s in ss}
#: Sets a shipped parameter may be fitted on (data README: FakeSumm and FactCG are evaluation only).
SHIPPABLE = ("begin", "q2", "summedits", "halueval_qa", "fever_symmetric")
#: Target precision of the ``hallucinated`` verdict, per genre, held out.
TARGET_PRECISION = 0.85
_WORST_IS_MAX = AGAINST_FEATURES | {"neg_mismatch", "short_claim"}
CACHE_DIR = Path.home() / ".cache" / "curator-bench" / "grounding_logo"
GRID = np.round(np.arange(0.05, 0.991, 0.01), 2)


# ---------------------------------------------------------------------------------------------
# data and features
# ---------------------------------------------------------------------------------------------
def load(name: str, limit: int | None, seed: int = 0) -> list[dict]:
    """Labelled rows of one set (null labels left out); ``limit``: a seeded random sample."""
    (path,) = require(f"grounding/{name}.jsonl")
    rows = [r for r in read_jsonl(path) if r.get("hallucinated") is not None]
    if limit and len(rows) > limit:
        idx = np.random.default_rng(seed).choice(len(rows), limit, replace=False)
        rows = [rows[i] for i in sorted(idx)]
    return rows


def novelty(rows: Sequence[dict]) -> np.ndarray:
    """Lexical-novelty baseline: share of the response's content words absent from the source."""
    out = []
    for r in rows:
        src = set(words(r["source"]))
        cw = [w for w in words(r["response"] or "") if w not in STOPWORDS]
        out.append(sum(w not in src for w in cw) / len(cw) if cw else 0.0)
    return np.array(out)


def code_hash() -> str:
    """Hash of the code that computes the features: a change invalidates the cache."""
    import curator.text

    here = Path(grounding_mod.__file__).resolve()
    files = sorted(here.parent.glob("*.py")) if here.name == "__init__.py" else [here]
    h = hashlib.sha1()
    for f in [*files, Path(curator.text.__file__)]:
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


@dataclass
class SetFeatures:
    """Claim-level features of one set: row ``pair[k]`` of ``x`` is a claim of pair ``pair[k]``."""

    name: str
    names: list[str]        # feature names (columns of x)
    x: np.ndarray           # (claims, features)
    pair: np.ndarray        # (claims,) pair index of each claim
    y: np.ndarray           # (pairs,) 1 = hallucinated
    nov: np.ndarray         # (pairs,) lexical-novelty baseline
    ms_per_row: float
    claims: np.ndarray      # (claims,) claim text (for analysis scripts)
    evidence: np.ndarray    # (claims,) best evidence sentence

    @property
    def n(self) -> int:
        return len(self.y)

    def col(self, f: str) -> np.ndarray:
        return self.x[:, self.names.index(f)]


def mismatched(rows: list[dict]) -> list[dict]:
    """The rows with each response paired with another row's source (the first one after it, in
    a fixed rotation by half the set, whose source differs): evidence that is NOT about the claim,
    for measuring the "about" test. Labels are kept but mean nothing here."""
    n = len(rows)
    out = []
    for i, r in enumerate(rows):
        for k in range(n // 2, n // 2 + n):
            other = rows[(i + k) % n]
            if other["source"] != r["source"]:
                break
        out.append({**r, "source": other["source"]})
    return out


def extract(name: str, limit: int | None, scorer: GroundingScorer, cache_dir: Path, batch: int = 64,
            mismatch: bool = False) -> SetFeatures:
    """Claim features of one set, from the cache when the grounding code has not changed.
    ``mismatch``: each response against another row's source (see :func:`mismatched`)."""
    path = cache_dir / f"{name}-{limit or 'all'}{'-mismatch' if mismatch else ''}-{code_hash()}.npz"
    rows = load(name, limit)
    if mismatch:
        rows = mismatched(rows)
    if path.exists():
        z = np.load(path, allow_pickle=False)
        return SetFeatures(name, [str(s) for s in z["names"]], z["x"], z["pair"], z["y"], z["nov"],
                           float(z["ms_per_row"]), z["claims"], z["evidence"])
    t0 = time.perf_counter()
    feats: list[dict[str, float]] = []
    pair: list[int] = []
    claims: list[str] = []
    evidence: list[str] = []
    for a in range(0, len(rows), batch):
        chunk = rows[a:a + batch]
        per_pair, _ = scorer.features([PairInput(r.get("prompt") or "", r["response"] or "", r["source"])
                                       for r in chunk])
        for i, verdicts in enumerate(per_pair):
            for v in verdicts:
                if v.features:
                    feats.append(v.features)
                    pair.append(a + i)
                    claims.append(v.text)
                    evidence.append(v.evidence or "")
        print(f"  {name}: {min(a + batch, len(rows))}/{len(rows)}", file=sys.stderr, end="\r")
    ms = (time.perf_counter() - t0) / len(rows) * 1000
    names = sorted(feats[0]) if feats else list(ALL_FEATURES)
    x = np.array([[f[k] for k in names] for f in feats], dtype=np.float64).reshape(len(feats), len(names))
    sf = SetFeatures(name, names, x, np.array(pair, dtype=np.int64), np.array([int(r["hallucinated"]) for r in rows]),
                     novelty(rows), ms, np.array(claims, dtype=str), np.array(evidence, dtype=str))
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, names=np.array(names, dtype=str), x=sf.x, pair=sf.pair, y=sf.y, nov=sf.nov,
                        ms_per_row=np.array(ms), claims=sf.claims, evidence=sf.evidence)
    print(f"  {name}: {len(rows)} rows, {len(feats)} claims, {ms:.0f} ms/row", file=sys.stderr)
    return sf


# ---------------------------------------------------------------------------------------------
# the decision, simulated from cached claim features exactly as GroundingScorer.score does it
# ---------------------------------------------------------------------------------------------
def pair_matrix(sf: SetFeatures, use: Sequence[str]) -> np.ndarray:
    """calibrate.pair_features' aggregation: per feature, the worst value over a pair's claims."""
    out = np.full((sf.n, len(use)), np.nan)
    for j, f in enumerate(use):
        col = sf.col(f)
        worst_max = f in _WORST_IS_MAX
        agg = np.full(sf.n, -np.inf if worst_max else np.inf)
        (np.maximum if worst_max else np.minimum).at(agg, sf.pair, col)
        agg[np.isinf(agg)] = np.nan
        out[:, j] = agg
    return out


#: A gate decides, per claim, whether the evidence can judge it (True) or the claim is unverifiable.
Gate = Callable[[SetFeatures], np.ndarray]


def judge_all(sf: SetFeatures) -> np.ndarray:
    """Own-source mode today: every checked claim is judged."""
    return np.ones(len(sf.pair), dtype=bool)


def claim_prob(params: GroundingParams, sf: SetFeatures) -> np.ndarray:
    cols = [sf.names.index(f) for f in params.features]
    p = params.prob_unsupported(sf.x[:, cols])
    return params.apply_floors(p, {f: sf.col(f) for f in params.floors})


def pair_prob(params: GroundingParams, sf: SetFeatures, gate: Gate = judge_all) -> np.ndarray:
    """A pair's hallucination_prob: its worst judged claim's; NaN when no claim is judged."""
    p = claim_prob(params, sf)
    ok = gate(sf)
    out = np.full(sf.n, -np.inf)
    np.maximum.at(out, sf.pair[ok], p[ok])
    out[np.isinf(out)] = np.nan
    return out


def fit(sets: Sequence[SetFeatures], use: Sequence[str], floors: dict[str, float], C: float = 1.0,
        meta: dict | None = None) -> GroundingParams:
    x = np.concatenate([pair_matrix(s, use) for s in sets])
    y = np.concatenate([s.y for s in sets])
    g = np.concatenate([[s.name] * s.n for s in sets])
    return fit_params(x, y, g, meta or {}, None, features=list(use), use=list(use), C=C, floors=floors)


# ---------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------
def auroc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, np.nan_to_num(score, nan=0.0)))


def pr(y: np.ndarray, score: np.ndarray, t: float) -> tuple[float, float, int]:
    flag = np.nan_to_num(score, nan=-1.0) >= t
    tp = int((flag & (y == 1)).sum())
    return (tp / flag.sum() if flag.any() else float("nan")), tp / max(int(y.sum()), 1), int(flag.sum())


def genre_threshold(scores: dict[str, np.ndarray], sets: dict[str, SetFeatures], precision: float,
                    grid: np.ndarray = GRID) -> float | None:
    """Lowest threshold at which every genre's pooled precision (its sets' rows together, sets
    weighted by their rows) reaches ``precision`` (a genre that flags nothing passes)."""
    for t in grid:
        ok = True
        for genre_sets in GENRES.values():
            names = tuple(n for n in genre_sets if n in scores)
            if not names:
                continue
            y = np.concatenate([sets[n].y for n in names])
            s = np.concatenate([scores[n] for n in names])
            p, _, k = pr(y, s, float(t))
            if k and p < precision:
                ok = False
                break
        if ok:
            return float(t)
    return None


@dataclass
class Logo:
    probs: dict[str, np.ndarray]         # held-out pair probabilities per set
    params: dict[str, GroundingParams]   # the fold's fit per genre


def logo(sets: dict[str, SetFeatures], use: Sequence[str], floors: dict[str, float], gate: Gate = judge_all,
         C: float = 1.0) -> Logo:
    probs, params = {}, {}
    for g, names in GENRES.items():
        train = [sets[n] for n in SETS if GENRE_OF[n] != g and n in sets]
        p = fit(train, use, floors, C)
        params[g] = p
        for n in names:
            if n in sets:
                probs[n] = pair_prob(p, sets[n], gate)
    return Logo(probs, params)


def report(sets: dict[str, SetFeatures], res: Logo, shipped_t: float, label: str, precision: float) -> dict[str, float]:
    """Print the per-set table; return the per-set LOGO AUROCs."""
    t_star = genre_threshold(res.probs, sets, precision)
    nov = {n: sf.nov for n, sf in sets.items()}
    t_nov = genre_threshold(nov, sets, precision)
    print(f"\n### {label}\n")
    print(f"shipped threshold {shipped_t:.2f}; lowest threshold with LOGO precision >= {precision} on every genre: "
          f"{'none' if t_star is None else f'{t_star:.2f}'} (novelty: {'none' if t_nov is None else f'{t_nov:.2f}'})\n")
    hdr = ("| genre | set | n | halluc. | no prob | LOGO AUROC | novelty AUROC | Δ | P / R / flagged @ shipped "
           "| P / R @ t* | novelty P / R @ its t* |")
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    aucs = {}
    for n in SETS:
        if n not in sets:
            continue
        sf, p = sets[n], res.probs[n]
        a, b = auroc(sf.y, p), auroc(sf.y, sf.nov)
        aucs[n] = a
        ps, rs, ks = pr(sf.y, p, shipped_t)
        at = "–" if t_star is None else "{:.2f} / {:.2f}".format(*pr(sf.y, p, t_star)[:2])
        nt = "–" if t_nov is None else "{:.2f} / {:.2f}".format(*pr(sf.y, sf.nov, t_nov)[:2])
        print(f"| {GENRE_OF[n]} | {n} | {sf.n} | {sf.y.mean():.2f} | {np.isnan(p).mean():.2f} | {a:.3f} | {b:.3f} | "
              f"{a - b:+.3f} | {ps:.2f} / {rs:.2f} / {ks} | {at} | {nt} |")
    mean_c = np.mean(list(aucs.values()))
    mean_n = np.mean([auroc(sets[n].y, sets[n].nov) for n in aucs])
    gen_c = np.mean([np.mean([aucs[n] for n in GENRES[g] if n in aucs]) for g in GENRES])
    gen_n = np.mean([np.mean([auroc(sets[n].y, sets[n].nov) for n in GENRES[g] if n in aucs]) for g in GENRES])
    print(f"\nmean over sets: curator {mean_c:.3f}, novelty {mean_n:.3f} (Δ {mean_c - mean_n:+.3f}); "
          f"mean over genres: curator {gen_c:.3f}, novelty {gen_n:.3f}")
    print("per genre @ t*: " + ", ".join(
        f"{g} P {_genre_pr(sets, res.probs, g, t_star)}" for g in GENRES) if t_star is not None else "")
    return aucs


def _genre_pr(sets: dict[str, SetFeatures], probs: dict[str, np.ndarray], g: str, t: float) -> str:
    names = [n for n in GENRES[g] if n in sets]
    y = np.concatenate([sets[n].y for n in names])
    s = np.concatenate([probs[n] for n in names])
    p, r, _ = pr(y, s, t)
    return f"{p:.2f} R {r:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="rows per set (seeded sample); default all")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated subset of the seven sets")
    ap.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    ap.add_argument("--precision", type=float, default=TARGET_PRECISION)
    ap.add_argument("--fit", action="store_true", help="refit the shipped parameters on the shippable sets")
    args = ap.parse_args()

    # Embeddings kept on disk too: a change to the feature code re-extracts without re-embedding.
    scorer = GroundingScorer(embedder=Embedder(cache_dir=args.cache_dir / "embeddings"))
    sets = {}
    for n in args.sets.split(","):
        sets[n] = extract(n, args.limit, scorer, args.cache_dir)
    shipped = GroundingParams.load()
    use, floors = list(shipped.features), dict(shipped.floors)
    print(f"## Leave-one-genre-out grounding ({datetime.date.today()}, own-source mode, "
          f"{'all rows' if not args.limit else f'{args.limit} rows per set'})")
    print(f"features: {', '.join(use)}; rules: {floors}")
    print("ms/row (feature extraction): " + ", ".join(f"{n} {sf.ms_per_row:.0f}" for n, sf in sets.items()))

    # The shipped parameters as they are (fitted on begin, q2, summedits, halueval_qa: in-sample there).
    print("\n### shipped parameters (in-sample on the sets they were fitted on)\n")
    print("| set | AUROC | P / R / flagged @ shipped |")
    print("|---|---|---|")
    for n, sf in sets.items():
        p = pair_prob(shipped, sf)
        print(f"| {n} | {auroc(sf.y, p):.3f} | " + "{:.2f} / {:.2f} / {}".format(*pr(sf.y, p, shipped.threshold)) + " |")

    res = logo(sets, use, floors)
    report(sets, res, shipped.threshold, "combiner refitted leave-one-genre-out (shipped features and rules)",
           args.precision)

    if args.fit:
        train = [sets[n] for n in SHIPPABLE if n in sets]
        params = fit(train, use, floors, meta={
            "trained_on": [s.name for s in train], "n": int(sum(s.n for s in train)),
            "date": datetime.date.today().isoformat(),
            "command": "python benchmarks/grounding_logo.py --fit" + (f" --limit {args.limit}" if args.limit else "")})
        t = genre_threshold(res.probs, sets, args.precision)
        params.threshold = t if t is not None else 0.95
        params.meta["threshold_rule"] = (f"lowest threshold whose leave-one-genre-out precision is >= {args.precision} "
                                         "on every genre (all seven sets held out by genre)")
        out = Path(__file__).resolve().parents[1] / "curator" / "data" / "grounding_params.json"
        params.save(out)
        print(f"\nwrote {out} (threshold {params.threshold:.2f})")


if __name__ == "__main__":
    main()
