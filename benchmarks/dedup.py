"""Dedup quality: does curator find the duplicates, only the duplicates, and how fast?

    python benchmarks/dedup.py                                  # parts pairs,throughput (~30-40 min on 2 cores)
    python benchmarks/dedup.py --quick                          # smoke run (~2 min)
    python benchmarks/dedup.py --parts corpus --rows 100000 --repeats 3
    python benchmarks/dedup.py --parts mix,pairs-combined
    python benchmarks/dedup.py --parts pairs-near
    python benchmarks/dedup.py --parts guard --rows 100000 --prev-ref b6fe1f5
    python benchmarks/dedup.py --parts real --real-refs 15c4de6,16fd5c8,new --repeats 2

Parts (``--parts``, comma-separated; default ``pairs,throughput``):

* ``pairs``: labelled sentence pairs of shared/data/pairs (MRPC, PAWS, QQP, STS-B, SICK) scored
  with each duplicate signal (rapidfuzz baselines, MinHash estimate, near = LSH + exact Jaccard,
  embedding cosine, the combined decision): AUROC and precision / recall / F1 at the defaults,
  plus a cosine threshold sweep.
* ``pairs-combined``: the combined decision per pair (exact or near or semantic, with the value
  guard) per semantic threshold (``--thresholds``), against the code of ``--baseline-ref``.
* ``pairs-near``: the near stage alone on the labelled pairs (exact 5-gram Jaccard >= 0.6 and the
  value guard): precision, guard refusals, random examples of false merges. No embeddings.
* ``corpus``: a synthetic corpus (``--rows``) built from shared/data/instructions with copies
  injected at 0-20 % word edits: recall of the copies per edit rate, time, and drops whose
  *direct* similarity to the row they name is below the threshold; today's code against
  ``--baseline-ref`` (loaded from git), and with ``allow_value_changes``; runs alternate.
* ``throughput``: the same corpus through curator's MinHash path and datasketch MinHash +
  MinHashLSH, each run in its own subprocess (so peak RSS is per method), interleaved, median of
  ``--repeats``; then ``Deduplicator(semantic=False)`` alone on ``--big-rows`` rows (1M).
* ``mix``: a stand-in for a 21k-row Alpaca-format merge: the 2,455 real instructions plus templated
  rows (GSM8K-like word problems whose numbers and names vary, toolformer-like tool queries,
  role-play prompts): drops per method, drops below the threshold, templated rows dropped.
* ``templated``: the value guard's cost on 6,000 templated rows (with / without the guard).
* ``real``: `curator dedup` on the real file (``--real``, default
  shared/data/perf/real_mix_21k.jsonl.gz) with the code of each of ``--real-refs`` (git refs;
  ``new`` = this tree), every embedding served from one precomputed table (``--vectors``, built
  on the first run with the real model; see benchmarks/_dedup_real.py): process CPU seconds,
  wall, the near stage's candidates, runs alternating, and whether the last two refs' kept and
  dropped rows are byte-identical. ``--no-semantic`` leaves the semantic stage out.
* ``guard``: the cluster + guard stage alone on fixed near edges (corpus of ``--rows`` and 8,000
  templated rows), CPU seconds without the guard, with today's and with ``--prev-ref``'s.

Data: ``$CURATOR_DATA_DIR`` or ``<repo>/../shared/data``; exits 0 with a message when absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import curator.dedup as new  # noqa: E402
from curator.dedup import (  # noqa: E402
    DEFAULT_NEAR_THRESHOLD,
    DEFAULT_SEMANTIC_THRESHOLD,
    Deduplicator,
    NearDuplicateFinder,
    _near_codepoints,
    connected_components,
    optimal_lsh_params,
)
from curator.text import normalize_text, split_sentences  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import data_dir, load_pairs, read_jsonl  # noqa: E402
from _dedup_real import part_real  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINE_REF = "15c4de6"  # main before issue 10 (connected components, lossy normalisation, no guard)
FUZZ_THRESHOLD = 0.9  # rapidfuzz baselines: a common "fuzzy duplicate" cut-off (score 90/100)
EDIT_RATES = (0.0, 0.02, 0.05, 0.10, 0.20)  # 0.0 = exact copy with case/punctuation noise
DUP_RATE = 0.2  # share of synthetic rows that are copies of an earlier row
BASE_NOISE = 0.3  # share of words of each synthetic base row replaced, so base rows are distinct


# =============================================================================================
# labelled pairs
# =============================================================================================
def prf(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & (y == 1)).sum())
    p = tp / max(pred.sum(), 1)
    r = tp / max((y == 1).sum(), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def pair_quality(root: Path, limit: int | None) -> tuple[list[str], list[str], dict]:
    from rapidfuzz import fuzz, utils
    from sklearn.metrics import roc_auc_score

    from curator.embed import Embedder

    datasets = load_pairs(root, limit)
    finder = NearDuplicateFinder()
    bands, rows = optimal_lsh_params(DEFAULT_NEAR_THRESHOLD, finder.num_perm)
    slack = 4 * 0.5 / np.sqrt(finder.num_perm)
    all_texts = sorted({t for a, b, _ in datasets.values() for t in a + b})
    index = {t: k for k, t in enumerate(all_texts)}
    t0 = time.perf_counter()
    sigs = finder.signatures(all_texts)
    t_sig = time.perf_counter() - t0
    t0 = time.perf_counter()
    emb = Embedder().encode(all_texts)
    t_emb = time.perf_counter() - t0
    print(f"  {len(all_texts)} unique texts: MinHash {t_sig:.1f} s, embeddings {t_emb:.1f} s",
          flush=True)

    lines = ["| dataset | n | dup share | signal | threshold | AUROC | P | R | F1 |",
             "|---|---|---|---|---|---|---|---|---|"]
    sweep = ["| dataset | " + " | ".join(f"cos >= {t}" for t in (0.85, 0.9, 0.93, 0.95, 0.97))
             + " |", "|---" * 6 + "|"]
    summary: dict = {}
    for name, (ta, tb, y) in datasets.items():
        ia = np.array([index[t] for t in ta])
        ib = np.array([index[t] for t in tb])
        proc = utils.default_process
        tset = np.array([fuzz.token_set_ratio(a, b, processor=proc) for a, b in zip(ta, tb)]) / 100
        ratio = np.array([fuzz.ratio(a, b, processor=proc) for a, b in zip(ta, tb)]) / 100
        eq = sigs[ia] == sigs[ib]
        est = eq.mean(axis=1)
        band_hit = eq[:, :bands * rows].reshape(len(y), bands, rows).all(axis=2).any(axis=1)
        jac = np.array([finder.similarity(a, b) for a, b in zip(ta, tb)])
        cos = np.clip((emb[ia] * emb[ib]).sum(axis=1), -1, 1)
        norm_a = [normalize_text(t, True, True, True) for t in ta]
        norm_b = [normalize_text(t, True, True, True) for t in tb]
        exact = np.array([bool(a) and a == b for a, b in zip(norm_a, norm_b)])
        # what NearDuplicateFinder decides for the pair alone: LSH candidate, estimate within
        # 4 standard errors, exact Jaccard over the threshold
        near = band_hit & (est >= DEFAULT_NEAR_THRESHOLD - slack) & (jac >= DEFAULT_NEAR_THRESHOLD)
        sem = cos >= DEFAULT_SEMANTIC_THRESHOLD
        signals = [
            ("rapidfuzz token_set_ratio", tset, FUZZ_THRESHOLD, tset >= FUZZ_THRESHOLD),
            ("rapidfuzz ratio", ratio, FUZZ_THRESHOLD, ratio >= FUZZ_THRESHOLD),
            ("MinHash-estimated Jaccard", est, DEFAULT_NEAR_THRESHOLD,
             est >= DEFAULT_NEAR_THRESHOLD),
            ("near-dup (LSH + exact Jaccard)", jac, DEFAULT_NEAR_THRESHOLD, near),
            ("embedding cosine", cos, DEFAULT_SEMANTIC_THRESHOLD, sem),
            ("combined (exact or near or semantic)", None, None, exact | near | sem),
        ]
        for label, score, thr, pred in signals:
            auc = f"{roc_auc_score(y, score):.3f}" if score is not None and 0 < y.mean() < 1 else "–"
            p, r, f = prf(pred, y)
            lines.append(f"| {name} | {len(y)} | {y.mean():.2f} | {label} | "
                         f"{thr if thr is not None else '–'} | {auc} | {p:.2f} | {r:.2f} | {f:.2f} |")
            summary[(name, label)] = (auc, p, r, f)
        cells = []
        for t in (0.85, 0.9, 0.93, 0.95, 0.97):
            p, r, _ = prf(cos >= t, y)
            cells.append(f"P {p:.2f} / R {r:.2f}")
        sweep.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines, sweep, {"n_texts": len(all_texts), "sig_s": t_sig, "emb_s": t_emb}



def part_pairs(thresholds: tuple[float, ...], ref: str = BASELINE_REF) -> list[str]:
    from curator.embed import Embedder, default_cache_dir
    from curator.text import normalize_text

    datasets = load_pairs(data_dir(), None)
    all_texts = sorted({t for a, b, _ in datasets.values() for t in a + b})
    index = {t: k for k, t in enumerate(all_texts)}
    emb = Embedder(cache_dir=default_cache_dir()).encode(all_texts)
    near = new.NearDuplicateFinder()
    exact = new.ExactDuplicateFinder()
    lines = ["Combined decision per pair (exact or near or semantic; old = lossy normalisation, no guard; "
             "new = meaning-keeping normalisation, value guard). Near = exact Jaccard of the pair >= 0.6 "
             "(LSH misses ignored).", "",
             "| dataset | n | dup share | old P / R (cos 0.95) | " + " | ".join(f"new P / R (cos {t})" for t in thresholds)
             + " | guard blocks (of old positives) |", "|---" * (5 + len(thresholds)) + "|"]
    for name, (ta, tb, y) in datasets.items():
        ia = np.array([index[t] for t in ta])
        ib = np.array([index[t] for t in tb])
        cos = (emb[ia] * emb[ib]).sum(axis=1)
        jac_new = np.array([near.similarity(a, b) for a, b in zip(ta, tb)])
        old_finder = load_baseline(ref).NearDuplicateFinder()
        old_near = np.array([float(old_finder.similarity(a, b)) for a, b in zip(ta, tb)])
        na = [normalize_text(t, True, True, True) for t in ta]
        nb = [normalize_text(t, True, True, True) for t in tb]
        old_exact = np.array([bool(a) and a == b for a, b in zip(na, nb)])
        new_exact = np.array([bool(exact.find_pairs([a, b])) for a, b in zip(ta, tb)])
        old_pred = old_exact | (old_near >= 0.6) | (cos >= 0.95)
        p, r, _ = prf(old_pred, y)
        cells = [f"{p:.2f} / {r:.2f}"]
        texts = list(ta) + list(tb)
        guard = new._ValueGuard(texts)
        blocked = np.array([guard.blocked(k, len(ta) + k) for k in range(len(ta))])
        for t in thresholds:
            pred = new_exact | (((jac_new >= 0.6) | (cos >= t)) & ~blocked)
            p, r, _ = prf(pred, y)
            cells.append(f"{p:.2f} / {r:.2f}")
        lines.append(f"| {name} | {len(y):,} | {y.mean():.2f} | " + " | ".join(cells)
                     + f" | {int((blocked & old_pred).sum()):,} of {int(old_pred.sum()):,} |")
    return lines


def part_pairs_near(examples: int = 4) -> list[str]:
    """Near stage alone on the labelled pairs (exact 5-gram Jaccard >= 0.6, today's value guard),
    with random examples of its false merges: no embeddings needed."""
    rng = np.random.default_rng(0)
    lines = ["| set | near merges | false | near precision | guard refusals (label 0 among them) |",
             "|---|---|---|---|---|"]
    shown = []
    for name, (ta, tb, y) in load_pairs(data_dir(), None).items():
        texts, n = list(ta) + list(tb), len(ta)
        i, j = np.arange(n), np.arange(n) + n
        jac = new.NearDuplicateFinder()._exact_jaccard(texts, i, j)
        ok = new._ValueGuard(texts).keep_mask(i, j)
        pred = (jac >= 0.6) & ok
        false = np.flatnonzero(pred & (y == 0))
        refused = (jac >= 0.6) & ~ok
        lines.append(f"| {name} | {int(pred.sum()):,} | {len(false):,} | "
                     f"{(pred & (y == 1)).sum() / max(1, pred.sum()):.2f} | "
                     f"{int(refused.sum()):,} ({int((refused & (y == 0)).sum()):,}) |")
        for k in rng.choice(false, min(examples, len(false)), replace=False):
            shown.append(f"* {name}, J = {jac[k]:.2f}: {ta[k]!r} / {tb[k]!r}")
    return lines + ["", "False merges (random examples):", ""] + shown


# =============================================================================================
# synthetic corpus with injected copies
# =============================================================================================
def _pool(root: Path) -> tuple[list[np.ndarray], np.ndarray, list[int]]:
    """Sentences of the instruction data as arrays of words, all their words in one array (to
    draw replacement words with real frequencies), and the sentence count of each real row (the
    synthetic rows copy that length distribution)."""
    sentences: list[np.ndarray] = []
    counts: list[int] = []
    for path in sorted((root / "instructions").glob("*.jsonl")):
        for r in read_jsonl(path):
            text = "\n".join(x for x in (r.get("instruction"), r.get("input"), r.get("output")) if x)
            sents = [s.split() for s in split_sentences(text)]
            counts.append(max(len(sents), 1))
            sentences += [np.array(s, dtype=object) for s in sents if s]
    return sentences, np.concatenate(sentences), counts


def edit_words(words: np.ndarray, rate: float, rng: np.random.Generator, pool: np.ndarray
               ) -> np.ndarray:
    """Edit ~``rate`` of the words: a quarter each substituted, swapped with the next word,
    followed by an inserted word, deleted."""
    u = rng.random(len(words))
    words = words.copy()
    sub = u < rate / 4
    words[sub] = pool[rng.integers(0, len(pool), int(sub.sum()))]
    swap = np.flatnonzero((u >= rate / 4) & (u < rate / 2))
    for k in swap[swap + 1 < len(words)]:
        words[k], words[k + 1] = words[k + 1], words[k]
    insert = (u >= rate / 2) & (u < 3 * rate / 4)
    delete = (u >= 3 * rate / 4) & (u < rate)
    extra = pool[rng.integers(0, len(pool), len(words))]
    # each word is followed by its inserted word, if any; deleted words drop out
    seq = np.stack([words, extra], axis=1)
    return seq[np.stack([~delete, insert], axis=1)]


def make_corpus(root: Path, n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """n rows; ``source[r]`` = the row r copies (-1 for base rows), ``rate[r]`` its edit rate.

    Base rows are random runs of real sentences with BASE_NOISE of their words replaced (so no
    two base rows are near duplicates); DUP_RATE of the rows are copies of an earlier base row
    with word edits at one of EDIT_RATES (rate 0: exact copy with case/punctuation noise).
    """
    rng = np.random.default_rng(seed)
    sentences, pool, counts = _pool(root)
    texts: list[str] = []
    source = np.full(n, -1, dtype=np.int64)
    rate = np.full(n, np.nan)
    is_copy = rng.random(n) < DUP_RATE
    is_copy[0] = False
    n_sent = rng.choice(counts, n)
    bases: list[int] = []
    for r in range(n):
        if is_copy[r]:
            src = bases[int(rng.integers(len(bases)))]
            edit = EDIT_RATES[int(rng.integers(len(EDIT_RATES)))]
            source[r], rate[r] = src, edit
            text = texts[src]
            if edit:
                texts.append(" ".join(edit_words(np.array(text.split(), dtype=object), edit,
                                                 rng, pool)))
            else:
                style = int(rng.integers(3))
                noisy = [text.upper(), text.replace(" ", "  ") + " !", text.lower() + "."]
                texts.append(noisy[style])
            continue
        picks = rng.integers(0, len(sentences), int(n_sent[r]))
        words = np.concatenate([sentences[p] for p in picks])
        noise = rng.random(len(words)) < BASE_NOISE
        words[noise] = pool[rng.integers(0, len(pool), int(noise.sum()))]
        texts.append(" ".join(words))
        bases.append(r)
    return texts, source, rate


def evaluate(n: int, i: np.ndarray, j: np.ndarray, source: np.ndarray, rate: np.ndarray) -> dict:
    """Recall of injected copies per edit rate (same cluster as the source) and false merges."""
    cluster = connected_components(n, i, j)
    family = np.where(source >= 0, source, np.arange(n))
    out = {}
    for r in EDIT_RATES:
        rows = np.flatnonzero(rate == r)
        out[f"recall@{r:g}"] = float((cluster[rows] == cluster[source[rows]]).mean()) if len(rows) else None
    out["cross_family_pairs"] = int((family[i] != family[j]).sum())
    out["pairs"] = int(len(i))
    return out


def peak_rss_mb() -> float:
    """Peak resident set of this process in MiB.

    VmHWM belongs to the address space, which exec replaces; getrusage's ru_maxrss would
    carry over the parent's peak into a child (forked from a parent that loaded torch).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux



# =============================================================================================
# throughput and memory of the MinHash path, against datasketch
# =============================================================================================
def _datasketch_pairs(texts: list[str], timings: dict) -> tuple[np.ndarray, np.ndarray]:
    """datasketch MinHash + MinHashLSH on the same normalised character 5-grams, with the same
    (bands, rows), keeping pairs whose MinHash estimate >= threshold (as verify=False)."""
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    norm: list[str] = []
    for s in range(0, len(texts), 20_000):  # curator's vectorised normaliser: same shingles
        cps, off = _near_codepoints(texts[s:s + 20_000])
        joined = cps.tobytes().decode("utf-32-le")
        norm += [joined[off[k]:off[k + 1]] for k in range(len(off) - 1)]
    timings["normalize_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = 5
    sigs = []
    for t in norm:
        m = MinHash(num_perm=128, seed=1)
        if t:
            m.update_batch([t[k:k + n].encode("utf-8") for k in range(max(len(t) - n + 1, 1))])
        sigs.append(m)
    timings["minhash_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=DEFAULT_NEAR_THRESHOLD, num_perm=128,
                     params=optimal_lsh_params(DEFAULT_NEAR_THRESHOLD, 128))
    for k, m in enumerate(sigs):
        if norm[k]:
            lsh.insert(k, m)
    pi, pj = [], []
    for k, m in enumerate(sigs):
        if not norm[k]:
            continue
        for other in lsh.query(m):
            if other > k and m.jaccard(sigs[other]) >= DEFAULT_NEAR_THRESHOLD:
                pi.append(k)
                pj.append(other)
    timings["lsh_s"] = time.perf_counter() - t0
    return np.array(pi, dtype=np.int64), np.array(pj, dtype=np.int64)


def worker(method: str, rows: int, seed: int) -> dict:
    root = data_dir()
    t0 = time.perf_counter()
    texts, source, rate = make_corpus(root, rows, seed)
    gen_s = time.perf_counter() - t0
    rss_data = peak_rss_mb()
    timings: dict = {}
    t0 = time.perf_counter()
    if method == "datasketch":
        i, j = _datasketch_pairs(texts, timings)
    elif method == "curator-dedup-semantic":
        # The default Deduplicator, semantic stage included. Embedding time is reported apart
        # (timings.embed_s) and not counted in run_s; MiniLM reads the first 256 word pieces.
        from curator.embed import Embedder

        e0 = time.perf_counter()
        emb = Embedder(cache=False).encode(texts)
        timings["embed_s"] = time.perf_counter() - e0
        t0 = time.perf_counter()
        res = Deduplicator().run(texts, embeddings=emb)
        dropped = np.flatnonzero(~res.keep)
        i, j = res.duplicate_of[dropped], dropped
        timings.update({f"{k}_s": v for k, v in res.stats["timings_s"].items()})
        timings["dropped_by_method"] = res.stats["dropped_by_method"]
    elif method == "curator-dedup":
        res = Deduplicator(semantic=False).run(texts)
        dropped = np.flatnonzero(~res.keep)
        i, j = res.duplicate_of[dropped], dropped
        timings.update({f"{k}_s": v for k, v in res.stats["timings_s"].items()})
        timings["candidates"] = res.stats["near_lsh"].get("candidates")
    else:
        finder = NearDuplicateFinder(verify=(method == "curator-near"))
        pairs = finder.find_pairs(texts)
        i = np.array([p[0] for p in pairs], dtype=np.int64)
        j = np.array([p[1] for p in pairs], dtype=np.int64)
        timings["candidates"] = finder.n_candidates_
    run_s = time.perf_counter() - t0
    out = {"method": method, "rows": rows, "gen_s": gen_s, "run_s": run_s,
           "rows_per_s": rows / run_s, "rss_after_data_mb": rss_data,
           "peak_rss_mb": peak_rss_mb(), "mean_chars": float(np.mean([len(t) for t in texts])),
           "timings": timings}
    out.update(evaluate(rows, i, j, source, rate))
    return out


def run_worker(method: str, rows: int, seed: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method,
           "--rows", str(rows), "--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {method} failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {method:22s} rows={rows:>8,d} {res['run_s']:8.1f} s  {res['rows_per_s']:8.0f} rows/s"
          f"  peak RSS {res['peak_rss_mb']:7.0f} MiB (data {res['rss_after_data_mb']:.0f})",
          flush=True)
    return res


def throughput(rows: int, big_rows: int, repeats: int, methods: list[str]) -> tuple[list[str], dict]:
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    for _ in range(repeats):  # interleaved, so machine-load drift hits every method alike
        for m in methods:
            runs[m].append(run_worker(m, rows, seed=0))
    med = {m: {"run_s": statistics.median(r["run_s"] for r in rs),
               "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rs),
               "rss_after_data_mb": statistics.median(r["rss_after_data_mb"] for r in rs),
               "last": rs[-1], "all_s": [round(r["run_s"], 1) for r in rs]}
           for m, rs in runs.items()}
    base = med.get("datasketch", {}).get("run_s")
    mean_chars = runs[methods[0]][0]["mean_chars"]
    lines = [f"Synthetic corpus: {rows:,d} rows (mean {mean_chars:.0f} characters), "
             f"{DUP_RATE:.0%} injected copies spread evenly over word-edit rates "
             f"{', '.join(f'{r:g}' for r in EDIT_RATES)} (0 = exact copy with case/punctuation "
             "noise). Median of "
             f"{repeats} run(s) each, each run in a fresh subprocess.", "",
             "| method | median s (runs) | rows/s | speed-up vs datasketch | peak RSS MiB "
             "(after data) | " + " | ".join(f"recall@{r:g}" for r in EDIT_RATES)
             + " | pairs | cross-family pairs |",
             "|---" * (7 + len(EDIT_RATES)) + "|"]
    for m in methods:
        d = med[m]
        last = d["last"]
        speed = f"{base / d['run_s']:.1f}x" if base else "–"
        rec = " | ".join(f"{last[f'recall@{r:g}']:.3f}" for r in EDIT_RATES)
        lines.append(f"| {m} | {d['run_s']:.1f} ({', '.join(map(str, d['all_s']))}) | "
                     f"{rows / d['run_s']:,.0f} | {speed} | {d['peak_rss_mb']:,.0f} "
                     f"({d['rss_after_data_mb']:,.0f}) | {rec} | {last['pairs']:,d} | "
                     f"{last['cross_family_pairs']:,d} |")
    detail = ["", "Stage timings of the last run (s): " + "; ".join(
        f"{m}: " + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in med[m]["last"]["timings"].items()) for m in methods)]
    lines += detail
    big = None
    if big_rows:
        big = run_worker("curator-dedup", big_rows, seed=0)
        rec = ", ".join(f"recall@{r:g} {big[f'recall@{r:g}']:.3f}" for r in EDIT_RATES)
        lines += ["", f"Scale: `Deduplicator(semantic=False).run` (exact + near, verified) on "
                  f"{big_rows:,d} synthetic rows (mean {big['mean_chars']:.0f} characters): "
                  f"{big['run_s']:.0f} s = {big['rows_per_s']:,.0f} rows/s, peak RSS "
                  f"{big['peak_rss_mb']:,.0f} MiB, of which {big['rss_after_data_mb']:,.0f} MiB "
                  f"was reached before dedup started (interpreter + generating and holding the "
                  f"corpus); {rec}; cross-family pairs "
                  f"{big['cross_family_pairs']}. One run. Stage timings (s): "
                  + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in big["timings"].items()) + "."]
    return lines, {"median": med, "big": big}



# =============================================================================================
# old vs new code (issue 10): the dedup of a git ref, loaded next to today's
# =============================================================================================
def load_baseline(ref: str) -> ModuleType:
    """curator/dedup.py as of git ``ref``, importable next to today's curator package."""
    src = subprocess.run(["git", "show", f"{ref}:curator/dedup.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    src = src.replace("from .", "from curator.")  # its relative imports, to today's package
    name = f"dedup_{ref.replace('~', '_').replace('^', '_')}"
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def below_threshold(mod: ModuleType, res, texts: list[str], emb: np.ndarray | None = None) -> dict:
    """Drops whose direct similarity to their named kept row is under the method's threshold
    (each implementation judged by its own Jaccard definition)."""
    dropped = np.flatnonzero(~res.keep)
    kept = res.duplicate_of[dropped]
    method = np.array([res.method[r] for r in dropped], dtype=object)
    out = {}
    near = method == "near"
    if near.any():
        jac = mod.NearDuplicateFinder()._exact_jaccard(texts, dropped[near], kept[near])
        out["near"] = (int((jac < mod.DEFAULT_NEAR_THRESHOLD - 1e-9).sum()), int(near.sum()))
    sem = method == "semantic"
    if sem.any() and emb is not None:
        cos = (emb[dropped[sem]] * emb[kept[sem]]).sum(axis=1)
        out["semantic"] = (int((cos < mod.DEFAULT_SEMANTIC_THRESHOLD - 1e-5).sum()), int(sem.sum()))
    return out


def fmt_below(d: dict) -> str:
    return ", ".join(f"{m} {a:,} of {b:,}" for m, (a, b) in d.items()) or "none"


def part_corpus(rows: int, repeats: int, ref: str, prev_ref: str | None = None,
                with_allow: bool = True) -> list[str]:
    old = load_baseline(ref)
    texts, source, rate = make_corpus(data_dir(), rows, seed=0)
    runs = {"old (connected components)": lambda: old.Deduplicator(semantic=False).run(texts),
            "new (star + value guard)": lambda: new.Deduplicator(semantic=False).run(texts),
            "new, allow_value_changes": lambda: new.Deduplicator(
                semantic=False, allow_value_changes=True).run(texts)}
    mods: dict[str, ModuleType] = {"old (connected components)": old}
    if prev_ref:
        prev = mods[f"new as of {prev_ref} (guard pair by pair)"] = load_baseline(prev_ref)
        runs[f"new as of {prev_ref} (guard pair by pair)"] = lambda: prev.Deduplicator(
            semantic=False).run(texts)
    if not with_allow:
        del runs["new, allow_value_changes"]
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    results = {}
    for _ in range(repeats):  # alternate, so load changes hit every variant alike
        for name, fn in runs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    lines = [f"Corpus: {rows:,} synthetic rows (benchmarks/dedup.py's make_corpus, seed 0), "
             f"{repeats} alternating repeats, peak RSS of the process {peak_rss_mb():,.0f} MiB.", "",
             "| variant | median s (runs) | median CPU s | " + " | ".join(f"recall@{r:g}" for r in EDIT_RATES)
             + " | dropped | drops below threshold |", "|---" * (5 + len(EDIT_RATES)) + "|"]
    for name, res in results.items():
        rec = []
        for r in EDIT_RATES:
            sel = np.flatnonzero(rate == r)
            rec.append(f"{(res.cluster_id[sel] == res.cluster_id[source[sel]]).mean():.3f}")
        below = below_threshold(mods.get(name, new), res, texts)
        ts = times[name]
        lines.append(f"| {name} | {np.median(ts):.1f} ({', '.join(f'{t:.1f}' for t in ts)}) | "
                     f"{np.median(cpu[name]):.1f} | "
                     + " | ".join(rec) + f" | {int((~res.keep).sum()):,} | {fmt_below(below)} |")
    blocked = results["new (star + value guard)"].stats["pairs_blocked_by_value_guard"]
    lines.append("")
    lines.append(f"Value guard: would-be absorptions refused {blocked:,}; time / old (median wall; CPU): "
                 + ", ".join(f"{name} {np.median(times[name]) / np.median(times['old (connected components)']):.2f}; "
                             f"{np.median(cpu[name]) / np.median(cpu['old (connected components)']):.2f}"
                             for name in runs if not name.startswith("old")) + ".")
    return lines



# ---------------------------------------------------------------------------------------------
NAMES = ["Janet", "Tom", "Aisha", "Carlos", "Mei", "Olu", "Sven", "Priya", "Ivan", "Lucia"]
ITEMS = ["apples", "ducks", "pencils", "cookies", "marbles", "books", "tickets", "stickers"]
CITIES = ["Paris", "Lagos", "Tokyo", "Lima", "Oslo", "Denver", "Cairo", "Mumbai", "Quito", "Perth"]
TOPICS = ["elections", "climate policy", "the stock market", "football", "space launches",
          "vaccines", "electric cars", "housing prices"]


def templated_rows(rng: np.random.Generator, n_math: int, n_tool: int, n_role: int) -> list[tuple[str, str]]:
    """(kind, prompt): GSM8K-like problems, toolformer-like queries, role-play prompts."""
    math_t = [
        "{n} has {a} {it}. {n} buys {b} more {it} and gives away {c}. How many {it} does {n} have now?",
        "{n} sells {a} {it} every day for {b} days at ${c} each. How much money does {n} make?",
        "A box holds {a} {it}. {n} fills {b} boxes and then eats {c} {it}. How many {it} are left?",
    ]
    tool_t = [
        "What is the weather going to be like in {city} on day {a} of next month?",
        "Use the calculator to compute {a} * {b} + {c}.",
        "Ask WolframAlpha for the integral of x^{a} from {b} to {c}.",
        "Find the latest news about {topic} in {city}.",
        "Translate the phrase number {a} of the phrasebook into the language spoken in {city}.",
    ]
    role_t = ["You are {n}, a tour guide in {city}. Greet a group of tourists interested in {topic}.",
              "Pretend to be {n}, a journalist covering {topic}; ask the mayor of {city} three questions."]
    out = []
    for kind, count, temps in (("math", n_math, math_t), ("tool", n_tool, tool_t), ("role", n_role, role_t)):
        for _ in range(count):
            t = temps[int(rng.integers(len(temps)))]
            out.append((kind, t.format(n=NAMES[int(rng.integers(len(NAMES)))], it=ITEMS[int(rng.integers(len(ITEMS)))],
                                       city=CITIES[int(rng.integers(len(CITIES)))],
                                       topic=TOPICS[int(rng.integers(len(TOPICS)))],
                                       a=int(rng.integers(2, 200)), b=int(rng.integers(2, 60)),
                                       c=int(rng.integers(1, 30)))))
    return out


def part_mix(ref: str, semantic: bool, repeats: int = 1, prev_ref: str | None = None) -> list[str]:
    old = load_baseline(ref)
    rng = np.random.default_rng(0)
    real = []
    for path in sorted((data_dir() / "instructions").glob("*.jsonl")):
        for r in read_jsonl(path):
            text = "\n\n".join(x for x in (r.get("instruction"), r.get("input")) if x)
            real.append(("real", text))
    rows = real + templated_rows(rng, 7_500, 7_700, 4_055)
    order = rng.permutation(len(rows))
    kinds = np.array([rows[k][0] for k in order])
    texts = [rows[k][1] for k in order]
    emb = None
    if semantic:
        from curator.embed import Embedder, default_cache_dir

        emb = Embedder(cache_dir=default_cache_dir()).encode(texts)
    lines = [f"Mix: {len(texts):,} rows = {len(real):,} real instructions (LIMA, Alpaca-GPT4 sample, "
             f"Self-Instruct) + 7,500 GSM8K-like + 7,700 toolformer-like + 4,055 role-play templated rows; "
             f"{'exact + near + semantic (all-MiniLM-L6-v2)' if semantic else 'exact + near'}; "
             f"{repeats} alternating repeats.", "",
             "| variant | median s (runs) | median CPU s | s in the cluster + guard stage | dropped | "
             "by method | templated dropped (math / tool / role) | real dropped | drops below threshold |",
             "|---|---|---|---|---|---|---|---|---|"]
    variants = [("old (connected components)", old, lambda: old.Deduplicator(semantic=semantic).run(texts, embeddings=emb)),
                ("new (defaults)", new, lambda: new.Deduplicator(semantic=semantic).run(texts, embeddings=emb)),
                ("new, allow_value_changes", new, lambda: new.Deduplicator(
                    semantic=semantic, allow_value_changes=True).run(texts, embeddings=emb))]
    if prev_ref:
        prev = load_baseline(prev_ref)
        variants.append((f"new as of {prev_ref} (guard pair by pair)", prev,
                         lambda: prev.Deduplicator(semantic=semantic).run(texts, embeddings=emb)))
    times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    cluster: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    results = {}
    for _ in range(repeats):  # alternate, so load changes hit every variant alike
        for name, _, fn in variants:
            t0, c0 = time.perf_counter(), time.process_time()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            cluster[name].append(results[name].stats["timings_s"]["cluster"])
    for name, mod, _ in variants:
        res = results[name]
        secs = f"{np.median(times[name]):.1f} ({', '.join(f'{t:.1f}' for t in times[name])})"
        secs += f" | {np.median(cpu[name]):.1f} | {np.median(cluster[name]):.1f}"
        drop = ~res.keep
        by_kind = " / ".join(f"{int((drop & (kinds == k)).sum()):,} of {int((kinds == k).sum()):,}"
                             for k in ("math", "tool", "role"))
        lines.append(f"| {name} | {secs} | {int(drop.sum()):,} | {res.stats['dropped_by_method']} | {by_kind} | "
                     f"{int((drop & (kinds == 'real')).sum()):,} | {fmt_below(below_threshold(mod, res, texts, emb))} |")
    base, base_cpu = np.median(times["old (connected components)"]), np.median(cpu["old (connected components)"])
    lines += ["", "Time / old (medians, wall; CPU): " + ", ".join(
        f"{name} {np.median(times[name]) / base:.2f}; {np.median(cpu[name]) / base_cpu:.2f}"
        for name, _, _ in variants[1:]) + "."]
    return lines


def part_templated() -> list[str]:
    """What the value guard costs on templated rows: 3,000 GSM8K-like + 3,000 toolformer-like."""
    texts = [t for _, t in templated_rows(np.random.default_rng(0), 3000, 3000, 0)]
    lines = ["| variant | s | dropped | guard refusals |", "|---|---|---|---|"]
    for name, kw in (("new (defaults)", {}), ("new, allow_value_changes", {"allow_value_changes": True})):
        t0 = time.perf_counter()
        res = new.Deduplicator(semantic=False, **kw).run(texts)
        lines.append(f"| {name} | {time.perf_counter() - t0:.1f} | {int((~res.keep).sum()):,} | "
                     f"{res.stats['pairs_blocked_by_value_guard']:,} |")
    return lines


def _guard_stage(texts: list[str], prev: ModuleType | None, repeats: int) -> str:
    """One table line of :func:`part_guard`."""
    i, j, sim = new.NearDuplicateFinder()._pair_arrays(texts)
    rank = np.arange(len(texts))

    def today() -> tuple[np.ndarray, int]:
        guard = new._ValueGuard(texts)
        memo: dict[tuple[int, int], bool] = {}

        def accept(u: int, v: int) -> bool:
            if (u, v) not in memo:
                memo[(u, v)] = not guard._aligned_blocked(u, v)
            return memo[(u, v)]
        centre, _, _, refused = new._star_clusters(rank, i, j, sim, None, accept=accept,
                                                   verdict=guard.verdicts(i, j))
        codes = refused[:, 0] * len(texts) + refused[:, 1]
        return centre, len(np.unique(codes))

    def before() -> tuple[np.ndarray, int]:
        assert prev is not None
        guard = prev._ValueGuard(texts)
        memo: dict[tuple[int, int], bool] = {}

        def accept(u: int, v: int) -> bool:
            if (u, v) not in memo:
                memo[(u, v)] = not guard.blocked(u, v)
            return memo[(u, v)]
        centre = prev.star_clusters(rank, i, j, sim, None, accept=accept)[0]
        return centre, sum(1 for ok in memo.values() if not ok)

    runs = {"none": lambda: (new.star_clusters(rank, i, j, sim)[0], 0), "today": today}
    if prev is not None:
        runs["before"] = before
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    out = {}
    for _ in range(repeats):  # alternate, so load changes hit every variant alike
        for k, fn in runs.items():
            c0 = time.process_time()
            out[k] = fn()
            cpu[k].append(time.process_time() - c0)
    same = "-" if prev is None else "yes" if (np.array_equal(out["today"][0], out["before"][0])
                                              and out["today"][1] == out["before"][1]) else "NO"
    med = {k: f"{np.median(v):.2f}" for k, v in cpu.items()}
    return (f"{len(i):,} | {med['none']} | {med['today']} | {med.get('before', '-')} | "
            f"{out['today'][1]:,} | {same} |")


def part_guard(rows: int, repeats: int, prev_ref: str | None) -> list[str]:
    """The cluster + value guard stage alone, on fixed near edges (found once): star clustering
    without the guard, with today's guard (vectorised cheap decisions, alignment for the rest),
    and with the guard of ``prev_ref`` (every would-be absorption decided pair by pair). CPU
    seconds (process time: less sensitive than wall time to other jobs on the machine)."""
    rng = np.random.default_rng(0)
    sets = {f"injected-copy corpus ({rows:,} rows)": make_corpus(data_dir(), rows, seed=0)[0],
            "templated (3,000 GSM8K-like + 3,000 toolformer-like + 2,000 role-play rows)":
                [t for _, t in templated_rows(rng, 3000, 3000, 2000)]}
    prev = load_baseline(prev_ref) if prev_ref else None
    lines = [f"Cluster + guard stage alone, median CPU s of {repeats} alternating repeats.", "",
             "| rows | near edges | no guard | guard (today) | "
             f"guard ({prev_ref or '-'}) | refusals | same clusters and refusals |",
             "|---|---|---|---|---|---|---|"]
    for name, texts in sets.items():
        lines.append(f"| {name} | " + _guard_stage(texts, prev, repeats))
    return lines


def part_signals(args: argparse.Namespace) -> list[str]:
    limit = args.pairs_limit if args.pairs_limit is not None else (300 if args.quick else 0)
    lines, sweep, info = pair_quality(data_dir(), limit or None)
    b, r = optimal_lsh_params(DEFAULT_NEAR_THRESHOLD, 128)
    return [f"Defaults: near = Jaccard of character 5-gram sets >= {DEFAULT_NEAR_THRESHOLD} (MinHash 128 "
            f"permutations, LSH {b} bands x {r} rows, candidates verified by exact Jaccard); semantic = cosine of "
            f"all-MiniLM-L6-v2 >= {DEFAULT_SEMANTIC_THRESHOLD}; rapidfuzz baselines (default_process) at "
            f"{FUZZ_THRESHOLD}. Duplicate = MRPC/PAWS/QQP label 1, STS-B score >= 4, SICK score >= 4.5; "
            + (f"a sample of {limit} pairs per dataset" if limit else "all pairs")
            + f" ({info['n_texts']:,} unique texts: MinHash {info['sig_s']:.1f} s, embeddings {info['emb_s']:.0f} s).",
            "", *lines, "", "Embedding-cosine threshold sweep (precision / recall of 'duplicate'):", "", *sweep]


def part_throughput(args: argparse.Namespace) -> list[str]:
    big_rows = args.big_rows if args.big_rows is not None else (0 if args.quick else 1_000_000)
    methods = ["curator-near-noverify", "datasketch", "curator-near", "curator-dedup"]
    lines, _ = throughput(args.rows, big_rows, args.repeats, methods)
    return ["`curator-near-noverify` = `NearDuplicateFinder(verify=False)` (MinHash + LSH + estimate filter) and "
            "`datasketch` = `MinHash.update_batch` + `MinHashLSH` do the same work on the same shingles (datasketch is "
            "given curator's vectorised normaliser); `curator-near` adds exact-Jaccard verification; `curator-dedup` is "
            "`Deduplicator(semantic=False)` (exact, then near). Recall@rate = share of injected copies at that edit "
            "rate that end in their source's cluster; cross-family pairs = pairs joining rows that are not copies of "
            "each other.", "", *lines]


PARTS = {
    "pairs": part_signals,
    "pairs-combined": lambda a: part_pairs(tuple(float(t) for t in a.thresholds.split(",")), a.baseline_ref),
    "pairs-near": lambda a: part_pairs_near(),
    "corpus": lambda a: part_corpus(a.rows, a.repeats, a.baseline_ref, a.prev_ref, not a.no_allow),
    "throughput": part_throughput,
    "mix": lambda a: part_mix(a.baseline_ref, a.semantic, a.repeats, a.prev_ref),
    "templated": lambda a: part_templated(),
    "guard": lambda a: part_guard(a.rows, a.repeats, a.prev_ref),
    "real": lambda a: part_real(a.real or data_dir() / "perf/real_mix_21k.jsonl.gz", a.real_refs.split(","), a.repeats, a.vectors, a.no_semantic,
                                a.real_refs.split(",")[-2:]),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="pairs,throughput", help=f"comma-separated, of: {', '.join(PARTS)}")
    ap.add_argument("--quick", action="store_true",
                    help="10,000 corpus rows, one repeat, 300 pairs per set, no 1M-row run")
    ap.add_argument("--rows", type=int, default=None, help="synthetic corpus rows (100,000; --quick 10,000)")
    ap.add_argument("--repeats", type=int, default=None, help="alternating repeats per variant (3; --quick 1)")
    ap.add_argument("--big-rows", type=int, default=None, help="throughput: rows of the curator-only scale run (1M)")
    ap.add_argument("--pairs-limit", type=int, default=None, help="pairs: pairs per dataset (0 = all)")
    ap.add_argument("--thresholds", default="0.85,0.9,0.93,0.95", help="pairs-combined: semantic thresholds")
    ap.add_argument("--baseline-ref", default=BASELINE_REF, help="corpus, mix, pairs-combined: the 'old' code's git ref")
    ap.add_argument("--prev-ref", default=None,
                    help="corpus, mix, guard: also time curator/dedup.py of this git ref (e.g. before a speed-up)")
    ap.add_argument("--no-allow", action="store_true", help="corpus: leave out the allow_value_changes variant")
    ap.add_argument("--semantic", action="store_true", help="mix: semantic stage too (embeds ~21k rows)")
    ap.add_argument("--real", type=Path, default=None, help="real: the input file (default: the 21,710-row mix)")
    ap.add_argument("--real-refs", default=f"{BASELINE_REF},new",
                    help="real: git refs whose code runs, in order ('new' = this tree)")
    ap.add_argument("--vectors", type=Path, default=None,
                    help="real: folder of the vector table (vectors.npy + texts.json; default under $TMPDIR)")
    ap.add_argument("--no-semantic", action="store_true", help="real: curator dedup --no-semantic")
    ap.add_argument("--out", type=Path, default=None, help="also write the tables to this markdown file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows, args.seed)))
        return 0
    parts = [p for p in args.parts.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        ap.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    root = data_dir()
    if not (root / "pairs").is_dir() or not (root / "instructions").is_dir():
        print(f"skipped: evaluation data not found at {root}; set CURATOR_DATA_DIR.")
        return 0
    args.rows = args.rows or (10_000 if args.quick else 100_000)
    args.repeats = args.repeats or (1 if args.quick else 3)
    load = os.getloadavg()
    md = [f"# benchmarks/dedup.py {' '.join(sys.argv[1:])} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}; "
          f"load average {load[0]:.1f})", ""]
    print("\n".join(md), flush=True)
    for part in parts:
        t0 = time.perf_counter()
        lines = [f"## {part}", "", *PARTS[part](args), "", f"({part}: {time.perf_counter() - t0:.0f} s, load "
                 f"{os.getloadavg()[0]:.1f})", ""]
        print("\n".join(lines), flush=True)
        md += lines
    if args.out:
        args.out.write_text("\n".join(md), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
