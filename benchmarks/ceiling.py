"""Embedding against the machine's ceiling, on the texts a real run embeds (issue 24).

    python benchmarks/ceiling.py --real ../shared/data/perf/real_mix_21k.jsonl.gz --rows 2000 \
        --index /work/indexes/wiki [--repeats 2]

1. Records every text one `curator run SLICE --index INDEX` (cache off, in this process) hands
   the model (a wrapper around ``Embedder._embed``), with its caller.
2. The ceiling: the best GFLOP/s of torch matrix products shaped like the model's (tokens x 384 @
   384 x 1536 and 384 x 384, and a square one) at the precision the run used (bf16 where the CPU
   computes it natively, else fp32), on the same threads: all of them in one product, and one
   thread per product, side by side on every thread (how the Embedder runs its batches).
3. Embeds the recorded texts again with a fresh default Embedder (cache off, precision as in the
   run), interleaved with the ceiling runs, ``--repeats`` times; achieved GFLOP/s counts the model's
   work on real word pieces only (12 d^2 MACs per token per layer plus attention, as scale.py), so
   padding and filler rows count as lost time. Reports wall-clock GFLOP/s and the share of each
   ceiling, medians.
4. With ``--full``, the bound any batching scheme could reach on this backend: the same number of
   texts per length bucket, each exactly as long as its bucket (a word that is one word piece,
   repeated), every bucket's count rounded up to whole batches: no padding, no filler rows, the same
   code path (``full_gflops``, ``full_pct_of_best_*``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import flops_per_token, real_slice, run_spied, uptime  # noqa: E402

SHAPES = {"ffn_512tok": (512, 384, 1536), "qkv_512tok": (512, 384, 384), "ffn_2048tok": (2048, 384, 1536),
          "square_1024": (1024, 1024, 1024)}


def record_texts(real: Path, rows: int, index: str, work: Path) -> list[tuple[str, str]]:
    """(caller, text) for every text one `curator run` of the slice embeds."""
    import curator.embed as E

    path = real_slice(real, rows, work / "slice.jsonl")
    seen: list[tuple[str, str]] = []
    orig = E.Embedder._embed

    def spy(self: Any, texts: list[str], fp32: bool = False) -> Any:
        f, name = sys._getframe(1), "?"
        while f is not None:
            if "curator" in f.f_code.co_filename and f.f_code.co_name not in ("encode", "_vectors_of", "_embed"):
                name = f.f_code.co_name
                break
            f = f.f_back
        if not fp32:  # the fp32 probe of one text is not embedding work
            seen.extend((name, t) for t in texts)
        return orig(self, texts, fp32)

    run_spied(path, index, work / "out", spy)
    return seen


def ceiling(dtype: Any, threads: int) -> dict[str, float]:
    """Best GFLOP/s per shape: one product on ``threads`` threads, and ``threads`` products side by
    side on one thread each."""
    import torch

    out: dict[str, float] = {}
    before = torch.get_num_threads()
    for name, (m, k, n) in SHAPES.items():
        a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
        flop = 2 * m * k * n
        torch.set_num_threads(threads)
        for _ in range(3):
            a @ b
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(20):
                a @ b
            best = min(best, (time.perf_counter() - t) / 20)
        out[f"{name}_all_threads"] = flop / best / 1e9
        torch.set_num_threads(1)

        def loop(reps: int = 40, a: Any = a, b: Any = b) -> None:
            for _ in range(reps):
                a @ b

        loop(3)
        best = float("inf")
        for _ in range(3):
            ts = [threading.Thread(target=loop) for _ in range(threads)]
            t = time.perf_counter()
            for x in ts:
                x.start()
            for x in ts:
                x.join()
            best = min(best, (time.perf_counter() - t) / 40)
        out[f"{name}_side_by_side"] = threads * flop / best / 1e9
    torch.set_num_threads(before)
    return out


def full_batches(lengths: list[int], maxlen: int, batch: int) -> tuple[list[str], float]:
    """Texts that fill every length bucket of ``lengths`` exactly (``word`` is one word piece, so a
    text of n-2 of them is n word pieces with [CLS] and [SEP]), each bucket's count rounded up to
    whole batches of ``batch``; and their model FLOPs."""
    from curator.devices import _bucket

    counts: dict[int, int] = {}
    for n in lengths:
        counts[_bucket(n, maxlen)] = counts.get(_bucket(n, maxlen), 0) + 1
    texts, flops = [], 0.0
    for length, c in sorted(counts.items()):
        c = -(-c // batch) * batch
        texts += [" ".join(["word"] * (length - 2))] * c
        flops += c * flops_per_token(length) * length
    return texts, flops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", required=True, help="a real pairs file (.jsonl or .jsonl.gz)")
    ap.add_argument("--rows", type=int, default=2000, help="a stratified slice of this many rows")
    ap.add_argument("--index", required=True, help="index name or folder for the run")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--backends", default="torch",
                    help="embedding backends to time, comma-separated, each once per repeat (e.g. torch,openvino)")
    ap.add_argument("--full", action="store_true",
                    help="also time the texts' bucket shapes as full, unpadded batches (the bound for any batching)")
    ap.add_argument("--work", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    work = Path(a.work or tempfile.mkdtemp(prefix="curator-ceiling-"))
    work.mkdir(parents=True, exist_ok=True)
    import torch

    from curator.embed import Embedder

    saved = work / "texts.json"
    if saved.exists():  # recorded by an earlier call with this --work
        seen = [tuple(x) for x in json.loads(saved.read_text())]
    else:
        seen = record_texts(Path(a.real), a.rows, a.index, work)
        saved.write_text(json.dumps(seen))
    texts = list(dict.fromkeys(t for _, t in seen))
    emb0 = Embedder(cache=False)
    prec = emb0.effective_precision
    st = emb0._load()
    lengths = [len(x) for x in st.tokenizer([t.strip() for t in texts], truncation=True,
                                            max_length=int(st.max_seq_length or 512))["input_ids"]]
    flops = sum(flops_per_token(L) * L for L in lengths)
    full_texts, full_flops = full_batches(lengths, int(st.max_seq_length or 512), emb0.batch_size)
    by_caller: dict[str, int] = {}
    for name, _ in seen:
        by_caller[name] = by_caller.get(name, 0) + 1
    threads = torch.get_num_threads()
    dtype = torch.bfloat16 if prec == "bf16" else torch.float32
    res: dict[str, Any] = {"texts": len(texts), "texts_by_caller": by_caller, "word_pieces": sum(lengths),
                           "precision": prec, "threads": threads, "load_at_start": uptime(), "runs": []}
    print(json.dumps({k: v for k, v in res.items() if k != "runs"}), flush=True)
    for rep in range(a.repeats):
        ceil = ceiling(dtype, threads)
        best_all = max(v for k, v in ceil.items() if k.endswith("all_threads"))
        best_side = max(v for k, v in ceil.items() if k.endswith("side_by_side"))
        for backend in a.backends.split(","):
            emb = Embedder(cache=False, backend=backend)
            emb.encode(texts[:64])  # load, warm up, the once-per-process row check
            t, c = time.perf_counter(), time.process_time()
            emb._embed(texts)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            gf = flops / wall / 1e9
            run = {"rep": rep, "backend": backend, "precision": emb.effective_precision, "ceiling": ceil,
                   "embed_wall_s": wall, "embed_cpu_s": cpu, "gflops": gf,
                   "pct_of_best_all_threads": 100 * gf / best_all, "pct_of_best_side_by_side": 100 * gf / best_side,
                   "load": uptime()}
            if a.full:
                t = time.perf_counter()
                emb._embed(full_texts)
                gf = full_flops / (time.perf_counter() - t) / 1e9
                run.update(full_gflops=gf, full_pct_of_best_all_threads=100 * gf / best_all,
                           full_pct_of_best_side_by_side=100 * gf / best_side)
            res["runs"].append(run)
            print(json.dumps(run), flush=True)
    keys = ["gflops", "pct_of_best_all_threads", "pct_of_best_side_by_side", "embed_wall_s"]
    keys += ["full_gflops", "full_pct_of_best_all_threads", "full_pct_of_best_side_by_side"] if a.full else []
    for backend in a.backends.split(","):
        mine = [r for r in res["runs"] if r["backend"] == backend]
        for key in keys:
            res[f"median_{key}_{backend}"] = statistics.median(r[key] for r in mine)
    print(json.dumps({k: v for k, v in res.items() if k.startswith("median")}), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
