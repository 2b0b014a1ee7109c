"""``QualityStep``: cheap quality signals; drops empty, refused, repetitive, off-topic, overlong responses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import records as R
from ..context import RunContext
from ..records import prompt_text
from .base import Step, alive_mask, put_column, set_drops
from .dedup import DedupStep
from .select import SelectStep


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

        from ..quality import QualityScorer, _row_cosine

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

        # The prompt vectors go to the run's shared float16 copy (dedup, selection and the
        # report read them there); a vector also stays in the embedding cache only when a later
        # step may embed its text again (grounding: the pair's own query).
        keep_responses = self._responses_read_later(ctx)
        keep_prompts = self._prompts_read_later(ctx)
        shared = ctx.shared_prompts(table.height)
        ctx.prefetch(both_texts())
        scorer = QualityScorer(
            max_response_words=self.max_response_words, max_repetition=self.max_repetition,
            min_relevance=self.min_relevance, off_topic_min_words=self.off_topic_min_words,
            drop_refusals=self.drop_refusals, drop_template_leaks=self.drop_template_leaks)
        # The rules are row-local, and so is the relevance cosine: in chunks, the texts, their
        # vectors and the scorer's per-row word lists (~4 KiB per row of 70-word responses,
        # measured at 100k rows) never exist for every row at once.
        parts = []
        n_tool_answers = 0
        for s in range(0, max(len(rows), 1), chunk):
            ctx.note_progress(s, len(rows), "rows")
            prompts, responses, ok = texts(s)
            relevance = np.full(len(prompts), np.nan)
            if ok:
                both = ctx.encode([prompts[j] for j in ok] + [responses[j] for j in ok],
                                  keep=[keep_prompts] * len(ok) + [keep_responses] * len(ok))
                relevance[ok] = _row_cosine(both[:len(ok)], both[len(ok):])
                shared.put(rows[s + np.asarray(ok, dtype=np.int64)], both[:len(ok)])
                del both
            tools, requests = _offered_tools(sub.slice(s, chunk), prompts)
            part = scorer.score(prompts, responses, relevance=relevance, tools=tools, requests=requests)
            n_tool_answers += int(np.sum(part.pop("tool_limit_answer", 0)))
            parts.append(part)
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
            details = quality_details(reasons, cols, scorer)
            refused = [i for i, r in enumerate(reasons) if r == "refusal"]
            if refused:
                from ..quality import refusal_phrase

                texts_ = table[R.RESPONSE].gather(rows[np.asarray(refused, dtype=np.int64)]).to_list()
                for i, text in zip(refused, texts_):
                    phrase = refusal_phrase(text or "")
                    if phrase:
                        details[i] = (f"the response opens with a refusal or an AI disclaimer: {phrase!r} "
                                      "(drop_refusals = false in the quality step keeps them)")
            table = set_drops(table, self.name, reasons, details, rows=rows)
        stats: dict[str, Any] = {"reasons": dict(Counter(r for r in reasons if r))}
        if n_tool_answers:
            stats["tool_limit_answers"] = n_tool_answers
            stats["message"] = (f"{n_tool_answers} refusals kept as answers: they name the limits of the tools "
                                "their rows offer, which cannot do what was asked")
        return table, stats

    @staticmethod
    def _prompts_read_later(ctx: RunContext) -> bool:
        """Whether a later step other than dedup and selection (which read the shared copy)
        may embed the prompts as they are (grounding does)."""
        if ctx.later_steps is None:
            return True
        return any(not isinstance(s, (DedupStep, SelectStep)) for s in ctx.later_steps)

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


def _offered_tools(part: Any, prompts: list[str]) -> tuple[list[list[str]] | None, list[str] | None]:
    """Per row of ``part``: the tools its record offers and the user's request (for
    :func:`curator.quality.tool_limit_refusal`); (None, None) when no row offers any. Only
    records that mention tools or functions are parsed."""
    from ..quality import offered_tools, user_requests

    # "tool"/"function" in the record's text: in RECORD or in a value the table holds as a column
    maybe = None
    for c in (R.RECORD, *R.HELD_COLUMNS):
        if c in part.columns:
            col = part[c].fill_null("")
            hit = col.str.contains("tool", literal=True) | col.str.contains("function", literal=True)
            maybe = hit if maybe is None else (maybe | hit)
    if maybe is None or not maybe.any():
        return None, None
    tools: list[list[str]] = [[] for _ in range(part.height)]
    requests = list(prompts)
    hits = np.flatnonzero(maybe.to_numpy())
    for j, rec in zip(hits, R.record_dicts(part[hits])):
        if isinstance(rec, dict):
            tools[j] = offered_tools(rec)
            if tools[j]:
                requests[j] = user_requests(rec, prompts[j])
    if not any(tools):
        return None, None
    return tools, requests
