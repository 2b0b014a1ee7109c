"""Shared helpers for benchmark scripts: where the evaluation data lives, and skipping politely."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


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
