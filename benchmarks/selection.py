"""Selection: does the selected subset cover the data better than random or top-score, and at what cost?

Coverage distances, clusters hit, source mix, hallucinated share selected (HaluEval-QA), token
budgets; time and memory on synthetic rows up to 500k; with --knn-recall the approximate k-NN graph.

    python benchmarks/selection.py [--quick] [--knn-recall] [--out FILE]

Data: ``$CURATOR_DATA_DIR`` or ``<repo>/../shared/data`` (instructions/*.jsonl and
grounding/halueval_qa.jsonl); prints a message and exits 0 when it is absent.

Utility is curator's own default (see ``instruction_utility`` and ``grounding_utility``):
QualityScorer quality x GroundingScorer grounding, with grounding a neutral 0.5 for the
instruction sets, which name no source.

--quick: 2 seeds instead of 5 and no 500k-row scale run. --knn-recall: also embed the ~30k
sentences of pairs/ and compare the approximate k-NN graph with the exact one (~15 min more).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import data_dir, read_jsonl, require  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

INSTRUCTION_FILES = ("lima", "alpaca_gpt4_sample", "self_instruct")
BUDGETS = (0.05, 0.10, 0.20)
# (label, method, extra constructor arguments)
METHODS: list[tuple[str, str, dict[str, Any]]] = [
    ("facility_location", "facility_location", {}),
    ("facility_location p=0", "facility_location", {"utility_power": 0.0}),
    ("k_center", "k_center", {}),
    ("score_first", "score_first", {}),
    ("top_utility", "top_utility", {}),
    ("random", "random", {}),
]
NOISE_SD = 0.02  # per-dimension Gaussian noise added to repeated embeddings in scale runs


# -- utility proxies ----------------------------------------------------------------------------
def instruction_utility(rows: list[dict], prompts: list[str], x: np.ndarray,
                        emb: Any) -> np.ndarray:
    """curator's default utility for rows with no source: QualityScorer quality x 0.5.

    The pipeline's ``_utility`` counts a missing grounding signal as a neutral 0.5, so this is
    exactly what ``curator run`` uses when the data names no source and no index is given.
    """
    from curator.quality import QualityScorer

    responses = [r.get("output") or "" for r in rows]
    cols = QualityScorer().score(prompts, responses, instruction_embeddings=x,
                                 response_embeddings=emb.encode(responses))
    return np.asarray(cols["quality"], dtype=float) * 0.5


def grounding_utility(rows: list[dict], emb: Any) -> tuple[np.ndarray, np.ndarray]:
    """curator's default utility with a source: quality x grounding (= 1 - hallucination_prob).

    Grounding is curator.grounding.GroundingScorer with the shipped parameters, each response
    scored against its own source (the pipeline's own-source mode). Returns (utility,
    hallucination_prob).
    """
    from curator.grounding import GroundingScorer, PairInput
    from curator.quality import QualityScorer

    prompts = [r["prompt"] for r in rows]
    responses = [r["response"] for r in rows]
    q = np.asarray(QualityScorer().score(prompts, responses, instruction_embeddings=emb.encode(prompts),
                                         response_embeddings=emb.encode(responses))["quality"], dtype=float)
    res = GroundingScorer(embedder=emb).score(
        [PairInput(prompt=p, response=r, source=row["source"]) for p, r, row in zip(prompts, responses, rows)])
    g = np.array([g.grounding for g in res], dtype=float)
    prob = np.array([g.hallucination_prob for g in res], dtype=float)
    g = np.where(np.isnan(g), 0.5, g)
    return q * g, prob


# -- metrics ------------------------------------------------------------------------------------
def coverage(x: np.ndarray, selected: np.ndarray) -> tuple[float, float]:
    """Mean and 95th percentile over all rows of 1 - cosine to the nearest selected row."""
    sims = x @ x[selected].T
    d = 1.0 - sims.max(axis=1)
    return float(d.mean()), float(np.percentile(d, 95))


def cluster_labels(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=3, random_state=0).fit_predict(x)


def mean_sd(values: Sequence[float], digits: int = 3) -> str:
    a = np.asarray(values, dtype=float)
    return f"{a.mean():.{digits}f} ± {a.std(ddof=1) if a.size > 1 else 0.0:.{digits}f}"


# -- experiments --------------------------------------------------------------------------------
def run_instructions(x: np.ndarray, source: np.ndarray, utility: np.ndarray, costs: np.ndarray,
                     seeds: list[int]) -> tuple[list[str], dict]:
    from curator.select import DiverseSelector

    n = len(x)
    names = list(INSTRUCTION_FILES)
    pool_mix = " / ".join(f"{(source == s).mean():.2f}" for s in names)
    lines = [
        f"Pool: {n} rows ({' / '.join(f'{(source == s).sum()} {s}' for s in names)}); "
        f"source mix {pool_mix}. Mean utility of the pool {utility.mean():.3f}.",
        "",
        "| budget | method | mean dist | p95 dist | clusters hit (k = budget/10) | "
        "mix lima / alpaca / self_instruct | mean utility | time s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summary: dict = {}
    for frac in BUDGETS:
        budget = int(round(frac * n))
        k = max(2, budget // 10)
        labels = cluster_labels(x, k)
        for label, method, extra in METHODS:
            m_mean, m_p95, hits, mixes, utils, times = [], [], [], [], [], []
            for seed in seeds:
                sel = DiverseSelector(budget=budget, method=method, random_state=seed, **extra)
                t0 = time.perf_counter()
                res = sel.select(x, utility)
                times.append(time.perf_counter() - t0)
                s = res.selected
                a, b = coverage(x, s)
                m_mean.append(a)
                m_p95.append(b)
                hits.append(len(np.unique(labels[s])))
                mixes.append([(source[s] == nm).mean() for nm in names])
                utils.append(utility[s].mean())
            mix = np.mean(mixes, axis=0)
            lines.append(
                f"| {int(frac * 100)}% ({budget}) | {label} | {mean_sd(m_mean)} | {mean_sd(m_p95)} | "
                f"{mean_sd(hits, 1)} / {k} | {' / '.join(f'{v:.2f}' for v in mix)} | "
                f"{np.mean(utils):.3f} | {np.mean(times):.2f} |"
            )
            summary[(frac, label)] = (np.mean(m_mean), np.mean(m_p95))
            print(lines[-1], flush=True)
    lines.append("")
    # Token budget: 10% of all tokens (instruction + input + output, whitespace tokens).
    budget = int(0.10 * costs.sum())
    lines += [
        f"Token budget: 10% of the pool's {int(costs.sum())} whitespace tokens = {budget} "
        "(seed 0).",
        "",
        "| method | rows | used tokens | fill ratio | mean dist | p95 dist | knapsack |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, method, extra in METHODS:
        sel = DiverseSelector(budget=budget, budget_unit="tokens", method=method, **extra)
        res = sel.select(x, utility, costs=costs)
        assert costs[res.selected].sum() <= budget
        a, b = coverage(x, res.selected)
        lines.append(
            f"| {label} | {res.stats['n_selected']} | {res.stats['used']} | "
            f"{res.stats['fill_ratio']:.4f} | {a:.3f} | {b:.3f} | {res.stats.get('knapsack', '-')} |"
        )
        print(lines[-1], flush=True)
    lines.append("")
    return lines, summary


def run_halueval(x: np.ndarray, halluc: np.ndarray, utility: np.ndarray,
                 seeds: list[int]) -> list[str]:
    from curator.select import DiverseSelector

    n = len(x)
    auc = _auc(utility, 1 - halluc)
    lines = [
        f"Pool: {n} HaluEval QA rows (prompt + response embedded), {halluc.mean():.3f} hallucinated. "
        f"curator.grounding hallucination_prob separates faithful from hallucinated rows with ROC AUC {auc:.3f}.",
        "",
        "| budget | method | hallucinated share of selected | mean dist | p95 dist |",
        "|---|---|---|---|---|",
    ]
    for frac in BUDGETS:
        budget = int(round(frac * n))
        for label, method, extra in METHODS:
            shares, m_mean, m_p95 = [], [], []
            for seed in seeds:
                res = DiverseSelector(budget=budget, method=method, random_state=seed,
                                      **extra).select(x, utility)
                shares.append(halluc[res.selected].mean())
                a, b = coverage(x, res.selected)
                m_mean.append(a)
                m_p95.append(b)
            lines.append(f"| {int(frac * 100)}% ({budget}) | {label} | {mean_sd(shares)} | "
                         f"{mean_sd(m_mean)} | {mean_sd(m_p95)} |")
            print(lines[-1], flush=True)
    lines.append("")
    return lines


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, score))


# -- scale --------------------------------------------------------------------------------------
def scale_worker(n: int, method: str, base_path: str, frac: float) -> None:
    """Run in a fresh process so ru_maxrss is this run's peak; prints one JSON line."""
    from curator.select import DiverseSelector

    base = np.load(base_path)
    x_base, u_base = base[:, :-1], base[:, -1]
    rng = np.random.default_rng(0)
    x = np.empty((n, x_base.shape[1]), dtype=np.float32)
    for s in range(0, n, 50_000):  # in chunks: keep the data-building peak near the data size
        e = min(n, s + 50_000)
        idx = np.arange(s, e) % len(x_base)
        x[s:e] = x_base[idx] + rng.normal(0.0, NOISE_SD, (e - s, x.shape[1])).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    utility = u_base[np.arange(n) % len(x_base)]
    rss_data = _proc_status_mb("VmRSS")
    # Reset the kernel's peak-RSS mark so VmHWM afterwards is the selection's own peak (the
    # data building above allocates float64 temporaries). ru_maxrss cannot be used: Linux
    # carries it over from the parent process across exec.
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    t0 = time.perf_counter()
    res = DiverseSelector(budget=frac, method=method).select(x, utility)
    elapsed = time.perf_counter() - t0
    peak = _proc_status_mb("VmHWM")
    print(json.dumps({"n": n, "method": method, "seconds": elapsed, "rss_data_mb": rss_data,
                      "peak_rss_mb": peak, "peak_reset": reset,
                      "n_selected": res.stats["n_selected"],
                      "timings": res.stats["timings"], "graph": res.stats.get("graph"),
                      "gain_evaluations": res.stats.get("gain_evaluations")}))


def _proc_status_mb(field: str) -> float:
    """VmRSS / VmHWM of this process in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_scale(x: np.ndarray, utility: np.ndarray, sizes: list[int], frac: float) -> list[str]:
    import tempfile

    lines = [
        f"Synthetic rows: the {len(x)} real embeddings (instructions + HaluEval) repeated to n rows, "
        f"each copy with N(0, {NOISE_SD}^2) noise per dimension, then re-normalised (copies of a "
        "row have cosine ~0.87 to each other). Budget "
        f"{int(frac * 100)}% of rows, utility repeated, default parameters. Each run is a "
        "fresh process. RSS before = process with the data loaded (n x 384 float32 + Python + "
        "numpy); peak = kernel peak-RSS mark (VmHWM) during `select()` after resetting it, so "
        "peak - before is what selection adds.",
        "",
        "| rows | method | time s | graph s | select s | redundant_with s | RSS before MiB | "
        "peak RSS MiB | added MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        base_path = str(Path(tmp) / "base.npy")
        np.save(base_path, np.hstack([x, utility[:, None]]).astype(np.float32))
        for n in sizes:
            for method in ("facility_location", "k_center", "score_first", "top_utility", "random"):
                if method == "k_center" and n > 100_000:
                    lines.append(f"| {n} | k_center | not run: O(n x budget x dim) = "
                                 f"{n}x{int(frac * n)}x384, hours on 2 cores | | | | | | |")
                    continue
                out = subprocess.run(
                    [sys.executable, __file__, "--scale-worker", str(n), method, base_path, str(frac)],
                    capture_output=True, text=True, check=True,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                t = r["timings"]
                lines.append(
                    f"| {n} | {method} | {r['seconds']:.1f} | {t.get('graph_s', 0):.1f} | "
                    f"{t.get('select_s', 0):.1f} | {t.get('redundant_with_s', 0):.1f} | "
                    f"{r['rss_data_mb']:.0f} | {r['peak_rss_mb']:.0f}"
                    f"{'' if r['peak_reset'] else ' (not reset)'} | "
                    f"{r['peak_rss_mb'] - r['rss_data_mb']:.0f} |"
                )
                print(lines[-1], flush=True)
    lines.append("")
    return lines


def run_knn_recall(ddir: Path, extra: np.ndarray) -> list[str]:
    """Approximate vs exact k-NN graph on ~34k real embeddings (pair sentences + the pools)."""
    from curator import select as sel_mod
    from curator.embed import Embedder

    texts: list[str] = []
    for f in ("mrpc", "stsb", "sick2014", "paws_qqp_sample"):
        path = ddir / "pairs" / f"{f}.jsonl"
        if path.exists():
            for r in read_jsonl(path):
                texts += [r["text_a"], r["text_b"]]
    texts = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    t0 = time.perf_counter()
    x = np.vstack([Embedder(batch_size=128).encode(texts), extra]).astype(np.float32)
    embed_s = time.perf_counter() - t0
    n = len(x)
    t0 = time.perf_counter()
    d_exact, _ = sel_mod._knn(x, 33, exact=True, n_probe=1, seed=0)
    exact_s = time.perf_counter() - t0
    lines = [
        f"{n} real rows: the {len(texts)} distinct sentences of pairs/ (MRPC, STS-B, SICK, "
        f"PAWS/QQP; embedded in {embed_s:.0f} s) plus the instruction and HaluEval pools. "
        "Recall@32 counts approximate neighbours at least as similar as the exact 32nd "
        f"(robust to ties). Exact graph: {exact_s:.1f} s.",
        "",
        "| k-NN | graph s | recall@32 | FL mean dist 1% / 5% / 10% | FL p95 dist 1% / 5% / 10% |",
        "|---|---|---|---|---|",
    ]

    def cov(selected: np.ndarray) -> tuple[float, float]:
        d = np.concatenate([1 - (x[s:s + 4096] @ x[selected].T).max(axis=1)
                            for s in range(0, n, 4096)])
        return float(d.mean()), float(np.percentile(d, 95))

    configs: list[tuple[str, dict[str, Any]]] = [
        ("exact", {"knn": "exact"}),
        ("approx n_probe 4 (default)", {"knn": "approx", "n_probe": 4}),
        ("approx n_probe 8", {"knn": "approx", "n_probe": 8}),
    ]
    for label, kw in configs:
        recall = "1.000"
        t0 = time.perf_counter()
        if kw["knn"] == "approx":
            d, _ = sel_mod._knn(x, 33, exact=False, n_probe=kw["n_probe"], seed=0)
            recall = f"{np.mean(d >= d_exact[:, -1:] - 1e-6):.3f}"
        graph_s = time.perf_counter() - t0 if kw["knn"] == "approx" else exact_s
        covs = [cov(sel_mod.DiverseSelector(budget=f, **kw).select(x).selected)
                for f in (0.01, 0.05, 0.10)]
        lines.append(f"| {label} | {graph_s:.1f} | {recall} | "
                     f"{' / '.join(f'{c[0]:.4f}' for c in covs)} | "
                     f"{' / '.join(f'{c[1]:.4f}' for c in covs)} |")
        print(lines[-1], flush=True)
    rnd = [cov(sel_mod.DiverseSelector(budget=f, method="random").select(x).selected)
           for f in (0.01, 0.05, 0.10)]
    lines.append(f"| (random selection, seed 0) | | | {' / '.join(f'{c[0]:.4f}' for c in rnd)} | "
                 f"{' / '.join(f'{c[1]:.4f}' for c in rnd)} |")
    lines.append("")
    return lines


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--scale-worker":
        scale_worker(int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds, no 500k-row run")
    ap.add_argument("--knn-recall", action="store_true",
                    help="also embed the ~30k pair sentences and compare approximate vs exact "
                         "k-NN graphs (adds ~15 min on 2 cores)")
    ap.add_argument("--out", type=Path, default=None, help="also write the tables to this markdown file")
    args = ap.parse_args()

    require(*[f"instructions/{f}.jsonl" for f in INSTRUCTION_FILES], "grounding/halueval_qa.jsonl")
    ddir = data_dir()

    from curator.embed import Embedder
    from curator.text import count_tokens

    seeds = [0, 1] if args.quick else [0, 1, 2, 3, 4]
    t_start = time.perf_counter()
    load_start = os.getloadavg()[1]
    rows, source = [], []
    for f in INSTRUCTION_FILES:
        for r in read_jsonl(ddir / "instructions" / f"{f}.jsonl"):
            rows.append(r)
            source.append(f)
    src = np.array(source)
    texts = [(r["instruction"] + "\n" + (r.get("input") or "")).strip() for r in rows]
    costs = np.array([count_tokens(t + "\n" + (r.get("output") or "")) for t, r in zip(texts, rows)])
    emb = Embedder()
    t0 = time.perf_counter()
    x = emb.encode(texts)
    halu = read_jsonl(ddir / "grounding" / "halueval_qa.jsonl")
    halu = [r for r in halu if r.get("hallucinated") in (0, 1)]
    xh = emb.encode([r["prompt"] + "\n" + r["response"] for r in halu])
    embed_s = time.perf_counter() - t0
    print(f"embedded {len(texts)} + {len(halu)} texts in {embed_s:.0f} s", flush=True)

    util = instruction_utility(rows, texts, x, emb)
    inst_lines, summary = run_instructions(x, src, util, costs, seeds)
    t0 = time.perf_counter()
    hu, hprob = grounding_utility(halu, emb)
    score_s = time.perf_counter() - t0
    halluc = np.array([r["hallucinated"] for r in halu], dtype=float)
    halu_lines = run_halueval(xh, halluc, hu, seeds)
    sizes = [50_000] if args.quick else [50_000, 500_000]
    scale_lines = run_scale(np.vstack([x, xh]), np.concatenate([util, hu]), sizes, 0.10)

    recall_lines = run_knn_recall(ddir, np.vstack([x, xh])) if args.knn_recall else []

    wins = [
        f"{int(f * 100)}%: FL mean {summary[(f, 'facility_location')][0]:.3f} vs random "
        f"{summary[(f, 'random')][0]:.3f} vs top-utility {summary[(f, 'top_utility')][0]:.3f}"
        for f in BUDGETS
    ]
    import faiss

    cmd = ("python benchmarks/selection.py" + (" --quick" if args.quick else "")
           + (" --knn-recall" if args.knn_recall else ""))
    header = [
        "## Selection (curator.select)",
        "",
        f"Command: `{cmd}` · date {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC · "
        f"{machine()} · numpy {np.__version__}, faiss {faiss.__version__} · "
        f"total {time.perf_counter() - t_start:.0f} s (embedding {embed_s:.0f} s). "
        f"5-min load average {load_start:.1f} at the start, {os.getloadavg()[1]:.1f} at the end "
        "(the machine is shared: timings are indicative).",
        "",
        "Embeddings: packaged all-MiniLM-L6-v2 (`curator.embed.Embedder`) of instruction + input "
        "(instructions) and prompt + response (HaluEval). Distances are 1 - cosine from every "
        "row of the pool to its nearest selected row (selected rows count 0). Seeds: "
        f"{seeds}; only `random` depends on the seed at these sizes (the other methods are "
        "deterministic, hence ± 0). Clusters: scikit-learn k-means on the pool with "
        "k = budget/10.",
        "",
        "**Utility is curator's default, scored by curator itself** (`instruction_utility`, "
        "`grounding_utility` in benchmarks/selection.py): QualityScorer quality x "
        "GroundingScorer grounding (1 - hallucination probability, shipped parameters, each "
        "HaluEval response against its own source; "
        f"{len(halu)} pairs scored in {score_s:.0f} s, AUROC of hallucination_prob for the "
        f"hallucinated label {_auc(hprob, halluc == 1):.3f}). The instruction sets name no "
        "source, so their grounding is the pipeline's neutral 0.5 and utility is quality x 0.5 "
        f"(quality < 1 for {int((util < 0.5).sum())} of {len(util)} rows). "
        "`facility_location` uses utility_power=1 (v = utility), `facility_location p=0` "
        "ignores utility.",
        "",
        "Coverage, mean distance: " + "; ".join(wins) + ".",
        "",
        "### Instruction pool (LIMA + Alpaca-GPT4 sample + Self-Instruct)",
        "",
    ]
    text = "\n".join(header + inst_lines + ["### HaluEval QA: hallucinated rows selected", ""]
                     + halu_lines + ["### Scale (synthetic)", ""] + scale_lines
                     + (["### Approximate k-NN graph on real embeddings", ""] + recall_lines
                        if recall_lines else []))
    print(text, flush=True)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
