"""Facility location: lazy greedy on the sparse similarity graph (see :mod:`curator.select`)."""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from .budget import _Capacity

# Stale heap entries re-evaluated together in lazy greedy (one numpy call per batch).
_LAZY_BATCH = 16


def _facility_location(
    graph: Any,
    v: np.ndarray,
    ceff: np.ndarray,
    cap: _Capacity,
    pool: np.ndarray,
    cand: np.ndarray,
    forced: list[int],
    tie: np.ndarray,
    scaled: bool,
) -> tuple[list[int], list[float], float, int]:
    """Lazy greedy on F(S) = sum_i max_{j in S} v_j s(i, j); local (pool) indices.

    Returns (order, gains, F(S), number of gain evaluations). Heap entries carry the selection
    count at which their key was computed; a popped entry computed against the current set
    is the true maximum because every other key is an upper bound (submodularity).
    """
    indptr, indices, data = graph.indptr, graph.indices, graph.data
    m = graph.shape[0]
    cur = np.zeros(m, dtype=np.float64)
    order: list[int] = []
    gains: list[float] = []

    def gain(j: int) -> float:
        a, b = indptr[j], indptr[j + 1]
        diff = v[j] * data[a:b] - cur[indices[a:b]]
        return float(diff[diff > 0].sum())

    def take(j: int, g: float) -> None:
        a, b = indptr[j], indptr[j + 1]
        idx = indices[a:b]
        cur[idx] = np.maximum(cur[idx], v[j] * data[a:b])
        cap.take(int(pool[j]))
        order.append(j)
        gains.append(g)

    for j in forced:
        take(j, gain(j))

    cidx = np.flatnonzero(cand)
    cidx = cidx[cap.fits_mask(pool[cidx])]
    g0 = _all_gains(indptr, indices, data, v, cur, cidx)
    keys = g0 / ceff[cidx] if scaled else g0
    # Entries: (-key, tie rank, row, selection count when computed, gain).
    heap = list(zip((-keys).tolist(), tie[cidx].tolist(), cidx.tolist(), [0] * cidx.size,
                    g0.tolist()))
    heapq.heapify(heap)
    n_sel = 0
    evals = int(cidx.size)
    batch: list[tuple[float, int, int, int, float]] = []
    while heap and cap.remaining > 0 and not cap.groups_full():
        top = heap[0]
        if not cap.fits(int(pool[top[2]])):
            heapq.heappop(heap)  # the budget only shrinks: this row will never fit again
            continue
        if top[3] == n_sel:
            heapq.heappop(heap)
            take(top[2], top[4])
            n_sel += 1
            continue
        # Re-evaluate the stale entries at the top in one vectorised call: a row is usually
        # taken only after dozens of stale keys were refreshed, and one numpy call per row
        # would cost more than the arithmetic.
        batch.clear()
        while heap and len(batch) < _LAZY_BATCH and heap[0][3] != n_sel:
            e = heapq.heappop(heap)
            if cap.fits(int(pool[e[2]])):
                batch.append(e)
        rows = np.fromiter((e[2] for e in batch), dtype=np.int64, count=len(batch))
        fresh = _all_gains(indptr, indices, data, v, cur, rows).tolist()
        evals += len(batch)
        for e, g in zip(batch, fresh):
            heapq.heappush(heap, (-(g / ceff[e[2]]) if scaled else -g, e[1], e[2], n_sel, g))
    return order, gains, float(cur.sum()), evals


def _all_gains(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, v: np.ndarray,
               cur: np.ndarray, idx: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Marginal gains of rows ``idx`` against coverage ``cur``, vectorised in chunks."""
    out = np.empty(idx.size)
    for s in range(0, idx.size, chunk):
        rows = idx[s:s + chunk]
        starts = indptr[rows]
        lens = indptr[rows + 1] - starts
        offsets = np.cumsum(lens) - lens  # where each row's segment starts in `flat`
        flat = np.repeat(starts - offsets, lens) + np.arange(int(lens.sum()))
        contrib = np.maximum(np.repeat(v[rows], lens) * data[flat] - cur[indices[flat]], 0.0)
        # Every row holds its diagonal entry, so no segment is empty (reduceat needs that).
        out[s:s + chunk] = np.add.reduceat(contrib, offsets)
    return out
