"""Length buckets, old against new, on the texts a real run embeds (issue 24, decision 3).

    python benchmarks/buckets.py --work /work/runs/s25/ceil5 [--backends torch,openvino] [--repeats 3]

``--work`` is a folder where ``benchmarks/ceiling.py`` recorded a run's texts (``texts.json``).
Per repeat: the bf16/fp32 matmul ceiling (ceiling.py), then, per backend, the texts embedded once
with the buckets before 2026-12-07 (``v2``: steps of 4 / 8 / 16 / 32 word pieces) and once with
:func:`curator.devices._bucket` (``current``), interleaved, cache off. Prints the padding and the
number of shapes of each scheme, wall time, share of the side-by-side ceiling, and the median of
the per-repeat ratios old / new.

With ``--tokenize`` the two schemes compared are instead the tokenising before 2026-12-07
(``serial``: one transformers call per 512 texts on the calling thread) and
:func:`curator.devices.token_ids` (``current``: a private copy of the Rust tokenizer on the
Embedder's threads), both with the current buckets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ceiling import ceiling  # noqa: E402
from scale import flops_per_token, uptime  # noqa: E402


def v2_bucket(n_tokens: int, max_len: int) -> int:
    """The length buckets of fixed-shape-v2 (19 shapes on a run's texts)."""
    step = 4 if n_tokens <= 32 else 8 if n_tokens <= 64 else 16 if n_tokens <= 128 else 32
    return min(max_len, -(-n_tokens // step) * step)


def serial_token_ids(tok: Any, texts: list[str], maxlen: int, threads: int = 1) -> list[Any]:
    """The tokenising of _embed before 2026-12-07: one transformers call per 512 texts."""
    import numpy as np

    out = []
    for s in range(0, len(texts), 512):
        enc = tok([t.strip() for t in texts[s:s + 512]], truncation=True, max_length=maxlen,
                  return_attention_mask=False, return_token_type_ids=False)
        out += [np.asarray(x, dtype=np.int64) for x in enc["input_ids"]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True, help="a ceiling.py --work folder holding texts.json")
    ap.add_argument("--backends", default="torch,openvino")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tokenize", action="store_true", help="compare the tokenising, not the buckets")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    import torch

    import curator.devices as D
    import curator.embed as E

    texts = list(dict.fromkeys(t for _, t in json.loads((Path(a.work) / "texts.json").read_text())))
    old = "serial" if a.tokenize else "v2"
    schemes: dict[str, Any] = {old: serial_token_ids if a.tokenize else v2_bucket,
                               "current": D.token_ids if a.tokenize else D._bucket}
    target = "token_ids" if a.tokenize else "_bucket"
    embs = {b: E.Embedder(cache=False, backend=b) for b in a.backends.split(",")}
    st = next(iter(embs.values()))._load()
    maxlen = int(st.max_seq_length or 512)
    lengths = [len(x) for x in st.tokenizer([t.strip() for t in texts], truncation=True, max_length=maxlen)["input_ids"]]
    flops = sum(flops_per_token(L) * L for L in lengths)
    res: dict[str, Any] = {"texts": len(texts), "word_pieces": sum(lengths), "load_at_start": uptime(), "schemes": {}}
    for name, f in ({} if a.tokenize else schemes).items():
        res["schemes"][name] = {"padding": sum(f(L, maxlen) for L in lengths) / sum(lengths) - 1,
                                "shapes": len({f(L, maxlen) for L in lengths})}
    print(json.dumps(res), flush=True)
    for e in embs.values():
        e.encode(texts[:64])  # load, warm up, the once-per-process row check
    dtype = torch.bfloat16 if next(iter(embs.values())).effective_precision == "bf16" else torch.float32
    runs = []
    try:
        for rep in range(a.repeats):
            best = max(v for k, v in ceiling(dtype, torch.get_num_threads()).items() if k.endswith("side_by_side"))
            for backend, emb in embs.items():
                for name, f in schemes.items():
                    setattr(E, target, f)
                    t = time.perf_counter()
                    emb._embed(texts)
                    wall = time.perf_counter() - t
                    runs.append({"rep": rep, "backend": backend, "scheme": name, "wall_s": wall, "ceiling": best,
                                 "pct_of_side_by_side": 100 * flops / wall / 1e9 / best, "load": uptime()})
                    print(json.dumps(runs[-1]), flush=True)
    finally:
        E._bucket, E.token_ids = D._bucket, D.token_ids
    res["runs"] = runs
    for backend in embs:
        mine = {name: [r for r in runs if r["backend"] == backend and r["scheme"] == name] for name in schemes}
        res[f"median_{backend}"] = {
            **{f"{n}_wall_s": statistics.median(r["wall_s"] for r in rs) for n, rs in mine.items()},
            **{f"{n}_pct": statistics.median(r["pct_of_side_by_side"] for r in rs) for n, rs in mine.items()},
            f"ratio_{old}_over_current": statistics.median(
                o["wall_s"] / c["wall_s"] for o, c in zip(mine[old], mine["current"]))}
        print(backend, json.dumps(res[f"median_{backend}"]), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
