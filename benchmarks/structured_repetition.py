"""Repetition of structured answers (issue 12): JSON / Python-literal answers must not be
`quality:repetitive`, and measuring them by structure must not change verdicts on prose.

    python benchmarks/structured_repetition.py

Prints, per instruction set, how many responses' repetition changes between the text measure
(word 5-grams + duplicate lines) and curator's measure (structure-aware), and how many flip across
max_repetition=0.5; then the repro file of structured answers (../shared/repros).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from _data import data_dir, read_jsonl, require

from curator.quality import _repetition, _text_repetition
from curator.text import words


def responses(rec: dict) -> list[str]:
    if "conversations" in rec:
        return [t for t in rec["conversations"][1::2] if isinstance(t, str)]
    out = rec.get("output") or rec.get("response") or ""
    return [out] if isinstance(out, str) else []


def compare(texts: list[str]) -> dict:
    changed = down = up = 0
    t_text = t_struct = 0.0
    for t in texts:
        lt = [words(line) for line in t.splitlines()]
        a = time.perf_counter()
        old = _repetition(lt)
        b = time.perf_counter()
        new = _text_repetition(t, lt)
        t_text += b - a
        t_struct += time.perf_counter() - b
        changed += old != new
        down += old > 0.5 >= new
        up += old <= 0.5 < new
    return {"n": len(texts), "changed": changed, "no_longer_repetitive": down, "newly_repetitive": up,
            "seconds_text_measure": round(t_text, 3), "seconds_structure_aware": round(t_struct, 3)}


def main() -> None:
    paths = require("instructions/lima.jsonl", "instructions/alpaca_gpt4_sample.jsonl", "instructions/self_instruct.jsonl")
    for p in paths:
        texts = [t for r in read_jsonl(p) for t in responses(r)]
        print(p.name, json.dumps(compare(texts)))
    repro = data_dir().parent / "repros" / "from-real-use" / "structured_output_repetitive.jsonl"
    if repro.exists():
        for r in read_jsonl(Path(repro)):
            lt = [words(line) for line in r["output"].splitlines()]
            print(repro.name, f"chars={len(r['output'])} text_measure={_repetition(lt):.2f} "
                  f"structure_aware={_text_repetition(r['output'], lt):.2f}")


if __name__ == "__main__":
    main()
