"""score-first (DEITA-style): by utility, skipping redundant rows (see :mod:`curator.select`)."""

from __future__ import annotations

import numpy as np

from .budget import _by_utility, _Capacity, _must_first
from .result import REDUNDANT


def _score_first(
    x: np.ndarray,
    valid: np.ndarray,
    u: np.ndarray,
    cand: np.ndarray,
    must: np.ndarray,
    cap: _Capacity,
    reason: list[str | None],
    redundancy_threshold: float,
) -> tuple[list[int], list[float]]:
    """DEITA-style: by utility, skipping rows too similar to one already selected."""
    order: list[int] = []
    gains: list[float] = []
    for i in _must_first(must, u):
        cap.take(i)
        order.append(i)
        gains.append(float(u[i]))
    tau = float(redundancy_threshold)
    dim = x.shape[1]
    buf = np.empty((max(16, len(order)), dim), dtype=np.float32)
    n_buf = 0

    def push(vec: np.ndarray) -> None:
        nonlocal buf, n_buf
        if n_buf == buf.shape[0]:
            buf = np.concatenate([buf, np.empty_like(buf)])
        buf[n_buf] = vec
        n_buf += 1

    for i in order:
        if valid[i]:
            push(x[i])
    queue = _by_utility(np.flatnonzero(cand), u)
    # Suffix minimum of costs: stop as soon as nothing further down the queue can fit.
    suffix_min = np.minimum.accumulate(cap.cost[queue][::-1])[::-1] if queue.size else queue
    block = 512
    for s in range(0, queue.size, block):
        if cap.remaining < suffix_min[s] or cap.groups_full():
            break
        blk = queue[s:s + block]
        xb = np.asarray(x[blk], dtype=np.float32)  # float16 rows: products in float32
        pre = (xb @ buf[:n_buf].T).max(axis=1) if n_buf else np.full(blk.size, -np.inf)
        intra = xb @ xb.T
        taken: list[int] = []
        for t, i in enumerate(blk):
            i = int(i)
            if not cap.fits(i):
                continue
            best = pre[t]
            if taken:
                best = max(best, float(intra[t, taken].max()))
            if best >= tau:
                reason[i] = REDUNDANT
                continue
            cap.take(i)
            order.append(i)
            gains.append(float(u[i]))
            taken.append(t)
        for t in taken:
            push(xb[t])
    return order, gains
