"""Verifier: does a cross-encoder that reads claim and evidence together lift grounding? Evaluates a
verifier trained by benchmarks/verifier_train.py (never on the grounding sets) on the seven labelled
sets, leave-one-genre-out. Rules printed under the table (issue 23): the verifier becomes the default
for doubtful claims only if the mean over the sets rises by >= 0.02 with no set below -0.01; its
target is +0.05 on the summarization and claim-verification genres with no set lower.

    python benchmarks/verifier.py --model /tmp/cv_nli/model            # all parts
    python benchmarks/verifier.py --model DIR --parts lodo,swaps         # some parts
    python benchmarks/verifier.py --export-pairs pairs.jsonl.gz --parts swaps,nli,lodo  # pairs to score elsewhere
    python benchmarks/verifier.py --scores scores.jsonl.gz --parts swaps,nli,lodo       # ... and their scores
    python benchmarks/verifier.py --model DIR --parts speed --int8       # CPU pairs/s (float32 and int8)

(The GPU route: ``--export-pairs`` here, ``verifier_train.py --pack ... --eval-pairs`` carries them to
the GPU machine, whose run scores them; ``verifier_train.py --merge`` writes the scores file that
``--scores`` reads, so the GPU machine needs no curator install.)

Parts (each prints a markdown table; ``--out FILE`` also writes them):

* ``lodo``: the seven labelled sets of ../shared/data/grounding in four genres -- dialogue (BEGIN,
  Q²), QA (HaluEval-QA), summarization (SummEdits, FakeSumm), claim verification
  (FEVER-Symmetric without the rows whose claim and evidence are NLI training pairs,
  ``meta.also_in_nli``; FactCG-doc) -- fixed random samples of ``--eval-cap`` rows each, seed 0.
  Features come from curator's own API (``curator.calibrate.pair_features`` over a
  ``GroundingScorer``), so the numbers follow whatever features the checked-out curator computes
  (the feature cache is keyed by the source of curator/grounding/, text.py and calibrate.py). The
  verifier scores each claim the scorer segmented (its ``SentenceVerdict.text``; claims marked
  ``not_checked`` are skipped) against ``evidence_window(claim, source, --window-words)``, and a
  pair takes its worst sentence, as curator does. Columns: verifier alone; the features' combiner
  (``curator.calibrate.fit_params``, dataset- and class-balanced logistic regression) fitted on the
  sets of the three other genres and tested on the held-out set (leave-one-genre-out, LOGO); the
  same with the verifier probability as one more feature; then per-genre and overall means. The
  verifier never saw any of the sets, so the combiner never sees an in-sample verifier score.
  FakeSumm and FactCG-doc are evaluation-only data: they enter these folds as measurement, never a
  shipped fit.
* ``nli``: AUROC on NLI rows it did not train on: the 10 % premise-hash dev split of the
  shippable sources of both NLI files (in domain) and non-shippable sources (out of domain, never trained on),
  ``--nli-cap`` rows per source, premise cut by ``evidence_window`` like curator's evidence.
* ``swaps``: issue 11's recombination / presence examples
  (../shared/repros/from-bug-reports/18_recombination_pairs.jsonl, 18b_*.jsonl) plus the
  number / date / swap variants written here: P(unsupported) per row, and whether every wrong
  answer scores above the right one.
* ``features``: only compute and cache the dev-set features (no model needed).
* ``speed``: claim/evidence pairs per second on ``--threads`` threads (float32 and int8 dynamic
  quantisation), on the dev-set claims, with the machine load.

Caches (``--cache``, default /tmp/cv_nli/eval): features and claims per dataset, verifier scores
per model and dataset; delete them or pass ``--fresh`` to recompute.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import data_dir, load, require  # noqa: E402
from grounding import C_REG, FLOORS, SHIPPED, novelty_baseline  # noqa: E402
from verifier_train import (  # noqa: E402
    NLI_FILE,
    NLI_MIX,
    NLI_MORE_FILE,
    detok,
    is_dev,
    open_text,
    read_jsonl,
)

from curator.calibrate import fit_params  # noqa: E402
from curator.calibrate import pair_features as calib_pair_features  # noqa: E402
from curator.grounding import (  # noqa: E402
    ALL_FEATURES,  # noqa: E402
    GroundingScorer,
    PairInput,
)
from curator.grounding.verifier import GroundingVerifier, evidence_window, make_claim  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The seven labelled sets in four genres; the combiner of a held-out set is fitted on the sets of
#: the three other genres (leave-one-genre-out).
GENRES: dict[str, tuple[str, ...]] = {
    "dialogue": ("begin", "q2"),
    "qa": ("halueval_qa",),
    "summarization": ("summedits", "fakesumm"),
    "claim_verification": ("fever_symmetric", "factcg_doc"),
}
DATASETS = tuple(s for g in GENRES.values() for s in g)
GENRE_OF = {s: g for g, ss in GENRES.items() for s in ss}
NAMES = {"begin": "BEGIN", "q2": "Q²", "summedits": "SummEdits", "halueval_qa": "HaluEval-QA",
         "fakesumm": "FakeSumm", "fever_symmetric": "FEVER-Symmetric", "factcg_doc": "FactCG-doc"}
#: NLI sources whose premise-hash dev rows count as in-domain (benchmarks/verifier_train.py trains on the rest).
IN_DOMAIN = (*NLI_MIX, "docnli_binary_mnli", "docnli_binary_fever_nli")
OOD = ("anli_r1_dev", "anli_r2_dev", "anli_r3_dev", "lingnli", "sick", "control", "climate_fever", "healthver",
       "covidfact_rte", "scifact_rte", "dnc:recast_factuality")  # (recast_kg_relations: one class only)


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else float("nan")


def load_set(name: str) -> list[dict]:
    """The labelled rows of one set. FEVER-Symmetric: without the rows whose claim and evidence
    are NLI training pairs (``meta.also_in_nli``), and in plain text (FEVER's "-LRB-" / " ,"
    tokenisation undone, as the verifier's training text)."""
    rows = load(name, None)
    if name == "fever_symmetric":
        rows = [dict(r, source=detok(r["source"]), response=detok(r["response"] or "")) for r in rows
                if not (r.get("meta") or {}).get("also_in_nli")]
    return rows


def eval_sample(n_rows: int, cap: int, seed: int = 0) -> np.ndarray:
    if n_rows <= cap:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, cap, replace=False))


def code_key() -> str:
    """Changes when the feature code changes (issue 11's new segmentation / features)."""
    h = hashlib.sha1()
    for f in ("curator/text.py", "curator/calibrate.py"):
        p = ROOT / f
        if p.is_file():
            h.update(p.read_bytes())
    for p in sorted((ROOT / "curator" / "grounding").glob("*.py")):  # grounding as a package
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


class _Capture(GroundingScorer):
    """A GroundingScorer that keeps the per-sentence verdicts of its last ``features`` call, so
    one pass gives both curator's pair features and its claim segmentation."""

    last: list = []

    def features(self, pairs):  # type: ignore[no-untyped-def]
        out = super().features(pairs)
        self.last = out[0]
        return out


def claims_of(verdicts: list) -> list[str]:
    return [v.text for v in verdicts if getattr(v, "verdict", "") != "not_checked" and (v.text or "").strip()]


def dev_features(data: dict[str, list[dict]], idx: dict[str, np.ndarray], cache: Path,
                 fresh: bool) -> tuple[dict[str, np.ndarray], dict[str, list[list[str]]], list[str]]:
    from curator.embed import Embedder
    from curator.grounding import FEATURES

    key = code_key()
    scorer = _Capture(embedder=Embedder())
    feats, claims = {}, {}
    for n in DATASETS:
        f = cache / f"feat_{n}_{len(idx[n])}_{key}.npz"
        c = cache / f"claims_{n}_{len(idx[n])}_{key}.json"
        if f.is_file() and c.is_file() and not fresh:
            feats[n] = np.load(f, allow_pickle=False)["x"]
            claims[n] = json.loads(c.read_text("utf-8"))
            continue
        rows = [data[n][i] for i in idx[n]]
        pairs = [PairInput(r.get("prompt") or "", r["response"] or "", r["source"]) for r in rows]
        t0 = time.perf_counter()
        scorer.last = []
        feats[n] = calib_pair_features(scorer, pairs)
        if len(scorer.last) != len(pairs):  # pair_features no longer goes through features(): ask it
            scorer.last = list(GroundingScorer.features(scorer, pairs)[0])
        claims[n] = [claims_of(vs) for vs in scorer.last]
        print(f"[features] {n}: {len(rows)} pairs in {time.perf_counter() - t0:.0f}s", flush=True)
        np.savez(f, x=feats[n])
        c.write_text(json.dumps(claims[n]), encoding="utf-8")
    return feats, claims, list(FEATURES)


def model_key(model: Path, args: argparse.Namespace) -> str:
    if args.scores:
        h = hashlib.sha1(Path(args.scores).read_bytes())
    else:
        h = hashlib.sha1((model / "model.safetensors").read_bytes())
    h.update(f"{args.window_words}/{args.max_length}/{args.int8}".encode())
    return h.hexdigest()[:12]


class PairRecorder:
    """Stands in for the verifier with ``--export-pairs``: records every (claim, evidence) pair the
    parts would score (and answers 0.5), so another machine can score them
    (benchmarks/verifier_train.py --examples ... --score)."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[str, str], None] = {}

    def predict(self, claims: list[str], evidences: list[str]) -> np.ndarray:
        for c, e in zip(claims, evidences):
            self.pairs[(c, e)] = None
        return np.full(len(claims), 0.5, dtype=np.float32)


class ScoreLookup:
    """Stands in for the verifier with ``--scores``: P(unsupported) read from a scores file."""

    def __init__(self, path: str) -> None:
        self.p = {(r["claim"], r["evidence"]): float(r["p"]) for r in read_jsonl(path)}

    def predict(self, claims: list[str], evidences: list[str]) -> np.ndarray:
        missing = [c for c, e in zip(claims, evidences) if (c, e) not in self.p]
        if missing:
            raise SystemExit(f"{len(missing)} pairs are not in --scores (e.g. {missing[0][:80]!r}); re-export them "
                             "with --export-pairs and score them again.")
        return np.array([self.p[(c, e)] for c, e in zip(claims, evidences)], dtype=np.float32)


_STANDIN: PairRecorder | ScoreLookup | None = None


def verifier(args: argparse.Namespace) -> GroundingVerifier | PairRecorder | ScoreLookup:
    global _STANDIN
    if args.export_pairs or args.scores:
        if _STANDIN is None:
            _STANDIN = PairRecorder() if args.export_pairs else ScoreLookup(args.scores)
        return _STANDIN
    return GroundingVerifier(args.model, max_length=args.max_length, batch_size=32,
                             quantize="int8" if args.int8 else None)


def dev_verifier_scores(data: dict[str, list[dict]], idx: dict[str, np.ndarray], claims: dict[str, list[list[str]]],
                        args: argparse.Namespace, cache: Path) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    ver = verifier(args)
    mk = "export" if args.export_pairs else model_key(Path(args.model), args)
    out, rate = {}, {}
    for n in DATASETS:
        f = cache / f"ver_{mk}_{n}_{len(idx[n])}_{code_key()}.json"
        if f.is_file() and not args.fresh and not args.export_pairs:
            d = json.loads(f.read_text("utf-8"))
            out[n], rate[n] = np.array(d["p"]), d["rate"]
            continue
        owner, cs, es = [], [], []
        assert len(claims[n]) == len(idx[n]), (n, len(claims[n]), len(idx[n]))
        for k, (i, cl) in enumerate(zip(idx[n], claims[n])):
            r = data[n][i]
            for x in cl:
                c = make_claim(x, r.get("prompt"))
                owner.append(k)
                cs.append(c)
                es.append(evidence_window(c, r["source"], args.window_words))
        t0 = time.perf_counter()
        ps = ver.predict(cs, es) if cs else np.zeros(0)
        rate[n] = len(cs) / max(1e-9, time.perf_counter() - t0)
        worst = np.zeros(len(idx[n]))  # a pair without a checkable claim flags nothing
        np.maximum.at(worst, np.array(owner, dtype=int), ps)
        out[n] = worst
        if not args.export_pairs:
            f.write_text(json.dumps({"p": worst.tolist(), "rate": rate[n], "n_claims": len(cs)}), encoding="utf-8")
        print(f"[verifier] {n}: {len(cs)} claims at {rate[n]:.1f}/s", flush=True)
    return out, rate


def gprob(params, x: np.ndarray, names: tuple[str, ...]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """P(unsupported) from a matrix whose columns are ``names`` (benchmarks/grounding.py's ``prob``);
    a pair with no checkable claim counts as 0."""
    p = params.prob_unsupported(x[:, [names.index(f) for f in params.features]])
    p = params.apply_floors(p, {f: np.nan_to_num(x[:, names.index(f)]) for f in params.floors})
    return np.nan_to_num(p, nan=0.0)


def part_lodo(args: argparse.Namespace, cache: Path) -> str:
    data = {n: load_set(n) for n in DATASETS}
    idx = {n: eval_sample(len(data[n]), args.eval_cap) for n in DATASETS}
    feats, claims, names = dev_features(data, idx, cache, args.fresh)
    vp, rate = dev_verifier_scores(data, idx, claims, args, cache)
    ys = {n: np.array([data[n][i]["hallucinated"] for i in idx[n]]) for n in DATASETS}
    nov = {n: novelty_baseline([data[n][i] for i in idx[n]]) for n in DATASETS}
    lines = [f"### Verifier on the seven labelled sets, leave-one-genre-out ({datetime.date.today()}, model "
             f"`{args.scores or args.model}`, window {args.window_words} words, max_length {args.max_length}, "
             f"{'int8' if args.int8 else 'fp32'}, ≤ {args.eval_cap} rows a set, features {len(names)}: code key "
             f"{code_key()})", "",
             "| genre | set | n | novelty | verifier alone | features (LOGO) | features + verifier (LOGO) | Δ | claims/s |",
             "|---|---|---|---|---|---|---|---|---|"]
    res = {}
    xc = {n: np.column_stack([feats[n], vp[n]]) for n in DATASETS}
    names_v = (*ALL_FEATURES, "verifier")
    for h in DATASETS:
        others = [o for o in DATASETS if GENRE_OF[o] != GENRE_OF[h]]
        g = np.concatenate([[o] * len(ys[o]) for o in others])
        y = np.concatenate([ys[o] for o in others])
        # The shipped feature set, regularisation and contradiction floors (as benchmarks/grounding.py).
        pf = fit_params(np.concatenate([feats[o] for o in others]), y, g, {}, features=ALL_FEATURES,
                        use=SHIPPED, C=C_REG, floors=FLOORS)
        a_f = auroc(ys[h], gprob(pf, feats[h], ALL_FEATURES))
        pc = fit_params(np.concatenate([xc[o] for o in others]), y, g, {}, features=names_v,
                        use=(*SHIPPED, "verifier"), C=C_REG, floors=FLOORS)
        a_c = auroc(ys[h], gprob(pc, xc[h], names_v))
        a_v = auroc(ys[h], vp[h])
        a_n = auroc(ys[h], nov[h])
        res[h] = (a_n, a_v, a_f, a_c)
        lines.append(f"| {GENRE_OF[h]} | {NAMES[h]} | {len(ys[h])} | {a_n:.3f} | {a_v:.3f} | {a_f:.3f} | {a_c:.3f} | "
                     f"{a_c - a_f:+.3f} | {'–' if args.scores else f'{rate[h]:.0f}'} |")
    genre_mean = {gn: np.array([res[h] for h in ss]).mean(0) for gn, ss in GENRES.items()}
    for gn, m in genre_mean.items():
        lines.append(f"| **{gn}** | mean | | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} | {m[3]:.3f} | {m[3] - m[2]:+.3f} | |")
    m = np.array(list(res.values())).mean(0)
    lines.append(f"| **all** | mean of sets | | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} | {m[3]:.3f} | {m[3] - m[2]:+.3f} | |")
    d = {h: res[h][3] - res[h][2] for h in DATASETS}
    default = (m[3] - m[2] >= 0.02) and min(d.values()) >= -0.01
    target = all(genre_mean[gn][3] - genre_mean[gn][2] >= 0.05 for gn in ("summarization", "claim_verification")) \
        and min(d.values()) >= 0.0
    sg = {gn: float(genre_mean[gn][3] - genre_mean[gn][2]) for gn in GENRES}
    lines += ["", f"Default rule (mean +0.02, no set below −0.01): mean {m[3] - m[2]:+.3f}, worst set "
              f"{min(d.values()):+.3f} → **{'default for doubtful claims' if default else 'opt-in only'}**.",
              f"Issue 23's target (summarization and claim verification +0.05 each, no set lower): summarization "
              f"{sg['summarization']:+.3f}, claim verification {sg['claim_verification']:+.3f} → "
              f"**{'met' if target else 'not met'}**."]
    (cache / "lodo.json").write_text(json.dumps({"res": res, "genre_delta": sg, "default": bool(default),
                                                 "target": bool(target)}), encoding="utf-8")
    return "\n".join(lines)


def part_features(args: argparse.Namespace, cache: Path) -> str:
    """Only the (model-independent) dev-set features and claims, cached for ``lodo``."""
    data = {n: load_set(n) for n in DATASETS}
    idx = {n: eval_sample(len(data[n]), args.eval_cap) for n in DATASETS}
    feats, claims, names = dev_features(data, idx, cache, args.fresh)
    return "features cached: " + ", ".join(f"{n} {feats[n].shape} ({sum(map(len, claims[n]))} claims)" for n in DATASETS)


def part_nli(args: argparse.Namespace, cache: Path) -> str:
    paths = require(NLI_FILE, NLI_MORE_FILE)
    rng = np.random.default_rng(0)
    groups: dict[str, list[dict]] = {}
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                if r.get("label2") not in (0, 1):
                    continue
                if r.get("shippable") and r["source"] in IN_DOMAIN and is_dev(r["premise"]):
                    groups.setdefault(f"in: {r['source']}", []).append(r)
                elif not r.get("shippable") and r["source"] in OOD:
                    if r["source"] == "lingnli" and r.get("split") != "val":
                        continue
                    if r["source"] == "sick" and r.get("split") != "test":
                        continue
                    groups.setdefault(f"out: {r['source']}", []).append(r)
    ver = verifier(args)
    lines = [f"### Verifier on NLI rows it did not train on ({datetime.date.today()}, ≤ {args.nli_cap} per source, "
             "P(unsupported) vs not entailed)", "", "| source | n | not entailed | AUROC |", "|---|---|---|---|"]
    agg: dict[str, list[float]] = {"in": [], "out": []}
    for name in sorted(groups):
        rows = groups[name]
        take = [rows[int(i)] for i in sorted(rng.permutation(len(rows))[:args.nli_cap])]
        hyp = [detok(r["hypothesis"]) for r in take]
        ev = [evidence_window(h, detok(r["premise"]), args.window_words) for h, r in zip(hyp, take)]
        y = np.array([int(r["label2"] == 0) for r in take])
        a = auroc(y, ver.predict(hyp, ev))
        agg[name.split(":")[0]].append(a)
        lines.append(f"| {name} | {len(take)} | {int(y.sum())} | {a:.3f} |")
    lines.append(f"| **mean in-domain dev** | | | {np.nanmean(agg['in']):.3f} |")
    lines.append(f"| **mean out-of-domain** | | | {np.nanmean(agg['out']):.3f} |")
    return "\n".join(lines)


#: Issue 11's kinds written as (id, source, question, answer, should_flag).
SWAPS = [
    ("lake_number", "The lake is 42 km long. It is 8 km wide.", "How long is the lake?", "The lake is 24 km long.", 1),
    ("lake_ok", "The lake is 42 km long. It is 8 km wide.", "How long is the lake?", "The lake is 42 km long.", 0),
    ("lake_width_as_length", "The lake is 42 km long. It is 8 km wide.", "How long is the lake?",
     "The lake is 8 km long.", 1),
    ("date_swap", "Alice was born in 1950 in Leeds. Her brother Tom was born in 1953 in York.", "When was Alice born?",
     "Alice was born in 1953.", 1),
    ("date_ok", "Alice was born in 1950 in Leeds. Her brother Tom was born in 1953 in York.", "When was Alice born?",
     "Alice was born in 1950.", 0),
    ("place_swap", "Alice was born in 1950 in Leeds. Her brother Tom was born in 1953 in York.", "Where was Tom born?",
     "Tom was born in Leeds.", 1),
    ("author_swap", "Hamlet was written by William Shakespeare. Faust was written by Goethe.", "Who wrote Faust?",
     "Faust was written by William Shakespeare.", 1),
    ("author_ok", "Hamlet was written by William Shakespeare. Faust was written by Goethe.", "Who wrote Faust?",
     "Faust was written by Goethe.", 0),
    ("negation", "The museum is open on Sundays. It is closed on Mondays.", "Is the museum open on Sundays?",
     "The museum is not open on Sundays.", 1),
    ("negation_ok", "The museum is open on Sundays. It is closed on Mondays.", "Is the museum open on Mondays?",
     "The museum is closed on Mondays.", 0),
]


def part_swaps(args: argparse.Namespace, cache: Path) -> str:
    rep = data_dir().parent / "repros" / "from-bug-reports"
    rows: list[tuple[str, str, str, str, int | None]] = []
    for f in ("18_recombination_pairs.jsonl", "18b_llamaindex_presence_not_entailment.jsonl"):
        p = rep / f
        if not p.is_file():
            continue
        for line in p.read_text("utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                # Only "correct" (Lima) is supported; swaps, the negation, "Paris is the capital of
                # Peru" and every answer judged against "a great day in Paris" are not.
                rows.append((r["id"], r["context"], r["instruction"], r["response"], int(r["id"] != "correct")))
    rows += SWAPS
    ver = verifier(args)
    claims = [make_claim(a, q) for _, _, q, a, _ in rows]
    ev = [evidence_window(c, s, args.window_words) for c, (_, s, _, _, _) in zip(claims, rows)]
    p = ver.predict(claims, ev)
    lines = ["### Issue 11 swap / presence examples (P(unsupported); should flag = 1)", "",
             "| id | answer | should flag | P(unsupported) |", "|---|---|---|---|"]
    for (rid, _, _, a, f), x in zip(rows, p):
        lines.append(f"| {rid} | {a} | {f} | {x:.2f} |")
    y = np.array([f for *_, f in rows])
    lines.append(f"\nAUROC over these {len(rows)} rows: {auroc(y, p):.3f}; every bad answer above every good one: "
                 f"{bool(p[y == 1].min() > p[y == 0].max())}; at 0.5: {int(((p >= 0.5) == (y == 1)).sum())}/{len(y)} right.")
    return "\n".join(lines)


def part_speed(args: argparse.Namespace, cache: Path) -> str:
    import torch

    data = {n: load_set(n) for n in DATASETS}
    pairs: list[tuple[str, str]] = []
    rng = np.random.default_rng(1)
    for n in DATASETS:
        for i in rng.permutation(len(data[n]))[:100]:
            r = data[n][int(i)]
            c = make_claim((r["response"] or "").split(". ")[0], r.get("prompt"))
            pairs.append((c, evidence_window(c, r["source"], args.window_words)))
    lines = [f"### Verifier speed ({datetime.date.today()}, {len(pairs)} dev-set claim/evidence pairs, "
             f"{torch.get_num_threads()} torch threads, window {args.window_words} words, max_length {args.max_length})",
             "", "| weights | pairs/s | load average before → after |", "|---|---|---|"]
    for q in (None, "int8"):
        v = GroundingVerifier(args.model, max_length=args.max_length, batch_size=32, quantize=q)
        v.predict([c for c, _ in pairs[:32]], [e for _, e in pairs[:32]])  # load + warm up
        l0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        v.predict([c for c, _ in pairs], [e for _, e in pairs])
        dt = time.perf_counter() - t0
        lines.append(f"| {q or 'float32'} | {len(pairs) / dt:.0f} | {l0:.1f} → {os.getloadavg()[0]:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="/tmp/cv_nli/model")
    ap.add_argument("--parts", default="swaps,nli,lodo,speed")
    ap.add_argument("--eval-cap", type=int, default=1000)
    ap.add_argument("--nli-cap", type=int, default=300)
    ap.add_argument("--window-words", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--int8", action="store_true", help="score with int8 dynamic quantisation")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="/tmp/cv_nli/eval")
    ap.add_argument("--fresh", action="store_true", help="ignore cached features and scores")
    ap.add_argument("--out", default=None, help="also write the tables to this markdown file")
    ap.add_argument("--export-pairs", default=None, metavar="FILE",
                    help="write every claim/evidence pair the parts score to FILE (JSONL, .gz/.xz) instead of "
                         "scoring them; benchmarks/verifier_train.py --examples ... --score scores them elsewhere")
    ap.add_argument("--scores", default=None, metavar="FILE",
                    help="read P(unsupported) per pair from FILE (written by verifier_train.py --score) instead of "
                         "running --model")
    args = ap.parse_args()
    if args.export_pairs or args.scores:
        args.parts = ",".join(p for p in args.parts.split(",") if p != "speed")

    import torch

    torch.set_num_threads(args.threads)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    parts = {"features": part_features, "swaps": part_swaps, "nli": part_nli, "lodo": part_lodo, "speed": part_speed}
    out = []
    for name in [p for p in args.parts.split(",") if p]:
        t0 = time.perf_counter()
        text = parts[name](args, cache)
        print(text + f"\n\n({name}: {time.perf_counter() - t0:.0f}s, load {os.getloadavg()[0]:.1f})\n", flush=True)
        out.append(text)
    if args.out:
        Path(args.out).write_text("\n\n".join(out) + "\n", encoding="utf-8")
    if args.export_pairs and isinstance(_STANDIN, PairRecorder):
        with open_text(args.export_pairs, "wt") as fh:
            for c, e in _STANDIN.pairs:
                fh.write(json.dumps({"claim": c, "evidence": e}) + "\n")
        print(f"{len(_STANDIN.pairs)} pairs -> {args.export_pairs}", flush=True)


if __name__ == "__main__":
    main()
