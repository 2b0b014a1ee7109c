"""Pipeline: one table flows through steps; each step adds columns and may drop rows *with a reason*.

A step never removes a row from the table. Dropping a row means setting its ``drop_stage`` and
``drop_reason``; later steps only work on rows that are still alive. At the end every input row
is in exactly one of ``kept`` / ``dropped``.

This module is the run: :class:`Pipeline` (steps in order, a checkpoint after each stage,
the summary) and its outputs (:class:`CurationResult`, the output records). The steps live in
:mod:`curator.steps`, one module each; what they share at run time in :mod:`curator.context`.

>>> from curator.pipeline import Pipeline, QualityStep, GroundingStep, DedupStep, SelectStep
>>> result = Pipeline([QualityStep(), GroundingStep(index="demo"), DedupStep(), SelectStep(budget=100)]).run(data)  # doctest: +SKIP
>>> result.summary["kept"]                                                                                          # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from . import records as R
from .context import Heartbeat, RunContext, folder_digest, release_free_memory
from .embed import Embedder
from .errors import ConfigError
from .records import PairsData
from .steps import (
    DEDUP_FIELDS,
    DEDUP_ON,
    DedupStep,
    GroundingStep,
    QualityStep,
    SelectStep,
    Step,
    alive_mask,
    column_or_field,
    put_column,
    quality_details,
    set_drops,
    token_counter,
    worst_turn,
)
from .steps.base import _field_texts

log = logging.getLogger("curator")

# Names this module has always offered (the steps moved to curator.steps, the run context to
# curator.context): ``from curator.pipeline import QualityStep`` keeps working.
__all__ = [
    "CHECKPOINT_DIR",
    "CURATOR_KEY",
    "DEDUP_FIELDS",
    "DEDUP_ON",
    "CurationResult",
    "DedupStep",
    "GroundingStep",
    "Pipeline",
    "QualityStep",
    "RunContext",
    "SelectStep",
    "Step",
    "alive_mask",
    "checkpoint_key",
    "column_or_field",
    "input_fingerprint",
    "iter_output_records",
    "output_records",
    "put_column",
    "quality_details",
    "release_free_memory",
    "set_drops",
    "table_digest",
    "token_counter",
    "worst_turn",
]


@dataclass
class CurationResult:
    """All rows with every column (``table``), split into kept and dropped, plus the summary."""

    table: Any
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    embedder: Embedder | None = None
    #: the run's shared float16 prompt vectors (curator.vectors.SharedVectors), for the report
    vectors: Any = None

    @property
    def kept(self) -> Any:
        return self.table.filter(self.table[R.DROP_STAGE].is_null())

    @property
    def dropped(self) -> Any:
        return self.table.filter(self.table[R.DROP_STAGE].is_not_null())

    def write(self, outdir: str | Path, report: bool = True) -> dict[str, Path]:
        """Write kept.jsonl, dropped.jsonl, scores.parquet, summary.json (and report.html)."""
        from .io import write_json, write_jsonl, write_table

        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        paths = {"kept": outdir / "kept.jsonl", "dropped": outdir / "dropped.jsonl",
                 "scores": outdir / "scores.parquet", "summary": outdir / "summary.json"}
        write_jsonl(paths["kept"], iter_output_records(self.kept, self.table), allow_nan=True)
        write_jsonl(paths["dropped"], iter_output_records(self.dropped, self.table), allow_nan=True)
        write_table(paths["scores"], self.table.drop(R.RECORD))
        write_json(paths["summary"], self.summary)
        write_json(outdir / "timings.json", self.timings)
        if report:
            from .report import write_report

            embeddings: Any = None
            if self.embedder is not None:
                # The prompts were embedded for dedup and selection: the run's shared copy
                # (float16), with the rows no step embedded (dropped before) added.
                from .vectors import SharedVectors

                shared = self.vectors
                if shared is None or len(shared) != self.table.height:
                    shared = SharedVectors(self.table.height, self.embedder.dimension)
                embedder, table = self.embedder, self.table

                def embeddings(rows: np.ndarray) -> np.ndarray:  # only the rows the map samples
                    shared.fill(rows, lambda part: _field_texts(table[part], "instruction"),
                                lambda texts: embedder.encode(texts, keep=False))
                    return shared.get(rows)

            paths["report"] = write_report(self, outdir / "report.html", embeddings=embeddings)
        return paths


CURATOR_KEY = "curator"


# An earlier curator run's `curator` object keeps these: they locate the row in the original input.
_PROVENANCE = (R.LINE, R.FILE, R.ROW_ID)
# This run's columns that hold row ids of other rows: rewritten to the original row ids.
_ROW_REFS = (R.DUPLICATE_OF, R.REDUNDANT_WITH)


def output_records(table: Any, everything: Any | None = None) -> list[dict[str, Any]]:
    """The user's original records, untouched, each with one ``curator`` object of our columns.

    A record that already holds a ``curator`` object (the output of an earlier run, e.g.
    ``curator select`` on ``curator dedup``'s kept.jsonl) keeps it, merged: earlier annotations
    stay (``cluster_id``), this run's columns replace theirs, and ``line``/``file``/``row_id`` keep
    pointing at the original input. ``everything`` (all rows of this run, default ``table``) maps
    this run's row ids in ``duplicate_of``/``redundant_with`` to those original row ids.
    """
    return list(iter_output_records(table, everything))


def iter_output_records(table: Any, everything: Any | None = None, chunk: int = 4096) -> Iterator[dict[str, Any]]:
    """:func:`output_records` one record at a time, reading the table in slices: writing a
    million rows never holds a million parsed records (or their JSON text) at once."""
    from .io import clean_nan

    ours = [c for c in table.columns
            if c not in (R.RECORD, R.INSTRUCTION, R.INPUT, R.RESPONSE, R.SOURCE, R.TURNS, R.FIRST_REQUEST)]
    original_ids = _original_row_ids(table if everything is None else everything)
    for off in range(0, table.height, chunk):
        part = table.slice(off, chunk)
        for rec, extra in zip(R.record_dicts(part, chunk), part.select(ours).iter_rows(named=True)):
            if R.SENTENCES in extra and extra[R.SENTENCES]:
                extra[R.SENTENCES] = json.loads(extra[R.SENTENCES])
            # Our NaNs become null; the user's own NaN/Infinity stay (written back as tokens).
            new = {k: clean_nan(v) for k, v in extra.items() if v is not None}
            prev = rec.get(CURATOR_KEY)
            if isinstance(prev, dict):
                for k in _ROW_REFS:
                    if isinstance(new.get(k), int):
                        new[k] = original_ids.get(new[k], new[k])
                merged = {k: v for k, v in prev.items() if k not in ours}
                merged.update(new)
                merged.update({k: prev[k] for k in _PROVENANCE if k in prev})
                new = merged
            rec[CURATOR_KEY] = new
            yield rec


def _original_row_ids(table: Any) -> dict[int, Any]:
    """This run's row id -> the row id an earlier curator run recorded in the record, if any."""
    out: dict[int, Any] = {}
    # the records that may hold one first (a cheap substring test, in polars), then in slices:
    # a million records never exist as Python strings at once (~0.9 KiB per row)
    # (the key is in RECORD's text also where the table holds some of the record's values as columns)
    marked = table.filter(table[R.RECORD].str.contains(f'"{CURATOR_KEY}"', literal=True))
    for off in range(0, marked.height, 65536):
        part = marked.slice(off, 65536)
        for rid, rec in zip(part[R.ROW_ID].to_list(), R.record_dicts(part, 65536)):
            prev = rec.get(CURATOR_KEY)
            if isinstance(prev, dict) and isinstance(prev.get(R.ROW_ID), int):
                out[rid] = prev[R.ROW_ID]
    return out


CHECKPOINT_DIR = ".curator"


def _strip_timings(stats: Any) -> Any:
    """Stage stats without wall-clock timings: summary.json must be identical across re-runs."""
    if isinstance(stats, dict):
        return {k: _strip_timings(v) for k, v in stats.items() if not str(k).startswith("timing")}
    return stats


def input_fingerprint(table: Any, steps: Sequence[Step], model: str) -> str:
    """A digest of the input rows (every column, as read: records and the fields taken from
    them), the steps' configuration and the model name. :func:`checkpoint_key` is what a
    checkpoint depends on; this is kept for callers of earlier versions."""
    h = hashlib.sha256(table_digest(table).encode())
    h.update(repr([repr(s) for s in steps]).encode())
    h.update(model.encode())
    h.update(__version__.encode())
    return h.hexdigest()


def table_digest(table: Any) -> str:
    """sha256 of a table's every column (names, types, values), serialised slice by slice
    (Arrow IPC): a million rows are never one buffer, and the same table gives the same digest
    in every process."""
    import io

    h = hashlib.sha256(repr(list(table.schema.items())).encode())
    for off in range(0, table.height, 65536):
        buf = io.BytesIO()
        table.slice(off, 65536).write_ipc(buf, compression="uncompressed")
        h.update(buf.getvalue())
    return h.hexdigest()


def checkpoint_key(table: Any, steps: Sequence[Step], ctx: RunContext) -> dict[str, str]:
    """Everything a run's results depend on, part by part: curator's version, the input rows
    (:func:`table_digest`: the records and the fields read from them, so another
    ``--response-field`` is another input), every step's settings, the embedding model (and the
    contents of a model folder), the embedder's settings that change vectors, and the files each
    step reads (:meth:`Step.depends_on`: the index manifest, a parameters file, a verifier
    folder, a tokenizer). A checkpoint is resumed only when every part is the same."""
    from .embed import BATCHING, resolve_device

    e = ctx.embedder
    model = e.model_name
    if e.model is not None and Path(str(e.model)).is_dir():
        model += " " + folder_digest(str(e.model))
    key = {
        "curator": __version__,
        "input": table_digest(table),
        "settings": hashlib.sha256(repr([repr(st) for st in steps]).encode()).hexdigest(),
        "model": model,
        # a checkpoint of a bf16 run is not resumed at fp32 (nor the other way round)
        "embedder": json.dumps({"backend": getattr(e, "backend", "torch"), "batch_size": e.batch_size,
                                "batching": BATCHING,
                                "device": resolve_device(e.device).split(":")[0],
                                "precision": getattr(e, "effective_precision", "fp32")}, sort_keys=True),
    }
    for st in steps:
        for part, digest in st.depends_on(ctx).items():
            key[f"{st.name} {part}"] = digest
    return key


def _key_id(key: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _changed(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """The parts of a checkpoint key that differ, in words."""
    return [k for k in dict.fromkeys([*new, *old]) if old.get(k) != new.get(k)]


class Pipeline:
    """Run steps in order over a pairs table and account for every row.

    With ``workdir`` the table is checkpointed (atomically) after every stage under
    ``workdir/.curator/<key>/``; a re-run resumes after the last finished stage only when
    everything the results depend on is the same (:func:`checkpoint_key`: input, settings,
    model, index, parameter and verifier files), and says so; otherwise it recomputes, says
    which part changed, and removes the stale checkpoint. A killed run loses at most the stage
    it was in. ``notify`` receives one-line status messages (resumed, recomputed, a long stage
    still running); ``None`` = the "curator" logger at INFO.
    """

    def __init__(self, steps: Sequence[Step], embedder: Embedder | None = None, engine: Any = None,
                 notify: Callable[[str], None] | None = None) -> None:
        self.steps = list(steps)
        self.embedder = embedder
        self.engine = engine  # curator.engine.LocalEngine (None) or RayEngine: where row-local work runs
        self.notify = notify

    def run(self, data: PairsData | Any, workdir: str | Path | None = None) -> CurationResult:
        import polars as pl

        from .io import write_json, write_parquet

        table = data.table if isinstance(data, PairsData) else data
        if table.height == 0:
            raise ConfigError("no rows to curate: the input is empty.")
        ctx = RunContext(self.embedder or Embedder(), engine=self.engine, notify=self.notify)
        release_free_memory()  # what reading the input freed
        n_in = table.height
        stages: dict[str, Any] = {}
        timings: dict[str, float] = {}
        read_drops = Counter(r for r in table[R.DROP_REASON].to_list() if r)
        stages["read"] = {"in": n_in, "dropped": sum(read_drops.values()), "reasons": dict(read_drops)}
        ckpt = self._checkpoint(table, ctx, workdir) if workdir is not None else None
        for i, step in enumerate(self.steps):
            if ckpt is None or not (ckpt / f"{i:02d}-{step.name}.json").exists():
                step.check(table, ctx)  # before any work: a refusal never costs a stage
        for i, step in enumerate(self.steps):
            table_file = ckpt / f"{i:02d}-{step.name}.parquet" if ckpt else None
            stats_file = ckpt / f"{i:02d}-{step.name}.json" if ckpt else None
            if table_file is not None and stats_file is not None and table_file.exists() and stats_file.exists():
                table = pl.read_parquet(table_file)
                stages[step.name] = json.loads(stats_file.read_text("utf-8"))
                log.info("%s: resumed from checkpoint %s", step.name, table_file)
                continue
            alive_before = int(alive_mask(table).sum())
            t0 = time.perf_counter()
            if alive_before:
                ctx.later_steps = self.steps[i + 1:]
                with Heartbeat(ctx, step.name):
                    table, stats = step.apply(table, ctx)
            else:
                stats = {"skipped": "no rows left"}
            timings[step.name] = round(time.perf_counter() - t0, 3)
            release_free_memory()
            alive_after = int(alive_mask(table).sum())
            reasons = Counter(r for s, r in zip(table[R.DROP_STAGE].to_list(), table[R.DROP_REASON].to_list())
                              if s == step.name)
            stages[step.name] = _strip_timings({"in": alive_before, "dropped": alive_before - alive_after,
                                                "reasons": dict(reasons), **stats})
            log.info("%s: %d in, %d dropped (%.1f s)", step.name, alive_before, alive_before - alive_after,
                     timings[step.name])
            if table_file is not None and stats_file is not None:
                write_parquet(table_file, table)
                write_json(stats_file, stages[step.name])  # written last: marks the stage finished
        kept = int(alive_mask(table).sum())
        summary: dict[str, Any] = {
            "rows_in": n_in, "kept": kept, "dropped": n_in - kept,
            "stages": stages,
            "drop_reasons": dict(Counter(f"{s}:{r}" for s, r in zip(table[R.DROP_STAGE].to_list(),
                                                                   table[R.DROP_REASON].to_list()) if s)),
            "model": ctx.embedder.model_name,
            "embed_backend": ctx.embedder.backend,
            "embed_precision": ctx.embedder.effective_precision,
        }
        if isinstance(data, PairsData):
            summary["input"] = {"format": data.format, "fields": {k: v for k, v in vars(data.fields).items() if v}}
            if data.skipped_shards:
                summary["input"]["skipped_shards"] = data.skipped_shards
            if data.duplicate_ids:
                summary["input"]["duplicate_ids"] = data.duplicate_ids
        # The accounting invariant: every input row is kept or dropped by exactly one stage.
        if summary["kept"] + sum(s["dropped"] for s in stages.values()) != n_in:  # pragma: no cover
            raise RuntimeError("row accounting failed: kept + dropped != rows in")
        return CurationResult(table, summary, timings, ctx.embedder, ctx.prompt_vectors)

    def _checkpoint(self, table: Any, ctx: RunContext, workdir: str | Path) -> Path:
        """This run's checkpoint folder under ``workdir/.curator/``: resumed when its key is
        this run's (said in one line), else made afresh; checkpoints under other keys are stale
        (their results depend on something that changed) and are removed, saying what changed."""
        from .io import write_json

        root = Path(workdir) / CHECKPOINT_DIR
        key = checkpoint_key(table, self.steps, ctx)
        ckpt = root / _key_id(key)
        done = [st.name for i, st in enumerate(self.steps) if (ckpt / f"{i:02d}-{st.name}.json").exists()
                and (ckpt / f"{i:02d}-{st.name}.parquet").exists()]
        if done:
            ctx.say(f"resumed from {ckpt} (finished: {', '.join(done)})")
        stale = sorted((d for d in root.iterdir() if d.is_dir() and d != ckpt), key=lambda d: d.stat().st_mtime) \
            if root.is_dir() else []
        if stale:
            if not done:
                try:
                    old = json.loads((stale[-1] / "key.json").read_text("utf-8"))
                    why = f"{', '.join(_changed(old, key))} changed since"
                except (OSError, ValueError):
                    why = "it was written by an earlier curator"
                ctx.say(f"not resuming from {stale[-1]}: {why}; recomputing every stage")
            for d in stale:
                shutil.rmtree(d, ignore_errors=True)
        if not (ckpt / "key.json").exists():
            write_json(ckpt / "key.json", key)
        return ckpt
