"""What a run's steps share, below both the pipeline and the engines.

:class:`RunContext` holds one embedder, the indexes and the engine that runs row-local work;
:class:`LocalEngine`, the default engine, runs that work in this process (``curator.engine``
adds the Ray engine and re-exports ``LocalEngine``); ``_progress`` is the progress bar both
use. Nothing here imports the pipeline, the steps or ``curator.engine``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .embed import Embedder

log = logging.getLogger("curator")

#: ``make(ctx)`` returns the function applied to each batch; it is called once per worker.
BatchMaker = Callable[[Any], Callable[[Any], Any]]


@dataclass
class RunContext:
    """What steps share: one embedder, one index, one embedding of each text."""

    embedder: Embedder
    index: Any = None   # PassageIndex | None
    index_ref: str | None = None
    engine: Any = None  # LocalEngine | RayEngine; None = local
    index_paths: dict[str, str] = field(default_factory=dict)  # ref -> folder, resolved once
    # The steps after the one running (set by Pipeline.run; None = unknown): a step keeps in the
    # embedding cache only vectors that one of them may read again.
    later_steps: list[Any] | None = None

    def get_index(self, ref: str | None) -> Any:
        if ref is None:
            return None
        if self.index is None or self.index_ref != ref:
            from .index import PassageIndex

            self.index = PassageIndex.load(self.index_path(ref), embedder=self.embedder)
            self.index_ref = ref
        return self.index

    def index_path(self, ref: str) -> Path:
        from .index import resolve_index_path

        if ref not in self.index_paths:
            self.index_paths[ref] = str(resolve_index_path(ref).resolve())
        return Path(self.index_paths[ref])

    def resolved_index_paths(self) -> dict[str, str]:
        return dict(self.index_paths)

    def embedder_settings(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this embedder in a worker (no disk cache there:
        the driver keeps what the workers send back)."""
        e = self.embedder
        settings = {"model": e.model, "batch_size": e.batch_size, "device": e.device, "show_progress": False,
                    "backend": getattr(e, "backend", "torch"), "workers": getattr(e, "workers", None)}
        if getattr(e, "backend", "torch") == "torch":
            # resolved here: every worker computes at the driver's precision, whatever its own CPU
            settings["precision"] = e.effective_precision
        return settings

    # -- row-local work, run by the engine ------------------------------------------------------
    def _engine(self) -> Any:
        if self.engine is None:
            self.engine = LocalEngine()
        return self.engine

    def encode(self, texts: Sequence[str], keep: bool | Sequence[bool] = True) -> np.ndarray:
        """Unit vectors of ``texts`` (each text embedded once per run, wherever the engine runs).
        ``keep``: see :meth:`Embedder.encode`."""
        return self._engine().encode(self, texts, keep)

    def prefetch(self, texts: Iterable[str]) -> None:
        """Tell the engine these texts will be encoded next, chunk by chunk: the Ray engine
        embeds them all in one actor pool now; the local engine embeds each chunk when asked."""
        self._engine().prefetch(self, texts)

    def map_batches(self, make: Callable[[RunContext], Callable[[Any], Any]], batches: Sequence[Any],
                    desc: str = "work", sizes: Sequence[int] | None = None) -> list[Any]:
        """``[make(ctx)(b) for b in batches]``: here, or on the engine's workers (``make`` must
        then be picklable: a module-level function or a step's bound method)."""
        return self._engine().map_batches(self, make, batches, desc, sizes)


def _progress(ctx: RunContext, total: int, desc: str, unit: str = "pair", size: int | None = None) -> Any:
    """A tqdm bar on a terminal for long work; silent under --quiet, in pipes and for small inputs
    (``size``, default ``total``, is what counts as long: more than 256 rows)."""
    import sys

    from tqdm import tqdm

    show = ctx.embedder.show_progress
    if show is None:
        show = (total if size is None else size) > 256 and sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, leave=False)


class LocalEngine:
    """Run row-local work in this process."""

    name = "local"

    def encode(self, ctx: Any, texts: Sequence[str], keep: bool | Sequence[bool] = True) -> np.ndarray:
        return ctx.embedder.encode(list(texts), keep)

    def prefetch(self, ctx: Any, texts: Iterable[str]) -> None:
        """Nothing to do ahead: each chunk is embedded here when it is encoded."""

    def map_batches(self, ctx: Any, make: BatchMaker, batches: Sequence[Any], desc: str = "work",
                    sizes: Sequence[int] | None = None) -> list[Any]:
        """``[make(ctx)(b) for b in batches]``, with a progress bar and log lines."""
        fn = make(ctx)
        sizes = list(sizes) if sizes is not None else [len(b) for b in batches]
        total, done, out = sum(sizes), 0, []
        with _progress(ctx, total, desc) as bar:
            for batch, n in zip(batches, sizes):
                out.append(fn(batch))
                done += n
                bar.update(n)
                log.info("%s: %d/%d", desc, done, total)
        return out

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "LocalEngine()"
