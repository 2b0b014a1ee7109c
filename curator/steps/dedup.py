"""``DedupStep``: exact, near-duplicate and semantic dedup of the rows still alive."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .. import records as R
from ..context import RunContext, _progress, release_free_memory
from ..errors import ConfigError, check_param
from .base import (
    DEDUP_FIELDS,
    Step,
    _field_texts,
    _utility,
    alive_mask,
    prompt_vectors,
    put_column,
    set_drops,
)

log = logging.getLogger("curator")

# dedup may also compare a conversation on its opening request only (the old behaviour)
DEDUP_ON = DEDUP_FIELDS + ("first_request",)


def _dedup_texts(sub: Any, on: str) -> list[str]:
    """The text dedup compares. "first_request": a conversation's system prompt + first user
    turn (records.FIRST_REQUEST); rows that are not conversations use their instruction."""
    if on != "first_request":
        return _field_texts(sub, on)
    prompts = _field_texts(sub, "instruction")
    if R.FIRST_REQUEST not in sub.columns:
        return prompts
    return [p if f is None else f for p, f in zip(prompts, sub[R.FIRST_REQUEST].to_list())]


def _dedup_vectors(ctx: RunContext, table: Any, rows: np.ndarray, bodies: list[str], prompts: list[str] | None,
                   idx: np.ndarray, long: np.ndarray, chunk: int = 8192) -> Any:
    """The (len(bodies), dim) float16 vectors the semantic stage compares, read by rows on
    demand (cosines in float32): rows ``idx`` are ``encode_windows`` of their text (a blank
    one as " "), the others zero (never compared). A text that is its row's prompt and fits
    one window is read from the run's shared prompt vectors (``prompts``: the rows' prompts,
    None when dedup compares other texts); only the others are embedded here, into a float16
    array of their own. No second copy of every vector exists next to FAISS's own."""
    from ..dedup import RowVectors

    from_shared = np.zeros(len(bodies), dtype=bool)
    if prompts is not None:
        from_shared[idx] = [not long[k] and bodies[k] == prompts[k] for k in idx]
    shared = prompt_vectors(table, rows[from_shared], ctx)
    own_rows = idx[~from_shared[idx]]
    own = np.zeros((len(own_rows), shared.dim), dtype=shared.vecs.dtype)
    for s in range(0, len(own_rows), chunk):
        part = own_rows[s:s + chunk]
        own[s:s + chunk] = ctx.embedder.encode_windows([bodies[k] if bodies[k].strip() else " " for k in part],
                                                       keep=False)
    at = np.full(len(bodies), -1, dtype=np.int64)
    at[own_rows] = np.arange(len(own_rows))

    def get(r: np.ndarray) -> np.ndarray:
        out = np.zeros((len(r), shared.dim), dtype=np.float32)
        sh = from_shared[r]
        out[sh] = shared.vecs[rows[r[sh]]]
        p = at[r]
        out[p >= 0] = own[p[p >= 0]]
        return out

    return RowVectors(len(bodies), shared.dim, get, dtype=shared.vecs.dtype)


class DedupStep(Step):
    """Exact, near-duplicate and semantic dedup; keeps the best member (by utility) of each cluster.

    ``on``: which text identifies a duplicate: "instruction" (instruction + input; for a
    conversation its system prompt + every user turn; default), "first_request" (a
    conversation's system prompt + first user turn only), "response", or "both".
    ``allow_value_changes``: merge near/semantic pairs whose numbers, operators, symbols or names
    differ (off: "... in 2019?" and "... in 2020?" stay apart). The semantic stage compares only
    texts the model reads (see ``curator.dedup.semantic_readable``) and embeds long texts in
    windows (``Embedder.encode_windows``)."""

    name = "dedup"

    def __init__(self, on: str = "instruction", exact: bool = True, near: bool = True, semantic: bool = True,
                 near_threshold: float | None = None, semantic_threshold: float | None = None,
                 score_column: str | None = None, allow_value_changes: bool = False) -> None:
        self.on = on
        self.exact = exact
        self.near = near
        self.semantic = semantic
        self.near_threshold = near_threshold
        self.semantic_threshold = semantic_threshold
        self.score_column = score_column
        self.allow_value_changes = allow_value_changes

    def apply(self, table: Any, ctx: RunContext) -> tuple[Any, dict[str, Any]]:
        import polars as pl

        from ..dedup import (
            MULTILINGUAL_MODEL,
            Deduplicator,
            context_keys,
            maybe_context,
            semantic_readable,
            split_preambles,
        )

        check_param("DedupStep", "on", self.on, self.on in DEDUP_ON, f"one of {DEDUP_ON}")
        rows = np.flatnonzero(alive_mask(table))
        # the columns this step reads (texts, the record: its held values too), of the rows alive
        wanted = dict.fromkeys((R.ROW_ID, R.INSTRUCTION, R.INPUT, R.RESPONSE, R.FIRST_REQUEST, R.RECORD, *R.HELD_COLUMNS))
        sub = table.select([c for c in wanted if c in table.columns])[rows]
        texts = _dedup_texts(sub, self.on)
        responses = sub[R.RESPONSE].to_list() if R.RESPONSE in sub.columns else None
        # A row's media and offered tools are part of its key (read from the user's record), and
        # a preamble shared by many rows does not decide a merge: near and semantic compare (and
        # so embed) each text after its shared preamble (docs/dedup.md).
        context = context_keys(R.record_texts(sub, maybe=maybe_context))
        preambles = split_preambles(texts)
        bodies = preambles.bodies
        if self.score_column is not None:
            if self.score_column not in table.columns:
                raise ConfigError(f"dedup score column {self.score_column!r} does not exist; "
                                  f"available: {', '.join(c for c in table.columns if not c.startswith('_'))}.")
            scores = np.nan_to_num(table[self.score_column].cast(pl.Float64).to_numpy()[rows], nan=-np.inf)
        else:
            scores = _utility(table, rows)
            if responses is not None:
                # of copies, one that answers is kept over one whose response is empty or null
                blank = np.array([not (r or "").strip() for r in responses], dtype=bool)
                scores = np.where(blank, -np.inf, scores)
        kwargs: dict[str, Any] = {"exact": self.exact, "near": self.near, "semantic": self.semantic,
                                  "allow_value_changes": self.allow_value_changes}
        if self.near_threshold is not None:
            kwargs["near_threshold"] = self.near_threshold
        if self.semantic_threshold is not None:
            kwargs["semantic_threshold"] = self.semantic_threshold
        emb = readable = None
        excluded: dict[str, int] = {}
        warnings: list[str] = []
        if self.semantic and len(texts):
            unk, long = ctx.embedder.read_stats(bodies)
            readable, excluded = semantic_readable(bodies, unk, ctx.embedder.model_name)
            del unk
            blank = np.array([not t.strip() for t in bodies])
            n_lang = int((~readable & ~blank).sum())
            if n_lang * 2 > int((~blank).sum()):
                msg = (f"{n_lang} of {int((~blank).sum())} texts are in a script or language the embedding model "
                       f"{ctx.embedder.model_name} was not trained on and skip semantic dedup; for such data "
                       f"pass a multilingual model, e.g. --model {MULTILINGUAL_MODEL}")
                log.warning("dedup: %s", msg)
                warnings.append(msg)
            idx = np.flatnonzero(readable)
            if len(idx):  # long texts in windows: never compared on their first 256 word pieces only
                prompts = texts if self.on == "instruction" else (
                    _field_texts(sub, "instruction") if self.on == "first_request" else None)
                emb = _dedup_vectors(ctx, table, rows, bodies, prompts, idx, long)
                del prompts
            else:
                emb = np.zeros((len(texts), 1), dtype=np.float32)
        # the exact grouping always runs (later stages see one row per group)
        n_stages = 2 + sum(bool(x) for x in (self.near, self.semantic and emb is not None))
        with _progress(ctx, n_stages, "dedup", unit="stage", size=len(texts)) as bar:
            started: list[str] = []

            def on_stage(name: str) -> None:
                release_free_memory()  # what the previous stage freed: the next one starts lower
                if started:
                    bar.update(1)          # the previous stage is done
                started.append(name)
                bar.set_postfix_str(name)
                ctx.note_progress(len(started) - 1, n_stages, "stages", now=f"the {name} stage")
                log.info("dedup: %s stage over %d rows", name, len(texts))

            # two prompts in nearly the same words with other short answers are other tasks
            res = Deduplicator(**kwargs).run(texts, embeddings=emb, scores=scores, progress=on_stage,
                                             semantic_mask=readable, context=context, preambles=preambles,
                                             answers=responses if self.on in ("instruction", "first_request") else None)
            bar.update(1)
        row_ids = sub[R.ROW_ID].to_numpy()
        cluster = [int(row_ids[c]) for c in res.cluster_id]
        dup_of = [int(row_ids[d]) if d >= 0 else None for d in res.duplicate_of]
        table = put_column(table, R.CLUSTER_ID, rows, cluster, pl.Int64)
        table = put_column(table, R.CLUSTER_SIZE, rows, res.cluster_size.tolist(), pl.Int64)
        table = put_column(table, R.DUPLICATE_OF, rows, dup_of, pl.Int64)
        table = put_column(table, R.DUP_METHOD, rows, list(res.method), pl.String)
        sim = [None if (s is None or np.isnan(s)) else float(s) for s in res.similarity]
        table = put_column(table, R.DUP_SIMILARITY, rows, sim, pl.Float64)
        reasons = [None if k else "duplicate" for k in res.keep]
        details = [None if k else f"{m} duplicate of row {d} (cluster {c})"
                   for k, m, d, c in zip(res.keep, res.method, dup_of, cluster)]
        table = set_drops(table, self.name, reasons, details, rows=rows)
        stats = dict(res.stats)
        stats["semantic_excluded_by_reason"] = excluded
        if warnings:
            stats["warnings"] = warnings
        return table, stats
