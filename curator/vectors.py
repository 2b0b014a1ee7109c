"""One copy of the prompt vectors a run's steps share (:class:`SharedVectors`).

The quality step embeds every prompt (for its relevance cosine); dedup, selection and the
report compare the same prompts. Instead of one float32 copy in the embedding cache (1.6 KiB per
row with its key) and one per step reading it, a run holds one float16 vector per table row
(768 bytes for a 384-d model), and each reader computes its cosines in float32 from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


class SharedVectors:
    """One float16 vector per table row for one kind of text (a row's prompt; a blank one is
    embedded as " "), filled as steps compute them and read by row positions.

    >>> v = SharedVectors(3, 2)
    >>> v.put(np.array([2]), np.array([[0.6, 0.8]], dtype=np.float32))
    >>> v.missing(np.arange(3)).tolist(), v.get(np.array([2])).dtype.name
    ([0, 1], 'float32')
    """

    dtype = np.float16

    def __init__(self, n: int, dim: int) -> None:
        # np.zeros: pages are only touched (and counted in RSS) as rows are written
        self.vecs = np.zeros((int(n), int(dim)), dtype=self.dtype)
        self.have = np.zeros(int(n), dtype=bool)

    def __len__(self) -> int:
        return self.vecs.shape[0]

    @property
    def dim(self) -> int:
        return int(self.vecs.shape[1])

    def put(self, rows: np.ndarray, vecs: np.ndarray) -> None:
        """Store the vectors of table rows ``rows`` (rounded to float16)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows):
            self.vecs[rows] = np.asarray(vecs)
            self.have[rows] = True

    def missing(self, rows: np.ndarray) -> np.ndarray:
        """The rows of ``rows`` without a vector yet."""
        rows = np.asarray(rows, dtype=np.int64)
        return rows[~self.have[rows]]

    #: release() frees only a copy at least this large (~87k rows of 384 dims): a smaller one
    #: stays for the report, which would otherwise embed its sampled prompts again.
    RELEASE_MIN_BYTES = 1 << 26

    def release(self) -> bool:
        """Forget every vector and give their memory back (when the copy is large: see
        RELEASE_MIN_BYTES); a later :meth:`fill` embeds the rows it is asked for again. For the
        last step that reads the copy: the report needs a few thousand rows, not every one.
        True when released."""
        if self.vecs.nbytes < self.RELEASE_MIN_BYTES:
            return False
        # a fresh np.zeros is mapped lazily: no memory until rows are written again
        self.vecs = np.zeros(self.vecs.shape, dtype=self.vecs.dtype)
        self.have[:] = False
        return True

    def get(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows`` as a new float32 array."""
        return self.vecs[np.asarray(rows, dtype=np.int64)].astype(np.float32)

    def fill(self, rows: np.ndarray, texts: Callable[[np.ndarray], Sequence[str]],
             encode: Callable[[list[str]], np.ndarray], chunk: int = 8192) -> None:
        """Embed the rows of ``rows`` that have no vector yet, ``chunk`` rows at a time:
        ``texts(some_rows)`` gives their texts, ``encode`` their vectors."""
        todo = self.missing(rows)
        for s in range(0, len(todo), chunk):
            part = todo[s:s + chunk]
            self.put(part, encode([t if t.strip() else " " for t in texts(part)]))
