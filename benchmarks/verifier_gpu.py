"""The verifier's GPU half: a packed training set in, a trained adapter and scores out.

Imports numpy, torch, safetensors and transformers only (never curator), so it runs on a lent GPU
machine that has nothing else. ``benchmarks/verifier_train.py --pack`` writes the pack on the CPU,
``--device-run`` calls :func:`device_train` there, ``--merge`` folds the result back here.

Why an adapter and a 4-bit base. A device call carries at most 64 MiB to the machine and brings
at most 64 MiB back (16 MiB a file). all-mpnet-base-v2 is 110M parameters: 418 MiB in float32,
104 MiB even in int8, so neither the base nor a fully fine-tuned model fits one call either way.
The pack therefore carries the frozen base in NF4 (4-bit normal-float codes, one float16 absmax per
block of 64 weights, as QLoRA stores its base) and only the word-embedding rows the data uses;
training updates low-rank adapters (LoRA, rank ``--lora-r``) on every linear layer of the encoder
plus all biases, LayerNorms and the fresh classification head (BitFit-style). What comes back is
that update (~11 MB in float16); ``--merge`` adds it to the same dequantised base here, which gives
exactly the function that was trained, and saves a plain ``*ForSequenceClassification`` folder
(float16 or float32 safetensors) that :class:`curator.grounding.GroundingVerifier` loads and
quantises to int8 on the CPU. (LoRA matches full fine-tuning of RoBERTa-base on MNLI, 87.5 vs 87.6
in Hu et al. 2021; an NF4 base + LoRA matches 16-bit full fine-tuning on GLUE in Dettmers et al.
2023.)

Pack layout (``gpu/`` travels; ``local/`` stays here):

* ``gpu/manifest.json``: special-token template, max_length, counts, quantisation, sha256 of files;
* ``gpu/config.json``: the model config (one label, ``unsupported``);
* ``gpu/base.safetensors``: the quantised base (see :func:`quantize_state`);
* ``gpu/tokens.npz.xz``: unique token segments (uint16) and the (evidence, claim, label) index
  triples of the train / dev / eval splits.

Budget: the first ``--measure-seconds`` of training (LR warm-up, then the peak rate) measure
steps/s; the rest of the schedule (linear decay to 0) is sized from that rate to end inside
``--budget-minutes``, and never beyond ``--max-epochs``.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: QLoRA's NF4 code book: the 16 quantiles of N(0, 1), scaled to [-1, 1], with an exact zero.
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], dtype=np.float32)
PACK_VERSION = 1


# ---------------------------------------------------------------------------------------------
# NF4 (numpy to write, numpy or torch to read)
# ---------------------------------------------------------------------------------------------
def nf4_quantize(w: np.ndarray, block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(packed codes uint8, two per byte; absmax float16 per block) of ``w`` (any shape)."""
    flat = np.asarray(w, dtype=np.float32).ravel()
    flat = np.pad(flat, (0, (-len(flat)) % (2 * block)))
    blocks = flat.reshape(-1, block)
    absmax = np.abs(blocks).max(axis=1).astype(np.float16)
    scale = absmax.astype(np.float32)
    scale[scale == 0] = 1.0
    mids = (NF4[1:] + NF4[:-1]) / 2
    codes = np.searchsorted(mids, blocks / scale[:, None]).astype(np.uint8).ravel()
    return (codes[0::2] << 4) | codes[1::2], absmax


def nf4_dequantize(packed: np.ndarray, absmax: np.ndarray, shape: tuple[int, ...], block: int = 64) -> np.ndarray:
    """float32 array of ``shape`` from :func:`nf4_quantize`'s output."""
    codes = np.stack([packed >> 4, packed & 15], axis=-1).ravel()
    vals = NF4[codes].reshape(-1, block) * absmax.astype(np.float32)[:, None]
    return vals.ravel()[: int(np.prod(shape))].reshape(shape)


def nf4_dequantize_torch(packed: Any, absmax: Any, shape: tuple[int, ...], block: int = 64) -> Any:
    import torch

    table = torch.tensor(NF4, device=packed.device)
    codes = torch.stack([packed >> 4, packed & 15], dim=-1).reshape(-1).long()
    vals = table[codes].reshape(-1, block) * absmax.float()[:, None]
    return vals.reshape(-1)[: math.prod(shape)].reshape(shape)


def quantize_state(state: dict[str, np.ndarray], quantized: set[str], rows: np.ndarray | None,
                   emb_key: str | None, block: int = 64) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The tensors of ``base.safetensors`` and their index (safetensors metadata).

    Names in ``quantized`` (the encoder's linear weights) become NF4; ``emb_key`` (the word
    embeddings) keeps only ``rows`` (the ids the data uses), NF4 too; everything else float16."""
    out: dict[str, np.ndarray] = {}
    index: dict[str, Any] = {}
    for name, w in state.items():
        if name == emb_key and rows is not None:
            # blocks never straddle two rows, so a row's codes do not depend on which rows travel
            rb = block if w.shape[1] % block == 0 else int(w.shape[1])
            packed, absmax = nf4_quantize(w[rows], rb)
            out[name + ".nf4"], out[name + ".absmax"], out[name + ".rows"] = packed, absmax, rows.astype(np.int32)
            index[name] = {"kind": "nf4_rows", "shape": list(w.shape), "rows_shape": [len(rows), w.shape[1]],
                           "block": rb}
        elif name in quantized:
            packed, absmax = nf4_quantize(w, block)
            out[name + ".nf4"], out[name + ".absmax"] = packed, absmax
            index[name] = {"kind": "nf4", "shape": list(w.shape)}
        else:
            out[name] = np.ascontiguousarray(w, dtype=np.float16)
            index[name] = {"kind": "f16", "shape": list(w.shape)}
    return out, {"block": block, "tensors": index}


def dequantize_state(path: str | Path, device: str = "cpu") -> dict[str, Any]:
    """float32 torch tensors (full shapes) from a ``base.safetensors``; word-embedding rows that did
    not travel are zeros."""
    import torch
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device=device) as fh:
        meta = json.loads(fh.metadata()["index"])
        block = int(meta["block"])
        out: dict[str, Any] = {}
        for name, spec in meta["tensors"].items():
            shape = tuple(spec["shape"])
            if spec["kind"] == "f16":
                out[name] = fh.get_tensor(name).float()
            elif spec["kind"] == "nf4":
                out[name] = nf4_dequantize_torch(fh.get_tensor(name + ".nf4"), fh.get_tensor(name + ".absmax"), shape,
                                                 block)
            else:  # nf4_rows
                full = torch.zeros(shape, dtype=torch.float32, device=device)
                rows = fh.get_tensor(name + ".rows").long()
                full[rows] = nf4_dequantize_torch(fh.get_tensor(name + ".nf4"), fh.get_tensor(name + ".absmax"),
                                                  tuple(spec["rows_shape"]), int(spec.get("block", block)))
                out[name] = full
    return out


# ---------------------------------------------------------------------------------------------
# token segments -> padded inputs
# ---------------------------------------------------------------------------------------------
def assemble(seg_tok: np.ndarray, seg_off: np.ndarray, ev: np.ndarray, cl: np.ndarray,
             tmpl: dict[str, Any], max_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input_ids int32 [n, L], token_type_ids int8 [n, L], lengths int32 [n]) of the pairs
    (evidence segment ``ev[i]``, claim segment ``cl[i]``) laid out as the tokenizer lays out a
    pair: ``prefix evidence mid claim suffix``, padded with ``pad``. The longer side is cut first
    (the tokenizer's ``longest_first``; on a tie the claim)."""
    pre, mid, suf = tmpl["prefix"], tmpl["mid"], tmpl["suffix"]
    budget = max_length - len(pre) - len(mid) - len(suf)
    n = len(ev)
    la = (seg_off[ev + 1] - seg_off[ev]).astype(np.int64)
    lb = (seg_off[cl + 1] - seg_off[cl]).astype(np.int64)
    # longest_first in closed form: the longer side is cut down to the shorter one's length, then
    # both lose a token in turn, the claim first (the tokenizer cuts the second side on a tie)
    over = np.maximum(0, la + lb - budget)
    first = np.minimum(over, np.abs(la - lb))
    rest = over - first
    cut_a = np.where(la > lb, first, 0) + rest // 2
    cut_b = np.where(la > lb, 0, first) + rest - rest // 2
    na, nb = la - cut_a, lb - cut_b
    lengths = (na + nb + len(pre) + len(mid) + len(suf)).astype(np.int32)
    L = int(lengths.max()) if n else 0
    ids = np.full((n, L), int(tmpl["pad"]), dtype=np.int32)
    tt = np.zeros((n, L), dtype=np.int8)
    for i in range(n):
        a = seg_tok[seg_off[ev[i]]: seg_off[ev[i]] + na[i]]
        b = seg_tok[seg_off[cl[i]]: seg_off[cl[i]] + nb[i]]
        row = np.concatenate([pre, a, mid, b, suf]).astype(np.int32)
        ids[i, : len(row)] = row
        if tmpl.get("type_b"):
            tt[i, len(pre) + len(a) + len(mid): len(row)] = 1
    return ids, tt, lengths


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Rank AUROC (ties averaged) without scikit-learn; nan with one class."""
    y = np.asarray(y).astype(bool)
    if y.all() or not y.any():
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    ss = np.asarray(s)[order]
    i = 0
    while i < len(ss):
        j = i
        while j + 1 < len(ss) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n1, n0 = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def load_tokens(pack: Path) -> dict[str, np.ndarray]:
    """The arrays of ``pack/tokens.npz.xz`` (no pickle)."""
    with np.load(io.BytesIO(lzma.decompress((pack / "tokens.npz.xz").read_bytes())), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# the model: frozen (dequantised) base + LoRA on the encoder's linear layers
# ---------------------------------------------------------------------------------------------
def _lora_class() -> Any:
    import torch
    from torch import nn

    class LoRALinear(nn.Module):
        """``base(x) + scale * B(A(dropout(x)))``; the base weight is frozen, its bias trains."""

        def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float) -> None:
            super().__init__()
            self.base = base
            self.base.weight.requires_grad_(False)
            self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=base.weight.device))
            self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, device=base.weight.device))
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
            self.scale = alpha / r
            self.drop = nn.Dropout(dropout)

        def forward(self, x: Any) -> Any:
            return self.base(x) + (self.drop(x) @ self.lora_A.t() @ self.lora_B.t()) * self.scale

    return LoRALinear


def build_model(pack: Path, device: str, r: int, alpha: float, dropout: float, seed: int,
                base_dtype: Any = None) -> tuple[Any, list[str]]:
    """The classifier of ``pack/config.json`` with the pack's base weights, LoRA on every linear
    layer of the encoder; returns (model, names of the wrapped linears)."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    torch.manual_seed(seed)
    cfg = AutoConfig.from_pretrained(str(pack))
    model = AutoModelForSequenceClassification.from_config(cfg).float()
    state = dequantize_state(pack / "base.safetensors")
    missing, unexpected = model.load_state_dict(state, strict=False)
    bad = [k for k in missing if not k.startswith("classifier")] + list(unexpected)
    if bad:
        raise RuntimeError(f"pack and model disagree on {bad[:5]}")
    for p in model.parameters():
        p.requires_grad_(False)
    lora = _lora_class()
    wrapped: list[str] = []
    prefix = model.base_model_prefix
    encoder = model.base_model.encoder
    for name, mod in list(encoder.named_modules()):
        for child, sub in list(mod.named_children()):
            if isinstance(sub, torch.nn.Linear):
                full = ".".join(x for x in (prefix, "encoder", name, child) if x)
                setattr(mod, child, lora(sub, r, alpha, dropout))
                wrapped.append(full)
    for n, p in model.named_parameters():  # biases, LayerNorms, the head train; weights stay frozen
        if n.startswith("classifier") or n.endswith(".bias") or "LayerNorm" in n or "layer_norm" in n \
                or "lora_" in n:
            p.requires_grad_(True)
    model.to(device)
    if base_dtype is not None:  # frozen base weights in bf16: half the memory traffic
        for n, p in model.named_parameters():
            if n.endswith(".base.weight"):
                p.data = p.data.to(base_dtype)
    return model, wrapped


def trained_state(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(LoRA factors as float16, every other trained tensor as float32), keyed by the plain
    model's parameter names (``x.q.lora_A`` for the factors of linear ``x.q``)."""
    lora, other = {}, {}
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        plain = n.replace(".base.", ".")
        if ".lora_" in n:
            lora[plain] = p.detach().to("cpu").half().contiguous()
        else:
            other[plain] = p.detach().to("cpu").float().contiguous()
    return lora, other


def merge_state(base: dict[str, Any], lora: dict[str, Any], other: dict[str, Any], scale: float) -> dict[str, Any]:
    """``base`` (plain names, float32) with ``W += scale * B @ A`` for every LoRA pair and the other
    trained tensors replaced."""
    out = dict(base)
    for k, v in other.items():
        out[k] = v.float()
    for ka in [k for k in lora if k.endswith(".lora_A")]:
        stem = ka[: -len(".lora_A")]
        a, b = lora[ka].float(), lora[stem + ".lora_B"].float()
        out[stem + ".weight"] = out[stem + ".weight"].float() + scale * (b @ a)
    return out


# ---------------------------------------------------------------------------------------------
# training under a time budget
# ---------------------------------------------------------------------------------------------
def _batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    perm = rng.permutation(len(lengths))
    chunk = batch_size * 32  # sort within chunks of 32 batches: random, yet little padding
    out: list[np.ndarray] = []
    for s in range(0, len(perm), chunk):
        part = perm[s:s + chunk]
        part = part[np.argsort(-lengths[part], kind="stable")]
        out.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    order = rng.permutation(len(out))
    return [out[int(i)] for i in order]


def plan_steps(steps_done: int, elapsed: float, budget_s: float, max_steps: int, margin: float = 0.95) -> int:
    """Total steps of the schedule: what the measured rate fits in the budget, at most ``max_steps``."""
    rate = steps_done / max(elapsed, 1e-9)
    return int(min(max_steps, max(steps_done + 1, steps_done + math.floor(rate * max(0.0, budget_s - elapsed) * margin))))


def score(model: Any, ids: Any, tt: Any, lengths: np.ndarray, device: str, batch_size: int,
          use_types: bool, autocast: bool) -> np.ndarray:
    """sigmoid(logit) per row, input order."""
    import torch

    model.eval()
    out = np.zeros(len(lengths), dtype=np.float32)
    order = np.argsort(-lengths, kind="stable")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            L = int(lengths[idx].max())
            ti = torch.as_tensor(idx, device=ids.device)
            x = ids[ti, :L]
            kw = {"input_ids": x, "attention_mask": (torch.arange(L, device=x.device)[None, :]
                                                      < torch.as_tensor(lengths[idx], device=x.device)[:, None]).long()}
            if use_types:
                kw["token_type_ids"] = tt[ti, :L]
            out[idx] = torch.sigmoid(model(**kw).logits[:, 0].float()).cpu().numpy()
    model.train()
    return out


def device_train(pack_dir: str | Path, out_dir: str | Path, budget_minutes: float = 6.0, device: str = "cuda",
                 batch_size: int = 64, lr: float = 3e-4, head_lr: float | None = None, lora_r: int = 16,
                 lora_alpha: float = 32.0, lora_dropout: float = 0.05, max_epochs: float = 4.0,
                 measure_seconds: float = 60.0, warmup_steps: int = 200, seed: int = 0, bf16: bool = True,
                 limit: int | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the pack's model for at most ``budget_minutes`` and write to ``out_dir``:
    ``adapter.safetensors`` (LoRA float16 + other trained tensors float32), ``dev_p.npy`` and
    ``eval_p.npy`` (P(unsupported) of the pack's dev and eval pairs, pack order) and
    ``train_log.json`` (rates, losses, dev AUROC, versions). Returns the log."""
    import torch
    import transformers
    from safetensors.torch import save_file

    t_all = time.perf_counter()
    pack = Path(pack_dir) / "gpu" if (Path(pack_dir) / "gpu").is_dir() else Path(pack_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    man = json.loads((pack / "manifest.json").read_text("utf-8"))
    for name, digest in man["sha256"].items():
        if sha256(pack / name) != digest:
            raise RuntimeError(f"{pack / name} does not match the manifest's sha256: repack or re-carry it")
    cuda = device.startswith("cuda")
    autocast = bf16 and cuda
    info: dict[str, Any] = {"device": device, "torch": torch.__version__, "transformers": transformers.__version__,
                            "gpu": torch.cuda.get_device_name(0) if cuda else None, "pack": man.get("summary", {}),
                            "budget_minutes": budget_minutes, "batch_size": batch_size, "lr": lr,
                            "lora": {"r": lora_r, "alpha": lora_alpha, "dropout": lora_dropout}, "seed": seed,
                            "bf16": autocast, "max_epochs": max_epochs}
    log(f"[gpu] {info['gpu'] or device}; torch {torch.__version__}, transformers {transformers.__version__}")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    z = load_tokens(pack)
    seg_tok, seg_off = z["seg_tok"], z["seg_off"]
    tmpl = {k: np.array(v, dtype=np.int32) if isinstance(v, list) else v for k, v in man["template"].items()}
    max_length = int(man["max_length"])
    use_types = bool(man["template"].get("type_b"))

    def split(name: str) -> tuple[Any, Any, np.ndarray, np.ndarray | None]:
        ev, cl = z[f"{name}_ev"], z[f"{name}_cl"]
        if limit is not None:
            ev, cl = ev[:limit], cl[:limit]
        y = z[f"{name}_y"][: len(ev)] if f"{name}_y" in z else None
        ids, tt, lengths = assemble(seg_tok, seg_off, ev, cl, tmpl, max_length)
        return torch.as_tensor(ids, device=device), torch.as_tensor(tt.astype(np.int64), device=device), lengths, y

    t0 = time.perf_counter()
    tr_ids, tr_tt, tr_len, tr_y = split("train")
    dv_ids, dv_tt, dv_len, dv_y = split("dev")
    has_eval = "eval_ev" in z
    ev_split = split("eval") if has_eval else None
    assert tr_y is not None
    y_t = torch.as_tensor(tr_y.astype(np.float32), device=device)
    log(f"[gpu] {len(tr_len)} train / {len(dv_len)} dev / {len(ev_split[2]) if ev_split else 0} eval pairs, "
        f"mean {tr_len.mean():.0f} tokens, assembled in {time.perf_counter() - t0:.1f}s")

    t0 = time.perf_counter()
    model, wrapped = build_model(pack, device, lora_r, lora_alpha, lora_dropout, seed,
                                 base_dtype=torch.bfloat16 if autocast else None)
    model.train()
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    info.update(lora_layers=len(wrapped), trainable_params=int(n_train), model_seconds=round(time.perf_counter() - t0, 1))
    log(f"[gpu] model ready in {info['model_seconds']}s: {len(wrapped)} LoRA layers, {n_train / 1e6:.2f}M trainable")

    head_lr = head_lr or lr
    decay, no_decay, head = [], [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if n.startswith("classifier"):
            head.append(p)
        elif ".lora_" in n:
            decay.append(p)
        else:
            no_decay.append(p)
    groups = [{"params": decay, "weight_decay": 0.01, "lr": lr}, {"params": no_decay, "weight_decay": 0.0, "lr": lr},
              {"params": head, "weight_decay": 0.01, "lr": head_lr}]
    opt = torch.optim.AdamW(groups, lr=lr, **({"fused": True} if cuda else {}))
    peak = [g["lr"] for g in opt.param_groups]
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(seed)
    per_epoch = math.ceil(len(tr_len) / batch_size)
    max_steps = max(1, int(max_epochs * per_epoch))
    budget_s = 60.0 * budget_minutes
    total: int | None = None  # set once the rate is measured
    step, ema, losses = 0, 0.0, []
    t_train = time.perf_counter()
    stop = False
    epoch = 0
    while not stop:
        for b in _batches(tr_len, batch_size, rng):
            elapsed = time.perf_counter() - t_train
            if total is None and (elapsed >= min(measure_seconds, budget_s / 3) or step >= max_steps):
                total = plan_steps(step, elapsed, budget_s, max_steps)
                info.update(measured_steps=step, measured_seconds=round(elapsed, 1),
                            steps_per_second=round(step / max(elapsed, 1e-9), 2), planned_steps=total,
                            planned_epochs=round(total / per_epoch, 2))
                log(f"[gpu] measured {info['steps_per_second']} steps/s over {elapsed:.0f}s -> {total} steps "
                    f"({info['planned_epochs']} epochs of {per_epoch})")
            if (total is not None and step >= total) or elapsed > budget_s:
                stop = True
                break
            f = min(1.0, (step + 1) / warmup_steps)
            if total is not None:
                f = min(f, max(0.0, (total - step) / max(1, total - info["measured_steps"])))
            for g, pk in zip(opt.param_groups, peak):
                g["lr"] = pk * f
            L = int(tr_len[b].max())
            ti = torch.as_tensor(b, device=device)
            x = tr_ids[ti, :L]
            kw = {"input_ids": x, "attention_mask": (torch.arange(L, device=device)[None, :]
                                                      < torch.as_tensor(tr_len[b], device=device)[:, None]).long()}
            if use_types:
                kw["token_type_ids"] = tr_tt[ti, :L]
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                logit = model(**kw).logits[:, 0]
            loss = loss_fn(logit.float(), y_t[ti])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
            opt.step()
            step += 1
            if step % 50 == 0 or step == 1:
                lv = float(loss.item())
                ema = lv if step == 1 else 0.9 * ema + 0.1 * lv
                if step % 500 == 0 or step == 1:
                    losses.append([step, round(ema, 4), round(time.perf_counter() - t_train, 1)])
                    log(f"[gpu] step {step}/{total or '?'} loss {ema:.4f} {time.perf_counter() - t_train:.0f}s")
        epoch += 1
        if step >= max_steps:
            break
    if total is None:  # the data ran out before the measurement window closed
        el = time.perf_counter() - t_train
        total = step
        info.update(measured_steps=step, measured_seconds=round(el, 1), steps_per_second=round(step / max(el, 1e-9), 2),
                    planned_steps=step, planned_epochs=round(step / per_epoch, 2))
    train_s = time.perf_counter() - t_train
    info.update(steps_done=step, epochs_done=round(step / per_epoch, 2), train_seconds=round(train_s, 1),
                complete=step >= total, losses=losses,
                pairs_per_second_train=round(step * batch_size / max(train_s, 1e-9), 1))
    if cuda:
        info["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)

    t0 = time.perf_counter()
    dev_p = score(model, dv_ids, dv_tt, dv_len, device, 256, use_types, autocast)
    info["dev_auroc"] = auroc(dv_y, dev_p) if dv_y is not None else None
    np.save(out / "dev_p.npy", dev_p)
    if ev_split is not None:
        if cuda:
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        eval_p = score(model, ev_split[0], ev_split[1], ev_split[2], device, 256, use_types, autocast)
        if cuda:
            torch.cuda.synchronize()
        info["eval_pairs_per_second"] = round(len(eval_p) / max(time.perf_counter() - t1, 1e-9), 1)
        np.save(out / "eval_p.npy", eval_p)
    info["score_seconds"] = round(time.perf_counter() - t0, 1)
    log(f"[gpu] dev AUROC {info['dev_auroc']}; eval {info.get('eval_pairs_per_second')} pairs/s")

    lora, other = trained_state(model)
    meta = {"lora_scale": str(lora_alpha / lora_r), "lora_r": str(lora_r), "pack_sha256": man["sha256"]["base.safetensors"]}
    save_file({**lora, **other}, str(out / "adapter.safetensors"), metadata={"info": json.dumps(meta)})
    info["total_seconds"] = round(time.perf_counter() - t_all, 1)
    (out / "train_log.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    log(f"[gpu] done in {info['total_seconds']}s -> {out}")
    return info


# ---------------------------------------------------------------------------------------------
# the CPU side: write a pack, merge a result
# ---------------------------------------------------------------------------------------------
def pair_template(tok: Any) -> dict[str, Any]:
    """How ``tok`` lays out a pair: ``prefix A mid B suffix`` token ids, whether B gets token type
    1, and the pad id (read off the tokenizer itself, so BERT and MPNet layouts both work)."""
    a = tok("alpha", add_special_tokens=False)["input_ids"]
    b = tok("omega", add_special_tokens=False)["input_ids"]
    enc = tok("alpha", "omega")
    full = list(enc["input_ids"])
    i = next(k for k in range(len(full)) if full[k:k + len(a)] == a)
    j = next(k for k in range(i + len(a), len(full)) if full[k:k + len(b)] == b)
    types = enc.get("token_type_ids")
    return {"prefix": full[:i], "mid": full[i + len(a):j], "suffix": full[j + len(b):],
            "type_b": bool(types is not None and types[j] == 1), "pad": int(tok.pad_token_id or 0)}


def _linear_weights(model: Any) -> set[str]:
    import torch

    names = set()
    enc_prefix = f"{model.base_model_prefix}.encoder."
    for n, m in model.named_modules():
        if isinstance(m, torch.nn.Linear) and n.startswith(enc_prefix):
            names.add(n + ".weight")
    return names


def _embedding_key(model: Any) -> str:
    emb = model.get_input_embeddings().weight
    return next(n for n, p in model.named_parameters() if p is emb)


def load_base(base: str | Path) -> tuple[Any, Any]:
    """(tokenizer, one-logit classifier with a fresh head) from a base model folder, offline."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1, local_files_only=True,
                                                               use_safetensors=True).float()
    model.config.id2label = {0: "unsupported"}
    model.config.label2id = {"unsupported": 0}
    model.config.architectures = [type(model).__name__]
    return tok, model


def write_pack(pack_dir: str | Path, base: str | Path, train: list[tuple[str, str, int]],
               dev: list[tuple[str, str, int]], eval_pairs: list[tuple[str, str]] | None = None,
               max_length: int = 128, block: int = 64, summary: dict[str, Any] | None = None,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Tokenise and quantise on the CPU: ``pack_dir/gpu`` (what travels) and ``pack_dir/local``.

    ``train`` / ``dev``: (evidence, claim, label 1 = unsupported); ``eval_pairs``: (claim,
    evidence) to score on the GPU (their text stays in ``local/eval_pairs.jsonl.gz``)."""
    import gzip

    from safetensors.numpy import save_file

    pack = Path(pack_dir)
    gpu, local = pack / "gpu", pack / "local"
    gpu.mkdir(parents=True, exist_ok=True)
    local.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tok, model = load_base(base)
    tmpl = pair_template(tok)
    texts: dict[str, int] = {}

    def ids(pairs: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        ev = np.array([texts.setdefault(e, len(texts)) for e, _ in pairs], dtype=np.int32)
        cl = np.array([texts.setdefault(c, len(texts)) for _, c in pairs], dtype=np.int32)
        return ev, cl

    arrays: dict[str, np.ndarray] = {}
    for name, rows in (("train", train), ("dev", dev)):
        arrays[f"{name}_ev"], arrays[f"{name}_cl"] = ids([(e, c) for e, c, _ in rows])
        arrays[f"{name}_y"] = np.array([y for _, _, y in rows], dtype=np.uint8)
    if eval_pairs:
        arrays["eval_ev"], arrays["eval_cl"] = ids([(e, c) for c, e in eval_pairs])
    seqs: list[list[int]] = []
    order = list(texts)
    for s in range(0, len(order), 4096):
        seqs += tok(order[s:s + 4096], add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    if max((max(x) for x in seqs if x), default=0) >= 2**16:
        raise ValueError("token ids above 65535 do not fit uint16")
    lens = np.array([len(x) for x in seqs], dtype=np.int64)
    arrays["seg_off"] = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    arrays["seg_tok"] = np.fromiter((t for x in seqs for t in x), dtype=np.uint16, count=int(lens.sum()))
    # xz, not the npz's own deflate: evidence windows repeat premises far apart in the stream, which
    # deflate's 32 KB window cannot see (measured: 2.8 MiB against 9.0 for the full training set)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (gpu / "tokens.npz.xz").write_bytes(lzma.compress(buf.getvalue(), preset=9))
    log(f"[pack] {len(texts)} unique texts, {int(lens.sum())} tokens, tokenised in {time.perf_counter() - t0:.0f}s")

    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()
             if v.is_floating_point() and not k.startswith("classifier")}
    emb_key = _embedding_key(model)
    specials = [i for i in (tok.all_special_ids or []) if i is not None]
    rows = np.unique(np.concatenate([arrays["seg_tok"].astype(np.int64), np.array(specials, dtype=np.int64),
                                     *(np.array(tmpl[k], dtype=np.int64) for k in ("prefix", "mid", "suffix")),
                                     np.array([tmpl["pad"]], dtype=np.int64)]))
    tensors, index = quantize_state(state, _linear_weights(model), rows, emb_key, block)
    save_file(tensors, str(gpu / "base.safetensors"), metadata={"index": json.dumps(index)})
    model.config.save_pretrained(str(gpu))
    if eval_pairs:
        with gzip.open(local / "eval_pairs.jsonl.gz", "wt", encoding="utf-8") as fh:
            for c, e in eval_pairs:
                fh.write(json.dumps({"claim": c, "evidence": e}) + "\n")
    files = ("base.safetensors", "tokens.npz.xz", "config.json")
    sizes = {f: (gpu / f).stat().st_size for f in files}
    man = {"version": PACK_VERSION, "template": tmpl, "max_length": max_length, "block": block,
           "base": str(base), "embedding_key": emb_key, "embedding_rows": int(len(rows)),
           "sha256": {f: sha256(gpu / f) for f in files}, "bytes": sizes,
           "summary": {"train": len(train), "dev": len(dev), "eval": len(eval_pairs or []),
                       "train_unsupported": int(arrays["train_y"].sum()), "unique_texts": len(texts),
                       "tokens": int(lens.sum()), **(summary or {})}}
    (gpu / "manifest.json").write_text(json.dumps(man, indent=1) + "\n", encoding="utf-8")
    (local / "manifest.json").write_text(json.dumps(man, indent=1) + "\n", encoding="utf-8")
    log(f"[pack] {pack}/gpu: {sum(sizes.values()) / 2**20:.1f} MiB ({', '.join(f'{k} {v / 2**20:.1f}' for k, v in sizes.items())}); "
        f"{len(rows)} embedding rows; {time.perf_counter() - t0:.0f}s")
    return man


def merged_model(pack_dir: str | Path, result_dir: str | Path, base: str | Path | None = None) -> tuple[Any, Any, dict]:
    """(tokenizer, merged float32 model, adapter info): the base exactly as it trained (NF4 and
    float16 rounding included, every embedding row) plus the returned adapter."""
    import torch
    from safetensors import safe_open

    pack = Path(pack_dir)
    man = json.loads((pack / "gpu" / "manifest.json").read_text("utf-8"))
    tok, model = load_base(base or man["base"])
    with safe_open(str(Path(result_dir) / "adapter.safetensors"), framework="pt") as fh:
        ainfo = json.loads(fh.metadata()["info"])
        trained = {k: fh.get_tensor(k) for k in fh.keys()}
    if ainfo["pack_sha256"] != man["sha256"]["base.safetensors"]:
        raise ValueError("the adapter was trained on another pack's base: merge it with the pack it came from")
    with safe_open(str(pack / "gpu" / "base.safetensors"), framework="np") as fh:
        index = json.loads(fh.metadata()["index"])
    state = {k: v.detach().float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    for name, spec in index["tensors"].items():
        w = state[name].numpy()
        if spec["kind"] == "f16":
            state[name] = torch.from_numpy(w.astype(np.float16).astype(np.float32))
        else:
            b = int(spec.get("block", index["block"]))
            state[name] = torch.from_numpy(nf4_dequantize(*nf4_quantize(w, b), w.shape, b))
    lora = {k: v for k, v in trained.items() if ".lora_" in k}
    other = {k: v for k, v in trained.items() if ".lora_" not in k}
    state = merge_state(state, lora, other, float(ainfo["lora_scale"]))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("position_ids") for k in missing):
        raise ValueError(f"merge mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.eval()
    return tok, model, ainfo


def check_merge(model: Any, pack_dir: str | Path, result_dir: str | Path, n: int = 64) -> float:
    """Largest |p_cpu - p_gpu| over the first ``n`` dev pairs (float32 here vs bf16 there)."""
    import torch

    pack = Path(pack_dir) / "gpu"
    man = json.loads((pack / "manifest.json").read_text("utf-8"))
    z = load_tokens(pack)
    tmpl = {k: np.array(v, dtype=np.int32) if isinstance(v, list) else v for k, v in man["template"].items()}
    ids, tt, lengths = assemble(z["seg_tok"], z["seg_off"], z["dev_ev"][:n], z["dev_cl"][:n], tmpl, int(man["max_length"]))
    p = score(model, torch.as_tensor(ids).long(), torch.as_tensor(tt.astype(np.int64)), lengths, "cpu", 32,
              bool(man["template"].get("type_b")), autocast=False)
    p_gpu = np.load(Path(result_dir) / "dev_p.npy")[:n]
    return float(np.abs(p - p_gpu).max()) if len(p) else 0.0
