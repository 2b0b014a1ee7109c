"""Shared data loading for the benchmark scripts: where the evaluation data lives, skipping
politely when it is absent, and the labelled sets more than one script reads (the four grounding
dev sets, the labelled sentence pairs)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: The bundled demo slice (HaluEval-QA pairs and their Wikipedia passages).
DEMO = ROOT / "examples" / "halueval_demo"
#: The four human-labelled grounding dev sets (hallucinated = 1).
DATASETS = ("begin", "q2", "summedits", "halueval_qa")
NAMES = {"begin": "BEGIN", "q2": "Q²", "summedits": "SummEdits", "halueval_qa": "HaluEval-QA"}


def data_dir() -> Path:
    """`$CURATOR_DATA_DIR`, else `../shared/data` next to the repository."""
    env = os.environ.get("CURATOR_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def require(*relative: str) -> list[Path]:
    """Paths of the data files, or exit 0 with a message when the data is absent."""
    paths = [data_dir() / r for r in relative]
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"skipped: evaluation data not found ({missing[0]}); set CURATOR_DATA_DIR.")
        sys.exit(0)
    return paths


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load(name: str, limit: int | None, seed: int = 0) -> list[dict]:
    """Rows of grounding dev set ``name`` with a label; a fixed random sample of ``limit`` rows
    (seed 0, original order kept) when the set is larger."""
    (path,) = require(f"grounding/{name}.jsonl")
    rows = [r for r in read_jsonl(path) if r.get("hallucinated") is not None]
    if limit and len(rows) > limit:
        idx = np.random.default_rng(seed).choice(len(rows), limit, replace=False)
        rows = [rows[i] for i in sorted(idx)]
    return rows


def load_pairs(root: Path, limit: int | None, seed: int = 0) -> dict[str, tuple[list, list, np.ndarray]]:
    """Labelled sentence pairs of ``root``/pairs: dataset -> (texts a, texts b, 1 = duplicate).
    MRPC / PAWS / QQP use their label; STS-B counts score >= 4 as a duplicate, SICK >= 4.5."""
    out: dict[str, tuple[list, list, np.ndarray]] = {}
    for path in sorted((root / "pairs").glob("*.jsonl")):
        groups: dict[str, list] = {}
        for r in read_jsonl(path):
            if r.get("label") is not None:
                y = int(r["label"])
            elif r.get("score") is not None:
                y = int(float(r["score"]) >= (4.5 if "sick" in r["dataset"] else 4.0))
            else:
                continue
            name = {"paws_wiki_labeled_final_train": "paws", "glue_qqp_train": "qqp",
                    "sick2014": "sick"}.get(r["dataset"], r["dataset"])
            groups.setdefault(name, []).append((r["text_a"], r["text_b"], y))
        for name, rows in groups.items():
            if limit and len(rows) > limit:
                pick = np.random.default_rng(seed).choice(len(rows), limit, replace=False)
                rows = [rows[k] for k in sorted(pick)]
            out[name] = ([a for a, _, _ in rows], [b for _, b, _ in rows],
                         np.array([y for _, _, y in rows]))
    return out
