"""What every step shares: the :class:`Step` interface and the table helpers steps write with.

A step never removes a row from the table: dropping a row sets its ``drop_stage`` and
``drop_reason`` (:func:`set_drops`); later steps only work on rows still alive (:func:`alive_mask`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import records as R
from ..context import RunContext
from ..records import prompt_text


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

    def check(self, table: Any, ctx: RunContext) -> None:
        """Refuse, before any stage runs, what this step would refuse later (a setting, a row
        problem it cannot go on with). Nothing by default."""

    def depends_on(self, ctx: RunContext) -> dict[str, str]:
        """Digests of the files this step's results depend on beyond its settings (an index, a
        parameters file, a model folder): part of a checkpoint's key, so a change to one of them
        is recomputed, never resumed. None by default."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


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


def prompt_vectors(table: Any, rows: np.ndarray, ctx: RunContext) -> Any:
    """The run's shared prompt vectors (:class:`curator.vectors.SharedVectors`, float16, one per
    table row) with those of ``rows`` filled: the quality step computed most; the others are
    embedded here, a chunk of rows at a time (not kept in the embedding cache: this is their copy)."""
    store = ctx.shared_prompts(table.height)
    store.fill(rows, lambda part: _field_texts(table[part], "instruction"),
               lambda texts: ctx.encode(texts, keep=False))
    return store
