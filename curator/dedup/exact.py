"""Exact duplicates: rows whose meaning-keeping normalisation is identical."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

import numpy as np

from ..errors import check_param
from .checks import _as_pairs, _check_texts
from .normalize import _BATCH_CHARS, _batches, _normalize_codepoints


# ---------------------------------------------------------------------------------------------
# Exact duplicates
# ---------------------------------------------------------------------------------------------
class ExactDuplicateFinder:
    """Rows whose normalised text is identical (same blake2b-128 digest).

    Parameters
    ----------
    lowercase, collapse_whitespace : fold case (Unicode casefold) and runs of whitespace.
    strip_punctuation : ``"neutral"`` (default): only meaning-neutral sentence punctuation
        (. , ! ? ; : quotes) and invisible format characters (ZWSP, soft hyphen, BOM, bidi
        marks) are folded; digits, operators and symbols (+ - * / < > = # % $ @ & |), emoji and
        letters of every script are kept, so "7+3" != "7-3", "C++" != "C#" != "C", "😀" != "😢".
        ``True``: every punctuation mark and symbol is folded (the old, lossy rule); ``False``:
        none. NFKC is always applied (full-width letters, ligatures, NBSP = their plain forms).

    A row that normalises to nothing but is not blank ("?!", "...") is compared on its raw
    (NFKC, stripped) text; blank rows (empty or whitespace only) are never paired: they carry
    no content to be a duplicate of.

    >>> ExactDuplicateFinder().find_pairs(["A  cat.", "a cat", "", " ", "dog", "A CAT!", "7+3", "7-3"])
    [(0, 1, 1.0), (0, 5, 1.0)]
    """

    def __init__(
        self,
        lowercase: bool = True,
        collapse_whitespace: bool = True,
        strip_punctuation: bool | str = "neutral",
    ) -> None:
        self.lowercase = lowercase
        self.collapse_whitespace = collapse_whitespace
        self.strip_punctuation = strip_punctuation

    def _validate(self) -> None:
        for name in ("lowercase", "collapse_whitespace"):
            value = getattr(self, name)
            check_param("ExactDuplicateFinder", name, value, isinstance(value, bool), "a bool")
        check_param("ExactDuplicateFinder", "strip_punctuation", self.strip_punctuation,
                    isinstance(self.strip_punctuation, bool) or self.strip_punctuation == "neutral",
                    "a bool or 'neutral'")

    def _groups(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(first row with the same normalised text, normalises-to-nothing) per row.

        Blank rows are their own group; other rows that normalise to nothing are grouped by
        their raw NFKC text (two rows "?!" are copies, "?!" and "!?" are not)."""
        first = np.arange(len(texts), dtype=np.int64)
        empty = np.zeros(len(texts), dtype=bool)
        seen: dict[bytes, int] = {}
        lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        for start, stop in _batches(lens, _BATCH_CHARS):
            cps, offsets = _normalize_codepoints(
                texts[start:stop], self.lowercase, self.collapse_whitespace,
                self.strip_punctuation,
            )
            raw = cps.tobytes()
            for k in range(stop - start):
                a, b = int(offsets[k]) * 4, int(offsets[k + 1]) * 4
                if a == b:
                    empty[start + k] = True
                    bare = unicodedata.normalize("NFKC", texts[start + k]).strip()
                    if not bare:
                        continue
                    key = b"raw:" + hashlib.blake2b(bare.encode("utf-8", "surrogatepass"),
                                                    digest_size=16).digest()
                else:
                    key = hashlib.blake2b(raw[a:b], digest_size=16).digest()
                first[start + k] = seen.setdefault(key, start + k)
        return first, empty

    def _pair_arrays(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._validate()
        first, _ = self._groups(texts)
        j = np.flatnonzero(first != np.arange(len(texts)))
        i = first[j]
        order = np.lexsort((j, i))
        return i[order], j[order], np.ones(len(j))

    def find_pairs(self, texts: Sequence[str]) -> list[tuple[int, int, float]]:
        """Edges ``(i, j, 1.0)``, ``i < j``: each duplicate joined to the first row of its group."""
        return _as_pairs(*self._pair_arrays(_check_texts(texts)))
