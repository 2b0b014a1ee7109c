"""Train a verifier from a dumped example file, and score dumped claim/evidence pairs with it.

The machine-independent half of the verifier recipe, for a machine that has torch and
transformers but neither curator's other dependencies nor the data (a rented GPU):

    # here: build the examples and the evaluation pairs
    python benchmarks/verifier_nli_train.py --nli 200000 --synthetic 6000 --dump train.jsonl.gz --no-train
    python benchmarks/verifier_nli_eval.py --export-pairs pairs.jsonl.gz
    # there (imports only curator.grounding, i.e. numpy + torch + transformers + safetensors)
    python benchmarks/verifier_train_file.py --examples train.jsonl.gz --out model --device cuda \\
        --base BASE_DIR --score pairs.jsonl.gz --scores-out scores.jsonl.gz
    # here: the evaluation reads the scores instead of running the model
    python benchmarks/verifier_nli_eval.py --scores scores.jsonl.gz --parts lodo,nli,swaps

Example files are JSON lines ``{"evidence", "claim", "unsupported"}`` (an optional first line
``{"meta": {...}}`` is copied into ``verifier_meta.json``); pair files are ``{"claim",
"evidence"}``; the scores file adds ``"p"`` = P(unsupported). ``.gz`` and ``.xz`` are read and
written transparently.
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from curator.grounding import GroundingVerifier, train_verifier  # noqa: E402


def open_text(path: str | Path, mode: str = "rt") -> IO[Any]:
    p = str(path)
    if p.endswith(".gz"):
        return gzip.open(p, mode, encoding="utf-8")
    if p.endswith(".xz"):
        return lzma.open(p, mode, encoding="utf-8")
    return open(p, mode.replace("t", ""), encoding="utf-8")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open_text(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", required=True, help="dumped training examples (JSONL, .gz/.xz)")
    ap.add_argument("--out", required=True, help="model folder to write")
    ap.add_argument("--base", default=None, help="base model folder (default: the packaged MiniLM)")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--max-minutes", type=float, default=0.0, help="stop after this much training (0 = no limit)")
    ap.add_argument("--fp16", action="store_true", help="save the final weights in float16")
    ap.add_argument("--score", default=None, help="claim/evidence pairs to score with the trained model")
    ap.add_argument("--scores-out", default=None, help="where to write the scores (JSONL with p)")
    args = ap.parse_args()

    import torch

    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    rows = read_jsonl(args.examples)
    meta = rows[0]["meta"] if rows and "meta" in rows[0] else {}
    ex = [(r["evidence"], r["claim"], int(r["unsupported"])) for r in rows if "meta" not in r]
    t0 = time.perf_counter()
    print(f"{len(ex)} examples from {args.examples}; device {args.device}", flush=True)
    train_verifier(ex, args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                   random_state=args.seed, max_length=args.max_length, base=args.base, num_layers=args.layers,
                   freeze_embeddings=args.freeze_embeddings, device=args.device, log_every=200,
                   max_minutes=args.max_minutes or None, fp16=args.fp16,
                   extra_meta={"data": meta, "window_words": meta.get("window_words"),
                               "command": " ".join(["python", "benchmarks/verifier_train_file.py", *sys.argv[1:]])})
    print(f"trained in {time.perf_counter() - t0:.0f}s -> {args.out}", flush=True)
    if args.score:
        pairs = read_jsonl(args.score)
        ver = GroundingVerifier(args.out, max_length=args.max_length, batch_size=256, device=args.device)
        t1 = time.perf_counter()
        p = ver.predict([r["claim"] for r in pairs], [r["evidence"] for r in pairs])
        print(f"scored {len(pairs)} pairs in {time.perf_counter() - t1:.1f}s", flush=True)
        with open_text(args.scores_out or (Path(args.out) / "scores.jsonl.gz"), "wt") as fh:
            for r, x in zip(pairs, p):
                fh.write(json.dumps({"claim": r["claim"], "evidence": r["evidence"], "p": round(float(x), 6)}) + "\n")


if __name__ == "__main__":
    main()
