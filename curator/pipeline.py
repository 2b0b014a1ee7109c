"""Pipeline: one table flows through steps; each step adds columns and may drop rows *with a reason*.

A step never removes a row from the table. Dropping a row means setting its ``drop_stage`` and
``drop_reason``; later steps only work on rows that are still alive. At the end every input row
is in exactly one of ``kept`` / ``dropped``.

>>> from curator.pipeline import Pipeline, QualityStep, GroundingStep, DedupStep, SelectStep
>>> result = Pipeline([QualityStep(), GroundingStep(index="demo"), DedupStep(), SelectStep(budget=100)]).run(data)  # doctest: +SKIP
>>> result.summary["kept"]                                                                                          # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from . import records as R
from .embed import Embedder
from .errors import ConfigError, InputError, check_param
from .records import PairsData, prompt_text

log = logging.getLogger("curator")


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
        return {"model": e.model, "batch_size": e.batch_size, "device": e.device, "show_progress": False,
                "backend": getattr(e, "backend", "torch"), "workers": getattr(e, "workers", None)}

    # -- row-local work, run by the engine ------------------------------------------------------
    def _engine(self) -> Any:
        if self.engine is None:
            from .engine import LocalEngine

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


def alive_mask(table: Any) -> np.ndarray:
    return table[R.DROP_STAGE].is_null().to_numpy()


def set_drops(table: Any, stage: str, reasons: Sequence[str | None], details: Sequence[str | None] | None = None,
              rows: np.ndarray | None = None) -> Any:
    """Mark rows as dropped by ``stage``. ``reasons`` is aligned with ``rows`` (alive row positions)."""
    import polars as pl

    n = table.height
    rows = np.arange(n) if rows is None else rows
    stage_col = table[R.DROP_STAGE].to_list()
    reason_col = table[R.DROP_REASON].to_list()
    detail_col = table[R.DROP_DETAIL].to_list()
    details = details if details is not None else [None] * len(reasons)
    for pos, reason, detail in zip(rows, reasons, details):
        if reason is not None and stage_col[pos] is None:
            stage_col[pos], reason_col[pos], detail_col[pos] = stage, reason, detail
    return table.with_columns(pl.Series(R.DROP_STAGE, stage_col, pl.String),
                              pl.Series(R.DROP_REASON, reason_col, pl.String),
                              pl.Series(R.DROP_DETAIL, detail_col, pl.String))


def put_column(table: Any, name: str, rows: np.ndarray, values: Sequence[Any], dtype: Any, fill: Any = None) -> Any:
    """Write ``values`` at positions ``rows`` of a (possibly new) column; other rows get ``fill``."""
    import polars as pl

    col: list[Any] = table[name].to_list() if name in table.columns else [fill] * table.height
    for pos, v in zip(rows, values):
        col[int(pos)] = v
    return table.with_columns(pl.Series(name, col, dtype, strict=False))


class Step:
    """One pipeline stage. Subclasses set ``name`` and implement ``apply``."""

    name = "step"

    def apply(self, table: Any, ctx: RunContext) -> tuple[Any, dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class QualityStep(Step):
    """Cheap quality signals; drops empty, refused, repetitive, off-topic, overlong responses."""

    name = "quality"
    #: Rows embedded per chunk (prompt + response: twice as many texts).
    CHUNK = 8192

    def __init__(self, drop: bool = True, max_response_words: int = 4000, max_repetition: float = 0.5,
                 min_relevance: float | None = 0.0, off_topic_min_words: int = 20, drop_refusals: bool = True,
                 drop_template_leaks: bool = True) -> None:
        self.drop = drop
        self.max_response_words = max_response_words
        self.max_repetition = max_repetition
        self.min_relevance = min_relevance
        self.off_topic_min_words = off_topic_min_words
        self.drop_refusals = drop_refusals
        self.drop_template_leaks = drop_template_leaks

    def apply(self, table: Any, ctx: RunContext) -> tuple[Any, dict[str, Any]]:
        import polars as pl

        from .quality import QualityScorer, _row_cosine

        rows = np.flatnonzero(alive_mask(table))
        sub = table[rows]
        chunk = self.CHUNK

        def texts(s: int) -> tuple[list[str], list[str], list[int]]:
            """Prompts, responses and the rows with both (positions in the chunk) of rows
            s..s+CHUNK: a million rows never exist as Python strings at once (~0.9 KiB per row)."""
            part = sub.slice(s, chunk)
            prompts = [prompt_text(i, x) for i, x in zip(part[R.INSTRUCTION], part[R.INPUT])]
            responses = part[R.RESPONSE].to_list()
            return prompts, responses, [j for j, (p, r) in enumerate(zip(prompts, responses))
                                        if p.strip() and r.strip()]

        def both_texts() -> Iterator[str]:  # what the Ray engine embeds ahead (the local one reads nothing)
            for which in (0, 1):
                for s in range(0, len(rows), chunk):
                    prompts, responses, ok = texts(s)
                    yield from ((prompts, responses)[which][j] for j in ok)

        # The response vectors stay cached only when a later step may read them (the prompts
        # serve dedup, selection and the report).
        keep_responses = self._responses_read_later(ctx)
        ctx.prefetch(both_texts())
        scorer = QualityScorer(
            max_response_words=self.max_response_words, max_repetition=self.max_repetition,
            min_relevance=self.min_relevance, off_topic_min_words=self.off_topic_min_words,
            drop_refusals=self.drop_refusals, drop_template_leaks=self.drop_template_leaks)
        # The rules are row-local, and so is the relevance cosine: in chunks, the texts, their
        # vectors and the scorer's per-row word lists (~4 KiB per row of 70-word responses,
        # measured at 100k rows) never exist for every row at once.
        parts = []
        for s in range(0, max(len(rows), 1), chunk):
            prompts, responses, ok = texts(s)
            relevance = np.full(len(prompts), np.nan)
            if ok:
                both = ctx.encode([prompts[j] for j in ok] + [responses[j] for j in ok],
                                  keep=[True] * len(ok) + [keep_responses] * len(ok))
                relevance[ok] = _row_cosine(both[:len(ok)], both[len(ok):])
                del both
            parts.append(scorer.score(prompts, responses, relevance=relevance))
        cols: dict[str, Any] = {
            k: ([x for p in parts for x in p[k]] if isinstance(v, list) else np.concatenate([p[k] for p in parts]))
            for k, v in parts[0].items()}
        for name, values in cols.items():
            if name == R.QUALITY_REASON:
                continue
            arr = np.asarray(values)
            vals = arr.tolist()
            dtype = pl.Boolean if arr.dtype == bool else (pl.Int64 if arr.dtype.kind in "iu" else pl.Float64)
            table = put_column(table, name, rows, vals, dtype)
        reasons = list(cols[R.QUALITY_REASON])
        table = put_column(table, R.QUALITY_REASON, rows, reasons, pl.String)
        if self.drop:
            table = set_drops(table, self.name, reasons, quality_details(reasons, cols, scorer), rows=rows)
        return table, {"reasons": dict(Counter(r for r in reasons if r))}

    @staticmethod
    def _responses_read_later(ctx: RunContext) -> bool:
        """Whether a later step may embed the responses as they are: only dedup/selection
        ``on="response"`` or a step we do not know (grounding embeds response sentences, and a
        one-sentence response is its own sentence)."""
        if ctx.later_steps is None:
            return True
        return any(not isinstance(s, (DedupStep, SelectStep)) or s.on == "response" for s in ctx.later_steps)


def quality_details(reasons: list[str | None], cols: dict[str, Any], scorer: Any) -> list[str | None]:
    """drop_detail of the measured quality rules: the value measured and the limit it passed."""
    out: list[str | None] = []
    for i, r in enumerate(reasons):
        if r == "too_long":
            out.append(f"response_words={int(cols['response_words'][i])} > max_response_words={scorer.max_response_words}")
        elif r == "repetitive":
            out.append(f"repetition={float(cols['repetition'][i]):.2f} > max_repetition={scorer.max_repetition}")
        else:
            out.append(None)
    return out


class GroundingStep(Step):
    """Grounding of each response in its own source or in retrieved index passages.

    Each row gets a ``grounding_verdict``: ``supported``, ``hallucinated`` or ``unverifiable``
    (no checkable claim, no source, or an index with nothing about it). Drops the
    ``hallucinated`` rows when ``drop=True`` (default); ``unverifiable`` rows are kept and counted.
    A row without a source while others have one is ``unverifiable``, never an error.

    ``batch_size``: pairs per batch (the unit a Ray worker takes). Each batch embeds its queries
    in one call, whose fixed-shape batches end in partial batches filled with copies: on 500
    instruction rows 1,024 pairs per batch computed 5 % fewer word pieces than 256, with the same
    outputs (benchmarks/RESULTS.md "Scale")."""

    name = "grounding"
    #: Share of unverifiable rows above which the summary carries a warning.
    UNVERIFIABLE_WARN_SHARE = 0.5

    def __init__(self, index: str | None = None, top_k: int = 5, threshold: float | None = None,
                 params: str | None = None, drop: bool = True, batch_size: int = 1024,
                 verifier: str | None = None, verifier_band: tuple[float, float] | list[float] = (0.2, 0.8),
                 verifier_weight: float = 0.5, retrieval_floor: float | None = None,
                 retrieval_min_coverage: float | None = None) -> None:
        self.index = index
        self.top_k = top_k
        self.threshold = threshold
        self.params = params
        self.drop = drop
        self.batch_size = batch_size
        self.verifier = verifier
        self.verifier_band = tuple(verifier_band)
        self.verifier_weight = verifier_weight
        self.retrieval_floor = retrieval_floor
        self.retrieval_min_coverage = retrieval_min_coverage

    def apply(self, table: Any, ctx: RunContext) -> tuple[Any, dict[str, Any]]:
        import polars as pl

        from .grounding import PairInput, verdicts_json

        index = ctx.get_index(self.index)
        scorer = self._scorer(ctx)
        rows = np.flatnonzero(alive_mask(table))
        sub = table[rows]
        # A multi-turn row contributes one pair per assistant turn (prompt = preceding turns);
        # `owner` maps each pair back to its row, and the row keeps its worst turn.
        pairs: list[PairInput] = []
        owner: list[int] = []
        for j, (ins, inp, resp, src, sid, turns) in enumerate(zip(
                sub[R.INSTRUCTION], sub[R.INPUT], sub[R.RESPONSE], sub[R.SOURCE], sub[R.SOURCE_ID], sub[R.TURNS])):
            if turns:
                # A tool call is not a prose claim: not scored (a row of calls only scores an
                # empty response: unverifiable). A tool result is the evidence of the turn that
                # answers from it when the row has no source of its own.
                prose = [t for t in json.loads(turns) if not t.get("tool_call")] or [{"prompt": ins, "response": ""}]
                for t in prose:
                    own = src is not None or sid is not None
                    pairs.append(PairInput(t["prompt"], t["response"], src if own else t.get("context"), sid))
                    owner.append(j)
            else:
                pairs.append(PairInput(prompt_text(ins, inp), resp, src, sid))
                owner.append(j)
        # A row of tool calls only has nothing to check (an empty response): it needs no source.
        checkable = [p for p in pairs if p.response.strip()]
        no_source = sum(not (p.source or "").strip() and p.source_id is None for p in checkable)
        if checkable and no_source == len(checkable) and index is None:
            raise ConfigError("the pairs have no source and no index was given: pass --index NAME "
                              "(build one with `curator index build`) or --source-field.")
        scorer.score([])  # validates the settings here, before any worker starts; sets threshold_
        # The same batches in the same order on every engine: the verifier's batching, if any,
        # then matches too, and the outputs are byte-identical.
        batches = [pairs[start:start + self.batch_size] for start in range(0, len(pairs), self.batch_size)]
        per_pair = [g for out in ctx.map_batches(self._batch_scorer, batches, "grounding") for g in out]
        by_row: list[list[Any]] = [[] for _ in range(len(rows))]
        for o, g in zip(owner, per_pair):
            by_row[o].append(g)
        results = [worst_turn(turns) for turns in by_row]
        table = put_column(table, R.GROUNDING, rows, [g.grounding for g in results], pl.Float64)
        table = put_column(table, R.HALLUCINATION_PROB, rows, [g.hallucination_prob for g in results], pl.Float64)
        table = put_column(table, R.HALLUCINATED, rows, [g.hallucinated for g in results], pl.Boolean)
        table = put_column(table, R.GROUNDING_VERDICT, rows, [g.verdict for g in results], pl.String)
        table = put_column(table, R.N_SENTENCES, rows, [len(g.sentences) for g in results], pl.Int64)
        table = put_column(table, R.N_UNSUPPORTED, rows, [g.n_unsupported for g in results], pl.Int64)
        table = put_column(table, R.WORST_SENTENCE, rows, [g.worst_sentence for g in results], pl.String)
        table = put_column(table, R.CITATIONS, rows, [",".join(dict.fromkeys(g.citations)) for g in results], pl.String)
        table = put_column(table, R.EVIDENCE_MODE, rows, [g.evidence_mode for g in results], pl.String)
        table = put_column(table, "grounding_confidence", rows, [g.confidence for g in results], pl.String)
        table = put_column(table, R.SENTENCES, rows, [verdicts_json(g) for g in results], pl.String)
        verdicts = Counter(g.verdict for g in results)
        stats: dict[str, Any] = {
            "flagged": int(sum(g.hallucinated for g in results)),
            "verdicts": {v: int(verdicts.get(v, 0)) for v in ("supported", "hallucinated", "unverifiable")},
            "evidence_modes": dict(Counter(g.evidence_mode for g in results)),
            "threshold": getattr(scorer, "threshold_", self.threshold)}
        warnings = []
        if index is None and no_source:
            warnings.append(f"{no_source} pairs have no source text: they are unverifiable (kept, not judged).")
        n_unver = verdicts.get("unverifiable", 0)
        if results and n_unver > self.UNVERIFIABLE_WARN_SHARE * len(results):
            what = ("the index does not seem to cover this data" if index is not None
                    else "the sources do not seem to cover these responses")
            warnings.append(f"{n_unver} of {len(results)} rows are unverifiable: {what} "
                            "(or the responses make no checkable claim); they are kept, not judged.")
        if warnings:
            stats["warnings"] = warnings
        if self.drop:
            reasons = ["hallucinated" if g.hallucinated else None for g in results]
            details = [f"hallucination_prob={g.hallucination_prob:.2f}; unsupported: {g.worst_sentence!r}"
                       if g.hallucinated else None for g in results]
            table = set_drops(table, self.name, reasons, details, rows=rows)
        return table, stats

    def _scorer(self, ctx: RunContext) -> Any:
        from .grounding import RETRIEVAL_FLOOR, RETRIEVAL_MIN_COVERAGE, GroundingScorer

        verifier: Any = self.verifier
        if isinstance(verifier, str) and ctx.embedder.device != "cpu":
            from .embed import resolve_device

            device = resolve_device(ctx.embedder.device)
            if device != "cpu":
                # the cross-encoder runs where the embedder runs (a GPU when there is one)
                from .verifier import GroundingVerifier

                verifier = GroundingVerifier(verifier, device=device)
        return GroundingScorer(embedder=ctx.embedder, index=ctx.get_index(self.index), top_k=self.top_k,
                               threshold=self.threshold, params=self.params, verifier=verifier,
                               verifier_band=self.verifier_band, verifier_weight=self.verifier_weight,
                               retrieval_floor=RETRIEVAL_FLOOR if self.retrieval_floor is None else self.retrieval_floor,
                               retrieval_min_coverage=(RETRIEVAL_MIN_COVERAGE if self.retrieval_min_coverage is None
                                                       else self.retrieval_min_coverage))

    def _batch_scorer(self, ctx: RunContext) -> Callable[[list[Any]], list[Any]]:
        return self._scorer(ctx).score


def worst_turn(turns: list[Any]) -> Any:
    """A conversation is as grounded as its worst assistant turn; its sentences are all turns'."""
    from .grounding import PairGrounding

    if len(turns) == 1:
        return turns[0]
    scored = [g for g in turns if not np.isnan(g.hallucination_prob)]
    worst = max(scored, key=lambda g: g.hallucination_prob) if scored else turns[0]
    hallucinated = any(g.hallucinated for g in turns)
    verdict = ("hallucinated" if hallucinated else
               "supported" if any(g.verdict == "supported" for g in turns) else "unverifiable")
    return PairGrounding(grounding=worst.grounding, hallucination_prob=worst.hallucination_prob,
                         hallucinated=hallucinated, evidence_mode=worst.evidence_mode,
                         sentences=[s for g in turns for s in g.sentences], worst_sentence=worst.worst_sentence,
                         confidence="low" if any(g.confidence == "low" for g in turns) else "normal",
                         verdict=verdict)


def _utility(table: Any, rows: np.ndarray) -> np.ndarray:
    """Default utility = quality x grounding; a missing signal counts as neutral (1 for quality,
    0.5 for grounding, so ungrounded rows rank below grounded ones)."""
    q = table[R.QUALITY].to_numpy()[rows] if R.QUALITY in table.columns else np.ones(len(rows))
    g = table[R.GROUNDING].to_numpy()[rows] if R.GROUNDING in table.columns else np.full(len(rows), 0.5)
    q = np.where(np.isnan(q.astype(float)), 1.0, q.astype(float))
    g = np.where(np.isnan(g.astype(float)), 0.5, g.astype(float))
    return q * g


def _field_texts(sub: Any, on: str) -> list[str]:
    prompts = [prompt_text(i, x) for i, x in zip(sub[R.INSTRUCTION], sub[R.INPUT])]
    if on == "instruction":
        return prompts
    responses = sub[R.RESPONSE].to_list()
    if on == "response":
        return responses
    return [f"{p}\n\n{r}" for p, r in zip(prompts, responses)]


DEDUP_FIELDS = ("instruction", "response", "both")
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


def _cached_rows(ctx: RunContext, texts: list[str], idx: np.ndarray) -> Any:
    """The (len(texts), dim) vectors the semantic stage compares, read by rows on demand: rows
    ``idx`` are ``encode_windows`` of their text (a blank one as " "), the others zero (never
    compared). Served from the embedding cache block by block, so the stage never holds a
    second copy of every vector (1.5 KiB per row) next to the cache and FAISS's index."""
    from .dedup import RowVectors

    get = ctx.embedder.window_vectors([texts[k] if texts[k].strip() else " " for k in idx])
    at = np.full(len(texts), -1, dtype=np.int64)
    at[idx] = np.arange(len(idx))
    dim = get(np.zeros(1, dtype=np.int64)).shape[1]

    def rows(r: np.ndarray) -> np.ndarray:
        p = at[r]
        if (p >= 0).all():
            return get(p)
        out = np.zeros((len(r), dim), dtype=np.float32)
        out[p >= 0] = get(p[p >= 0])
        return out

    return RowVectors(len(texts), dim, rows)


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

        from .dedup import (
            MULTILINGUAL_MODEL,
            Deduplicator,
            context_keys,
            semantic_readable,
            split_preambles,
        )

        check_param("DedupStep", "on", self.on, self.on in DEDUP_ON, f"one of {DEDUP_ON}")
        rows = np.flatnonzero(alive_mask(table))
        sub = table[rows]
        texts = _dedup_texts(sub, self.on)
        # Issue 22: a row's media and offered tools are part of its key (read from the user's
        # record), and a preamble shared by many rows does not decide a merge: near and semantic
        # compare (and so embed) each text after its shared preamble.
        context = context_keys(sub[R.RECORD])
        preambles = split_preambles(texts)
        bodies = preambles.bodies
        if self.score_column is not None:
            if self.score_column not in table.columns:
                raise ConfigError(f"dedup score column {self.score_column!r} does not exist; "
                                  f"available: {', '.join(c for c in table.columns if not c.startswith('_'))}.")
            scores = np.nan_to_num(table[self.score_column].cast(pl.Float64).to_numpy()[rows], nan=-np.inf)
        else:
            scores = _utility(table, rows)
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
            readable, excluded = semantic_readable(bodies, ctx.embedder.unk_share(bodies), ctx.embedder.model_name)
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
                emb = _cached_rows(ctx, bodies, idx)
            else:
                emb = np.zeros((len(texts), 1), dtype=np.float32)
        # the exact grouping always runs (later stages see one row per group)
        n_stages = 2 + sum(bool(x) for x in (self.near, self.semantic and emb is not None))
        with _progress(ctx, n_stages, "dedup", unit="stage", size=len(texts)) as bar:
            started: list[str] = []

            def on_stage(name: str) -> None:
                if started:
                    bar.update(1)          # the previous stage is done
                started.append(name)
                bar.set_postfix_str(name)
                log.info("dedup: %s stage over %d rows", name, len(texts))

            res = Deduplicator(**kwargs).run(texts, embeddings=emb, scores=scores, progress=on_stage,
                                             semantic_mask=readable, context=context, preambles=preambles)
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


def column_or_field(table: Any, rows: np.ndarray, name: str) -> list[Any]:
    """Values of ``name`` for ``rows``: a curator column if there is one, else the top-level field
    of the user's original record (missing -> None). ConfigError if no row has it."""
    if name in table.columns:
        return list(table[name].to_list()[i] for i in rows)
    records = table[R.RECORD].to_list()
    out: list[Any] = []
    for i in rows:
        rec = json.loads(records[i]) if records[i] else {}
        out.append(rec.get(name) if isinstance(rec, dict) else None)
    if out and all(v is None for v in out):
        raise ConfigError(f"no column or record field {name!r}; "
                          f"columns: {', '.join(c for c in table.columns if not c.startswith('_'))}.")
    return out


def _numbers(values: list[Any], name: str) -> np.ndarray:
    try:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"field {name!r} must hold numbers: {exc}.") from exc


def token_counter(tokenizer: str | None) -> Callable[[str], int]:
    """Count tokens with whitespace (``None``/"whitespace") or a local Hugging Face tokenizer
    (a folder, or a name already in the local cache; never downloaded, never remote code)."""
    from .text import count_tokens

    if tokenizer in (None, "whitespace"):
        return count_tokens
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(tokenizer), local_files_only=True, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - any load failure is one config error to the user
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"could not load tokenizer {tokenizer!r} locally: {first[:200]}") from exc

    def count(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    return count


class SelectStep(Step):
    """Budgeted, diverse, utility-weighted selection among the rows still alive.

    ``utility_column``, ``group_by`` and ``token_field`` name a curator column or a top-level
    field of the input records. Token budgets count each row's prompt + response with
    ``tokenizer`` (whitespace by default, or a local Hugging Face tokenizer folder) unless
    ``token_field`` gives the counts. ``group_by`` splits the budget by group, in proportion to
    the groups' sizes or by ``group_shares``; ``must_include`` lists ids selected first."""

    name = "select"

    def __init__(self, budget: int | float | None = None, budget_unit: str = "rows", method: str = "facility_location",
                 on: str = "instruction", utility_column: str | None = None, min_utility: float | None = None,
                 random_state: int = 0, group_by: str | None = None, group_shares: dict[str, float] | None = None,
                 must_include: list[str] | None = None, token_field: str | None = None,
                 tokenizer: str | None = None) -> None:
        self.budget = budget
        self.budget_unit = budget_unit
        self.method = method
        self.on = on
        self.utility_column = utility_column
        self.min_utility = min_utility
        self.random_state = random_state
        self.group_by = group_by
        self.group_shares = group_shares
        self.must_include = must_include
        self.token_field = token_field
        self.tokenizer = tokenizer

    def apply(self, table: Any, ctx: RunContext) -> tuple[Any, dict[str, Any]]:
        import polars as pl

        from .select import DiverseSelector

        check_param("SelectStep", "on", self.on, self.on in DEDUP_FIELDS, f"one of {DEDUP_FIELDS}")
        rows = np.flatnonzero(alive_mask(table))
        if self.budget is None:
            return table, {"skipped": "no budget given"}
        sub = table[rows]
        if self.utility_column is not None:
            util = _numbers(column_or_field(table, rows, self.utility_column), self.utility_column)
        else:
            util = _utility(table, rows)
        texts = _field_texts(sub, self.on)
        emb = ctx.encode([t if t.strip() else " " for t in texts]) if len(texts) else np.zeros((0, ctx.embedder.dimension), np.float32)
        costs = None
        if self.budget_unit == "tokens":
            if self.token_field is not None:
                costs = _numbers(column_or_field(table, rows, self.token_field), self.token_field)
                if np.isnan(costs).any() or (costs < 0).any():
                    bad = int(rows[np.flatnonzero(np.isnan(costs) | (costs < 0))[0]])
                    raise InputError(f"token field {self.token_field!r} is missing or negative in row {bad}.")
            else:
                count = token_counter(self.tokenizer)
                costs = np.array([count(t) for t in _field_texts(sub, "both")], dtype=np.float64)
        groups = None
        if self.group_by is not None:
            groups = np.array([("" if v is None else str(v)) for v in column_or_field(table, rows, self.group_by)],
                              dtype=object)
        must = None
        if self.must_include:
            wanted = {str(x) for x in self.must_include}
            ids = [str(x) for x in sub[R.ID].to_list()]
            missing = wanted - set(ids)
            if missing:
                raise ConfigError(f"must_include ids not among the rows reaching selection: "
                                  f"{', '.join(sorted(missing)[:10])}.")
            must = np.array([i in wanted for i in ids])
        res = DiverseSelector(budget=self.budget, budget_unit=self.budget_unit, method=self.method,
                              min_utility=self.min_utility, random_state=self.random_state,
                              group_shares=self.group_shares
                              ).select(emb, utility=util, costs=costs, must_include=must, groups=groups)
        row_ids = sub[R.ROW_ID].to_numpy()
        table = put_column(table, R.UTILITY, rows, util.tolist(), pl.Float64)
        table = put_column(table, R.SELECT_RANK, rows, [int(r) if r >= 0 else None for r in res.rank], pl.Int64)
        table = put_column(table, R.SELECT_GAIN, rows, [None if np.isnan(g) else float(g) for g in res.gain], pl.Float64)
        table = put_column(table, R.REDUNDANT_WITH, rows,
                           [int(row_ids[r]) if r >= 0 else None for r in res.redundant_with], pl.Int64)
        reasons = [None if s else (r or "not_selected") for s, r in zip(res.selected, res.reason)]
        table = set_drops(table, self.name, reasons, rows=rows)
        return table, dict(res.stats)


@dataclass
class CurationResult:
    """All rows with every column (``table``), split into kept and dropped, plus the summary."""

    table: Any
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    embedder: Embedder | None = None

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

            embeddings = None
            if self.embedder is not None:
                # The prompts were embedded for dedup and selection: these come from the cache.
                texts = _field_texts(self.table, "instruction")
                embeddings = self.embedder.encode([t if t.strip() else " " for t in texts])
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
        for rec_text, extra in zip(part[R.RECORD].to_list(), part.select(ours).iter_rows(named=True)):
            rec = json.loads(rec_text)
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
    marked = table.select(R.ROW_ID, R.RECORD).filter(table[R.RECORD].str.contains(f'"{CURATOR_KEY}"', literal=True))
    for off in range(0, marked.height, 65536):
        part = marked.slice(off, 65536)
        for rid, text in zip(part[R.ROW_ID].to_list(), part[R.RECORD].to_list()):
            prev = json.loads(text).get(CURATOR_KEY)
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
    """What a checkpoint depends on: the input rows, the steps' configuration and the model."""
    import hashlib

    h = hashlib.sha256()
    for col in (R.RECORD, R.DROP_REASON, R.SOURCE, R.SOURCE_ID):
        series = table[col]
        # in slices: a million records never exist as Python strings at once (same hash)
        for off in range(0, max(series.len(), 1), 65536):
            for value in series.slice(off, 65536).to_list():
                h.update(b"\0" if value is None else value.encode("utf-8") + b"\1")
    h.update(repr([repr(s) for s in steps]).encode())
    h.update(model.encode())
    h.update(__version__.encode())
    return h.hexdigest()


def release_free_memory() -> None:
    """Give the heap pages freed so far back to the OS (glibc ``malloc_trim``; nothing elsewhere).

    Reading a million JSONL rows frees ~1.6 KiB per row of parsed records that glibc otherwise
    keeps mapped; each later stage then starts that much lower (measured, benchmarks/RESULTS.md
    "Scale"). Costs milliseconds."""
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to do
        pass


class Pipeline:
    """Run steps in order over a pairs table and account for every row.

    With ``workdir`` the table is checkpointed (atomically) after every stage under
    ``workdir/.curator/``; a re-run with the same input, steps and model resumes after the last
    finished stage, so a killed run loses at most the stage it was in.
    """

    def __init__(self, steps: Sequence[Step], embedder: Embedder | None = None, engine: Any = None) -> None:
        self.steps = list(steps)
        self.embedder = embedder
        self.engine = engine  # curator.engine.LocalEngine (None) or RayEngine: where row-local work runs

    def run(self, data: PairsData | Any, workdir: str | Path | None = None) -> CurationResult:
        import polars as pl

        from .io import write_json, write_parquet

        table = data.table if isinstance(data, PairsData) else data
        if table.height == 0:
            raise ConfigError("no rows to curate: the input is empty.")
        ctx = RunContext(self.embedder or Embedder(), engine=self.engine)
        release_free_memory()  # what reading the input freed
        n_in = table.height
        stages: dict[str, Any] = {}
        timings: dict[str, float] = {}
        read_drops = Counter(r for r in table[R.DROP_REASON].to_list() if r)
        stages["read"] = {"in": n_in, "dropped": sum(read_drops.values()), "reasons": dict(read_drops)}
        ckpt: Path | None = None
        if workdir is not None:
            ckpt = Path(workdir) / CHECKPOINT_DIR / input_fingerprint(table, self.steps, ctx.embedder.model_name)[:16]
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
        return CurationResult(table, summary, timings, ctx.embedder)
