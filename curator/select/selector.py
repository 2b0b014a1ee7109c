"""``DiverseSelector``: parameters, input checks, filters, budgets and the dispatch to a method's
kernel (see :mod:`curator.select` for the methods and budgets)."""

from __future__ import annotations

import inspect
import math
import time
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError, check_param
from .budget import _by_utility, _Capacity, _group_quotas, _must_first, _take_in_order
from .facility_location import _facility_location
from .k_center import _k_center
from .knn import _knn, _similarity_graph
from .result import (
    BELOW_MIN_UTILITY,
    BUDGET_EXHAUSTED,
    BUDGET_UNITS,
    EXCEEDS_BUDGET,
    KNN_MODES,
    METHODS,
    NO_EMBEDDING,
    REDUNDANT,
    SelectionResult,
)
from .score_first import _score_first


class DiverseSelector:
    """Select a diverse, high-utility subset of rows under a row or token budget.

    Parameters
    ----------
    budget : int >= 0 (absolute rows or tokens) or float in [0, 1] (fraction of all rows, or of
        their total cost for token budgets).
    budget_unit : ``"rows"`` or ``"tokens"`` (then ``select`` needs ``costs``).
    method : one of ``METHODS``; see the module docstring.
    n_neighbors : neighbours per row in the facility-location similarity graph. Larger is closer
        to exact facility location and costs proportionally more memory and time. With 32 the
        mean coverage distance was within 1% of 100 neighbours (34k real rows, budgets 1-10%)
        and of a dense graph (2.5k rows, budgets 5-20%).
    min_utility : rows with utility below this are dropped before selection.
    redundancy_threshold : score-first skips a row whose cosine to a selected row is >= this.
    random_state : seed for ``random`` and for the k-means of approximate k-NN.
    utility_power : exponent p in ``v = utility ** p`` for facility location and k-center;
        0 ignores utility, 1 is proportional, larger favours utility more.
    knn : ``"exact"`` (brute force), ``"approx"`` (k-means partitioned search), or ``"auto"``
        (exact up to ``exact_knn_max`` rows).
    exact_knn_max : row count up to which ``knn="auto"`` searches exactly.
    n_probe : k-means lists (~1000 rows each) searched per query group in approximate k-NN;
        time grows linearly with it. 4 gave recall@32 0.74 on real sentence embeddings, 8 gave
        0.84; facility location results barely differ (see ``_knn``).
    group_shares : with ``groups`` given to :meth:`select`, the share of the budget each group
        gets, e.g. ``{"math": 0.5, "code": 0.3, "chat": 0.2}`` (normalised to sum 1; a group not
        named gets nothing). ``None`` = shares proportional to the groups' sizes.

    >>> sel = DiverseSelector(budget=0.1, method="k_center")
    >>> sel.budget, sel.method
    (0.1, 'k_center')
    """

    def __init__(
        self,
        budget: int | float,
        budget_unit: str = "rows",
        method: str = "facility_location",
        n_neighbors: int = 32,
        min_utility: float | None = None,
        redundancy_threshold: float = 0.9,
        random_state: int = 0,
        utility_power: float = 1.0,
        knn: str = "auto",
        exact_knn_max: int = 20_000,
        n_probe: int = 4,
        group_shares: dict[str, float] | None = None,
    ) -> None:
        self.budget = budget
        self.budget_unit = budget_unit
        self.method = method
        self.n_neighbors = n_neighbors
        self.min_utility = min_utility
        self.redundancy_threshold = redundancy_threshold
        self.random_state = random_state
        self.utility_power = utility_power
        self.knn = knn
        self.exact_knn_max = exact_knn_max
        self.n_probe = n_probe
        self.group_shares = group_shares

    # -- parameters ---------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Constructor arguments as a dict (for logging a run's configuration)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _validate_params(self) -> None:
        own = type(self).__name__
        b = self.budget
        is_int = isinstance(b, (int, np.integer)) and not isinstance(b, (bool, np.bool_))
        is_frac = isinstance(b, (float, np.floating)) and 0.0 <= float(b) <= 1.0
        check_param(
            own, "budget", b, (is_int and int(b) >= 0) or is_frac,
            "an int >= 0 (absolute) or a float in [0, 1] (fraction)",
        )
        check_param(own, "budget_unit", self.budget_unit, self.budget_unit in BUDGET_UNITS,
                    f"one of {BUDGET_UNITS}")
        check_param(own, "method", self.method, self.method in METHODS, f"one of {METHODS}")
        check_param(own, "n_neighbors", self.n_neighbors,
                    _is_int(self.n_neighbors) and self.n_neighbors >= 1, "an int >= 1")
        mu = self.min_utility
        check_param(own, "min_utility", mu,
                    mu is None or (_is_real(mu) and math.isfinite(float(mu))),
                    "None or a finite float")
        rt = self.redundancy_threshold
        check_param(own, "redundancy_threshold", rt, _is_real(rt) and -1.0 <= float(rt) <= 1.0,
                    "a float in [-1, 1]")
        check_param(own, "random_state", self.random_state,
                    _is_int(self.random_state) and self.random_state >= 0, "an int >= 0")
        up = self.utility_power
        check_param(own, "utility_power", up,
                    _is_real(up) and math.isfinite(float(up)) and float(up) >= 0.0,
                    "a finite float >= 0")
        check_param(own, "knn", self.knn, self.knn in KNN_MODES, f"one of {KNN_MODES}")
        check_param(own, "exact_knn_max", self.exact_knn_max,
                    _is_int(self.exact_knn_max) and self.exact_knn_max >= 1, "an int >= 1")
        check_param(own, "n_probe", self.n_probe,
                    _is_int(self.n_probe) and self.n_probe >= 1, "an int >= 1")
        gs = self.group_shares
        check_param(own, "group_shares", gs,
                    gs is None or (isinstance(gs, dict) and bool(gs)
                                   and all(_is_real(v) and math.isfinite(float(v)) and float(v) >= 0 for v in gs.values())
                                   and sum(float(v) for v in gs.values()) > 0),
                    "None or a non-empty dict of group -> share >= 0 with a positive sum")

    # -- work ---------------------------------------------------------------------------------
    def select(
        self,
        embeddings: np.ndarray,
        utility: np.ndarray | None = None,
        costs: np.ndarray | None = None,
        must_include: np.ndarray | None = None,
        groups: np.ndarray | None = None,
    ) -> SelectionResult:
        """Select rows; see the class and module docstrings.

        embeddings : (n, dim) array; rows need not be unit length (cosine is used).
        utility : (n,) higher is better; NaN counts as 0. Facility location and k-center need
            it >= 0. None or all-equal = pure diversity.
        costs : (n,) non-negative row costs, required for ``budget_unit="tokens"`` (ignored for
            rows).
        must_include : (n,) bool, rows selected first and counted against the budget (also
            when they lack an embedding or fall below ``min_utility``).
        groups : (n,) labels; each group's share of the budget is proportional to its share of
            the candidate rows (or tokens).

        Raises ConfigError for invalid parameters, ``min_utility`` without utility, or
        must-include rows that alone exceed the budget; InputError for malformed arrays.
        """
        t_start = time.perf_counter()
        self._validate_params()
        timings: dict[str, float] = {}
        x, valid, u, n_nan, cost, must, gcodes, glabels = self._check_inputs(
            embeddings, utility, costs, must_include, groups
        )
        n = x.shape[0]
        method = self.method
        if self.min_utility is not None and utility is None:
            raise ConfigError("min_utility is set but select() got no utility to compare it with.")
        if self.group_shares is not None and gcodes is None:
            raise ConfigError("group_shares is set but select() got no groups.")
        rows_unit = self.budget_unit == "rows"
        budget = self._resolve_budget(n, cost)

        reason: list[str | None] = [None] * n
        # Filters first: they are properties of the row, not of the budget.
        for i in np.flatnonzero(~valid & ~must):
            reason[i] = NO_EMBEDDING
        below = np.zeros(n, dtype=bool)
        if self.min_utility is not None:
            below = valid & ~must & (u < float(self.min_utility))
            for i in np.flatnonzero(below):
                reason[i] = BELOW_MIN_UTILITY
        eligible = valid & ~must & ~below
        # Only a positive token budget can be "exceeded" by one row; with no budget at all, or
        # in rows, a row is simply not reached.
        too_big = eligible & (cost > budget) if (not rows_unit and budget > 0) else np.zeros(n, bool)
        for i in np.flatnonzero(too_big):
            reason[i] = EXCEEDS_BUDGET
        cand = eligible & ~too_big

        must_cost = float(cost[must].sum())
        if must_cost > budget:
            unit = "rows" if rows_unit else "tokens"
            raise ConfigError(
                f"must_include needs {must_cost:g} {unit} but the budget is {budget:g} {unit}: "
                "raise the budget or include fewer rows."
            )

        stats: dict[str, Any] = {
            "method": method,
            "budget": _num(budget),
            "budget_requested": _py(self.budget),
            "budget_unit": self.budget_unit,
            "n_rows": n,
            "n_candidates": int(cand.sum() + must.sum()),
            "n_must_include": int(must.sum()),
            "n_no_embedding": int((~valid).sum()),
            "n_below_min_utility": int(below.sum()),
            "n_exceeds_budget": int(too_big.sum()),
            "n_nan_utility": n_nan,
            "message": None,
        }
        timings["prepare_s"] = time.perf_counter() - t_start

        order: list[int]
        gains: list[float]
        hint: tuple[np.ndarray, np.ndarray] | None = None
        available = float(cost[cand].sum()) + must_cost
        if budget >= available:
            # The budget is not binding: skip the method and take every candidate. Rank is
            # must-include first, then utility (the order top-utility would give).
            order = _must_first(must, u) + [int(i) for i in _by_utility(np.flatnonzero(cand), u)]
            gains = [float(u[i]) for i in order]
            unit = "rows" if rows_unit else "tokens"
            n_fit = int(cand.sum() + must.sum())
            stats["message"] = f"budget {budget:g} >= {available:g} {unit} of the {n_fit} candidate rows: selecting them all"
            if too_big.any():
                stats["message"] += f" ({int(too_big.sum())} rows exceed the budget on their own and are not selected)"
        else:
            cap = _Capacity(budget, cost)
            if gcodes is not None:
                shares = None
                if self.group_shares is not None:
                    named = {str(k): float(v) for k, v in self.group_shares.items()}
                    shares = np.array([named.get(str(_py(lab)), 0.0) for lab in glabels])
                    if shares.sum() <= 0:
                        raise ConfigError(f"group_shares names none of the groups in the data "
                                          f"({', '.join(str(_py(g)) for g in glabels[:10])}).")
                    shares = shares / shares.sum()
                quotas = _group_quotas(budget, cost, gcodes, len(glabels), cand, must, rows_unit, shares)
                cap.set_groups(gcodes, quotas)
                stats["group_quotas"] = {_py(glabels[g]): _num(quotas[g]) for g in range(len(glabels))}
            t0 = time.perf_counter()
            if method in ("facility_location", "k_center"):
                order, gains, hint = self._diversity(method, x, valid, u, cost, cand, must,
                                                     cap, rows_unit, stats, timings)
            elif method == "score_first":
                order, gains = _score_first(x, valid, u, cand, must, cap, reason,
                                             self.redundancy_threshold)
            elif method == "top_utility":
                order, gains = _take_in_order(_must_first(must, u), _by_utility(np.flatnonzero(cand), u), u, cap)
            else:
                rng = np.random.default_rng(self.random_state)
                perm = rng.permutation(np.flatnonzero(cand))
                order, gains = _take_in_order(_must_first(must, u), perm, u, cap)
            timings["select_s"] = time.perf_counter() - t0 - timings.get("graph_s", 0.0)

        selected = np.zeros(n, dtype=bool)
        rank = np.full(n, -1, dtype=np.int64)
        gain = np.full(n, np.nan, dtype=np.float64)
        order_arr = np.asarray(order, dtype=np.int64)
        selected[order_arr] = True
        rank[order_arr] = np.arange(len(order_arr))
        gain[order_arr] = np.asarray(gains, dtype=np.float64)
        for i in np.flatnonzero(~selected):
            if reason[i] is None:
                reason[i] = BUDGET_EXHAUSTED
        if selected.any():
            assert all(reason[i] is None for i in order_arr)  # filters never hit selected rows

        t0 = time.perf_counter()
        redundant_with = self._nearest_selected(x, valid, selected, hint)
        timings["redundant_with_s"] = time.perf_counter() - t0

        used = float(cost[selected].sum())
        stats.update({
            "used": _num(used),
            "fill_ratio": used / budget if budget > 0 else 1.0,
            "n_selected": int(selected.sum()),
            "n_redundant": sum(r == REDUNDANT for r in reason),
            "n_budget_exhausted": sum(r == BUDGET_EXHAUSTED for r in reason),
        })
        timings["total_s"] = time.perf_counter() - t_start
        stats["timings"] = {k: round(v, 4) for k, v in timings.items()}
        return SelectionResult(selected, rank, gain, reason, redundant_with, stats)

    # -- input handling -----------------------------------------------------------------------
    def _check_inputs(
        self,
        embeddings: np.ndarray,
        utility: np.ndarray | None,
        costs: np.ndarray | None,
        must_include: np.ndarray | None,
        groups: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray, np.ndarray,
               np.ndarray | None, np.ndarray]:
        emb = np.asarray(embeddings)
        if emb.ndim != 2 or emb.shape[1] == 0 or not np.issubdtype(emb.dtype, np.number):
            raise InputError(f"embeddings must be a numeric (n, dim) array, got shape {emb.shape}.")
        n = emb.shape[0]
        x, valid = _unit_rows(emb)

        if utility is None:
            u = np.ones(n)
            n_nan = 0
        else:
            u = _vector(utility, n, "utility").astype(np.float64)
            nan = ~np.isfinite(u)
            n_nan = int(nan.sum())
            u[nan] = 0.0  # documented: a missing score counts as the worst score
        if self.method in ("facility_location", "k_center") and self.utility_power > 0 and (u < 0).any():
            raise InputError(
                f"utility must be >= 0 for method={self.method!r} (it scales similarities); "
                "rescale it, e.g. to [0, 1]."
            )

        if self.budget_unit == "tokens":
            if costs is None:
                raise InputError("budget_unit='tokens' needs costs (e.g. token counts per row).")
            cost = _vector(costs, n, "costs").astype(np.float64)
            if not np.isfinite(cost).all() or (cost < 0).any():
                raise InputError("costs must be finite and >= 0.")
        else:
            cost = np.ones(n)

        if must_include is None:
            must = np.zeros(n, dtype=bool)
        else:
            m = _vector(must_include, n, "must_include")
            if m.dtype != bool:
                raise InputError(f"must_include must be a bool mask, got dtype {m.dtype}.")
            must = m.copy()

        gcodes: np.ndarray | None = None
        glabels = np.empty(0)
        if groups is not None:
            g = _vector(groups, n, "groups")
            glabels, gcodes = np.unique(g, return_inverse=True)
            gcodes = gcodes.reshape(-1).astype(np.int64)
        return x, valid, u, n_nan, cost, must, gcodes, glabels

    def _resolve_budget(self, n: int, cost: np.ndarray) -> float:
        b = self.budget
        if isinstance(b, (float, np.floating)):
            total = float(n) if self.budget_unit == "rows" else float(cost.sum())
            # Floor, so a fraction never rounds up past what was asked for.
            return float(math.floor(float(b) * total + 1e-9))
        return float(int(b))

    # -- methods ------------------------------------------------------------------------------
    def _weights(self, u: np.ndarray, pool: np.ndarray) -> np.ndarray:
        """v = utility ** p on the pool; all-equal utility means pure diversity (v = 1)."""
        up = u[pool]
        if up.size == 0 or up.max() == up.min() or self.utility_power == 0:
            return np.ones(up.size)
        return np.power(up, float(self.utility_power))

    def _diversity(
        self,
        method: str,
        x: np.ndarray,
        valid: np.ndarray,
        u: np.ndarray,
        cost: np.ndarray,
        cand: np.ndarray,
        must: np.ndarray,
        cap: _Capacity,
        rows_unit: bool,
        stats: dict[str, Any],
        timings: dict[str, float],
    ) -> tuple[list[int], list[float], tuple[np.ndarray, np.ndarray] | None]:
        """Facility location or k-center over the pool = candidates + must-include rows.

        Returns (order, gains, hint); hint = (pool, forward k-NN lists) for facility location,
        which lets ``_nearest_selected`` skip most of its search.
        """
        hint: tuple[np.ndarray, np.ndarray] | None = None
        pool = np.flatnonzero(cand | (must & valid))
        forced_no_emb = [int(i) for i in np.flatnonzero(must & ~valid)]
        v = self._weights(u, pool)
        cand_local = cand[pool]
        # Cost-scaled keys use max(cost, 1) so an empty (zero-cost) row is not infinitely good.
        ceff = np.maximum(cost[pool], 1.0)
        # Gain ties are broken by higher utility, then lower row index.
        tie = np.empty(pool.size, dtype=np.int64)
        tie[np.lexsort((pool, -u[pool]))] = np.arange(pool.size)
        forced_local = sorted((int(i) for i in np.flatnonzero(must[pool])), key=lambda j: tie[j])

        # Rows without an embedding cannot cover anything: they only consume budget.
        for i in forced_no_emb:
            cap.take(i)
        head = forced_no_emb
        head_gains = [0.0] * len(forced_no_emb)
        xp = x if pool.size == x.shape[0] else x[pool]  # no 2nd copy of a large matrix
        if method == "k_center":
            local_order, local_gains = _k_center(np.asarray(xp, dtype=np.float32), v, ceff if not rows_unit else None,
                                                 cap, pool, cand_local, forced_local)
        else:
            t0 = time.perf_counter()
            graph, nbr, info = _similarity_graph(xp, self.n_neighbors, self.knn, self.exact_knn_max,
                                                 self.n_probe, self.random_state)
            hint = (pool, nbr)
            timings["graph_s"] = time.perf_counter() - t0
            stats["graph"] = info
            # Token budgets: CELF runs cost-scaled and plain greedy and keeps the better.
            runs = [False] if rows_unit else [True, False]
            best: tuple[float, list[int], list[float], str] | None = None
            evals = 0
            for scaled in runs:
                o, g, obj, ne = _facility_location(graph, v, ceff, cap.copy(), pool, cand_local,
                                                   forced_local, tie, scaled)
                evals += ne
                if best is None or obj > best[0] * (1 + 1e-12):
                    best = (obj, o, g, "cost_scaled" if scaled else "plain")
            assert best is not None
            local_order, local_gains = best[1], best[2]
            stats["objective"] = round(best[0], 6)
            stats["gain_evaluations"] = evals
            if not rows_unit:
                stats["knapsack"] = best[3]
        order = head + [int(pool[j]) for j in local_order]
        return order, head_gains + local_gains, hint

    def _nearest_selected(self, x: np.ndarray, valid: np.ndarray, selected: np.ndarray,
                          hint: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Nearest selected row of every unselected row with an embedding (-1 otherwise).

        ``hint`` = (pool, forward k-NN lists in pool positions). A selected row among a row's k
        nearest neighbours is its nearest selected row (all rows outside the list are farther),
        so only rows without one are searched.
        """
        n = x.shape[0]
        out = np.full(n, -1, dtype=np.int64)
        base = np.flatnonzero(selected & valid)
        todo = ~selected & valid
        if base.size == 0 or not todo.any():
            return out
        if hint is not None:
            pool, nbr = hint
            sel_local = selected[pool]
            hits = np.zeros(nbr.shape, dtype=bool)
            ok = nbr >= 0
            hits[ok] = sel_local[nbr[ok]]
            first = hits.argmax(axis=1)
            found = hits.any(axis=1) & ~sel_local
            rows = np.flatnonzero(found)
            out[pool[rows]] = pool[nbr[rows, first[rows]]]
            todo[pool[rows]] = False
        query = np.flatnonzero(todo)
        if query.size == 0:
            return out
        exact = self.knn == "exact" or (
            self.knn == "auto" and query.size * base.size <= self.exact_knn_max ** 2
        )
        _, nn = _knn(x, 1, exact=exact, n_probe=self.n_probe, seed=self.random_state,
                     q_rows=query, b_rows=base)
        hit = nn[:, 0] >= 0
        out[query[hit]] = base[nn[hit, 0]]
        return out


# -- small helpers ----------------------------------------------------------------------------
def _unit_rows(emb: np.ndarray, block: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """float32 C-contiguous unit rows (zeros where invalid) and the valid mask; float16 rows
    stay float16 (half the memory; every product is computed in float32, a block at a time).

    No copy when the input is already float32 (or float16), contiguous and unit length (to
    1e-4, or float16's 2e-3); temporaries are per block of rows (a whole-matrix mask at 500k x
    384 would cost ~1 GB).
    """
    half = np.asarray(emb).dtype == np.float16
    x: np.ndarray = np.ascontiguousarray(emb, dtype=np.float16 if half else np.float32)
    n = x.shape[0]
    norms = np.empty(n)
    for s in range(0, n, block):
        blk = x[s:s + block]
        # float64 sums: squares of large float32 values do not overflow, NaN / inf propagate.
        np.sqrt(np.einsum("ij,ij->i", blk, blk, dtype=np.float64), out=norms[s:s + block])
    valid = np.isfinite(norms) & (norms > 0)
    if valid.all() and np.allclose(norms, 1.0, atol=2e-3 if half else 1e-4):
        return x, valid
    out = np.zeros_like(x)
    for s in range(0, n, block):
        v = valid[s:s + block]
        out[s:s + block][v] = x[s:s + block][v] / norms[s:s + block][v, None].astype(np.float32)
    return out, valid


def _vector(a: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.shape != (n,):
        raise InputError(f"{name} must have shape ({n},) to match embeddings, got {arr.shape}.")
    return arr


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
