"""Pipeline steps: one module per step, each a :class:`Step` that adds columns to the pairs table
and may drop rows *with a reason* (see :mod:`curator.pipeline` for the run that chains them).

``base`` (the :class:`Step` interface and the table helpers), ``quality``, ``grounding``,
``dedup``, ``select``.
"""

from __future__ import annotations

from .base import DEDUP_FIELDS, Step, alive_mask, put_column, set_drops
from .dedup import DEDUP_ON, DedupStep
from .grounding import GroundingStep, worst_turn
from .quality import QualityStep, quality_details
from .select import SelectStep, column_or_field, token_counter

__all__ = [
    "DEDUP_FIELDS",
    "DEDUP_ON",
    "DedupStep",
    "GroundingStep",
    "QualityStep",
    "SelectStep",
    "Step",
    "alive_mask",
    "column_or_field",
    "put_column",
    "quality_details",
    "set_drops",
    "token_counter",
    "worst_turn",
]
