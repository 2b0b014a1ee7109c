"""Shared preambles: a system prompt, tool description or template that opens many rows.

A preamble shared by many rows must not decide a merge. GPTeacher's toolformer rows open with
the tool's description ("toolformer: enabled / toolformer access: wolfram / A wolfram alpha
search engine. Useful for ... / wolfram(query)") and end in a short task; compared whole, the
description is most of every row, and "Calculate the cube root of 27" became a near duplicate
of "Find the length of the given string" (6,997 of 7,673 such rows were dropped). Customer
support chats under one long system prompt merge the same way.

:func:`split_preambles` finds them in the data: a **preamble** is a leading block of whole
lines that at least :data:`PREAMBLE_MIN_ROWS` rows open with, each going on with a different
rest (copies of one row do not make a template). Each row's preamble is the longest such block
that leaves it some text of its own. The near and semantic stages then compare a row's **body**
(the text after its preamble) and only with rows under the same preamble; the exact stage
still compares whole texts. So true duplicates under one preamble are still merged, the same
task under two tools (two preambles) is two rows, and rows without a shared preamble are
compared as before.

Why at least 3 rows with different rests: a block two rows share can be one row and its edited
copy; three different continuations of one block are a template (the same system prompt or
tool description, or one context with several questions). On the real 21,710-row Alpaca merge
in shared/data/perf only the 7,673 toolformer rows get a preamble (31 of them, the tool
descriptions with or without their task line) at 3 and at 5 rows alike: the Alpaca, GSM8K,
role-play and code rows open with a line of their own.

Lines are compared case-folded with their whitespace collapsed; blank lines are skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Rows with different rests that must open with a block of lines for it to be a preamble.
PREAMBLE_MIN_ROWS = 3
#: Leading lines looked at per row: a preamble is at most this many non-blank lines.
MAX_PREAMBLE_LINES = 64


@dataclass
class Preambles:
    """What :func:`split_preambles` found.

    Attributes
    ----------
    bodies : per row, the text after its preamble (the whole text for a row without one).
    preamble : int64 per row, the id of its preamble (1, 2, ...), 0 for none.
    texts : the preambles' texts by id (``texts[0]`` is ""), as the first row has them.
    """

    bodies: list[str]
    preamble: np.ndarray
    texts: list[str] = field(default_factory=lambda: [""])

    @property
    def stats(self) -> dict[str, Any]:
        """Rows with a preamble and the number of preambles, for the summary."""
        return {"rows_with_preamble": int((self.preamble > 0).sum()),
                "preambles": len(self.texts) - 1}


def _line_starts(text: str) -> list[tuple[int, str]]:
    """(offset, folded line) of the text's non-blank lines, at most MAX_PREAMBLE_LINES + 1."""
    out: list[tuple[int, str]] = []
    pos = 0
    for line in text.split("\n"):
        folded = " ".join(line.casefold().split())
        if folded:
            out.append((pos, folded))
            if len(out) > MAX_PREAMBLE_LINES:
                break
        pos += len(line) + 1
    return out


def split_preambles(texts: Sequence[str], min_rows: int = PREAMBLE_MIN_ROWS) -> Preambles:
    """Find the preambles shared by at least ``min_rows`` rows with different rests.

    >>> tool = "toolformer: enabled\\ntoolformer access: wolfram\\nA search engine.\\nwolfram(query)\\n"
    >>> found = split_preambles([tool + "Calculate the cube root of 27.", tool + "Find the length of a string.",
    ...                          tool + "Convert 3 miles to km.", "Hello\\nWrite a haiku."])
    >>> found.bodies, found.preamble.tolist()
    (['Calculate the cube root of 27.', 'Find the length of a string.', 'Convert 3 miles to km.', 'Hello\\nWrite a haiku.'], [1, 1, 1, 0])
    """
    n = len(texts)
    bodies = list(texts)
    preamble = np.zeros(n, dtype=np.int64)
    found = Preambles(bodies, preamble)
    # rows with two or more non-blank lines: (row, [(offset, folded line)])
    rows = [(r, ls) for r, t in enumerate(texts) if "\n" in t and len(ls := _line_starts(t)) > 1]
    if len(rows) < min_rows:
        return found
    line_ids: dict[str, int] = {}
    prefix_ids: dict[tuple[int, int], int] = {}
    suffix_ids: dict[tuple[int, int], int] = {}
    per_row: list[list[int]] = []  # prefix id of the first k + 1 lines, k < len(lines) - 1
    pairs: set[tuple[int, int]] = set()
    for r, ls in rows:
        ids = [line_ids.setdefault(line, len(line_ids)) for _, line in ls]
        full = len(ls) <= MAX_PREAMBLE_LINES  # else the rest is cut: key it by the row
        # suffix ids from the end: the rest after each prefix
        rest = [-1] * len(ids)
        nxt = len(suffix_ids) + 1 if not full else 0  # an unknown tail is its own rest
        if not full:
            suffix_ids[(-r - 1, -1)] = nxt
        for k in range(len(ids) - 1, 0, -1):
            nxt = suffix_ids.setdefault((ids[k], nxt), len(suffix_ids) + 1)
            rest[k] = nxt
        prefixes: list[int] = []
        prev = -1
        for k in range(len(ids) - 1):
            prev = prefix_ids.setdefault((prev, ids[k]), len(prefix_ids))
            prefixes.append(prev)
            pairs.add((prev, rest[k + 1]))
        per_row.append(prefixes)
    shared = Counter(p for p, _ in pairs)
    names: dict[int, int] = {}
    for (r, ls), prefixes in zip(rows, per_row):
        best = -1
        for k, p in enumerate(prefixes):
            if shared[p] >= min_rows:
                best = k
        if best < 0:
            continue
        pid = prefixes[best]
        if pid not in names:
            names[pid] = len(found.texts)
            found.texts.append(texts[r][:ls[best + 1][0]].rstrip())
        preamble[r] = names[pid]
        bodies[r] = texts[r][ls[best + 1][0]:]
    return found
