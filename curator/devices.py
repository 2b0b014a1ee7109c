"""Where and how embeddings are computed: the device (``auto`` -> CUDA when torch sees a GPU),
the precision a device computes natively (bf16 on AVX-512-bf16/AMX CPUs and CUDA >= 8.0), and the
ONNX export the ``onnx`` backend runs. Below :mod:`curator.embed`, which re-exports these names."""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError


def resolve_device(device: str | None) -> str:
    """``"auto"``/``None`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"``; anything else as given."""
    if device in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def check_device(device: str) -> None:
    """A one-line ConfigError for a device torch cannot use here (say so before a model load
    fails with an error that reads like a broken model)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N.") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} was asked, but torch sees no CUDA GPU here "
                              f"(torch {torch.__version__}); pass --device auto or cpu.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r} was asked, but torch sees {torch.cuda.device_count()} GPU(s).")


#: Embedding backends: the sentence-transformers torch model, its ONNX export under ONNX Runtime,
#: or the same model converted for OpenVINO (:mod:`curator.embed_ov`).
BACKENDS = ("torch", "onnx", "torch-bf16", "openvino")
#: Embedder ``precision``: ``auto`` = bf16 where the hardware computes it natively
#: (:func:`native_bf16`), else fp32.
PRECISIONS = ("auto", "fp32", "bf16")
# CPU flags of native bfloat16 matrix instructions (Linux /proc/cpuinfo names).
_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AVX-512-bf16 or AMX-bf16), read from
    ``/proc/cpuinfo``; False where that file is absent (macOS, Windows): fp32 there."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return _cpuinfo_has_bf16(text)


def _cpuinfo_has_bf16(cpuinfo: str) -> bool:
    """Whether the first ``flags`` line of a ``/proc/cpuinfo`` text names a bf16 matrix flag."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return bool(_BF16_CPU_FLAGS & set(line.partition(":")[2].split()))
    return False


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively: a CUDA GPU of compute
    capability 8.0 or later (Ampere, Hopper, ...), or a CPU with :func:`cpu_has_native_bf16`.
    Elsewhere bf16 would be emulated (slower than fp32), so ``precision="auto"`` picks fp32."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        return False
    if dev.type == "cuda":
        try:
            return torch.cuda.is_available() and torch.cuda.get_device_capability(dev)[0] >= 8
        except (RuntimeError, AssertionError):  # pragma: no cover - a GPU torch cannot query
            return False
    return dev.type == "cpu" and cpu_has_native_bf16()
_ONNX_OPSET = 17


def pipeline_graph(st: Any, with_types: bool) -> Any:
    """The sentence-transformers pipeline ``st`` as a torch module of (input_ids, attention_mask)
    -> the pooled vector before normalisation, in eval mode: what the ONNX export and the
    OpenVINO conversion trace."""
    import torch

    class _Graph(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            feats = {"input_ids": input_ids, "attention_mask": attention_mask}
            if with_types:  # as the torch path passes them
                feats["token_type_ids"] = torch.zeros_like(input_ids)
            return self.model.forward(feats)["sentence_embedding"]

    return _Graph(st).eval()


def _onnx_export(st: Any, target: str, folder: Path, with_types: bool) -> Path:
    """Export the whole sentence-transformers pipeline (transformer, pooling, dense layers, but
    not the final normalisation, done in numpy) to ``folder``; reuse an earlier export of the
    same weights. The file name hashes the model's weight files, the torch version and the opset."""
    import torch

    h = hashlib.sha256(f"{target}|{torch.__version__}|{_ONNX_OPSET}|{with_types}".encode())
    tdir = Path(target)
    if tdir.is_dir():
        for f in sorted(tdir.rglob("*")):
            if f.suffix in (".safetensors", ".bin", ".json") and f.is_file():
                h.update(f.relative_to(tdir).as_posix().encode())
                h.update(hashlib.sha256(f.read_bytes()).digest())
    path = folder / f"{h.hexdigest()[:20]}.onnx"
    if path.is_file():
        return path
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
    except ImportError as exc:
        raise ConfigError("Embedder backend 'onnx' needs the onnx package to export the model once: "
                          "pip install 'curator[onnx]'.") from exc

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    ids = torch.ones((2, 8), dtype=torch.long)
    import warnings

    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(pipeline_graph(st, with_types), (ids, torch.ones_like(ids)), str(tmp),
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "length"},
                                        "attention_mask": {0: "batch", 1: "length"}, "embedding": {0: "batch"}},
                          opset_version=_ONNX_OPSET, dynamo=False)
    os.replace(tmp, path)
    return path


def onnx_session(st: Any, target: str, folder: Path, models: dict[Any, Any]) -> Any:
    """An ONNX Runtime session (CPU, torch's thread count) of ``st``'s export under ``folder``
    (:func:`_onnx_export`), kept in ``models`` by export path; a ConfigError without ONNX Runtime."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ConfigError("Embedder backend 'onnx' needs ONNX Runtime: pip install 'curator[onnx]'.") from exc
    with_types = "token_type_ids" in getattr(st.tokenizer, "model_input_names", ())
    path = _onnx_export(st, target, folder, with_types)
    key = (str(path), "onnx")
    if key not in models:
        import torch

        so = ort.SessionOptions()
        so.intra_op_num_threads = int(torch.get_num_threads())
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        models[key] = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return models[key]


def _onnx_run(sess: Any, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit vectors from one fixed-shape batch (normalised like torch's F.normalize, eps 1e-12)."""
    v = sess.run(None, {"input_ids": input_ids.astype(np.int64), "attention_mask": mask.astype(np.int64)})[0]
    v = np.asarray(v, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), np.float32(1e-12))


def _bucket(n_tokens: int, max_len: int) -> int:
    """The padded length a text of ``n_tokens`` is computed at: its own length up to 32 word
    pieces, then steps of 2, 4 and 8 (above 128): ~1 % padding on a real run's texts, ~75 shapes.
    Measured against steps of 4 / 8 / 16 / 32 (8.4 % padding, 19 shapes): 1.03-1.12x faster with
    torch and OpenVINO, as batches of a shape are unfilled only to ``MIN_TOKENS`` where the kernels
    allow it (:func:`rows_free`; benchmarks/RESULTS.md "Finer length buckets")."""
    step = 1 if n_tokens <= 32 else 2 if n_tokens <= 64 else 4 if n_tokens <= 128 else 8
    return min(max_len, -(-n_tokens // step) * step)



def probe_ids(tok: Any, maxlen: int, n: int, text: str) -> dict[int, list[np.ndarray]]:
    """For :func:`rows_free`: per probe bucket length, ``n`` distinct token id arrays that pad
    to it (windows of ``text``'s word pieces, repeated, between [CLS] and [SEP], of lengths
    spread over the bucket)."""
    words = tok(" ".join(f"{text} Item {i} of the list." for i in range(n + 12)),
                add_special_tokens=False)["input_ids"]
    cls = [tok.cls_token_id] if tok.cls_token_id is not None else []
    sep = [tok.sep_token_id] if tok.sep_token_id is not None else []
    out: dict[int, list[np.ndarray]] = {}
    for top in sorted({_bucket(n_ids, maxlen) for n_ids in (5, 23, 45)}):
        below = [_bucket(k, maxlen) for k in range(1, top) if _bucket(k, maxlen) < top]
        low = max(len(cls) + len(sep) + 1, max(below, default=0) + 1)
        arrays = []
        for i in range(n):
            length = low + i % (top - low + 1)
            inner = words[7 * i:7 * i + length - len(cls) - len(sep)]
            arrays.append(np.asarray(cls + inner + sep, dtype=np.int64))
        out[top] = arrays
    return out


# Per process: (model, backend, precision, device, batch size) -> whether a batch's row count and
# its other texts leave every vector's bits unchanged (see rows_free).
_ROWS_FREE: dict[tuple[Any, ...], bool] = {}


def rows_free(key: tuple[Any, ...], forward: Any, probes: dict[int, list[np.ndarray]], batch_size: int,
              min_rows: Any = lambda length: 1) -> bool:
    """Whether ``forward(rows, length)`` (token id arrays of one length -> one unit vector per
    row) gives a text the same bits whatever the number of rows of its batch (1 to
    ``batch_size``; at least ``min_rows(length)``), its row in the batch and the other texts in
    it; checked once per ``key`` on ``probes`` (length -> at least ``batch_size`` distinct id
    arrays of that length).

    Every text is embedded in a batch of texts of exactly its token length (no padding), so
    only the row count and the neighbours can move its bits. A matrix product's rounding may
    depend on its row count where a library picks its kernel by shape; where it does not (the
    CPUs measured, fp32 and bf16, benchmarks/RESULTS.md "Scale"), batches need not be filled to
    a fixed row count. The check compares, per probe length, a full batch of distinct texts
    with a batch of the fewest rows allowed, one of ``batch_size - 1`` rows led by the last text,
    and the first text among copies of itself (a filled batch): 4 forward passes per length."""
    if key in _ROWS_FREE:
        return _ROWS_FREE[key]
    ok = True
    b = batch_size
    for length, texts in sorted(probes.items()):
        full = forward(texts[:b], length)
        least = max(1, min(b, int(min_rows(length))))
        r = max(least, b - 1) - 1  # the last text first, then r others
        trials = [(texts[:least], full[:least]),
                  ([texts[b - 1]] + texts[:r], np.concatenate([full[b - 1:], full[:r]])),
                  ([texts[0]] * b, np.repeat(full[:1], b, axis=0))]
        for rows, want in trials:
            if not np.array_equal(forward(rows, length), want):
                ok = False
                break
        if not ok:
            break
    _ROWS_FREE[key] = ok
    return ok


# Per tokenizer object (held weakly: an id could be reused by another tokenizer) and window: its
# Rust tokenizer copied, truncating at that length and never padding.
_OWN_TOKENIZERS: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()
_TOKENIZERS_LOCK = threading.Lock()
# Texts per tokenizer call: a fast tokenizer's output is Python lists and Rust encodings (~36 bytes
# per token); chunks bound them (benchmarks/RESULTS.md "Scale").
TOKEN_CHUNK = 512


def token_ids(tok: Any, texts: list[str], maxlen: int, threads: int = 1) -> list[np.ndarray]:
    """Each stripped text's word-piece ids with the special tokens, cut at ``maxlen`` (as
    ``tok(texts, truncation=True, max_length=maxlen)`` gives them), as int64 arrays, in chunks
    of :data:`TOKEN_CHUNK` texts on up to ``threads`` threads. A fast tokenizer runs as a private
    copy of its Rust tokenizer, set up once: it releases the GIL while it encodes, and the shared
    one may not be reconfigured (truncation) from two threads at once. The tokenising alone took
    1.0-1.2 s instead of 1.7-2.1 s for a run's 8,664 texts on 2 threads; a run's embedding wall
    did not move beyond the noise (benchmarks/RESULTS.md, "finer length buckets")."""
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:  # a slow (Python) tokenizer
        out: list[np.ndarray] = []
        for s in range(0, len(texts), TOKEN_CHUNK):
            enc = tok([t.strip() for t in texts[s:s + TOKEN_CHUNK]], truncation=True, max_length=maxlen,
                      return_attention_mask=False, return_token_type_ids=False)
            out += [np.asarray(x, dtype=np.int64) for x in enc["input_ids"]]
        return out
    with _TOKENIZERS_LOCK:
        mine = _OWN_TOKENIZERS.setdefault(tok, {})
        own = mine.get(maxlen)
        if own is None:
            own = type(backend).from_str(backend.to_str())
            own.enable_truncation(maxlen)
            own.no_padding()
            mine[maxlen] = own

    def chunk(s: int) -> list[np.ndarray]:
        return [np.asarray(e.ids, dtype=np.int64) for e in own.encode_batch([t.strip() for t in texts[s:s + TOKEN_CHUNK]])]

    starts = range(0, len(texts), TOKEN_CHUNK)
    if threads < 2 or len(starts) < 2:
        return [x for s in starts for x in chunk(s)]
    with ThreadPoolExecutor(min(threads, len(starts)), thread_name_prefix="curator-tokenize") as ex:
        return [x for xs in ex.map(chunk, starts) for x in xs]
