"""Engines: where a pipeline's row-local work runs.

A step splits its work in two: *row-local* work (embedding texts, scoring a batch of pairs for
grounding) that only looks at its own rows, and *global* work (duplicate clustering, selection)
that needs every row. Steps hand the row-local part to ``ctx.encode`` / ``ctx.map_batches``;
the engine decides where it runs:

- :class:`LocalEngine` (default): in this process, batch after batch (defined in
  :mod:`curator.context`, below the pipeline and this module, and re-exported here).
- :class:`RayEngine`: on a Ray cluster (a local one, or ``address=`` an existing one) with
  Ray Data ``map_batches`` over an actor pool: each actor loads the model (and the index) once,
  and asks for a GPU when the cluster has them. Global steps stay on the driver and only see
  compact arrays (ids, vectors, scores).

Both give the same bytes: a vector depends only on its text (see
:meth:`curator.embed.Embedder._embed`) and grounding batches are the same batches in the same
order, so kept.jsonl, dropped.jsonl and summary.json are identical whichever engine ran.

>>> from curator.engine import RayEngine                                  # doctest: +SKIP
>>> Pipeline(steps, engine=RayEngine(workers=2)).run(data)               # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .context import BatchMaker, LocalEngine, RunContext
from .errors import ConfigError, CuratorError, check_param

log = logging.getLogger("curator")

ENGINES = ("local", "ray")
RAY_MISSING = "the Ray engine needs Ray: pip install 'curator[ray]' (or pip install 'ray[data]')."
# Texts per Ray task when embedding: large enough that the per-task overhead (~ms) is noise,
# small enough that two workers get work from a few thousand rows.
EMBED_CHUNK = 1024


@dataclass
class WorkerSpec:
    """What a worker needs to rebuild the driver's RunContext: the embedder's settings and
    the indexes as absolute folders (a worker's working directory is not the driver's)."""

    embedder: dict[str, Any]
    index_paths: dict[str, str] = field(default_factory=dict)

    def context(self) -> Any:
        from .embed import Embedder

        return RunContext(Embedder(**self.embedder), index_paths=dict(self.index_paths))


class _Worker:
    """A Ray Data actor: builds its context (model, index) once, then applies the batch function.

    Batches travel as pickled bytes in one binary column: in-memory transport between curator's
    own processes (Ray pickles Python objects anyway); nothing a user loads."""

    def __init__(self, make: BatchMaker, spec: WorkerSpec) -> None:
        self.fn = make(spec.context())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = [pickle.dumps(self.fn(pickle.loads(p)), protocol=pickle.HIGHEST_PROTOCOL) for p in batch["payload"]]
        return {"i": np.asarray(batch["i"]), "payload": np.array(out, dtype=object)}


def _encode_maker(ctx: Any) -> Callable[[list[str]], np.ndarray]:
    return ctx.embedder.encode


def _curator_cause(exc: BaseException) -> CuratorError | None:
    """The CuratorError a worker raised, unwrapped from Ray's wrappers (for a one-line message)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, CuratorError) and type(e).__module__.startswith("curator"):
            return e
        todo += [getattr(e, "cause", None), e.__cause__, e.__context__]
    return None


class RayEngine:
    """Run row-local work on a Ray cluster with Ray Data.

    Parameters
    ----------
    address : an existing cluster (``"auto"``, ``"ray://head:10001"``, ...); ``None`` starts a
        local one (or reuses the one this process already started with ``ray.init``).
    workers : actors in the pool; ``None`` = one per ``num_cpus`` CPUs of the cluster (one per
        GPU when it has GPUs).
    num_cpus : CPUs each actor reserves (its torch threads).
    num_gpus : GPUs each actor asks for; ``None`` = 1 when the cluster has GPUs, else 0.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, num_cpus: float = 1.0,
                 num_gpus: float | None = None) -> None:
        check_param("RayEngine", "workers", workers, workers is None or (isinstance(workers, int) and workers >= 1),
                    "a positive int or None")
        check_param("RayEngine", "num_cpus", num_cpus, isinstance(num_cpus, (int, float)) and num_cpus > 0,
                    "a positive number")
        self.address = address
        self.workers = workers
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self._started = False

    def _ray(self) -> Any:
        try:
            import ray
            import ray.data  # noqa: F401 - the Data library is a separate extra of ray
        except ImportError as exc:
            raise ConfigError(RAY_MISSING) from exc
        if not ray.is_initialized():
            env = {k: v for k, v in os.environ.items()
                   if k.startswith(("CURATOR_", "HF_", "TOKENIZERS_", "TRANSFORMERS_"))}
            env.setdefault("HF_HUB_OFFLINE", "1")
            env.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                # Ray's own log level follows curator's: -q (ERROR) hides its warnings too
                ray.init(address=self.address, runtime_env={"env_vars": env}, include_dashboard=False,
                         log_to_driver=False, logging_level=max(logging.WARNING, log.getEffectiveLevel()))
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                where = self.address or "a local cluster"
                raise ConfigError(f"could not start or reach Ray at {where}: {first[:200]}") from exc
            self._started = True
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        # Ray Data's own lines ("Execution plan of Dataset ...", "... execution finished in",
        # "Progress bars disabled") are not curator's progress: curator logs its batches itself
        # (and -q means quiet). With -v they are shown.
        if hasattr(ctx, "print_on_execution_start"):
            ctx.print_on_execution_start = log.isEnabledFor(logging.INFO)
        logging.getLogger("ray.data").setLevel(logging.INFO if log.isEnabledFor(logging.INFO) else logging.ERROR)
        return ray

    def _pool(self, ray: Any) -> tuple[int, float]:
        res = ray.cluster_resources()
        gpus = float(self.num_gpus) if self.num_gpus is not None else (1.0 if res.get("GPU", 0) > 0 else 0.0)
        if self.workers is not None:
            n = self.workers
        elif gpus > 0:
            n = max(1, int(res.get("GPU", 0) // gpus))
        else:
            n = max(1, int(res.get("CPU", 1) // self.num_cpus))
        return n, gpus

    def map_batches(self, ctx: Any, make: BatchMaker, batches: Sequence[Any], desc: str = "work",
                    sizes: Sequence[int] | None = None) -> list[Any]:
        """``[make(ctx)(b) for b in batches]`` on an actor pool; results in the order of ``batches``."""
        if not batches:
            return []
        ray = self._ray()
        n, gpus = self._pool(ray)
        n = min(n, len(batches))
        spec = WorkerSpec(ctx.embedder_settings(), ctx.resolved_index_paths())
        items = [{"i": i, "payload": pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL)} for i, b in enumerate(batches)]
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        ds = ds.map_batches(_Worker, fn_constructor_args=(make, spec), batch_size=1, batch_format="numpy",
                            compute=ray.data.ActorPoolStrategy(size=n), num_cpus=self.num_cpus, num_gpus=gpus)
        log.info("%s: %d batches on %d Ray workers (%g GPU each)", desc, len(batches), n, gpus)
        out: list[Any] = [None] * len(batches)
        try:
            for k, row in enumerate(ds.iter_rows()):
                out[int(row["i"])] = pickle.loads(row["payload"])
                ctx.note_progress(k + 1, len(batches), f"{desc} batches")
        except Exception as exc:  # noqa: BLE001 - a worker's CuratorError is the user's one-line error
            cause = _curator_cause(exc)
            if cause is not None:
                raise cause from None
            raise
        return out

    def prefetch(self, ctx: Any, texts: Iterable[str]) -> None:
        """Embed on the workers (one actor pool) the texts the driver has not embedded yet and
        seed the driver's cache with them."""
        todo = ctx.embedder.missing(list(texts))
        if todo:
            chunks = [todo[s:s + EMBED_CHUNK] for s in range(0, len(todo), EMBED_CHUNK)]
            vecs = self.map_batches(ctx, _encode_maker, chunks, desc="embedding")
            ctx.embedder.seed(todo, np.concatenate(vecs) if vecs else np.zeros((0, 1), np.float32))

    def encode(self, ctx: Any, texts: Sequence[str], keep: bool | Sequence[bool] = True) -> np.ndarray:
        """Embed the new texts on the workers (:meth:`prefetch`), then answer from the
        driver's cache (``keep`` does not apply: what the workers sent is cached)."""
        texts = list(texts)
        self.prefetch(ctx, texts)
        return ctx.embedder.encode(texts)

    def close(self) -> None:
        """Shut down the local cluster this engine started (a cluster it joined keeps running)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def __repr__(self) -> str:
        return f"RayEngine(address={self.address!r}, workers={self.workers!r})"


def make_engine(name: str | None = None, **kwargs: Any) -> LocalEngine | RayEngine:
    """``"local"`` (default) or ``"ray"`` with RayEngine's keyword arguments."""
    name = name or "local"
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}.")
    if name == "local":
        extra = {k: v for k, v in kwargs.items() if v is not None}
        if extra:
            raise ConfigError(f"{', '.join(sorted(extra))} only apply to the Ray engine: add --engine ray.")
        return LocalEngine()
    return RayEngine(**kwargs)
