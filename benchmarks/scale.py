"""Speed and scale: how fast does curator run, in how much memory, and how close is embedding to
the machine's ceiling? Embedding throughput vs the fp32 matmul roofline, old vs new code on one
run, the Ray engine with 1 and 2 workers, peak memory per row without an index, and the opt-in
embedding backends (ONNX Runtime, bfloat16) against torch.

    python benchmarks/scale.py                       # every part, default sizes
    python benchmarks/scale.py --parts roofline,embed
    python benchmarks/scale.py --parts batch --texts 3000 --batch-sizes 4,8,16,32
    python benchmarks/scale.py --parts pairquery --rows 200
    python benchmarks/scale.py --parts forward,padding --rows 500
    python benchmarks/scale.py --parts oldnew,ray --rows 600
    python benchmarks/scale.py --parts oldnew --rows 500 --backends torch,torch-bf16
    python benchmarks/scale.py --parts memory --mem-rows 10000,50000,100000,1000000
    python benchmarks/scale.py --parts backends --repeats 5                     # onnx vs torch, demo texts
    python benchmarks/scale.py --parts backends --other torch-bf16 --backend-texts instructions --repeats 2
    python benchmarks/scale.py --parts precision --limit 300              # bf16 vs fp32 verdicts
    python benchmarks/scale.py --real ../shared/data/perf/real_mix_21k.jsonl.gz --real-rows 2000 \
        --ref 3a5da12 --index wiki --precisions default,fp32          # old vs new on a real file

Parts
- roofline: GFLOP/s of torch fp32 matmuls shaped like MiniLM's (tokens x 384 @ 384 x 1536) and a
  square one, same threads as embedding: the ceiling.
- embed: texts/s, tokens/s and achieved GFLOP/s (MiniLM-L6 counted at 12*d^2 MACs per token per
  layer plus attention) of plain sentence-transformers (today's batching, 64) and of curator's
  Embedder (equal-length, fixed-shape batches) at several batch sizes, one batch at a time on all
  threads and batches side by side (--workers 1,auto); --long-texts: whole responses.
- batch: texts/s per batch size (and --workers) on one large call of distinct response sentences
  (--texts, --batch-sizes), interleaved, median of 2.
- forward: GFLOP/s of the model's forward pass alone on full batches of random token ids
  (--lengths), one batch at a time on all threads vs one batch per thread side by side.
- padding: word pieces computed vs real, per caller, in `curator run` of --rows rows in this
  process (bucket padding and the filler copies of short batches).
- pairquery: word pieces grounding embeds on --rows rows against the demo index, with the pair
  query as one joined text (before) and GroundingScorer.PAIR_QUERY="auto" (now); verdict counts.
- oldnew: `curator run` of the base commit (15c4de6, extracted with `git archive`) and of this
  tree on the same rows (instructions/ + synthetic rows), retrieval-mode grounding against the
  demo index; both in subprocesses of this run.
- ray: the same run with --engine local, ray with 1 worker, ray with 2 workers: rows/s, peak RSS of
  the driver and of the largest worker, and whether the outputs are byte-identical.
- memory: `curator run` quality -> dedup -> select (10% budget, no index) on synthetic rows of
  random words at several sizes (--mem-rows): peak RSS, and the slope per row that projects 1M
  rows. --mem-model tiny (default) embeds with a stand-in 384-d model built by the script (see
  tiny_model): memory depends on vector width and row count, not model depth. Peaks per stage,
  and before/after the stages (reading, checkpoints, writing). --mem-base COMMIT also runs that
  commit's code on the same rows and checks the outputs are byte-identical.
- backends: torch (fp32) against another Embedder backend (--other onnx or torch-bf16) on the same
  texts (--backend-texts demo: the demo's 240 distinct questions and passages; instructions: 2,000
  distinct response sentences of make_rows' rows), same fixed-shape batches of 16, interleaved
  repeats in one process (--repeats, --threads): median seconds, their ratio, the largest vector
  difference, the share of top-10 cosine neighbours both agree on.

- precision: bf16 against fp32 on the grounding dev sets (own source, --limit rows each) and on
  the demo run (index and run at one precision each): verdicts changed, AUROC, CPU seconds.
- --real FILE (instead of --parts): `curator run FILE --index INDEX` with the code of --ref (git
  archive of its curator/, as the memory part's --mem-base) and with this tree at each of
  --precisions, interleaved --real-repeats times; per stage (and in all) the median wall and
  process-CPU seconds (all threads) and the ratio old / new. --real-rows N: a stratified slice
  of N rows evenly spaced over the file (real_mix_21k concatenates five sources in order).

Each run is a subprocess, so peak RSS (ru_maxrss / VmHWM) is its own. Timings depend on load:
the script prints `uptime` next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DATASETS, data_dir, load, read_jsonl  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASE_COMMIT = "15c4de6"
D, FFN, LAYERS = 384, 1536, 6


def uptime() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


# ---------------------------------------------------------------------------------------------
def roofline() -> dict[str, float]:
    import torch

    out = {}
    for name, (m, k, n) in {"minilm_ffn_512tok": (512, D, FFN), "minilm_qkv_512tok": (512, D, D),
                            "square_1024": (1024, 1024, 1024)}.items():
        a, b = torch.randn(m, k), torch.randn(k, n)
        for _ in range(3):
            a @ b
        reps, best = 20, float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(reps):
                a @ b
            best = min(best, (time.perf_counter() - t) / reps)
        out[name] = 2 * m * k * n / best / 1e9
    out["threads"] = torch.get_num_threads()
    return out


def flops_per_token(length: int) -> float:
    # linear layers: QKV + O (4 d^2) and the FFN (2 d * ffn) MACs; attention: QK^T and AV (2 L d)
    return 2 * LAYERS * (4 * D * D + 2 * D * FFN + 2 * length * D)


def sample_texts(n: int, long: bool = False) -> list[str]:
    """Instructions and response sentences of instructions/ (the short texts grounding embeds),
    or with ``long`` whole responses (what the quality step embeds, cut at 256 word pieces)."""
    rows = []
    for f in ("alpaca_gpt4_sample.jsonl", "lima.jsonl", "self_instruct.jsonl"):
        p = data_dir() / "instructions" / f
        if p.exists():
            rows += read_jsonl(p)
    if not rows:
        print("skipped: ../shared/data/instructions/ not found; set CURATOR_DATA_DIR.")
        sys.exit(0)
    from curator.text import sentence_spans

    texts = []
    for r in rows:
        if long:
            texts.append(r.get("output") or "")
            continue
        texts.append((r.get("instruction") or "") + " " + (r.get("input") or ""))
        texts += [s for s, _, _ in sentence_spans(r.get("output") or "")][:6]
    random.Random(0).shuffle(texts)
    return [t for t in texts if t.strip()][:n]


def embed_bench(n: int, sizes: list[int], ceiling: float, workers: list[int | None] | None = None,
                long: bool = False) -> list[dict[str, float | str]]:
    from sentence_transformers import SentenceTransformer

    from curator.embed import Embedder, resolve_model

    texts = sample_texts(n, long)
    st = SentenceTransformer(resolve_model(None), device="cpu")
    lengths = [len(x) for x in st.tokenizer(texts, truncation=True, max_length=st.max_seq_length)["input_ids"]]
    flops = sum(flops_per_token(L) * L for L in lengths)
    rows: list[dict[str, float | str]] = []

    def record(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        fn(texts[:64])  # warm-up
        t = time.perf_counter()
        fn(texts)
        dt = time.perf_counter() - t
        gf = flops / dt / 1e9
        rows.append({"config": name, "texts_per_s": len(texts) / dt, "tokens_per_s": sum(lengths) / dt,
                     "gflops": gf, "pct_roofline": 100 * gf / ceiling, "load": uptime()})
        print(rows[-1], flush=True)

    record("sentence-transformers encode, batch 64 (base)",
           lambda x: st.encode(x, batch_size=64, normalize_embeddings=True))
    for b in sizes:
        for w in workers or [1]:
            name = "one batch at a time" if w == 1 else f"{w or 'auto'} batches side by side"
            record(f"curator Embedder, fixed-shape batch {b}, {name}",
                   lambda x, b=b, w=w: Embedder(batch_size=b, cache=False, workers=w).encode(x))
    return rows


def batch_large(n: int, sizes: list[int], repeats: int = 2,
                workers: list[int | None] | None = None) -> list[dict[str, float | str]]:
    """Texts/s of the Embedder per batch size on ONE large call of distinct response sentences of
    make_rows' rows (the pipeline's calls are large; embed_bench's 800 texts are a small call),
    the sizes interleaved, median of ``repeats``."""
    from curator.embed import Embedder
    from curator.text import split_sentences

    path = Path(tempfile.mkdtemp(prefix="curator-batch-")) / "rows.jsonl"
    make_rows(max(400, n // 8), path)
    sents = [s for r in read_jsonl(path) for s in split_sentences(r["output"])]
    sents = list(dict.fromkeys(x for x in sents if x.strip()))[:n]
    configs = [(b, w) for b in sizes for w in (workers or [1])]
    embs = {c: Embedder(batch_size=c[0], cache=False, workers=c[1]) for c in configs}
    embs[configs[0]].encode(["warm up"])
    times: dict[tuple[int, int | None], list[float]] = {c: [] for c in configs}
    for _ in range(repeats):
        for c in configs:
            t = time.perf_counter()
            embs[c].encode(sents)
            times[c].append(time.perf_counter() - t)
    rows: list[dict[str, float | str]] = []
    for (b, w), ts in times.items():
        med = sorted(ts)[len(ts) // 2]
        rows.append({"batch": b, "workers": w or "auto", "texts": len(sents), "median_s": med,
                     "texts_per_s": len(sents) / med, "load": uptime()})
        print(rows[-1], flush=True)
    return rows


def forward_bench(lengths: list[int], batch: int = 16) -> list[dict[str, float | str]]:
    """GFLOP/s of MiniLM's forward pass alone on full batches (batch x L real tokens: no padding,
    no filler rows, no tokenizing), one batch at a time on every thread vs one batch per thread
    side by side (what Embedder ``workers`` does), against the fp32 ceiling of the same threads."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from curator.embed import Embedder

    st = Embedder()._load()
    threads = torch.get_num_threads()
    ceiling = max(v for k, v in roofline().items() if k != "threads")
    rows: list[dict[str, float | str]] = []
    for L in lengths:
        ids = torch.randint(1000, 20000, (batch, L), generator=torch.Generator().manual_seed(L))
        feats = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}

        def fw(_: object = None, feats: dict[str, Any] = feats) -> None:
            with torch.inference_mode():
                st.forward(dict(feats))

        n = max(2 * threads, 4000 // L)
        out: dict[str, float | str] = {"length": L, "batch": batch, "threads": threads, "ceiling_gflops": ceiling}
        for mode in ("one_at_a_time", "side_by_side"):
            torch.set_num_threads(threads if mode == "one_at_a_time" else 1)
            try:
                fw()
                t = time.perf_counter()
                if mode == "one_at_a_time":
                    for _ in range(n):
                        fw()
                else:
                    with ThreadPoolExecutor(threads) as ex:
                        list(ex.map(fw, range(n)))
                dt = time.perf_counter() - t
            finally:
                torch.set_num_threads(threads)
            gf = batch * L * n * flops_per_token(L) / dt / 1e9
            out[f"{mode}_gflops"], out[f"{mode}_pct"] = gf, 100 * gf / ceiling
        out["load"] = uptime()
        rows.append(out)
        print(out, flush=True)
    return rows


def padding_work(n: int, work: Path) -> list[dict[str, float | str]]:
    """Word pieces the model computes vs real ones, per caller, in `curator run` of make_rows(n)
    against the demo index (in this process, cache off): what batching costs in bucket padding
    and filler copies (the last batch of a bucket filled to MIN_TOKENS word pieces; where the
    kernels fail Embedder's row check, every batch is filled to batch_size rows). A measure of
    work that does not depend on the load."""
    from collections import Counter, defaultdict

    import curator.embed as E

    path = work / "padding.jsonl"
    make_rows(n, path)
    idx = build_index(work)
    real = E.Embedder._embed
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])

    def spy(self, texts, fp32=False):  # type: ignore[no-untyped-def]
        tok = self._load().tokenizer
        maxlen = int(self._load().max_seq_length or 512)
        lens = [len(x) for x in tok([t.strip() for t in texts], truncation=True, max_length=maxlen)["input_ids"]]
        groups = Counter(E._bucket(L, maxlen) for L in lens)
        f, names = sys._getframe(1), []
        while f is not None and len(names) < 2:
            if "curator" in f.f_code.co_filename and f.f_code.co_name not in ("encode", "_vectors_of", "_embed"):
                names.append(f.f_code.co_name)
            f = f.f_back
        st = stats["/".join(names)]
        st[0] += 1
        st[1] += len(texts)
        st[2] += sum(lens)
        b = self.batch_size  # full batches, then one of the rest filled to MIN_TOKENS word pieces
        st[3] += sum((k // b * b + (max(k % b, min(b, -(-E.MIN_TOKENS // L))) if k % b else 0)) * L
                     for L, k in groups.items())
        return real(self, texts, fp32)

    out = work / "padding-out"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    run_spied(path, str(idx), out, spy)
    rows: list[dict[str, float | str]] = []
    for caller, (calls, texts, real_tok, computed) in sorted(stats.items(), key=lambda kv: -kv[1][3]):
        rows.append({"caller": caller, "calls": calls, "texts": texts, "real_word_pieces": real_tok,
                     "computed_word_pieces": computed, "pct_real": 100 * real_tok / computed})
        print(rows[-1], flush=True)
    tot = [sum(v[i] for v in stats.values()) for i in range(4)]
    rows.append({"caller": "all", "calls": tot[0], "texts": tot[1], "real_word_pieces": tot[2],
                 "computed_word_pieces": tot[3], "pct_real": 100 * tot[2] / tot[3]})
    print(rows[-1], flush=True)
    return rows


def run_spied(path: Path, index: str, out: Path, spy: Any) -> None:
    """`curator -q run PATH --index INDEX -o OUT --no-report` in this process, cache off, with
    ``Embedder._embed`` replaced by ``spy`` (which calls the real one); both put back after."""
    import curator.embed as E
    from curator.cli import main as cli_main

    real = E.Embedder._embed
    E.Embedder._embed = spy  # type: ignore[method-assign]
    env = os.environ.get("CURATOR_CACHE_DIR")
    os.environ["CURATOR_CACHE_DIR"] = "off"
    try:
        sys.argv = ["curator", "-q", "run", str(path), "--index", index, "-o", str(out), "--no-report"]
        try:
            cli_main()
        except SystemExit:
            pass
    finally:
        E.Embedder._embed = real  # type: ignore[method-assign]
        if env is None:
            os.environ.pop("CURATOR_CACHE_DIR", None)
        else:
            os.environ["CURATOR_CACHE_DIR"] = env


def pair_query_work(n: int, work: Path) -> list[dict[str, float | str]]:
    """Word pieces grounding embeds for n rows of make_rows against the demo index, per
    ``GroundingScorer.PAIR_QUERY``, with the rows' prompt and response vectors cached first (as
    the quality step leaves them): a measure of work that does not depend on the load."""
    import curator.embed as E
    from curator.grounding import GroundingScorer, PairInput
    from curator.index import Document, PassageIndex
    from curator.records import prompt_text

    path = work / "pairquery.jsonl"
    make_rows(n, path)
    pairs = [PairInput(prompt_text(r["instruction"], r["input"]), r["output"]) for r in read_jsonl(path)]
    sources = read_jsonl(ROOT / "examples/halueval_demo/sources.jsonl")
    real = E.Embedder._embed
    rows: list[dict[str, float | str]] = []
    runs: dict[str, list[str]] = {}
    for mode in ("concat", "auto"):
        count = {"texts": 0, "tokens": 0}

        def spy(self, texts, count=count):  # type: ignore[no-untyped-def]
            count["texts"] += len(texts)
            count["tokens"] += sum(len(x) for x in self._load().tokenizer(
                texts, truncation=True, max_length=int(self._load().max_seq_length or 512))["input_ids"])
            return real(self, texts)

        emb = E.Embedder(cache_dir=None)
        index = PassageIndex.build([Document(r["id"], r["text"]) for r in sources], emb)
        emb.encode([p.prompt for p in pairs] + [p.response for p in pairs])
        E.Embedder._embed = spy  # type: ignore[method-assign]
        GroundingScorer.PAIR_QUERY = mode
        try:
            t = time.perf_counter()
            res = GroundingScorer(embedder=emb, index=index).score(pairs)
            dt = time.perf_counter() - t
        finally:
            E.Embedder._embed = real  # type: ignore[method-assign]
        verdicts = [g.verdict for g in res]
        rows.append({"pair_query": mode, "rows": n, **count, "seconds": dt, "load": uptime(),
                     **{v: verdicts.count(v) for v in ("supported", "hallucinated", "unverifiable")}})
        print(rows[-1], flush=True)
        runs[mode] = verdicts
    for p, a, b in zip(pairs, runs["concat"], runs["auto"]):
        if a != b:
            print(f"changed: {a} -> {b}: {p.prompt[:70]!r} / {p.response[:90]!r}", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
def make_rows(n: int, path: Path) -> None:
    """Rows of instructions/ (Alpaca format), topped up with synthetic rows, ~3% exact repeats."""
    real = []
    for f in ("alpaca_gpt4_sample.jsonl", "self_instruct.jsonl", "lima.jsonl"):
        p = data_dir() / "instructions" / f
        if p.exists():
            real += [{"instruction": r.get("instruction") or "", "input": r.get("input") or "",
                      "output": r.get("output") or ""} for r in read_jsonl(p)]
    rng = random.Random(0)
    rng.shuffle(real)
    rows = real[: int(n * 0.8)]
    topics = ["the harbour bridge", "tea in Assam", "the printing press", "volcanoes", "the Nile", "jazz"]
    while len(rows) < n:
        i = len(rows)
        if i % 30 == 0 and rows:
            rows.append(dict(rows[rng.randrange(len(rows))]))
            continue
        t = topics[i % len(topics)]
        rows.append({"instruction": f"Write {i % 5 + 2} facts about {t} (item {i}).", "input": "",
                     "output": f"Here are facts about {t}. It was noted in {1800 + i % 200}. "
                               f"Many people visit it each year. Record {i} adds detail number {i % 97}."})
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows[:n]:
            fh.write(json.dumps(r) + "\n")


def _descends(pid: int, root: int) -> bool:
    while pid > 1:
        if pid == root:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def watch_workers(stop: threading.Event, peaks: dict[int, int], root: list[int]) -> None:
    """Peak RSS (VmHWM, kB) of the Ray worker processes started by the run ``root[0]``."""
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or not root:
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                if not cmd.startswith(b"ray::") or not _descends(int(pid), root[0]):
                    continue
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[int(pid)] = max(peaks.get(int(pid), 0), int(line.split()[1]))
            except OSError:
                continue
        stop.wait(0.5)


# Child-side: the peak RSS of each pipeline stage (the kernel's peak mark, VmHWM, reset through
# /proc/self/clear_refs before the stage) and the RSS left after it, printed as one JSON line.
# The mark is reset again after each stage, so what happens outside the stages is measured too:
# "before <stage>" = reading the input (before the first stage) or the checkpoint written after
# the previous one; "end" = after the last stage (checkpoint, writing the outputs).
_STAGE_PEAKS = """
import json as _j, curator.pipeline as _p
def _hwm():
    d = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
    return int(d['VmHWM'].split()[0]) / 1024, int(d['VmRSS'].split()[0]) / 1024
def _reset():
    open('/proc/self/clear_refs', 'w').write('5')
_peaks = {}
def _wrap(cls):
    real = cls.apply
    def apply(self, table, ctx):
        hwm, rss = _hwm()
        _peaks['before ' + cls.name] = {'peak_mib': round(hwm), 'after_mib': round(rss)}
        _reset()
        out = real(self, table, ctx)
        hwm, rss = _hwm()
        _peaks[cls.name] = {'peak_mib': round(hwm), 'after_mib': round(rss)}
        _reset()
        return out
    cls.apply = apply
for _c in (_p.QualityStep, _p.DedupStep, _p.SelectStep, _p.GroundingStep):
    _wrap(_c)
def _end():
    hwm, rss = _hwm()
    _peaks['end'] = {'peak_mib': round(hwm), 'after_mib': round(rss)}
    print('STAGE_PEAKS', _j.dumps(_peaks), file=sys.stderr)
import atexit
atexit.register(_end)
"""


# Child-side: each stage's wall and process CPU seconds (all threads: torch's and the embedding
# workers'), printed as one JSON line; works on any commit whose curator.pipeline exposes the steps.
_STAGE_CPU = """
import json as _j, time as _t, curator.pipeline as _p
_cpu = {}
def _wrap_cpu(cls):
    real = cls.apply
    def apply(self, table, ctx):
        w, c = _t.perf_counter(), _t.process_time()
        out = real(self, table, ctx)
        _cpu[cls.name] = {'wall_s': round(_t.perf_counter() - w, 2), 'cpu_s': round(_t.process_time() - c, 2)}
        return out
    cls.apply = apply
for _c in (_p.QualityStep, _p.GroundingStep, _p.DedupStep, _p.SelectStep):
    _wrap_cpu(_c)
def _end_cpu():
    print('STAGE_CPU', _j.dumps(_cpu), file=sys.stderr)
import atexit
atexit.register(_end_cpu)
"""


# Child-side, --mem-embed hash: the model is loaded (its memory counts) but each vector is a unit
# vector drawn from a generator seeded by the text's hash: same text, same vector, 384 dims,
# ~50x faster than even the tiny model, so a million rows fit in one session on 2 busy cores.
_HASH_EMBED = """
import hashlib as _h, numpy as _np, curator.embed as _e
def _hash_embed(self, texts):
    self._load()
    out = _np.empty((len(texts), 384), dtype=_np.float32)
    for i, t in enumerate(texts):
        seed = int.from_bytes(_h.blake2b(t.strip().encode('utf-8', 'surrogatepass'), digest_size=8).digest(), 'little')
        v = _np.random.default_rng(seed).standard_normal(384)
        out[i] = v / _np.linalg.norm(v)
    return out
_e.Embedder._embed = _hash_embed
"""


def run_cli(args: list[str], tree: Path | None = None, env: dict[str, str] | None = None,
            pid_out: list[int] | None = None, stage_peaks: bool = False, hash_embed: bool = False,
            stage_cpu: bool = False) -> dict[str, Any]:
    """`curator ARGS` in a subprocess (of ``tree``'s code when given): seconds and peak RSS (MiB);
    with ``stage_peaks`` also each stage's own peak RSS and the RSS it leaves behind."""
    code = ("import sys, resource; sys.argv = ['curator'] + sys.argv[1:]\n"
            + (f"sys.path.insert(0, {str(tree)!r})\n" if tree else "")
            + (_STAGE_PEAKS if stage_peaks else "") + (_HASH_EMBED if hash_embed else "")
            + (_STAGE_CPU if stage_cpu else "")
            + "from curator.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
            "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(code)\n")
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "CURATOR_CACHE_DIR": "off",
                **(env or {})}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if pid_out is not None:
        pid_out.append(proc.pid)
    stdout, stderr = proc.communicate()
    p = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"curator {' '.join(args)} failed:\n{p.stderr[-3000:]}")
    rss = [int(line.split()[1]) for line in p.stderr.splitlines() if line.startswith("MAXRSS_KB")]
    out: dict[str, Any] = {"seconds": dt, "peak_rss_mib": rss[-1] / 1024 if rss else float("nan")}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["cpu_s_children_total"] = usage.ru_utime + usage.ru_stime  # cumulative over this script's children
    for line in p.stderr.splitlines():
        if line.startswith("STAGE_CPU "):
            out["stages_cpu"] = json.loads(line.split(" ", 1)[1])
        if line.startswith("STAGE_PEAKS "):
            out["stages_rss"] = json.loads(line.split(" ", 1)[1])
            # resetting the peak mark for a stage also resets what getrusage reports at the end
            out["peak_rss_mib"] = max([out["peak_rss_mib"], *(v["peak_mib"] for v in out["stages_rss"].values())])
    return out


def same_outputs(a: Path, b: Path) -> bool:
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in ("kept.jsonl", "dropped.jsonl", "summary.json"))


def build_index(work: Path, tree: Path | None = None, precision: str | None = None) -> Path:
    idx = work / (("index-base" if tree else "index") + (f"-{precision}" if precision else ""))
    run_cli(["index", "build", str(ROOT / "examples/halueval_demo/sources.jsonl"), "--out", str(idx),
             "--id-field", "id", "--force", *(["--precision", precision] if precision else [])], tree)
    return idx


def oldnew(n: int, work: Path, backends: tuple[str, ...] = ("torch",)) -> list[dict[str, float | str]]:
    base = work / "base"
    if not base.exists():
        base.mkdir()
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", BASE_COMMIT, "curator"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=tar.stdout, check=True)
    pairs = work / "pairs.jsonl"
    make_rows(n, pairs)
    rows: list[dict[str, float | str]] = []
    runs = [("base 15c4de6", base, None)] + [(f"this tree ({b})", None, b) for b in backends]
    for name, tree, backend in runs:
        idx = build_index(work, tree)
        # "torch/1": backend torch with --embed-workers 1 (one batch at a time, as before 2026-11-30)
        extra = ["--embed-backend", backend.split("/")[0]] if backend else []
        if backend and "/" in backend:
            extra += ["--embed-workers", backend.split("/")[1]]
        out = work / f"out-{name[:4]}{(backend or '').replace('/', '_w')}"
        r = run_cli(["-q", "run", str(pairs), "--index", str(idx), "-o", str(out), "--no-report", *extra], tree)
        first = work / f"out-this{(backends[0]).replace('/', '_w')}"
        same = {"same_bytes_as_first_tree_run": same_outputs(out, first)} if tree is None and out != first else {}
        rows.append({"code": name, "rows": n, **r, "rows_per_s": n / r["seconds"], **same, "load": uptime()})
        print(rows[-1], flush=True)
    return rows


def real_slice(real: Path, rows: int | None, out: Path) -> Path:
    """Write to ``out`` the non-empty lines of ``real`` (.jsonl or .jsonl.gz), or with ``rows`` a
    stratified slice of that many: evenly spaced over the file, so every part of a file
    concatenated from several sources is in it."""
    import gzip

    opener = gzip.open if real.suffix == ".gz" else open
    with opener(real, "rt", encoding="utf-8") as fh:
        lines = [x for x in fh if x.strip()]
    if rows and rows < len(lines):
        lines = [lines[int(i * len(lines) / rows)] for i in range(rows)]
    out.write_text("".join(lines), encoding="utf-8")
    return out


def real_oldnew(real: Path, ref: str, index: str, work: Path, precisions: list[str], repeats: int,
                rows: int | None) -> dict[str, Any]:
    """`curator run FILE --index INDEX` with the code of ``ref`` (git archive of its curator/) and
    with this tree at each of ``precisions`` ("default" = no --precision flag), interleaved
    ``repeats`` times; per stage the median wall and process-CPU seconds and the ratio old/new.
    ``rows``: a stratified slice of that many rows (evenly spaced over the file, so every part of
    a file concatenated from several sources is in it)."""
    import statistics

    pairs = real_slice(real, rows, work / "real.jsonl")
    n_rows = len(pairs.read_text(encoding="utf-8").splitlines())
    base = base_tree(work, ref)
    runs: list[tuple[str, Path | None, list[str]]] = [(f"old {ref}", base, [])]
    for prec in precisions:
        runs.append((f"new ({prec})", None, [] if prec == "default" else ["--precision", prec]))
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in runs}
    for rep in range(repeats):
        for name, tree, extra in runs:
            out = work / f"out-{name.split()[0]}-{name.split()[-1].strip('()')}-{rep}"
            r = run_cli(["-q", "run", str(pairs), "--index", index, "-o", str(out), "--no-report", *extra], tree,
                        stage_cpu=True)
            summary = json.loads((out / "summary.json").read_text())
            r.update(load=uptime(), kept=summary["kept"], precision=summary.get("embed_precision", "fp32"),
                     verdicts=summary["stages"].get("grounding", {}).get("verdicts"))
            results[name].append(r)
            print(name, {k: r[k] for k in ("seconds", "peak_rss_mib", "stages_cpu", "kept", "verdicts", "load")},
                  flush=True)
    stages = ("quality", "grounding", "dedup", "select")

    def med(name: str, stage: str, key: str) -> float:
        vals = [r["stages_cpu"][stage][key] for r in results[name] if stage in r.get("stages_cpu", {})]
        return statistics.median(vals) if vals else float("nan")

    def total(name: str, key: str) -> float:
        return statistics.median([sum(v[key] for v in r["stages_cpu"].values()) for r in results[name]])

    old = runs[0][0]
    print(f"\n{n_rows} rows of {real.name}, index {index}, {repeats} interleaved repeat(s), "
          f"medians; ratio = old / new (> 1: new is faster); load {uptime()}")
    print("| stage | " + " | ".join(f"{n} wall s | {n} CPU s" for n, _, _ in runs) + " | "
          + " | ".join(f"ratio wall / CPU, {n}" for n, _, _ in runs[1:]) + " |")
    print("|---|" + "---|---|" * len(runs) + "---|" * (len(runs) - 1))
    table: dict[str, Any] = {}
    for stage in (*stages, "all stages"):
        cells, ratios = [], []
        for name, _, _ in runs:
            w = total(name, "wall_s") if stage == "all stages" else med(name, stage, "wall_s")
            c = total(name, "cpu_s") if stage == "all stages" else med(name, stage, "cpu_s")
            cells.append(f"{w:.1f} | {c:.1f}")
            table.setdefault(stage, {})[name] = {"wall_s": w, "cpu_s": c}
        for name, _, _ in runs[1:]:
            o, n = table[stage][old], table[stage][name]
            ratios.append(f"{o['wall_s'] / n['wall_s']:.2f}x / {o['cpu_s'] / n['cpu_s']:.2f}x"
                          if n["wall_s"] and n["cpu_s"] else "-")
        print(f"| {stage} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    whole = {name: statistics.median([r["seconds"] for r in results[name]]) for name, _, _ in runs}
    print("| whole process (wall) | " + " | ".join(f"{whole[n]:.1f} | -" for n, _, _ in runs) + " | "
          + " | ".join(f"{whole[old] / whole[n]:.2f}x / -" for n, _, _ in runs[1:]) + " |", flush=True)
    return {"rows": n_rows, "ref": ref, "index": index, "runs": results, "table": table, "whole_wall_s": whole}


def ray_bench(n: int, work: Path) -> list[dict[str, float | str | bool]]:
    pairs = work / "pairs.jsonl"
    if not pairs.exists():
        make_rows(n, pairs)
    idx = work / "index"
    if not (idx / "manifest.json").exists():
        build_index(work)
    rows: list[dict[str, float | str | bool]] = []
    for name, extra in (("local", []), ("ray, 1 worker", ["--engine", "ray", "--workers", "1"]),
                        ("ray, 2 workers", ["--engine", "ray", "--workers", "2"])):
        out = work / ("out-" + name.replace(" ", "").replace(",", "-"))
        peaks: dict[int, int] = {}
        root: list[int] = []
        stop = threading.Event()
        th = threading.Thread(target=watch_workers, args=(stop, peaks, root), daemon=True)
        th.start()
        r = run_cli(["-q", "run", str(pairs), "--index", str(idx), "-o", str(out), "--no-report", *extra],
                    pid_out=root)
        stop.set()
        th.join()
        worker = max(peaks.values(), default=0) / 1024
        rows.append({"engine": name, "rows": n, **r, "rows_per_s": n / r["seconds"],
                     "max_worker_rss_mib": worker, "ray_processes": len(peaks),
                     "identical_to_local": same_outputs(work / "out-local", out), "load": uptime()})
        print(rows[-1], flush=True)
    return rows


def tiny_model(path: Path) -> Path:
    """A stand-in sentence-transformers folder for memory runs: MiniLM's tokenizer, a 1-layer BERT
    with hidden size 32 (random weights, seed 0), mean pooling and a dense layer to 384 dims.
    Memory per row depends on the vector width (384, as all-MiniLM-L6-v2) and the row count,
    not on the depth of the model; this one embeds ~50x faster, so a million rows fit in a run."""
    if (path / "modules.json").exists():
        return path
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    from curator.embed import resolve_model

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(resolve_model(None))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512)
    tf = path.parent / (path.name + "-transformer")
    bert = BertModel(cfg)
    with torch.no_grad():
        # Word vectors dominate (no shared position/type component, no output bias): unrelated
        # random-word texts then land at cosine ~0 +- 0.2 and copies near 1, like a real model's
        # spread, instead of every text sharing one direction (which made 80% of rows "semantic
        # duplicates" in a first try).
        bert.embeddings.word_embeddings.weight.normal_(0.0, 1.0)
        bert.embeddings.position_embeddings.weight.zero_()
        bert.embeddings.token_type_embeddings.weight.zero_()
    bert.save_pretrained(tf, safe_serialization=True)
    tok.save_pretrained(tf)
    st = SentenceTransformer(modules=[models.Transformer(str(tf), max_seq_length=256),
                                      models.Pooling(32, "mean"),
                                      models.Dense(32, 384, bias=False, activation_function=torch.nn.Identity())])
    st.save(str(path), safe_serialization=True)
    return path


def synthetic_rows(n: int, path: Path) -> dict[str, float]:
    """n Alpaca-format rows of random words (a 5,000-word made-up vocabulary, seed 0):
    instructions of 5-20 words, responses of 20-120; 3% exact copies of an earlier row and 2%
    near copies (one word of the instruction changed). Random words keep near-duplicate
    candidates and semantic pairs rare, as in real data; templated rows would not."""
    rng = random.Random(0)
    syl = ["ka", "lo", "mi", "tru", "sen", "pa", "dor", "vi", "ne", "shu", "ga", "rel", "bo", "ti", "qua", "zen"]
    vocab = sorted({"".join(rng.choice(syl) for _ in range(rng.randint(1, 4))) for _ in range(20000)})[:5000]
    chars = 0
    rows: list[dict[str, str]] = []
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            u = rng.random()
            if rows and u < 0.03:
                r = dict(rows[rng.randrange(len(rows))])
            elif rows and u < 0.05:
                r = dict(rows[rng.randrange(len(rows))])
                w = r["instruction"].split()
                w[rng.randrange(len(w))] = rng.choice(vocab)
                r["instruction"] = " ".join(w)
            else:
                r = {"instruction": " ".join(rng.choices(vocab, k=rng.randint(5, 20))).capitalize() + "?",
                     "input": "", "output": " ".join(rng.choices(vocab, k=rng.randint(20, 120))).capitalize() + "."}
            if len(rows) < 20000:  # copies come from a window of earlier rows (bounded memory)
                rows.append(r)
            else:
                rows[i % 20000] = r
            line = json.dumps(r)
            chars += len(line)
            fh.write(line + "\n")
    return {"mean_row_bytes": chars / max(n, 1)}


def base_tree(work: Path, commit: str) -> Path:
    """``curator/`` of ``commit`` (git archive), to run older code next to this tree."""
    base = work / f"base-{commit}"
    if not base.exists():
        base.mkdir()
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "curator"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=tar.stdout, check=True)
    return base


def memory(sizes: list[int], work: Path, model: str = "tiny", embed: str = "model",
           base: str | None = None, min_relevance: float | None = None) -> list[dict[str, float | str]]:
    """`curator run` quality -> dedup -> select (10% budget), no index, on synthetic rows;
    ``embed="hash"``: vectors from the text's hash (see _HASH_EMBED), the model only loaded.
    ``base``: also run the code of that commit on the same rows (first) and say whether
    kept.jsonl, dropped.jsonl and summary.json are byte-identical. ``min_relevance``: the quality
    step's off-topic threshold (-1 keeps every row: hash vectors make prompt and response
    unrelated, so the default drops about half the rows as off-topic before dedup)."""
    model_path = str(tiny_model(work / "tiny-model")) if model == "tiny" else model
    rows: list[dict[str, float | str]] = []
    for n in sizes:
        pairs = work / f"mem-{n}.jsonl"
        info = synthetic_rows(n, pairs)
        if base is not None:
            rows.extend(_memory_run(n, pairs, info, work / f"mem-out-{n}-{base}", model, model_path, embed,
                                    base_tree(work, base), base, min_relevance))
        rows.extend(_memory_run(n, pairs, info, work / f"mem-out-{n}", model, model_path, embed,
                                min_relevance=min_relevance))
        if base is not None:
            rows[-1]["identical_to_base"] = same_outputs(work / f"mem-out-{n}-{base}", work / f"mem-out-{n}")
            print({"rows": n, "identical_to_base": rows[-1]["identical_to_base"]}, flush=True)
    mine = [r for r in rows if r.get("code") == "this tree"]
    if len(mine) >= 2:
        a, b = mine[-2], mine[-1]
        slope = (b["peak_rss_mib"] - a["peak_rss_mib"]) / (b["rows"] - a["rows"])  # type: ignore[operator]
        fixed = a["peak_rss_mib"] - slope * a["rows"]  # type: ignore[operator]
        rows.append({"projection": f"line through the two largest runs ({a['rows']}, {b['rows']} rows)",
                     "kib_per_row": slope * 1024, "fixed_mib": fixed,
                     "projected_1M_gib": (fixed + slope * 1_000_000) / 1024})
        print(rows[-1], flush=True)
    return rows


def _memory_run(n: int, pairs: Path, info: dict[str, float], out: Path, model: str, model_path: str, embed: str,
                tree: Path | None = None, code: str = "this tree",
                min_relevance: float | None = None) -> list[dict[str, Any]]:
    if out.exists():  # never resume from an earlier run's checkpoints
        import shutil

        shutil.rmtree(out)
    toml = out.parent / f"{out.name}.toml"
    toml.write_text(f'[input]\npath = "{pairs}"\n[output]\ndir = "{out}"\nreport = false\n'
                    + (f'[embedder]\nmodel = "{model_path}"\n' if model != "default" else "")
                    + '[[steps]]\ntype = "quality"\n'
                    + (f"min_relevance = {min_relevance}\n" if min_relevance is not None else "")
                    + '[[steps]]\ntype = "dedup"\n'
                    f'[[steps]]\ntype = "select"\nbudget = {max(1, n // 10)}\n')
    # One torch thread: on a shared, oversubscribed box two threads ran this model 15-20x
    # slower than one (they spin-wait on each other); memory does not depend on it.
    r = run_cli(["-q", "run", str(toml)], tree, env={"OMP_NUM_THREADS": "1"}, stage_peaks=True,
                hash_embed=embed == "hash")
    stages = json.loads((out / "timings.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    row = {"code": code, "rows": n, "model": model, "embed": embed, "min_relevance": min_relevance, **info, **r,
           "rows_per_s": n / r["seconds"], "kept": summary["kept"], "stage_seconds": stages, "load": uptime()}
    print(row, flush=True)
    return [row]


# ---------------------------------------------------------------------------------------------
def backends_bench(other: str, texts_from: str, repeats: int, threads: int) -> dict[str, Any]:
    """torch (fp32) vs ``other`` on the same texts, interleaved: torch, other, torch, other, ..."""
    import statistics

    import numpy as np
    import torch

    from curator.embed import Embedder

    torch.set_num_threads(threads)
    texts = _instruction_sentences(2000) if texts_from == "instructions" else _demo_texts()
    with tempfile.TemporaryDirectory() as tmp:
        torch_e = Embedder(cache=False, device="cpu")
        other_e = Embedder(cache=False, device="cpu", backend=other, cache_dir=tmp)
        torch_e.encode(texts[:4])
        t0 = time.perf_counter()
        other_e.encode(texts[:4])
        first = time.perf_counter() - t0
        times: dict[str, list[float]] = {"torch": [], "other": []}
        vecs = {}
        loads = [os.getloadavg()[0]]
        for _ in range(repeats):
            for name, e in (("torch", torch_e), ("other", other_e)):
                t0 = time.perf_counter()
                vecs[name] = e.encode(texts)
                times[name].append(time.perf_counter() - t0)
            loads.append(os.getloadavg()[0])
    a, b = vecs["torch"], vecs["other"]
    sa, sb = a @ a.T, b @ b.T
    agree = float(np.mean([len(set(np.argsort(-sa[i])[1:11]) & set(np.argsort(-sb[i])[1:11])) / 10
                           for i in range(len(texts))]))
    mt, mo = statistics.median(times["torch"]), statistics.median(times["other"])
    print(f"{len(texts)} texts, batch {torch_e.batch_size}, {threads} threads, {repeats} interleaved repeats, "
          f"load average {min(loads):.1f}-{max(loads):.1f}")
    print("| backend | median s | texts/s | runs (s) |")
    print("|---|---|---|---|")
    label = {"onnx": "onnx (ONNX Runtime)", "torch-bf16": "torch-bf16 (bfloat16 autocast)"}[other]
    for name, key, m in (("torch (sentence-transformers)", "torch", mt), (label, "other", mo)):
        print(f"| {name} | {m:.1f} | {len(texts) / m:.1f} | {', '.join(f'{x:.1f}' for x in times[key])} |")
    out = {"texts": len(texts), "other": other, "torch_s": mt, "other_s": mo, "speedup": mt / mo, "first_call_s": first,
           "max_abs_diff": float(np.abs(a - b).max()), "min_cosine": float((a * b).sum(1).min()),
           "top10_shared": agree, "load": [min(loads), max(loads)]}
    print(f"\nspeed-up {other}/torch: {mt / mo:.2f}x; first {other} call: {first:.1f} s")
    print(f"max |torch - {other}| over all vector components: {out['max_abs_diff']:.2e}; "
          f"smallest cosine: {out['min_cosine']:.5f}; top-10 neighbours shared: {agree:.4f}", flush=True)
    return out


def precision_verdicts(limit: int, work: Path) -> dict[str, Any]:
    """bf16 vs fp32 on the grounding dev sets (own source, ``limit`` rows each, the shipped
    threshold) and on the demo run (``curator run`` with its index, budget 100): verdicts that
    change, AUROC at each precision, CPU seconds of each scoring."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from curator.embed import Embedder
    from curator.grounding import GroundingScorer, PairInput

    out: dict[str, Any] = {}
    print("| set | rows | verdicts changed | of which flagged <-> not | AUROC fp32 | AUROC bf16 | CPU s fp32 | CPU s bf16 |")
    print("|---|---|---|---|---|---|---|---|")
    for name in DATASETS:
        try:
            rows = load(name, limit)
        except SystemExit:
            continue
        pairs = [PairInput(r.get("prompt") or "", r["response"] or "", r["source"]) for r in rows]
        y = np.array([int(r["hallucinated"]) for r in rows])
        res = {}
        for prec in ("fp32", "bf16"):
            t = time.process_time()
            got = GroundingScorer(embedder=Embedder(cache=False, precision=prec)).score(pairs)
            res[prec] = (got, time.process_time() - t)
        a, b = res["fp32"][0], res["bf16"][0]
        changed = sum(x.verdict != z.verdict for x, z in zip(a, b))
        flips = sum(bool(x.hallucinated) != bool(z.hallucinated) for x, z in zip(a, b))
        auc = {k: float(roc_auc_score(y, np.nan_to_num([g.hallucination_prob for g in v[0]], nan=0.5)))
               for k, v in res.items()}
        out[name] = {"rows": len(rows), "verdicts_changed": changed, "flag_flips": flips, "auroc": auc,
                     "cpu_s": {k: v[1] for k, v in res.items()}}
        print(f"| {name} | {len(rows)} | {changed} | {flips} | {auc['fp32']:.4f} | {auc['bf16']:.4f} | "
              f"{res['fp32'][1]:.1f} | {res['bf16'][1]:.1f} |", flush=True)
    runs = {}
    for prec in ("fp32", "bf16"):
        idx = build_index(work, precision=prec)
        dest = work / f"demo-{prec}"
        run_cli(["-q", "run", str(ROOT / "examples/halueval_demo/pairs.jsonl"), "--index", str(idx), "--budget", "100",
                 "-o", str(dest), "--no-report", "--precision", prec])
        runs[prec] = {json.loads(x)["id"]: json.loads(x)["curator"] for f in ("kept.jsonl", "dropped.jsonl")
                      for x in (dest / f).read_text().splitlines()}
    a, b = runs["fp32"], runs["bf16"]
    demo = {"rows": len(a),
            "verdicts_changed": sum(a[k].get("grounding_verdict") != b[k].get("grounding_verdict") for k in a),
            "kept_or_dropped_changed": sum((a[k].get("drop_stage"), a[k].get("drop_reason"))
                                           != (b[k].get("drop_stage"), b[k].get("drop_reason")) for k in a)}
    out["demo_run"] = demo
    print(f"\ndemo run (index and run at one precision each, budget 100): {demo}", flush=True)
    return out


def _demo_texts() -> list[str]:
    demo = ROOT / "examples" / "halueval_demo"
    texts = [r["question"] for r in read_jsonl(demo / "pairs.jsonl")]
    texts += [r["text"] for r in read_jsonl(demo / "sources.jsonl")]
    return list(dict.fromkeys(texts))


def _instruction_sentences(n: int) -> list[str]:
    """Distinct response sentences of make_rows' instruction rows (needs ../shared/data)."""
    from curator.text import split_sentences

    path = Path(tempfile.mkdtemp(prefix="curator-backends-")) / "rows.jsonl"
    make_rows(max(400, n // 5), path)
    sents = (s for r in read_jsonl(path) for s in split_sentences(r["output"]) if s.strip())
    return list(dict.fromkeys(sents))[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="roofline,embed,oldnew,ray,memory",
                    help="comma-separated, of: roofline, embed, batch, forward, padding, pairquery, oldnew, ray, "
                         "memory, backends, precision")
    ap.add_argument("--texts", type=int, default=1500, help="texts for the embedding benchmark")
    ap.add_argument("--batch-sizes", default="8,16,32,64")
    ap.add_argument("--workers", default="1,auto", help="embed, batch: Embedder workers to run per batch size (1, 2, auto)")
    ap.add_argument("--long-texts", action="store_true", help="embed: whole responses instead of sentences")
    ap.add_argument("--lengths", default="16,24,32,64,128,256", help="forward: token lengths of the full batches")
    ap.add_argument("--rows", type=int, default=600, help="rows of the old/new and Ray runs")
    ap.add_argument("--backends", default="torch",
                    help="oldnew: this tree's embed backends to run, e.g. torch,torch-bf16; torch/1 = with --embed-workers 1")
    ap.add_argument("--mem-rows", default="10000,50000,100000")
    ap.add_argument("--mem-model", default="tiny",
                    help="memory part: 'tiny' (stand-in 384-d model built here), 'default' or a model folder")
    ap.add_argument("--mem-base", default=None,
                    help="memory part: also run this commit's code on the same rows and compare the outputs")
    ap.add_argument("--mem-embed", default="model", choices=["model", "hash"],
                    help="memory part: vectors from the model, or from each text's hash (model loaded, not run)")
    ap.add_argument("--mem-min-relevance", type=float, default=None,
                    help="memory part: the quality step's min_relevance (-1: no row is off-topic; default: the step's)")
    ap.add_argument("--other", choices=["onnx", "torch-bf16"], default="onnx", help="backends: the backend compared with torch")
    ap.add_argument("--backend-texts", choices=["demo", "instructions"], default="demo", help="backends: which texts")
    ap.add_argument("--repeats", type=int, default=3, help="backends: interleaved repeats")
    ap.add_argument("--limit", type=int, default=300, help="precision: rows per grounding dev set")
    ap.add_argument("--real", default=None,
                    help="a real pairs file (.jsonl or .jsonl.gz): run old (--ref) and new code on it, per-stage ratios; "
                         "replaces --parts")
    ap.add_argument("--ref", default="3a5da12", help="--real: the old code's commit")
    ap.add_argument("--index", default=None,
                    help="--real: index name or folder (default: the wiki_demo.txt index built from ../shared/data/perf/)")
    ap.add_argument("--real-rows", type=int, default=None,
                    help="--real: a stratified slice of this many rows (evenly spaced over the file); default all")
    ap.add_argument("--precisions", default="default,fp32",
                    help="--real: this tree's runs, comma-separated: default (no flag), fp32, bf16")
    ap.add_argument("--real-repeats", type=int, default=1, help="--real: interleaved repeats (medians)")
    ap.add_argument("--threads", type=int, default=2, help="backends: torch threads")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--json", default=None, help="also write every number to this file")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parts = a.parts.split(",")
    work = Path(a.work or tempfile.mkdtemp(prefix="curator-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    res: dict[str, object] = {"load_at_start": uptime(), "cpus": os.cpu_count()}
    if a.real:
        index = a.index
        if index is None:
            src = data_dir() / "perf" / "wiki_demo.txt.gz"
            if not src.exists():
                print(f"skipped: {src} not found; pass --index or set CURATOR_DATA_DIR.")
                return
            import gzip

            txt = work / "wiki_demo.txt"
            txt.write_bytes(gzip.decompress(src.read_bytes()))
            # built by the new code at fp32, so both codes and both precisions read the same index
            run_cli(["index", "build", str(txt), "--out", str(work / "wiki-index"), "--force", "--precision", "fp32"])
            index = str(work / "wiki-index")
        res["real"] = real_oldnew(Path(a.real), a.ref, index, work, a.precisions.split(","), a.real_repeats,
                                  a.real_rows)
        if a.json:
            Path(a.json).write_text(json.dumps(res, indent=1))
        return
    ceiling = float("nan")
    if "roofline" in parts or "embed" in parts:
        res["roofline"] = rf = roofline()
        ceiling = max(v for k, v in rf.items() if k != "threads")
        print("roofline GFLOP/s:", rf, flush=True)
    if "embed" in parts:
        res["embed"] = embed_bench(a.texts, [int(x) for x in a.batch_sizes.split(",")], ceiling,
                                   [None if w == "auto" else int(w) for w in a.workers.split(",")], a.long_texts)
    if "batch" in parts:
        res["batch"] = batch_large(a.texts, [int(x) for x in a.batch_sizes.split(",")],
                                   workers=[None if w == "auto" else int(w) for w in a.workers.split(",")])
    if "forward" in parts:
        res["forward"] = forward_bench([int(x) for x in a.lengths.split(",")])
    if "padding" in parts:
        res["padding"] = padding_work(a.rows, work)
    if "pairquery" in parts:
        res["pairquery"] = pair_query_work(a.rows, work)
    if "oldnew" in parts:
        res["oldnew"] = oldnew(a.rows, work, tuple(a.backends.split(",")))
    if "ray" in parts:
        res["ray"] = ray_bench(a.rows, work)
    if "memory" in parts:
        res["memory"] = memory([int(x) for x in a.mem_rows.split(",")], work, a.mem_model, a.mem_embed, a.mem_base,
                               a.mem_min_relevance)
    if "backends" in parts:
        res["backends"] = backends_bench(a.other, a.backend_texts, a.repeats, a.threads)
    if "precision" in parts:
        res["precision"] = precision_verdicts(a.limit, work)
    res["self_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
