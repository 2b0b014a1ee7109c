"""Leave-one-GENRE-out grounding: does curator's score transfer to a genre it was never fitted on?

Data: the seven labelled sets of ../shared/data/grounding/ in four genres

    dialogue            begin, q2
    qa                  halueval_qa
    summarization       summedits, fakesumm       (fakesumm: evaluation only)
    claim verification  fever_symmetric, factcg_doc  (factcg_doc: evaluation only)

each response scored against its own source (own-source mode). Claim-level features are extracted
once per set and cached on disk (npz, no pickle; the key is the set, ``--limit`` and a hash of the
grounding code), so fits, thresholds and rules are compared without re-extracting.

Parts (``--parts``, comma-separated; default ``logo,about``):

* ``logo``: per set, for the combiner fitted on the three other genres (FakeSumm / FactCG included
  in those folds: that is measurement, never a shipped fit), with the shipped features, rules,
  about test and thresholds: AUROC of ``hallucination_prob`` (next to the lexical-novelty baseline
  on the same rows: the share of the response's content words absent from the source; and with
  unjudged pairs counted as 0), the share of pairs judged, precision / recall / count of the
  ``hallucinated`` verdict and the doubtful count at the shipped threshold, and per genre (its sets
  pooled) the same;
* ``compare``: leave-one-genre-out AUROC of candidate feature sets and rules (a feature or rule
  stays only if it raises the mean and lowers no set by more than 0.01);
* ``about``: the about test (combiner.is_about) - claims judged with their own source, by label, vs
  with another row's source of the same set (precision of "about" on equal pools), and instruction
  rows (Self-Instruct, LIMA) against the Wikipedia index of ../shared/data/perf/ that covers none
  of them: pairs judged / flagged / doubtful.

``--fit`` refits the shipped parameters (curator/data/grounding_params.json) on the shippable sets
only (BEGIN, Q², SummEdits, HaluEval-QA, FEVER-Symmetric) with ``SHIPPED`` features,
``SHIPPED_RULES``, ``SHIPPED_ABOUT`` and ``SHIPPED_C``; the threshold is the lowest from which
the leave-one-genre-out precision is >= ``--precision`` on every genre (all seven sets) at that
threshold and every higher one of the grid, else the lowest whose worst genre's precision is
within 0.005 of the best reachable; the doubt threshold is the lowest whose
precision is >= 0.75 on every genre.

    python benchmarks/grounding_logo.py --limit 300          # fast iteration (cache in ~/.cache)
    python benchmarks/grounding_logo.py --limit 1000 --fit --parts logo,compare,about   # the shipped fit
    python benchmarks/grounding_logo.py                       # every labelled row
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import load, read_jsonl, require  # noqa: E402
from grounding import novelty_baseline  # noqa: E402

import curator.grounding as grounding_mod  # noqa: E402
from curator.calibrate import fit_params  # noqa: E402
from curator.embed import Embedder  # noqa: E402
from curator.grounding import (  # noqa: E402
    AGAINST_FEATURES,
    ALL_FEATURES,
    GroundingParams,
    GroundingScorer,
    PairInput,
    SentenceVerdict,
    about_mask,
    judge_pair,
)

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
GRID = np.round(np.arange(0.5, 0.951, 0.01), 2)


# ---------------------------------------------------------------------------------------------
# data and features
# ---------------------------------------------------------------------------------------------
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
            mismatch: bool = False, rows: list[dict] | None = None) -> SetFeatures:
    """Claim features of one set, from the cache when the grounding code has not changed.
    ``mismatch``: each response against another row's source (see :func:`mismatched`). ``rows``:
    other pairs (no labels needed; a missing ``source`` = retrieval from the scorer's index)."""
    path = cache_dir / f"{name}-{limit or 'all'}{'-mismatch' if mismatch else ''}-{code_hash()}.npz"
    if rows is None:
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
        per_pair, _ = scorer.features([PairInput(r.get("prompt") or "", r["response"] or "", r.get("source"))
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
    y = np.array([int(r.get("hallucinated") or 0) for r in rows])
    nov = novelty_baseline(list(rows)) if all(r.get("source") for r in rows) else np.zeros(len(rows))
    sf = SetFeatures(name, names, x, np.array(pair, dtype=np.int64), y, nov, ms,
                     np.array(claims, dtype=str), np.array(evidence, dtype=str))
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, names=np.array(names, dtype=str), x=sf.x, pair=sf.pair, y=sf.y, nov=sf.nov,
                        ms_per_row=np.array(ms), claims=sf.claims, evidence=sf.evidence)
    print(f"  {name}: {len(rows)} rows, {len(feats)} claims, {ms:.0f} ms/row", file=sys.stderr)
    return sf


# ---------------------------------------------------------------------------------------------
# the decision, simulated from cached claim features as GroundingScorer.score makes it
# (combiner.judge_pair; own-source mode: every checked claim is scored)
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


def claim_prob(params: GroundingParams, sf: SetFeatures) -> np.ndarray:
    cols = [sf.names.index(f) for f in params.features]
    p = params.prob_unsupported(sf.x[:, cols])
    return params.apply_floors(p, {f: sf.col(f) for f in params.floors})


@dataclass
class Decision:
    prob: np.ndarray       # (pairs,) hallucination_prob (NaN: nothing scored)
    flagged: np.ndarray    # (pairs,) verdict hallucinated
    doubtful: np.ndarray   # (pairs,) unverifiable, confidence low (a judged claim in [doubt, threshold))
    judged: np.ndarray     # (pairs,) some claim judged (the evidence is about it)


def decide(params: GroundingParams, sf: SetFeatures, threshold: float, doubt: float | None = None,
           about: dict[str, float] | None = None, mode: str = "source") -> Decision:
    """GroundingScorer.score's decision (combiner.judge_pair) on the cached claim features
    (``mode`` "index": with the default scorer's retrieval floor)."""
    not_about = GroundingScorer()._not_about
    p = claim_prob(params, sf)
    per_pair: list[list[SentenceVerdict]] = [[] for _ in range(sf.n)]
    for k in range(len(p)):
        per_pair[int(sf.pair[k])].append(SentenceVerdict(
            text=str(sf.claims[k]), start=0, end=0, verdict="", support=float(1.0 - p[k]), citation=None,
            citation_span=None, evidence=None, features=dict(zip(sf.names, sf.x[k].tolist()))))
    res = [judge_pair("", vs, mode if vs else "none", threshold, not_about, doubt, about, tuple(params.floors))
           for vs in per_pair]
    prob = np.array([g.hallucination_prob for g in res], dtype=np.float64)
    flagged = np.array([g.verdict == "hallucinated" for g in res])
    doubtful = np.array([any(v.verdict == "doubtful" for v in g.sentences) and not f for g, f in zip(res, flagged)])
    judged = np.array([any(v.verdict in ("supported", "unsupported", "doubtful") for v in g.sentences) for g in res])
    return Decision(prob, flagged, doubtful, judged)


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


def pr(y: np.ndarray, flag: np.ndarray) -> tuple[float, float, int]:
    """Precision (NaN when nothing is flagged), recall, number flagged."""
    tp = int((flag & (y == 1)).sum())
    return (tp / flag.sum() if flag.any() else float("nan")), tp / max(int(y.sum()), 1), int(flag.sum())


def fmt_pr(p: float, r: float, k: int | None = None) -> str:
    return ("–" if np.isnan(p) else f"{p:.2f}") + f" / {r:.2f}" + ("" if k is None else f" / {k}")


@dataclass
class Logo:
    params: dict[str, GroundingParams]   # the fold's fit per held-out genre

    def decide(self, sets: dict[str, SetFeatures], threshold: float, doubt: float | None = None,
               about: dict[str, float] | None = None) -> dict[str, Decision]:
        return {n: decide(self.params[GENRE_OF[n]], sf, threshold, doubt, about) for n, sf in sets.items()}


def logo(sets: dict[str, SetFeatures], use: Sequence[str], floors: dict[str, float], C: float = 1.0) -> Logo:
    """Per genre, the combiner fitted on the sets of the three other genres."""
    return Logo({g: fit([sets[n] for n in SETS if GENRE_OF[n] != g and n in sets], use, floors, C) for g in GENRES})


def genre_pr(sets: dict[str, SetFeatures], dec: dict[str, Decision], genre: str) -> tuple[float, float, int]:
    """A genre's pooled precision / recall (its sets' rows together)."""
    names = [n for n in GENRES[genre] if n in sets]
    y = np.concatenate([sets[n].y for n in names])
    return pr(y, np.concatenate([dec[n].flagged for n in names]))


def genre_threshold(sets: dict[str, SetFeatures], res: Logo, precision: float, about: dict[str, float] | None,
                    grid: np.ndarray = GRID, stable: bool = False) -> float | None:
    """Lowest threshold at which every genre's pooled leave-one-genre-out precision reaches
    ``precision`` (a genre that flags nothing passes), flagging something somewhere. ``stable``:
    the lowest from which every higher threshold of the grid reaches it too - precision is not
    monotone in the threshold, and a threshold that passes alone between two that fail (0.73
    between 0.72 and 0.74 on 2026-12-07) sits on noise, not on a margin that transfers."""
    ok = []
    for t in grid:
        dec = res.decide(sets, float(t), None, about)
        prs = [genre_pr(sets, dec, g) for g in GENRES if any(n in sets for n in GENRES[g])]
        ok.append(any(k for _, _, k in prs) and all(k == 0 or p >= precision for p, _, k in prs))
        if ok[-1] and not stable:
            return float(t)
    if not stable:
        return None
    for i, t in enumerate(grid):
        if all(ok[i:]):
            return float(t)
    return None


def best_threshold(sets: dict[str, SetFeatures], res: Logo, about: dict[str, float] | None,
                   grid: np.ndarray = GRID, tolerance: float = 0.005) -> float:
    """When no threshold reaches the target: the lowest one whose worst genre's leave-one-genre-out
    precision is within ``tolerance`` of the best worst-genre precision (precision first, then recall)."""
    worst = []
    for t in grid:
        dec = res.decide(sets, float(t), None, about)
        ps = [genre_pr(sets, dec, g) for g in GENRES if any(n in sets for n in GENRES[g])]
        worst.append(min((p for p, _, k in ps if k), default=-1.0))
    best = max(worst)
    return float(next(t for t, w in zip(grid, worst) if w >= best - tolerance))


def novelty_threshold(sets: dict[str, SetFeatures], precision: float) -> float | None:
    """The same rule for the novelty baseline (flag = novelty >= t)."""
    for t in GRID:
        ok, any_flag = True, False
        for g in GENRES:
            names = [n for n in GENRES[g] if n in sets]
            if not names:
                continue
            y = np.concatenate([sets[n].y for n in names])
            p, _, k = pr(y, np.concatenate([sets[n].nov >= t for n in names]))
            any_flag |= k > 0
            ok &= k == 0 or p >= precision
        if ok and any_flag:
            return float(t)
    return None


def report(sets: dict[str, SetFeatures], res: Logo, threshold: float, doubt: float | None,
           about: dict[str, float] | None, label: str, precision: float) -> dict[str, float]:
    """Print the per-set table at ``threshold`` / ``doubt``; return the per-set LOGO AUROCs."""
    dec = res.decide(sets, threshold, doubt, about)
    t_star = genre_threshold(sets, res, precision, about)
    t_nov = novelty_threshold(sets, precision)
    at_star = res.decide(sets, t_star, None, about) if t_star is not None else None
    print(f"\n### {label}\n")
    print(f"threshold {threshold:.2f}, doubt {doubt if doubt is None else f'{doubt:.2f}'}; lowest threshold with "
          f"leave-one-genre-out precision >= {precision} on every genre: "
          f"{'none' if t_star is None else f'{t_star:.2f}'} (novelty: {'none' if t_nov is None else f'{t_nov:.2f}'})\n")
    hdr = ("| genre | set | n | halluc. | judged | LOGO AUROC | novelty AUROC | Δ | AUROC, unjudged = 0 "
           "| P / R / flagged | doubtful | P / R @ t* | novelty P / R @ its t* |")
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    aucs = {}
    for n in SETS:
        if n not in sets:
            continue
        sf, d = sets[n], dec[n]
        a, b = auroc(sf.y, d.prob), auroc(sf.y, sf.nov)
        aucs[n] = a
        st = "–" if at_star is None else fmt_pr(*pr(sf.y, at_star[n].flagged)[:2])
        nt = "–" if t_nov is None else fmt_pr(*pr(sf.y, sf.nov >= t_nov)[:2])
        print(f"| {GENRE_OF[n]} | {n} | {sf.n} | {sf.y.mean():.2f} | {d.judged.mean():.2f} | {a:.3f} | {b:.3f} | "
              f"{a - b:+.3f} | {auroc(sf.y, np.where(d.judged, d.prob, 0.0)):.3f} | {fmt_pr(*pr(sf.y, d.flagged))} | "
              f"{int(d.doubtful.sum())} | {st} | {nt} |")
    nov = {n: auroc(sets[n].y, sets[n].nov) for n in aucs}
    gen_c = np.mean([np.mean([aucs[n] for n in GENRES[g] if n in aucs]) for g in GENRES if any(n in aucs for n in GENRES[g])])
    gen_n = np.mean([np.mean([nov[n] for n in GENRES[g] if n in aucs]) for g in GENRES if any(n in aucs for n in GENRES[g])])
    print(f"\nmean over sets: curator {np.mean(list(aucs.values())):.3f}, novelty {np.mean(list(nov.values())):.3f} "
          f"(Δ {np.mean(list(aucs.values())) - np.mean(list(nov.values())):+.3f}; worst set "
          f"{min(aucs[n] - nov[n] for n in aucs):+.3f}); mean over genres: curator {gen_c:.3f}, novelty {gen_n:.3f}")
    print("per genre (pooled) P / R / flagged at the threshold: " + "; ".join(
        f"{g} {fmt_pr(*genre_pr(sets, dec, g))}" for g in GENRES if any(n in sets for n in GENRES[g])))
    return aucs


# ---------------------------------------------------------------------------------------------
# the "about" test: own sources vs other rows' sources vs an index that does not cover the data
# ---------------------------------------------------------------------------------------------
def wiki_index(embedder: Embedder, cache_dir: Path):  # type: ignore[no-untyped-def]
    """The perf/ Wikipedia paragraphs (which cover none of the instruction data) as an index."""
    import gzip

    from curator.index import PassageIndex, load_documents

    (gz,) = require("perf/wiki_demo.txt.gz")
    txt = cache_dir / "wiki_demo.txt"
    if not txt.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        txt.write_bytes(gzip.decompress(gz.read_bytes()))
    return PassageIndex.build(load_documents([txt]), embedder)


def offtopic_rows(limit: int) -> list[dict]:
    """Instruction rows (Self-Instruct, then LIMA) as pairs with no source: retrieval only."""
    from curator.records import prompt_text

    rows = []
    for name, n in (("self_instruct", limit), ("lima", limit // 2)):
        (path,) = require(f"instructions/{name}.jsonl")
        rows += [{"prompt": prompt_text(r["instruction"], r.get("input") or ""), "response": r.get("output") or ""}
                 for r in read_jsonl(path)[:n]]
    return rows


def about_of(sf: SetFeatures, about: dict[str, float] | None) -> np.ndarray:
    """Per claim, the about test (combiner.is_about)."""
    return about_mask(sf.col("emb_max"), sf.col("about_cov"), about, sf.col("ev_record"), sf.col("about_keys"),
                      sf.col("prompt_overlap"), sf.col("choice_named"))


def part_about(sets: dict[str, SetFeatures], mis: dict[str, SetFeatures], off: SetFeatures | None,
               shipped: GroundingParams, threshold: float) -> None:
    about = shipped.about
    print(f"\n### The about test ({about or 'defaults'}): claims judged, own source vs another row's source\n")
    print("| set | own: faithful claims judged | own: hallucinated claims judged | other row's source: judged | "
          "precision of 'about' (equal pools) | other row's source: pairs flagged |")
    print("|---|---|---|---|---|---|")
    for n, sf in sets.items():
        ok = about_of(sf, about)
        y = sf.y[sf.pair]
        m = mis[n]
        okm = about_of(m, about)
        prec = ok.mean() / max(ok.mean() + okm.mean(), 1e-12)
        flag = decide(shipped, m, threshold, None, about).flagged
        print(f"| {n} | {ok[y == 0].mean():.2f} | {ok[y == 1].mean():.2f} | {okm.mean():.3f} | {prec:.3f} | "
              f"{int(flag.sum())} of {m.n} |")
    if off is not None:
        ok = about_of(off, about)
        d = decide(shipped, off, threshold, shipped.doubt, about, mode="index")
        print(f"\nInstruction rows against the perf/ Wikipedia index (it covers none of them): {off.n} pairs, "
              f"{len(ok)} claims, {ok.mean():.3f} of claims judged; pairs hallucinated {int(d.flagged.sum())} "
              f"({d.flagged.mean():.1%}), doubtful {int(d.doubtful.sum())}, judged {int(d.judged.sum())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="rows per set (seeded sample); default all")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated subset of the seven sets")
    ap.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    ap.add_argument("--precision", type=float, default=TARGET_PRECISION)
    ap.add_argument("--parts", default="logo,about", help="comma-separated: logo, about, compare")
    ap.add_argument("--fit", action="store_true", help="refit the shipped parameters on the shippable sets")
    args = ap.parse_args()
    parts = set(args.parts.split(","))

    # Embeddings kept on disk too: a change to the feature code re-extracts without re-embedding.
    embedder = Embedder(cache_dir=args.cache_dir / "embeddings")
    scorer = GroundingScorer(embedder=embedder)
    sets = {n: extract(n, args.limit, scorer, args.cache_dir) for n in args.sets.split(",")}
    shipped = GroundingParams.load()
    print(f"## Leave-one-genre-out grounding ({datetime.date.today()}, own-source mode, "
          f"{'all rows' if not args.limit else f'{args.limit} rows per set'})")
    print("feature extraction, ms / row (embeddings from the disk cache when present): "
          + ", ".join(f"{n} {sf.ms_per_row:.0f}" for n, sf in sets.items()))

    if args.fit:
        res = logo(sets, SHIPPED, SHIPPED_RULES, SHIPPED_C)
        t = genre_threshold(sets, res, args.precision, SHIPPED_ABOUT, stable=True)
        reached = t is not None
        if t is None:  # unreachable: the threshold whose worst genre precision is highest
            t = best_threshold(sets, res, SHIPPED_ABOUT)
        d = genre_threshold(sets, res, DOUBT_PRECISION, SHIPPED_ABOUT)
        train = [sets[n] for n in SHIPPABLE if n in sets]
        params = fit(train, SHIPPED, SHIPPED_RULES, SHIPPED_C, meta={
            "trained_on": [s.name for s in train], "n": int(sum(s.n for s in train)), "C": SHIPPED_C,
            "date": datetime.date.today().isoformat(),
            "command": "python benchmarks/grounding_logo.py --fit" + (f" --limit {args.limit}" if args.limit else "")})
        params.threshold = t
        params.doubt = params.threshold if d is None else min(d, params.threshold)
        params.about = dict(SHIPPED_ABOUT)
        params.meta["threshold_rule"] = (
            (f"threshold: lowest from which the leave-one-genre-out precision of 'hallucinated' is >= {args.precision} "
             "on every genre at every higher threshold" if reached else
             f"threshold: no threshold reaches leave-one-genre-out precision {args.precision} on every genre; the "
             "lowest whose worst genre's precision is within 0.005 of the best reachable")
            + f"; doubt: lowest at which every genre reaches {DOUBT_PRECISION} (all seven sets held out by genre; "
            f"the combiner itself fitted on {', '.join(s.name for s in train)} only)")
        out = Path(__file__).resolve().parents[1] / "curator" / "data" / "grounding_params.json"
        params.save(out)
        shipped = params
        print(f"\nwrote {out} (threshold {params.threshold:.2f}, doubt {params.doubt:.2f})")

    print(f"\nshipped: features {', '.join(shipped.features)}; rules {shipped.floors}; about {shipped.about}; "
          f"threshold {shipped.threshold}; doubt {shipped.doubt}; fitted on {shipped.meta.get('trained_on')}")
    if "logo" in parts:
        print("\n### shipped parameters as they are (in-sample on the sets they were fitted on)\n")
        print("| set | AUROC | P / R / flagged | doubtful |")
        print("|---|---|---|---|")
        for n, sf in sets.items():
            d = decide(shipped, sf, shipped.threshold, shipped.doubt, shipped.about)
            print(f"| {n} | {auroc(sf.y, d.prob):.3f} | {fmt_pr(*pr(sf.y, d.flagged))} | {int(d.doubtful.sum())} |")
        res = logo(sets, shipped.features, shipped.floors, float(shipped.meta.get("C", 1.0)))
        report(sets, res, shipped.threshold, shipped.doubt, shipped.about,
               "leave-one-genre-out (the shipped features, rules, about test and thresholds; combiner refitted "
               "per fold)", args.precision)
    if "compare" in parts:
        part_compare(sets, shipped)
    if "about" in parts:
        mis = {n: extract(n, args.limit, scorer, args.cache_dir, mismatch=True) for n in sets}
        from curator.grounding import GroundingScorer as _GS

        off_scorer = _GS(embedder=embedder, index=wiki_index(embedder, args.cache_dir))
        off = extract("offtopic", 300, off_scorer, args.cache_dir, rows=offtopic_rows(300))
        part_about(sets, mis, off, shipped, shipped.threshold)


#: The doubt threshold: lowest at which every genre's leave-one-genre-out precision reaches this.
DOUBT_PRECISION = 0.75
#: What ``--fit`` ships (chosen with ``--parts compare`` and the about part; see docs/grounding.md):
#: the combiner's features, the contradiction rules kept, the about test.
SHIPPED = ("emb_top2", "fuzz", "num_novel", "ent_novel", "neg_mismatch", "nov_pair", "swap")
#: A rule's floor is above every threshold searched: a contradiction that fires is always flagged.
SHIPPED_RULES = {"num_mismatch": 0.99, "swap": 0.99, "neg_flip": 0.99, "choice_key_absent": 0.99, "name_mismatch": 0.99,
                 "except_flip": 0.99}
#: The combiner's inverse regularisation strength (scikit-learn's C). 0.01 (a strong L2 pull towards
#: zero, so a few large coefficients) transfers better than 1.0: leave-one-genre-out mean AUROC 0.812
#: vs 0.811, every set at or above lexical novelty (BEGIN 0.930 vs 0.929; at C=1.0 BEGIN was 0.0001
#: below), and precision >= 0.85 on every genre from threshold 0.76 on instead of 0.81 (more recall).
#: Anything from 0.005 to 0.02 gives the same picture (--parts compare).
SHIPPED_C = 0.01
SHIPPED_ABOUT = {"min_sim": 0.5, "min_coverage": 0.3, "min_keys": 0.75, "min_prompt_words": 4,
                 "min_coverage_index": 0.4}
#: Candidates compared by ``--parts compare`` (label, features, rules): a feature or rule stays
#: only if it raises the leave-one-genre-out mean AUROC and lowers no set by more than 0.01.
BASE = ("cov_global", "emb_top2", "fuzz", "num_novel", "ent_novel", "neg_mismatch", "nov_pair", "swap")
#: (label, features, rules[, C]); without C a candidate is fitted with SHIPPED_C.
CANDIDATES: list[tuple] = [
    ("2026-11-29 shipped: base + short_claim, four rules", (*BASE, "short_claim"),
     {"swap": 0.95, "num_mismatch": 0.95, "own_key_absent": 0.95, "neg_flip": 0.95}),
    ("base + short_claim, no rules", (*BASE, "short_claim"), {}),
    ("base, no rules", BASE, {}),
    ("base - swap", tuple(f for f in BASE if f != "swap"), {}),
    ("base - cov_global", tuple(f for f in BASE if f != "cov_global"), {}),
    ("base + about_cov", (*BASE, "about_cov"), {}),
    ("base + own_key_absent", (*BASE, "own_key_absent"), {}),
    ("base + num_mismatch", (*BASE, "num_mismatch"), {}),
    ("base, rule num_mismatch", BASE, {"num_mismatch": 0.95}),
    ("base, rule swap", BASE, {"swap": 0.95}),
    ("base, rule own_key_absent", BASE, {"own_key_absent": 0.95}),
    ("base, rule neg_flip", BASE, {"neg_flip": 0.95}),
    ("shipped (issue 21)", SHIPPED, SHIPPED_RULES),
    *[(f"shipped without rule {r}", SHIPPED, {k: v for k, v in SHIPPED_RULES.items() if k != r}) for r in SHIPPED_RULES],
    *[(f"shipped without {f}", tuple(x for x in SHIPPED if x != f), SHIPPED_RULES) for f in SHIPPED],
    *[(f"shipped + {f}", (*SHIPPED, f), SHIPPED_RULES) for f in ("cov_global", "short_claim", "own_key_absent")],
    ("shipped + rule own_key_absent", SHIPPED, {**SHIPPED_RULES, "own_key_absent": 0.99}),
    *[(f"shipped, C={c}", SHIPPED, SHIPPED_RULES, c) for c in (1.0, 0.1, 0.02, 0.005, 0.003)],
]


def part_compare(sets: dict[str, SetFeatures], shipped: GroundingParams) -> None:
    print(f"\n### Candidates, leave-one-genre-out AUROC (about test and thresholds as shipped; C={SHIPPED_C} "
          "unless named)\n")
    print("| candidate | " + " | ".join(sets) + " | mean | Δ novelty | worst set Δ | P @ shipped threshold per genre |")
    print("|---|" + "---|" * (len(sets) + 4))
    nov = {n: auroc(sf.y, sf.nov) for n, sf in sets.items()}
    print("| lexical novelty | " + " | ".join(f"{nov[n]:.3f}" for n in sets) + f" | {np.mean(list(nov.values())):.3f} | | | |")
    for label, use, floors, *c in CANDIDATES:
        res = logo(sets, use, floors, c[0] if c else SHIPPED_C)
        dec = res.decide(sets, shipped.threshold, shipped.doubt, shipped.about)
        a = {n: auroc(sf.y, dec[n].prob) for n, sf in sets.items()}
        gp = ", ".join(fmt_pr(*genre_pr(sets, dec, g)[:2]) for g in GENRES if any(n in sets for n in GENRES[g]))
        print(f"| {label} | " + " | ".join(f"{a[n]:.3f}" for n in sets) + f" | {np.mean(list(a.values())):.3f} | "
              f"{np.mean(list(a.values())) - np.mean(list(nov.values())):+.3f} | "
              f"{min(a[n] - nov[n] for n in sets):+.3f} | {gp} |")


if __name__ == "__main__":
    main()
