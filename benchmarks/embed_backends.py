"""Embedding backends compared: sentence-transformers on torch (fp32) vs another curator backend,
ONNX Runtime (``--other onnx``, default) or bfloat16 autocast (``--other torch-bf16``).

    python benchmarks/embed_backends.py [--repeats 3] [--threads 2] [--other onnx|torch-bf16]
    CURATOR_DATA_DIR=../shared/data python benchmarks/embed_backends.py --other torch-bf16 --texts instructions --repeats 2

Same model (the packaged all-MiniLM-L6-v2), same texts (default: the demo's 357 questions and 120 source
passages, bundled in examples/; ``--texts instructions``: 2,000 distinct response sentences of
benchmarks/scale.py's make_rows instruction rows), same fixed-shape batches of 16 (``Embedder``), interleaved
repeats in one process: torch, other, torch, other, ... Reports the median seconds of each, their
ratio, the largest absolute difference between the two backends' vectors, the share of top-10
cosine neighbours they agree on, and the machine load (timings on a shared box are noisy; the
ratio of interleaved medians is what to read).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from curator.embed import Embedder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--other", choices=["onnx", "torch-bf16"], default="onnx", help="the backend compared with torch")
    ap.add_argument("--texts", choices=["demo", "instructions"], default="demo")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    texts = instruction_sentences(2000) if args.texts == "instructions" else demo_texts()
    with tempfile.TemporaryDirectory() as tmp:
        torch_e = Embedder(cache=False, device="cpu")
        onnx_e = Embedder(cache=False, device="cpu", backend=args.other, cache_dir=tmp)
        torch_e.encode(texts[:4])
        t0 = time.perf_counter()
        onnx_e.encode(texts[:4])
        first = time.perf_counter() - t0
        times: dict[str, list[float]] = {"torch": [], "onnx": []}
        loads = [os.getloadavg()[0]]
        for _ in range(args.repeats):
            for name, e in (("torch", torch_e), ("onnx", onnx_e)):
                t0 = time.perf_counter()
                v = e.encode(texts)
                times[name].append(time.perf_counter() - t0)
                if name == "torch":
                    a = v
                else:
                    b = v
            loads.append(os.getloadavg()[0])
    sa, sb = a @ a.T, b @ b.T
    agree = float(np.mean([len(set(np.argsort(-sa[i])[1:11]) & set(np.argsort(-sb[i])[1:11])) / 10
                           for i in range(len(texts))]))
    mt, mo = statistics.median(times["torch"]), statistics.median(times["onnx"])
    print(f"{len(texts)} texts, batch {torch_e.batch_size}, {args.threads} threads, {args.repeats} interleaved repeats, "
          f"load average {min(loads):.1f}-{max(loads):.1f}")
    print("| backend | median s | texts/s | runs (s) |")
    print("|---|---|---|---|")
    other = {"onnx": "onnx (ONNX Runtime)", "torch-bf16": "torch-bf16 (bfloat16 autocast)"}[args.other]
    for name, key, m in (("torch (sentence-transformers)", "torch", mt), (other, "onnx", mo)):
        print(f"| {name} | {m:.1f} | {len(texts) / m:.1f} | {', '.join(f'{x:.1f}' for x in times[key])} |")
    print(f"\nspeed-up {args.other}/torch: {mt / mo:.2f}x; first {args.other} call: {first:.1f} s")
    print(f"max |torch - {args.other}| over all vector components: {float(np.abs(a - b).max()):.2e}; "
          f"smallest cosine: {float((a * b).sum(1).min()):.5f}; top-10 neighbours shared: {agree:.4f}")


def demo_texts() -> list[str]:
    demo = ROOT / "examples" / "halueval_demo"
    texts = [json.loads(x)["question"] for x in (demo / "pairs.jsonl").read_text("utf-8").splitlines()]
    texts += [json.loads(x)["text"] for x in (demo / "sources.jsonl").read_text("utf-8").splitlines()]
    return list(dict.fromkeys(texts))


def instruction_sentences(n: int) -> list[str]:
    """Distinct response sentences of scale.py's instruction rows (needs ../shared/data)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _data import read_jsonl
    from scale import make_rows

    from curator.text import split_sentences

    path = Path(tempfile.mkdtemp(prefix="curator-backends-")) / "rows.jsonl"
    make_rows(max(400, n // 5), path)
    sents = (s for r in read_jsonl(path) for s in split_sentences(r["output"]) if s.strip())
    return list(dict.fromkeys(sents))[:n]


if __name__ == "__main__":
    main()
