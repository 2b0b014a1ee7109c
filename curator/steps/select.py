"""``SelectStep``: budgeted, diverse, utility-weighted selection among the rows still alive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import records as R
from ..context import RunContext
from ..errors import ConfigError, InputError, check_param
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


def column_or_field(table: Any, rows: np.ndarray, name: str) -> list[Any]:
    """Values of ``name`` for ``rows``: a curator column if there is one, else the top-level field
    of the user's original record (missing -> None). ConfigError if no row has it."""
    if name in table.columns:
        return list(table[name].to_list()[i] for i in rows)
    out: list[Any] = []
    for rec in R.record_dicts(table[np.asarray(rows, dtype=np.int64)]):
        out.append(rec.get(name) if isinstance(rec, dict) else None)
    if out and all(v is None for v in out):
        raise ConfigError(f"no column or record field {name!r}; "
                          f"columns: {', '.join(c for c in table.columns if not c.startswith('_'))}.")
    return out


#: Columns the steps add (a group_by or utility_column may name one before it exists).
_CURATOR_COLUMNS = frozenset({v for k, v in vars(R).items() if k.isupper() and isinstance(v, str)} | {
    "response_words", "instruction_words", "repetition", "refusal", "template_leak", "relevance",
    "tool_limit_answer", "grounding_confidence"})


def _first(it: Any, n: int) -> list[Any]:
    out = []
    for x in it:
        out.append(x)
        if len(out) >= n:
            break
    return out


def _numbers(values: list[Any], name: str) -> np.ndarray:
    try:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"field {name!r} must hold numbers: {exc}.") from exc


def token_counter(tokenizer: str | None) -> Callable[[str], int]:
    """Count tokens with whitespace (``None``/"whitespace") or a local Hugging Face tokenizer
    (a folder, or a name already in the local cache; never downloaded, never remote code)."""
    from ..text import count_tokens

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

    def check(self, table: Any, ctx: RunContext) -> None:
        """A ``group_by`` / ``token_field`` / ``utility_column`` that is neither a column curator
        makes nor a field of any record is refused before the first stage runs (not after the
        quality, grounding and dedup stages)."""
        for name in (self.group_by, self.token_field, self.utility_column):
            if name is None or name in table.columns or name in _CURATOR_COLUMNS:
                continue
            if not any(isinstance(rec, dict) and rec.get(name) is not None for rec in R.record_dicts(table)):
                fields = sorted({k for rec in _first(R.record_dicts(table), 100) if isinstance(rec, dict) for k in rec})
                raise ConfigError(f"no column or record field {name!r}; the records' fields: {', '.join(fields)}.")

    def depends_on(self, ctx: RunContext) -> dict[str, str]:
        """A local tokenizer folder counts tokens: its files are part of the results."""
        from pathlib import Path

        from ..context import folder_digest

        if self.tokenizer not in (None, "whitespace") and Path(str(self.tokenizer)).exists():
            return {"tokenizer": folder_digest(str(self.tokenizer))}
        return {}

    def apply(self, table: Any, ctx: RunContext) -> tuple[Any, dict[str, Any]]:
        import polars as pl

        from ..select import DiverseSelector
        from ..vectors import SharedVectors

        check_param("SelectStep", "on", self.on, self.on in DEDUP_FIELDS, f"one of {DEDUP_FIELDS}")
        rows = np.flatnonzero(alive_mask(table))
        if self.budget is None:
            return table, {"skipped": "no budget given"}
        # the columns this step reads, of the rows alive (a gather of every column would copy
        # ~0.3 KiB per row of views and numbers for nothing)
        sub = table.select(R.ROW_ID, R.ID, R.INSTRUCTION, R.INPUT, R.RESPONSE)[rows]
        if self.utility_column is not None:
            util = _numbers(column_or_field(table, rows, self.utility_column), self.utility_column)
        else:
            util = _utility(table, rows)
        # float16 vectors (cosines in float32): the run's shared prompt vectors, or those of
        # the texts selection compares
        if self.on == "instruction":
            shared = prompt_vectors(table, rows, ctx)
            emb = shared.vecs[rows]
            if ctx.later_steps is not None and not ctx.later_steps:
                # the last reader: the selection graph needs the memory more than the report
                # (which embeds its few thousand sampled rows again)
                shared.release()
        else:
            texts = _field_texts(sub, self.on)
            emb = np.zeros((len(texts), ctx.embedder.dimension), SharedVectors.dtype)
            for s in range(0, len(texts), 8192):
                emb[s:s + 8192] = ctx.encode([t if t.strip() else " " for t in texts[s:s + 8192]])
            del texts
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
