"""MinHash + LSH implementations on one job: datasketch, rensa, gaoya and curator's numpy code.

    python benchmarks/minhash_libs.py                       # 100,000 rows, 3 runs (~50 min)
    python benchmarks/minhash_libs.py --rows 5000 --runs 1 --out /tmp/x.md  # smoke (~1 min)

The job is the one of ``benchmarks/dedup.py`` part 2 (its synthetic corpus and recall
measurement are imported from there): find the pairs of rows whose character 5-gram sets of
curator's normalised text have Jaccard >= 0.7, with 128 permutations (120 where the library's LSH
needs the permutation count to be a multiple of the band count), LSH at 20 bands x 6 rows
(curator's ``optimal_lsh_params(0.7, 128)``), candidates kept when the MinHash estimate (or, for
``curator-near``, the exact Jaccard) is >= 0.7, then clusters (connected components).

The libraries all get the same input: curator's vectorised normaliser, then per row the list of
its 5-gram strings (a row shorter than 5 characters is one shingle, itself; empty rows are left
out), built in batches of 1,000 rows, as Python does for any tokenised input. ``gaoya-char``
instead gives gaoya the normalised strings and lets its own (Rust) ``char`` analyzer cut the same
5-grams. curator's ``NearDuplicateFinder`` takes the raw texts and does all of it itself.
``rensa-sig+curator-lsh`` is a hybrid (not a library pipeline): rensa's signature kernel fed
curator's 32-bit shingle hashes, then curator's banding and estimate filter, i.e. what swapping
only curator's signature step for rensa would give.

Needs the optional extra: ``pip install -e '.[bench]'`` (datasketch, rensa, gaoya); a method
whose library is missing is skipped with a message.

Each run of each method is a fresh subprocess (peak RSS = ``VmHWM`` of that process), runs are
interleaved, and the Rust libraries' thread pools are pinned to ``--threads`` (default 1:
curator's numpy code is single-threaded, and the benchmark machine has 2 shared cores).

Data: ``$CURATOR_DATA_DIR`` or ``<repo>/../shared/data``; exits 0 with a message when absent.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curator.dedup import (  # noqa: E402
    DEFAULT_NEAR_THRESHOLD,
    DEFAULT_NGRAM,
    NearDuplicateFinder,
    _near_codepoints,
    connected_components,
    optimal_lsh_params,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import data_dir  # noqa: E402
from dedup import DUP_RATE, EDIT_RATES, evaluate, make_corpus, peak_rss_mb  # noqa: E402

THRESHOLD = DEFAULT_NEAR_THRESHOLD
NUM_PERM = 128
BANDS, ROWS = optimal_lsh_params(THRESHOLD, NUM_PERM)  # (20, 6): 120 of the 128 columns
BATCH_ROWS = 1000
SEED = 1
OUT = Path(__file__).with_name("RESULTS_minhash_libs.md")

# method -> (package it needs, what it is given, what it does)
METHODS: dict[str, tuple[str | None, str]] = {
    "datasketch": ("datasketch", "token lists (bytes)"),
    "curator-near-noverify": (None, "raw texts"),
    "curator-near": (None, "raw texts"),
    "rensa": ("rensa", "token lists"),
    "gaoya": ("gaoya", "token lists"),
    "gaoya-char": ("gaoya", "normalised strings"),
    "rensa-sig+curator-lsh": ("rensa", "curator's shingle hashes"),
}


# =============================================================================================
# shared input: curator's normalised text, cut into character 5-grams
# =============================================================================================
def _normalised(texts: list[str]) -> list[str]:
    cps, off = _near_codepoints(texts)
    joined = cps.tobytes().decode("utf-32-le")
    return [joined[off[k]:off[k + 1]] for k in range(len(off) - 1)]


def _batches(texts: list[str], timings: dict, tokens: bool = True
             ) -> Iterator[tuple[list[int], list]]:
    """(row indices, inputs) of the non-empty rows, BATCH_ROWS rows at a time; inputs are the
    5-gram lists (``tokens``) or the normalised strings. Time spent here goes to ``prep_s``."""
    n = DEFAULT_NGRAM
    timings.setdefault("prep_s", 0.0)
    for s in range(0, len(texts), BATCH_ROWS):
        t0 = time.perf_counter()
        norm = _normalised(texts[s:s + BATCH_ROWS])
        rows = [s + k for k, t in enumerate(norm) if t]
        if tokens:
            items: list = [[t[q:q + n] for q in range(max(len(t) - n + 1, 1))]
                           for t in norm if t]
        else:
            items = [t for t in norm if t]
        timings["prep_s"] += time.perf_counter() - t0
        yield rows, items


def _arrays(pi: list[int], pj: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return np.array(pi, dtype=np.int64), np.array(pj, dtype=np.int64)


# =============================================================================================
# the implementations
# =============================================================================================
def run_datasketch(texts: list[str], timings: dict) -> tuple[np.ndarray, np.ndarray]:
    """MinHash.update_batch (128 perms, sha1 of the token bytes) + MinHashLSH(params=(20, 6)),
    insert all, query all, keep pairs with MinHash.jaccard >= threshold."""
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    keys: list[int] = []
    sigs: list = []
    for rows, toks in _batches(texts, timings):
        for r, tk in zip(rows, toks):
            m = MinHash(num_perm=NUM_PERM, seed=SEED)
            m.update_batch([x.encode("utf-8") for x in tk])
            keys.append(r)
            sigs.append(m)
    timings["minhash_s"] = time.perf_counter() - t0 - timings["prep_s"]
    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, params=(BANDS, ROWS))
    for pos, m in enumerate(sigs):
        lsh.insert(pos, m)
    pi, pj = [], []
    for pos, m in enumerate(sigs):
        for other in lsh.query(m):
            if other > pos and m.jaccard(sigs[other]) >= THRESHOLD:
                pi.append(keys[pos])
                pj.append(keys[other])
    timings["lsh_s"] = time.perf_counter() - t0
    return _arrays(pi, pj)


def run_rensa(texts: list[str], timings: dict) -> tuple[np.ndarray, np.ndarray]:
    """RMinHash.from_token_sets (120 perms: RMinHashLSH needs num_perm % num_bands == 0) +
    RMinHashLSH(num_bands=20) insert_many / query_all, keep pairs with RMinHash.jaccard >= thr."""
    from rensa import RMinHash, RMinHashLSH

    num_perm = BANDS * ROWS
    t0 = time.perf_counter()
    keys: list[int] = []
    sigs: list = []
    for rows, toks in _batches(texts, timings):
        keys += rows
        sigs += RMinHash.from_token_sets(toks, num_perm, SEED)
    timings["minhash_s"] = time.perf_counter() - t0 - timings["prep_s"]
    t0 = time.perf_counter()
    lsh = RMinHashLSH(THRESHOLD, num_perm, BANDS)
    lsh.insert_many(sigs, 0)  # keys = positions in sigs
    pi, pj = [], []
    for pos, cands in enumerate(lsh.query_all(sigs)):
        m = sigs[pos]
        for other in cands:
            if other > pos and m.jaccard(sigs[other]) >= THRESHOLD:
                pi.append(keys[pos])
                pj.append(keys[other])
    timings["lsh_s"] = time.perf_counter() - t0
    return _arrays(pi, pj)


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def run_gaoya(texts: list[str], timings: dict, native_shingles: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
    """gaoya MinHashStringIndex (32-bit hashes, 20 bands x 6 = 120 hashes, 'vec' buckets).

    Its Python API has no query by id, so each batch is inserted and then queried with the same
    input (its signatures are computed twice); a pair (i < j) is reported when j's batch is
    queried. The index keeps candidates whose MinHash similarity >= threshold.
    ``native_shingles``: give it the normalised strings and its ``char`` analyzer, 5-grams.
    """
    from gaoya.minhash import MinHashStringIndex

    if native_shingles:
        index = MinHashStringIndex(hash_size=32, jaccard_threshold=THRESHOLD, num_bands=BANDS,
                                   band_size=ROWS, analyzer="char",
                                   ngram_range=(DEFAULT_NGRAM, DEFAULT_NGRAM), id_container="vec")
    else:
        index = MinHashStringIndex(hash_size=32, jaccard_threshold=THRESHOLD, num_bands=BANDS,
                                   band_size=ROWS, analyzer=_identity, id_container="vec")
    t0 = time.perf_counter()
    pi, pj = [], []
    for rows, items in _batches(texts, timings, tokens=not native_shingles):
        index.par_bulk_insert_docs(rows, items)
        for r, found in zip(rows, index.par_bulk_query(items, return_similarity=True)):
            for other, sim in found:
                if other < r and sim >= THRESHOLD:
                    pi.append(other)
                    pj.append(r)
    timings["minhash_lsh_s"] = time.perf_counter() - t0 - timings["prep_s"]
    return _arrays(pi, pj)


def run_curator(texts: list[str], timings: dict, verify: bool) -> tuple[np.ndarray, np.ndarray]:
    finder = NearDuplicateFinder(threshold=THRESHOLD, num_perm=NUM_PERM, verify=verify)
    pairs = finder.find_pairs(texts)
    timings["candidates"] = finder.n_candidates_
    return _arrays([p[0] for p in pairs], [p[1] for p in pairs])


def run_rensa_curator(texts: list[str], timings: dict) -> tuple[np.ndarray, np.ndarray]:
    """Hybrid, not a library's own pipeline: curator's shingle hashes -> rensa
    ``digest_matrix_from_flat_token_hashes`` (128 perms) -> curator's banding (20 x 6) and
    estimate filter. What curator would get by swapping only its signature kernel for rensa's
    (rensa's LSH cannot return pairs from a digest matrix)."""
    from rensa import RMinHash

    finder = NearDuplicateFinder(threshold=THRESHOLD, num_perm=NUM_PERM, verify=False)
    finder.bands_, finder.rows_ = BANDS, ROWS
    shingle_coefs, _, _, band_coefs = finder._coefficients()
    n = len(texts)
    sigs = np.empty((n, NUM_PERM), dtype=np.uint32)
    active = np.zeros(n, dtype=bool)
    t0 = time.perf_counter()
    for start, stop, hashes, counts in finder._iter_shingles(texts, shingle_coefs):
        offsets = np.zeros(len(counts) + 1, dtype=np.uint64)
        np.cumsum(counts, out=offsets[1:])
        matrix = RMinHash.digest_matrix_from_flat_token_hashes(
            hashes.astype(np.uint64), offsets, NUM_PERM, SEED)
        sigs[start:stop] = np.array(matrix.to_rows(), dtype=np.uint32)
        active[start:stop] = counts > 0
    timings["minhash_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    codes = finder._candidates(sigs, active, band_coefs)
    i = (codes // np.uint64(n)).astype(np.int64)
    j = (codes % np.uint64(n)).astype(np.int64)
    est = np.empty(len(i))
    for s in range(0, len(i), 65536):
        est[s:s + 65536] = (sigs[i[s:s + 65536]] == sigs[j[s:s + 65536]]).mean(axis=1)
    keep = est >= THRESHOLD
    timings["lsh_s"] = time.perf_counter() - t0
    timings["candidates"] = int(len(i))
    return i[keep], j[keep]


def worker(method: str, rows: int, seed: int) -> dict:
    texts, source, rate = make_corpus(data_dir(), rows, seed)
    rss_data = peak_rss_mb()
    timings: dict = {}
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if method == "datasketch":
        i, j = run_datasketch(texts, timings)
    elif method == "rensa":
        i, j = run_rensa(texts, timings)
    elif method == "rensa-sig+curator-lsh":
        i, j = run_rensa_curator(texts, timings)
    elif method in ("gaoya", "gaoya-char"):
        i, j = run_gaoya(texts, timings, native_shingles=(method == "gaoya-char"))
    elif method in ("curator-near-noverify", "curator-near"):
        i, j = run_curator(texts, timings, verify=(method == "curator-near"))
    else:
        raise ValueError(f"unknown method {method!r}")
    t1 = time.perf_counter()
    connected_components(rows, i, j)  # the clusters: part of the job, timed
    run_s = time.perf_counter() - t0
    timings["cluster_s"] = time.perf_counter() - t1
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    out = {"method": method, "rows": rows, "run_s": run_s, "cpu_s": cpu_s,
           "rss_after_data_mb": rss_data, "peak_rss_mb": peak_rss_mb(),
           "mean_chars": float(np.mean([len(t) for t in texts])), "timings": timings}
    out.update(evaluate(rows, i, j, source, rate))  # recall per edit rate, from dedup.py
    return out


# =============================================================================================
# driver
# =============================================================================================
def run_worker(method: str, rows: int, seed: int, threads: int) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAYON_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method,
           "--rows", str(rows), "--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {method} failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {method:22s} {res['run_s']:8.1f} s (cpu {res['cpu_s']:7.1f} s) "
          f"{rows / res['run_s']:8.0f} rows/s  peak RSS {res['peak_rss_mb']:7.0f} MiB "
          f"(data {res['rss_after_data_mb']:.0f})  pairs {res['pairs']}", flush=True)
    return res


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _fmt_timings(t: dict) -> str:
    return ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in t.items())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3, help="runs per method (median reported)")
    ap.add_argument("--threads", type=int, default=1, help="RAYON_NUM_THREADS of the workers")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help=f"comma-separated subset of {', '.join(METHODS)}")
    ap.add_argument("--out", type=Path, default=OUT, help="markdown results file (overwritten)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows, args.seed)))
        return 0
    if not (data_dir() / "instructions").is_dir():
        print(f"skip: benchmark data not found at {data_dir()} (set CURATOR_DATA_DIR)")
        return 0
    methods = []
    for m in args.methods.split(","):
        if m not in METHODS:
            ap.error(f"unknown method {m!r}")
        package = METHODS[m][0]
        if package and importlib.util.find_spec(package) is None:
            print(f"skip {m}: {package} is not installed (pip install -e '.[bench]')")
            continue
        methods.append(m)
    load_start = os.getloadavg()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{args.rows:,d} rows, {args.runs} run(s), methods {', '.join(methods)}; "
          f"load average {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}", flush=True)

    runs: dict[str, list[dict]] = {m: [] for m in methods}
    for r in range(args.runs):  # interleaved, rotated: load drift hits every method alike
        for m in methods[r % len(methods):] + methods[:r % len(methods)]:
            runs[m].append(run_worker(m, args.rows, args.seed, args.threads))
    load_end = os.getloadavg()

    med = {m: statistics.median(x["run_s"] for x in rs) for m, rs in runs.items()}
    base_ds = med.get("datasketch")
    base_cur = med.get("curator-near-noverify")
    last = {m: rs[-1] for m, rs in runs.items()}
    mean_chars = next(iter(last.values()))["mean_chars"]
    table = ["| method | input | median s (runs) | rows/s | speed vs datasketch | speed vs "
             "curator-near-noverify | CPU s | prep s | peak RSS MiB (after data) | "
             + " | ".join(f"recall@{e:g}" for e in EDIT_RATES) + " | pairs | cross-family pairs |",
             "|---" * (11 + len(EDIT_RATES)) + "|"]
    for m in methods:
        rs, x = runs[m], last[m]
        t = med[m]
        prep = statistics.median(y["timings"].get("prep_s", float("nan")) for y in rs)
        all_s = ", ".join(f"{y['run_s']:.1f}" for y in rs)
        table.append(
            f"| {m} | {METHODS[m][1]} | {t:.1f} ({all_s}) | "
            f"{args.rows / t:,.0f} | {f'{base_ds / t:.1f}x' if base_ds else '–'} | "
            f"{f'{base_cur / t:.2f}x' if base_cur else '–'} | "
            f"{statistics.median(y['cpu_s'] for y in rs):.1f} | "
            f"{'–' if np.isnan(prep) else f'{prep:.1f}'} | "
            f"{statistics.median(y['peak_rss_mb'] for y in rs):,.0f} "
            f"({statistics.median(y['rss_after_data_mb'] for y in rs):,.0f}) | "
            + " | ".join(f"{x[f'recall@{e:g}']:.3f}" for e in EDIT_RATES)
            + f" | {x['pairs']:,d} | {x['cross_family_pairs']:,d} |")
    stages = "; ".join(f"{m}: {_fmt_timings(last[m]['timings'])}" for m in methods)
    command = "python benchmarks/minhash_libs.py " + " ".join(sys.argv[1:])
    versions = ", ".join(f"{p} {_version(p)}" for p in
                         ("curator", "numpy", "datasketch", "rensa", "gaoya"))
    md = [
        "## MinHash implementations: datasketch, rensa, gaoya, curator", "",
        f"Command: `{command.strip()}` — started {started}. Machine: {os.cpu_count()} cores "
        f"({platform.machine()}), shared with other jobs; load average (1/5/15 min) "
        f"{load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f} at the start, "
        f"{load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f} at the end. "
        f"Python {platform.python_version()}; {versions}. Rust thread pools pinned to "
        f"RAYON_NUM_THREADS={args.threads}.", "",
        f"Job: pairs of rows whose character {DEFAULT_NGRAM}-gram sets (curator's normalised "
        f"text) have Jaccard >= {THRESHOLD}; MinHash with {NUM_PERM} permutations (rensa and "
        f"gaoya: {BANDS * ROWS}, their LSH needs bands x rows = permutations), LSH {BANDS} bands "
        f"x {ROWS} rows, candidates kept when the MinHash estimate is >= {THRESHOLD} "
        "(`curator-near`: exact Jaccard), then connected components. Corpus and recall: "
        f"`benchmarks/dedup.py` (`make_corpus`, `evaluate`): {args.rows:,d} synthetic rows "
        f"(mean {mean_chars:.0f} characters), {DUP_RATE:.0%} injected copies spread evenly over "
        f"word-edit rates {', '.join(f'{e:g}' for e in EDIT_RATES)}. Median of {args.runs} "
        "run(s), each in a fresh subprocess, interleaved. Times run from the raw texts to the "
        "clusters; `prep s` is the part spent normalising and building the Python inputs "
        "(the same work for every token-list method; gaoya-char: normalising only); CPU s = user + system time of the run; peak RSS = "
        "VmHWM of the worker, which already holds the generated corpus (after data). Recall and "
        "pairs are from the last run.", "",
        *table, "",
        f"Stage timings of the last run (s): {stages}.", "",
    ]
    print("\n".join(md), flush=True)
    args.out.write_text("\n".join(md), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
