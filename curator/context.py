"""What a run's steps share, below both the pipeline and the engines.

:class:`RunContext` holds one embedder, the indexes and the engine that runs row-local work;
:class:`LocalEngine`, the default engine, runs that work in this process (``curator.engine``
adds the Ray engine and re-exports ``LocalEngine``); ``_progress`` is the progress bar both
use; :class:`Heartbeat` says that a long stage is still running; :func:`file_digest` and
:func:`folder_digest` fingerprint the files a step's results depend on (checkpoint keys).
Nothing here imports the pipeline, the steps or ``curator.engine``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
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
    # Where one-line status messages go (the CLI prints them on stderr unless --quiet); None =
    # the "curator" logger at INFO.
    notify: Callable[[str], None] | None = None
    # Progress on the current stage's work as words ("1024 of 40000 pairs done"), for Heartbeat.
    progress: str | None = None
    # One float16 vector per table row of its prompt, shared by quality, dedup, selection and
    # the report (curator.vectors.SharedVectors; made by shared_prompts()).
    prompt_vectors: Any = None

    def shared_prompts(self, n_rows: int) -> Any:
        """The run's shared prompt vectors for a table of ``n_rows`` rows (made when first asked)."""
        from .vectors import SharedVectors

        if self.prompt_vectors is None or len(self.prompt_vectors) != n_rows:
            self.prompt_vectors = SharedVectors(n_rows, self.embedder.dimension)
        return self.prompt_vectors

    def say(self, message: str) -> None:
        """One status line: to ``notify``, else to the log (INFO)."""
        if self.notify is not None:
            self.notify(message)
        else:
            log.info("%s", message)

    def note_progress(self, done: int, total: int, unit: str = "pairs", now: str | None = None) -> None:
        """Steps and engines report their progress here (read by :class:`Heartbeat`):
        "``done`` of ``total`` ``unit`` done[, now ``now``]"."""
        self.progress = f"{done} of {total} {unit} done" + (f", now {now}" if now else "")

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
        if getattr(e, "backend", "torch") in ("torch", "openvino"):
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
        unit = "pairs" if desc == "grounding" else "items"
        with _progress(ctx, total, desc) as bar:
            ctx.note_progress(0, total, unit)
            for batch, n in zip(batches, sizes):
                out.append(fn(batch))
                done += n
                bar.update(n)
                ctx.note_progress(done, total, unit)
                log.info("%s: %d/%d", desc, done, total)
        return out

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "LocalEngine()"


#: A stage running longer than this (seconds) says so, then again every PROGRESS_EVERY_S: one
#: 50 MB row can keep a stage busy for many minutes with no batch finishing (no bar moves).
PROGRESS_FIRST_S = 30.0
PROGRESS_EVERY_S = 60.0


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


class Heartbeat:
    """``with Heartbeat(ctx, "grounding"):`` -- while the block runs, a thread says on
    ``ctx.say`` that the stage is still running, first after :data:`PROGRESS_FIRST_S` seconds,
    then every :data:`PROGRESS_EVERY_S`, with the engine's progress when it has reported some
    ("grounding: still running after 2 min 00 s; 1024 of 40000 pairs done"). Silent for a
    stage that ends sooner, and under ``--quiet`` (the CLI's ``notify`` prints nothing)."""

    def __init__(self, ctx: RunContext, stage: str, first: float | None = None, every: float | None = None) -> None:
        self.ctx = ctx
        self.stage = stage
        self.first = PROGRESS_FIRST_S if first is None else first
        self.every = PROGRESS_EVERY_S if every is None else every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def __enter__(self) -> Heartbeat:
        self._t0 = time.monotonic()
        self.ctx.progress = None
        self._thread = threading.Thread(target=self._beat, name=f"curator-heartbeat-{self.stage}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        wait = self.first
        while not self._stop.wait(wait):
            self.ctx.say(self.message())
            wait = self.every

    def message(self) -> str:
        line = f"{self.stage}: still running after {_duration(time.monotonic() - self._t0)}"
        if self.ctx.progress:
            line += f"; {self.ctx.progress}"
        return line


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_digest(path: str | Path) -> str:
    """sha256 over a folder's files (relative names and contents, in name order); a file's own
    digest when ``path`` is a file."""
    root = Path(path)
    if root.is_file():
        return file_digest(root)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode("utf-8") + b"\0" + file_digest(f).encode() + b"\1")
    return h.hexdigest()


def release_free_memory() -> None:
    """Give the heap pages freed so far back to the OS (glibc ``malloc_trim``; nothing elsewhere).

    Reading a million JSONL rows frees ~1.6 KiB per row of parsed records that glibc otherwise
    keeps mapped; each later stage then starts that much lower (measured, benchmarks/RESULTS.md
    "Scale"). Called after each stage and between dedup's stages. Costs milliseconds."""
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to do
        pass
