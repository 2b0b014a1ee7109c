"""Argument checks and the edge-list form shared by the finders and the Deduplicator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError("texts must be a sequence of strings, not one string.")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InputError(f"Row {i} of texts is {type(t).__name__}, not str.")
    return out


def _is_unit_interval(x: object, allow_zero: bool = False) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    return (0.0 <= x <= 1.0) if allow_zero else (0.0 < x <= 1.0)


def _is_int(x: object, low: int) -> bool:
    return bool(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= low)


def _as_pairs(i: np.ndarray, j: np.ndarray, s: np.ndarray) -> list[tuple[int, int, float]]:
    return list(zip(i.tolist(), j.tolist(), s.tolist()))
