"""What selection returns: :class:`SelectionResult`, the method names and the reasons rows are
not selected (see :mod:`curator.select`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

METHODS = ("facility_location", "k_center", "score_first", "top_utility", "random")
BUDGET_UNITS = ("rows", "tokens")
KNN_MODES = ("auto", "exact", "approx")

# Reasons recorded for rows that are not selected.
NO_EMBEDDING = "no_embedding"
BELOW_MIN_UTILITY = "below_min_utility"
EXCEEDS_BUDGET = "exceeds_budget"
REDUNDANT = "redundant"
BUDGET_EXHAUSTED = "budget_exhausted"
REASONS = (NO_EMBEDDING, BELOW_MIN_UTILITY, EXCEEDS_BUDGET, REDUNDANT, BUDGET_EXHAUSTED)


@dataclass
class SelectionResult:
    """Per-row outcome of a selection.

    Attributes
    ----------
    selected : bool per row.
    rank : int64 per row, 0-based order of selection (must-include rows first); -1 if not
        selected.
    gain : float per row, the method's marginal gain when the row was selected (facility
        location: increase of F; k-center: ``v * distance`` to the rows selected before;
        score-first, top-utility, random: the row's utility, 1.0 without utility); NaN if
        not selected.
    reason : per row, None if selected, else one of ``REASONS``: ``"no_embedding"`` (all-zero or
        non-finite vector), ``"below_min_utility"``, ``"exceeds_budget"`` (the row alone costs
        more than the whole budget), ``"redundant"`` (score-first skip), ``"budget_exhausted"``.
    redundant_with : int64 per row, for unselected rows with an embedding the nearest selected
        row (cosine; approximate above ``exact_knn_max`` rows), else -1.
    stats : method, budget, budget_unit, used, fill_ratio, n_selected, counts per reason,
        timings (seconds), message (a sentence when the budget covers every candidate, else
        None) and method details.
    """

    selected: np.ndarray
    rank: np.ndarray
    gain: np.ndarray
    reason: list[str | None]
    redundant_with: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)

    def indices(self) -> np.ndarray:
        """Selected row indices in selection order.

        >>> r = SelectionResult(np.array([True, False, True]), np.array([1, -1, 0]),
        ...                     np.array([0.5, np.nan, 1.0]), [None, "redundant", None],
        ...                     np.array([-1, 2, -1]))
        >>> r.indices().tolist()
        [2, 0]
        """
        idx = np.flatnonzero(self.selected)
        return idx[np.argsort(self.rank[idx], kind="stable")]
