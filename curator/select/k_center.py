"""k-center: greedy farthest-first traversal (Gonzalez) on cosine distance (see :mod:`curator.select`)."""

from __future__ import annotations

import numpy as np

from .budget import _Capacity


def _k_center(
    x: np.ndarray,
    v: np.ndarray,
    ceff: np.ndarray | None,
    cap: _Capacity,
    pool: np.ndarray,
    cand: np.ndarray,
    forced: list[int],
) -> tuple[list[int], list[float]]:
    """Greedy farthest-first on cosine distance, scores v * d (divided by cost if ceff given).

    With nothing selected yet, the first row maximises v * (1 + cos to the mean direction) / 2:
    the most central row, which is the best single representative.
    """
    m = x.shape[0]
    dist = np.full(m, np.inf)
    order: list[int] = []
    gains: list[float] = []
    centre = x.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    central = (1.0 + (x @ (centre / norm) if norm > 0 else np.zeros(m))) / 2.0

    def score_of(j: int) -> float:
        return float(v[j] * (central[j] if not order else dist[j]))

    def take(j: int) -> None:
        nonlocal dist
        gains.append(score_of(j))
        order.append(j)
        cap.take(int(pool[j]))
        np.minimum(dist, 1.0 - x @ x[j], out=dist)

    for j in forced:
        take(j)
    alive = cand.copy()
    while True:
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        ok = cap.fits_mask(pool[idx])
        alive[idx[~ok]] = False  # the budget only shrinks: never fits again
        idx = idx[ok]
        if idx.size == 0:
            break
        base = central[idx] if not order else dist[idx]
        score = v[idx] * np.maximum(base, 0.0)
        if ceff is not None:
            score = score / ceff[idx]
        j = int(idx[int(np.argmax(score))])  # ties: lowest row index
        take(j)
        alive[j] = False
    return order, gains
