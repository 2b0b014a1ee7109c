"""bfloat16 vs fp32 embedding (``Embedder(backend="torch-bf16")``): texts/s, interleaved medians,
and how far the vectors move (largest component difference, smallest cosine, top-10 neighbours).

    CURATOR_DATA_DIR=../shared/data python benchmarks/embed_bf16.py [--texts 2000] [--repeats 2]

Texts: distinct response sentences of make_rows' instruction rows (benchmarks/scale.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import read_jsonl  # noqa: E402
from scale import make_rows, uptime  # noqa: E402

from curator.embed import Embedder  # noqa: E402
from curator.text import split_sentences  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    path = Path(tempfile.mkdtemp(prefix="curator-bf16-")) / "rows.jsonl"
    make_rows(max(400, a.texts // 5), path)
    sents = list(dict.fromkeys(s for r in read_jsonl(path) for s in split_sentences(r["output"]) if s.strip()))[: a.texts]
    emb = {b: Embedder(cache=False, backend=b) for b in ("torch", "torch-bf16")}
    for e in emb.values():
        e.encode(["warm up"])
    times: dict[str, list[float]] = {b: [] for b in emb}
    vecs: dict[str, np.ndarray] = {}
    for _ in range(a.repeats):
        for b, e in emb.items():
            t = time.perf_counter()
            vecs[b] = e.encode(sents)
            times[b].append(time.perf_counter() - t)
    for b in emb:
        med = float(np.median(times[b]))
        print(f"{b}: {len(sents) / med:.1f} texts/s (median of {a.repeats}: {med:.2f} s), load {uptime()}")
    f, h = vecs["torch"], vecs["torch-bf16"]
    k = 10
    nf, nh = np.argsort(-(f @ f.T), 1)[:, 1:k + 1], np.argsort(-(h @ h.T), 1)[:, 1:k + 1]
    shared = np.mean([len(set(x) & set(y)) / k for x, y in zip(nf, nh)])
    print(f"{len(sents)} texts; largest component difference {np.abs(f - h).max():.2e}; "
          f"smallest cosine {(f * h).sum(1).min():.5f}; top-{k} neighbours shared {shared:.3f}")


if __name__ == "__main__":
    main()
