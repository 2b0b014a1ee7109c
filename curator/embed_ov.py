"""The ``openvino`` embedding backend: the sentence-transformers pipeline converted in memory to
OpenVINO (``openvino.convert_model`` on the torch module, ~2 s per process, nothing written to
disk) and compiled for the CPU at the Embedder's precision: ``bf16`` where the CPU computes it
natively (OpenVINO's ``INFERENCE_PRECISION_HINT``), else ``f32``.

Why: on an AVX-512-bf16 CPU the torch forward pass loses ~30 % of its time outside the matrix
products (attention, GELU, layer norm and dtype copies run as separate kernels); OpenVINO fuses
them (benchmarks/RESULTS.md "Grounding quality", the embedding ceiling). Below
:mod:`curator.embed`; needs ``pip install 'curator[openvino]'``.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .devices import pipeline_graph
from .errors import ConfigError

# (id of the sentence-transformers model, precision, streams, threads, token types) ->
# (that model, its compiled model): the model is held so that its id is never another's
_COMPILED: dict[tuple[Any, ...], tuple[Any, Any]] = {}
_LOCK = threading.Lock()
_LOCAL = threading.local()


# OpenVINO's model converter sends usage events to Google Analytics from the moment it is
# imported (openvino.tools.ovc, imported by ``import openvino``), unless the user has opted out;
# curator is offline by default, so it imports that converter with its own no-op stub bound.
_TELEMETRY = ("openvino_telemetry", "openvino_telemetry.backend")
_CONVERTER = ("openvino.tools.ovc", "openvino.tools.ovc.telemetry_utils", "openvino.tools.ovc.convert_impl",
              "openvino.tools.ovc.utils")


def import_openvino() -> Any:
    """The ``openvino`` module, its converter bound to OpenVINO's telemetry stub (nothing sent, no
    files under ``~/intel``) where curator is the first to import it; a ConfigError if absent."""
    import importlib
    import sys

    blocked = [m for m in _TELEMETRY if m not in sys.modules]
    for m in blocked:
        sys.modules[m] = None  # type: ignore[assignment]  # import -> ImportError -> the stub
    try:
        ov = importlib.import_module("openvino")
        for m in _CONVERTER:
            importlib.import_module(m)
    except ImportError as exc:
        raise ConfigError("Embedder backend 'openvino' needs OpenVINO: pip install 'curator[openvino]'.") from exc
    finally:
        for m in blocked:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]
    return ov


def compiled_model(st: Any, with_types: bool, bf16: bool, workers: int, threads: int) -> Any:
    """``st`` converted to OpenVINO and compiled for the CPU: ``workers`` batches side by side
    (streams; 0 or 1 = one), each on ``threads`` threads (0 = torch's thread count); one
    compiled model per process and setting."""
    streams = max(1, workers)
    if not threads:
        import torch

        threads = int(torch.get_num_threads())
    key = (id(st), bf16, streams, threads, with_types)
    with _LOCK:
        held = _COMPILED.get(key)
        if held is not None and held[0] is st:
            return held[1]
        ov = import_openvino()
        import warnings

        import torch

        ids = torch.ones((2, 8), dtype=torch.long)
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            model = ov.convert_model(
                pipeline_graph(st, with_types), example_input=(ids, torch.ones_like(ids)),
                input=[("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)])
        config = {"INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32", "NUM_STREAMS": streams,
                  "INFERENCE_NUM_THREADS": streams * threads, "PERFORMANCE_HINT": "THROUGHPUT"}
        compiled = ov.Core().compile_model(model, "CPU", config)
        _COMPILED[key] = (st, compiled)
        return compiled


def run(compiled: Any, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit vectors from one fixed-shape batch, on this thread's infer request of ``compiled``
    (OpenVINO releases the GIL while it computes, so threads run batches side by side);
    normalised like torch's F.normalize (eps 1e-12). Each request is held with its compiled
    model, so a compiled model freed and another made at the same address never share one."""
    requests: dict[int, tuple[Any, Any]] = getattr(_LOCAL, "requests", None) or {}
    _LOCAL.requests = requests
    held = requests.get(id(compiled))
    if held is None or held[0] is not compiled:
        held = requests[id(compiled)] = (compiled, compiled.create_infer_request())
    req = held[1]
    out = req.infer({"input_ids": input_ids.astype(np.int64), "attention_mask": mask.astype(np.int64)})
    v = np.array(out[0], dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), np.float32(1e-12))
