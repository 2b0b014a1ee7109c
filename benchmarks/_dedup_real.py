"""``benchmarks/dedup.py --parts real``: `curator dedup` on a real file, old vs new code, with every
embedding served from one precomputed table.

Each variant (a git ref's ``curator/``, or this tree) runs ``curator dedup FILE`` in its own
subprocess with ``Embedder.encode`` replaced by a lookup in a table keyed by the exact text, so
both codes read the same vectors and the model's forward passes are left out (the new code
still loads the tokenizer: counting unknown word pieces and the window split are its work).
The table is built once (``--vectors DIR``: ``vectors.npy`` float32 + ``texts.json``, no
pickle) by running the variants in record mode: texts missing from the table are embedded with
the real ``encode`` and added. Timed runs refuse a text the table lacks.

Reported per run: the child's CPU seconds (user + system, all threads), wall seconds, the CPU
seconds inside ``Deduplicator.run`` and its per-stage wall timings, the near stage's candidate
count; and whether the kept / dropped files of the variants named by ``--same`` are
byte-identical.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, os, resource, sys, time
tree, table_dir, mode = sys.argv[1:4]
sys.argv = ["curator"] + sys.argv[4:]
if tree != "-":
    sys.path.insert(0, tree)
from pathlib import Path
import numpy as np
import curator.embed as _E
table = Path(table_dir)
if (table / "texts.json").exists():
    _texts = json.loads((table / "texts.json").read_text(encoding="utf-8"))
    _vecs = np.load(table / "vectors.npy")
else:
    _texts, _vecs = [], np.zeros((0, 384), dtype=np.float32)
_index = {t: i for i, t in enumerate(_texts)}
_real = _E.Embedder.encode
_new = {}

def _encode(self, texts, *a, **k):
    texts = list(texts)
    out = np.empty((len(texts), _vecs.shape[1]), dtype=np.float32)
    miss = []
    for n, t in enumerate(texts):
        i = _index.get(t)
        if i is not None:
            out[n] = _vecs[i]
        elif t in _new:
            out[n] = _new[t]
        else:
            miss.append(n)
    if miss:
        if mode != "record":
            raise SystemExit(f"the vector table lacks {len(miss)} texts; build it with --record")
        uniq = list(dict.fromkeys(texts[n] for n in miss))
        for t, v in zip(uniq, _real(self, uniq)):
            _new[t] = v
        for n in miss:
            out[n] = _new[texts[n]]
    return out

_E.Embedder.encode = _encode
import curator.dedup as _D
_orig_run = _D.Deduplicator.run
STATS = {}

def _run(self, *a, **k):
    c0, w0 = time.process_time(), time.perf_counter()
    res = _orig_run(self, *a, **k)
    STATS["dedup_cpu_s"] = time.process_time() - c0
    STATS["dedup_wall_s"] = time.perf_counter() - w0
    STATS["timings_s"] = res.stats.get("timings_s")
    STATS["near_lsh"] = res.stats.get("near_lsh")
    STATS["n_dropped"] = res.stats.get("n_dropped")
    return res

_D.Deduplicator.run = _run
from curator.cli import main
t0 = time.perf_counter()
try:
    main()
except SystemExit as e:
    code = e.code
else:
    code = 0
u = resource.getrusage(resource.RUSAGE_SELF)
STATS.update(cpu_s=u.ru_utime + u.ru_stime, peak_rss_mib=u.ru_maxrss / 1024, added=len(_new))
if mode == "record" and _new:
    keys = list(_new)
    allt = _texts + keys
    vecs = np.concatenate([_vecs, np.stack([_new[t] for t in keys]).astype(np.float32)])
    np.save(table / "vectors.npy", vecs)
    (table / "texts.json").write_text(json.dumps(allt, ensure_ascii=False), encoding="utf-8")
print("REAL_STATS " + json.dumps(STATS), file=sys.stderr)
sys.exit(code)
'''


def tree_of(ref: str, work: Path) -> Path | None:
    """``None`` for this tree ("new"), else ``curator/`` of git ``ref`` extracted under ``work``."""
    if ref == "new":
        return None
    base = work / f"tree-{ref}"
    if not base.exists():
        tmp = work / f"tree-{ref}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "curator"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=tar.stdout, check=True)
        tmp.rename(base)
    return base


def run_variant(ref: str, data: Path, table: Path, out: Path, work: Path, record: bool,
                extra: list[str]) -> dict[str, Any]:
    tree = tree_of(ref, work)
    out.mkdir(parents=True, exist_ok=True)
    args = [str(tree) if tree else "-", str(table), "record" if record else "strict",
            "-q", "dedup", str(data), "-o", str(out / "kept.jsonl"), "--dropped", str(out / "dropped.jsonl"), *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "CURATOR_CACHE_DIR": "off"}
    if tree is None:
        env["PYTHONPATH"] = str(ROOT)
    else:
        env.pop("PYTHONPATH", None)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True, cwd=work)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{ref}: curator dedup failed:\n{p.stderr[-3000:]}")
    stats = [json.loads(line.split(" ", 1)[1]) for line in p.stderr.splitlines() if line.startswith("REAL_STATS ")]
    return {"ref": ref, "wall_s": wall, "load_before": load, "load_after": os.getloadavg()[0], **stats[-1]}


def same_files(a: Path, b: Path) -> bool:
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in ("kept.jsonl", "dropped.jsonl"))


def part_real(real: Path, refs: list[str], repeats: int, vectors: Path | None,
              no_semantic: bool, same: list[str]) -> list[str]:
    """Old vs new `curator dedup` on the real file; see the module docstring."""
    src = real
    if not src.exists():
        return [f"skipped: {src} not found"]
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "curator-dedup-real"
    work.mkdir(parents=True, exist_ok=True)
    data = work / src.name.removesuffix(".gz")
    if not data.exists():  # the old code reads plain .jsonl only
        opener = gzip.open if src.suffix == ".gz" else open
        with opener(src, "rb") as fi, open(data, "wb") as fo:
            shutil.copyfileobj(fi, fo)
    table = vectors or work / "vectors"
    table.mkdir(parents=True, exist_ok=True)
    extra = ["--no-semantic"] if no_semantic else []
    lines = []
    if not no_semantic and not (table / "texts.json").exists():
        for ref in refs:  # record: every text any variant embeds, with the real model, once
            r = run_variant(ref, data, table, work / f"record-{ref}", work, True, extra)
            lines.append(f"recorded {r['added']:,} vectors for {ref} ({r['wall_s']:.0f} s)")
            print(lines[-1], flush=True)
    runs: list[dict[str, Any]] = []
    for rep in range(repeats):
        for ref in refs:  # alternate, so drift in the box's load hits every variant alike
            r = run_variant(ref, data, table, work / f"out-{ref}", work, False, extra)
            r["repeat"] = rep
            runs.append(r)
            print(f"  {ref} #{rep + 1}: {r['cpu_s']:.1f} CPU s, {r['wall_s']:.1f} s wall, dedup "
                  f"{r['dedup_cpu_s']:.1f} CPU s, near candidates {r['near_lsh'].get('candidates', '-')}, "
                  f"load {r['load_before']:.1f}-{r['load_after']:.1f}", flush=True)
    lines += ["| variant | repeat | CPU s (process) | wall s | CPU s in Deduplicator.run | stages wall s "
              "(exact / near / semantic / cluster) | near candidates | dropped | load before-after |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        t = r.get("timings_s") or {}
        st = " / ".join(f"{t[k]:.1f}" if k in t else "-" for k in ("exact", "near", "semantic", "cluster"))
        lines.append(f"| {r['ref']} | {r['repeat'] + 1} | {r['cpu_s']:.1f} | {r['wall_s']:.1f} | "
                     f"{r['dedup_cpu_s']:.1f} | {st} | {(r['near_lsh'] or {}).get('candidates', '-'):,} | "
                     f"{r['n_dropped']:,} | {r['load_before']:.1f}-{r['load_after']:.1f} |")
    med: dict[str, float] = {}
    for ref in refs:
        xs = sorted(r["cpu_s"] for r in runs if r["ref"] == ref)
        med[ref] = xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2
    lines += ["", "median CPU s: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items())]
    if len(same) == 2:
        a, b = same
        lines.append(f"kept.jsonl + dropped.jsonl of {a} and {b}: "
                     + ("identical" if same_files(work / f"out-{a}", work / f"out-{b}") else "DIFFERENT"))
    return lines
