"""Budget bookkeeping for selection (see :mod:`curator.select`).

``_Capacity`` tracks the remaining budget (rows or tokens) and each group's remaining quota;
``_group_quotas`` / ``_apportion`` split a budget over groups; ``_take_in_order`` is the fill pass
(take rows in a given order while they still fit) that ``top_utility`` and ``random`` consist of.
"""

from __future__ import annotations

import numpy as np


class _Capacity:
    """Remaining total budget and (optionally) remaining per-group quota."""

    def __init__(self, budget: float, cost: np.ndarray) -> None:
        self.remaining = float(budget)
        self.cost = cost
        self.gcodes: np.ndarray | None = None
        self.group_rem: np.ndarray | None = None

    def set_groups(self, gcodes: np.ndarray, quotas: np.ndarray) -> None:
        self.gcodes = gcodes
        self.group_rem = quotas.astype(np.float64).copy()

    def copy(self) -> _Capacity:
        c = _Capacity(self.remaining, self.cost)
        if self.gcodes is not None and self.group_rem is not None:
            c.set_groups(self.gcodes, self.group_rem)
        return c

    def fits(self, i: int) -> bool:
        c = self.cost[i]
        if c > self.remaining:
            return False
        if self.group_rem is not None and self.gcodes is not None:
            return bool(c <= self.group_rem[self.gcodes[i]])
        return True

    def fits_mask(self, idx: np.ndarray) -> np.ndarray:
        c = self.cost[idx]
        ok = c <= self.remaining
        if self.group_rem is not None and self.gcodes is not None:
            ok &= c <= self.group_rem[self.gcodes[idx]]
        return ok

    def take(self, i: int) -> None:
        c = float(self.cost[i])
        self.remaining -= c
        if self.group_rem is not None and self.gcodes is not None:
            self.group_rem[self.gcodes[i]] -= c

    def groups_full(self) -> bool:
        return self.group_rem is not None and bool((self.group_rem <= 0).all())


def _group_quotas(
    budget: float,
    cost: np.ndarray,
    gcodes: np.ndarray,
    n_groups: int,
    cand: np.ndarray,
    must: np.ndarray,
    integer: bool,
    shares: np.ndarray | None = None,
) -> np.ndarray:
    """Per-group budgets proportional to each group's share of candidate rows (or tokens), or
    to the given ``shares``.

    Must-include rows count against their group's share; the rest of the budget goes to the
    groups still below their share, in proportion to the shortfall, never more than a group's
    candidates can use; what a group cannot use goes to the others by share.
    """
    pool = cand | must
    if shares is not None:
        share = shares
    else:
        share = np.bincount(gcodes[pool], weights=cost[pool], minlength=n_groups)
        share = share / share.sum() if share.sum() > 0 else np.full(n_groups, 1.0 / n_groups)
    must_cost = np.bincount(gcodes[must], weights=cost[must], minlength=n_groups)
    capacity = np.bincount(gcodes[cand], weights=cost[cand], minlength=n_groups)
    rest = budget - float(must_cost.sum())
    shortfall = np.maximum(budget * share - must_cost, 0.0)
    extra = _apportion(rest, [shortfall, share], capacity, integer)
    return must_cost + extra


def _apportion(total: float, weight_list: list[np.ndarray], caps: np.ndarray,
               integer: bool) -> np.ndarray:
    """Split ``total`` over groups by the first weights, capped; leftovers by the next weights.

    Integer splits use largest remainders (ties to the lower group index).
    """
    q = np.zeros(caps.size)
    for weights in weight_list:
        for _ in range(caps.size + 1):  # water-filling: each round caps at least one group
            left = total - q.sum()
            room = caps - q
            open_ = (room > 1e-9) & (weights > 0)
            if left <= 1e-9 or not open_.any():
                break
            w = np.where(open_, weights, 0.0)
            add = np.minimum(left * w / w.sum(), room)
            if integer:
                add = np.floor(add + 1e-9)
                spare = int(round(left - add.sum()))
                frac = np.where(open_ & (room - add >= 1), left * w / w.sum() - add, -1.0)
                for g in np.argsort(-frac, kind="stable")[:spare]:
                    if frac[g] >= 0:
                        add[g] += 1
            if add.sum() <= 1e-9:
                break
            q += add
    return q


def _take_in_order(head: list[int], queue: np.ndarray, u: np.ndarray,
                   cap: _Capacity) -> tuple[list[int], list[float]]:
    """Take ``head`` unconditionally, then every row of ``queue`` that still fits."""
    order = list(head)
    for i in head:
        cap.take(i)
    if queue.size:
        suffix_min = np.minimum.accumulate(cap.cost[queue][::-1])[::-1]
        for s, i in enumerate(queue.tolist()):
            if cap.remaining < suffix_min[s] or cap.groups_full():
                break
            if cap.fits(i):
                cap.take(i)
                order.append(i)
    return order, [float(u[i]) for i in order]


def _by_utility(idx: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``idx`` sorted by decreasing utility, ties by increasing index."""
    idx = np.asarray(idx, dtype=np.int64)
    return idx[np.lexsort((idx, -u[idx]))]


def _must_first(must: np.ndarray, u: np.ndarray) -> list[int]:
    return [int(i) for i in _by_utility(np.flatnonzero(must), u)]
