"""Is every dedup merge justified? Old (connected components, lossy normalisation) vs new
(star clustering, meaning-keeping normalisation, value guard), measured in the same run.

    python benchmarks/dedup_justified.py                   # all parts (~15 min on 2 loaded cores)
    python benchmarks/dedup_justified.py --parts corpus --rows 100000 --repeats 3
    python benchmarks/dedup_justified.py --parts mix pairs
    python benchmarks/dedup_justified.py --parts corpus mix --prev-ref b6fe1f5   # + a 3rd version

Parts:

* ``corpus``: benchmarks/dedup.py's synthetic corpus (copies injected at 0-20% word edits):
  recall of the copies per edit rate, time, and drops whose *direct* similarity to the row
  they are said to duplicate is below the threshold. The old implementation is the dedup.py of
  ``--baseline-ref`` (git), loaded as a module; old and new runs alternate.
* ``mix``: a stand-in for a 21k-row Alpaca-format merge: the 2,455 real instructions of
  shared/data/instructions plus templated synthetic rows (GSM8K-like word problems whose numbers
  and names vary, toolformer-like tool queries, role-play prompts). Drops per method, drops below
  the threshold, templated rows dropped; exact + near (no embeddings, ``--semantic`` adds them).
* ``templated``: the value guard's cost on 6,000 templated rows (with / without the guard).
* ``pairs-near``: the near stage alone on the labelled pairs, with examples of false merges.
* ``guard``: the cluster + guard stage alone on fixed near edges (corpus of ``--rows`` and
  8,000 templated rows), CPU seconds without the guard, with today's and with ``--prev-ref``'s.
* ``pairs``: labelled pairs of shared/data/pairs: precision/recall of the combined decision
  (exact or near or semantic; new: with the value guard), per set and semantic threshold.

Data: ``$CURATOR_DATA_DIR`` or ``<repo>/../shared/data``; exits 0 with a message when absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import data_dir, read_jsonl  # noqa: E402
from dedup import EDIT_RATES, load_pairs, make_corpus, peak_rss_mb, prf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINE_REF = "15c4de6"  # main before issue 10


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


# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
def part_pairs(thresholds: tuple[float, ...]) -> list[str]:
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
        old_near = np.array([_old_jaccard(a, b) for a, b in zip(ta, tb)])
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


_OLD_NEAR = None


def _old_jaccard(a: str, b: str) -> float:
    global _OLD_NEAR
    if _OLD_NEAR is None:
        _OLD_NEAR = load_baseline(BASELINE_REF).NearDuplicateFinder()
    return float(_OLD_NEAR.similarity(a, b))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", default=["corpus", "mix", "pairs"],
                    choices=["corpus", "mix", "pairs", "pairs-near", "templated", "guard"])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline-ref", default=BASELINE_REF)
    ap.add_argument("--no-allow", action="store_true",
                    help="corpus: leave out the allow_value_changes variant (saves time)")
    ap.add_argument("--prev-ref", default=None,
                    help="corpus/mix: also time curator/dedup.py of this git ref (e.g. before a speed-up)")
    ap.add_argument("--semantic", action="store_true", help="mix: semantic stage too (embeds ~21k rows)")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.9, 0.93, 0.95])
    args = ap.parse_args()
    if not (data_dir() / "instructions").exists():
        print(f"skipped: evaluation data not found ({data_dir()}); set CURATOR_DATA_DIR.")
        return 0
    load = os.getloadavg()
    print(f"# dedup_justified ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
          f"{load[0]:.1f}, {os.cpu_count()} cores)\n", flush=True)
    for part in args.parts:
        if part == "corpus":
            out = part_corpus(args.rows, args.repeats, args.baseline_ref, args.prev_ref,
                              not args.no_allow)
        elif part == "mix":
            out = part_mix(args.baseline_ref, args.semantic, args.repeats, args.prev_ref)
        elif part == "templated":
            out = part_templated()
        elif part == "pairs-near":
            out = part_pairs_near()
        elif part == "guard":
            out = part_guard(args.rows, args.repeats, args.prev_ref)
        else:
            out = part_pairs(tuple(args.thresholds))
        print("\n".join(out) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
