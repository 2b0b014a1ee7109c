"""Semantic duplicates: FAISS nearest neighbours of unit embeddings, and which texts to embed.

:func:`semantic_readable` says which texts the embedding model reads well enough to compare
(the pipeline leaves the rest out of the semantic stage); :class:`RowVectors` lets the search
read its vectors in blocks; :class:`SemanticDuplicateFinder` pairs rows above the cosine
threshold.
"""

from __future__ import annotations

import functools
import math
import sys
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import InputError, check_param
from .checks import _as_pairs, _is_int, _is_unit_interval

# Cosine similarity (all-MiniLM-L6-v2) at or above which two rows are semantic duplicates.
# On labelled pairs 0.95 is the lowest threshold whose precision stays >= 0.8 on STS-B
# (score >= 4), SICK (>= 4.5) and MRPC (0.84 / 0.80 / 0.94, recall 0.16 / 0.37 / 0.15); 0.90
# recalls about twice as much, but over a quarter of what it flags on STS-B and SICK are
# related-but-different sentences, which dedup would wrongly drop. No threshold separates
# PAWS's word-order swaps ("flights from A to B" vs "B to A"): embeddings cannot.
DEFAULT_SEMANTIC_THRESHOLD = 0.95


# ---------------------------------------------------------------------------------------------
# What the embedding model can read (the pipeline leaves the rest out of the semantic stage)
# ---------------------------------------------------------------------------------------------
# A text whose word pieces are more than this share the tokenizer's unknown token ([UNK]) is
# not compared semantically: all-MiniLM-L6-v2 turns Thai, Khmer or Ethiopic sentences into
# runs of [UNK], and any two such texts embed at cosine ~1.0. At 0.1 the model reads at least
# nine word pieces in ten ("Describe this emoji: 😀" is 1 unknown in 7 and is left out too: its
# meaning is the emoji).
MAX_UNK_SHARE = 0.1
# Models trained on English text only, by the basename of their sentence-transformers name.
# For them a text must also be mostly (>= MIN_LATIN_SHARE of its letters) in Latin script:
# their vocabulary has CJK, Cyrillic, Arabic or Hangul pieces, so such text is not [UNK], but
# they never learnt what it means (unrelated Chinese rows "配置无线路由器。" / "简要解释什么是碳抵消。"
# meet at cosine 0.975). Other models (multilingual ones) only get the [UNK] rule.
ENGLISH_ONLY_MODELS = frozenset({
    "all-MiniLM-L6-v2", "all-MiniLM-L12-v2", "all-mpnet-base-v2", "all-distilroberta-v1",
    "paraphrase-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2", "all-MiniLM-L6-v1",
    "multi-qa-MiniLM-L6-cos-v1", "multi-qa-mpnet-base-dot-v1",
})
MIN_LATIN_SHARE = 0.5
# Named in the warning when most of the input is left out for its language.
MULTILINGUAL_MODEL = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"


@functools.lru_cache(maxsize=1)
def _letter_scripts() -> np.ndarray:
    """Per code point: 0 not a letter, 1 Latin letter, 2 letter of another script."""
    table = np.zeros(sys.maxunicode + 1, dtype=np.uint8)
    for cp in range(0x30000):  # no letters are assigned above plane 2
        ch = chr(cp)
        if ch.isalpha():
            table[cp] = 1 if unicodedata.name(ch, "").startswith("LATIN") else 2
    return table


def latin_letter_share(texts: Sequence[str]) -> np.ndarray:
    """Per text, the share of its letters that are Latin (1.0 for a text without letters)."""
    table = _letter_scripts()
    out = np.ones(len(texts))
    for k, t in enumerate(texts):
        if t.isascii():
            continue
        cls = table[np.frombuffer(t.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)]
        letters = int((cls > 0).sum())
        if letters:
            out[k] = float((cls == 1).sum()) / letters
    return out


def semantic_readable(
    texts: Sequence[str], unk_share: np.ndarray, model_name: str
) -> tuple[np.ndarray, dict[str, int]]:
    """Which texts the embedding model reads well enough to compare: (mask, counts of the
    texts left out by reason: "unknown_word_pieces", "script_not_trained")."""
    unk = np.asarray(unk_share, dtype=np.float64) > MAX_UNK_SHARE
    script = np.zeros(len(texts), dtype=bool)
    if model_name.rstrip("/").rsplit("/", 1)[-1] in ENGLISH_ONLY_MODELS:
        script = (latin_letter_share(texts) < MIN_LATIN_SHARE) & ~unk
    return ~(unk | script), {"unknown_word_pieces": int(unk.sum()),
                             "script_not_trained": int(script.sum())}


# ---------------------------------------------------------------------------------------------
# Semantic duplicates: nearest neighbours of unit embeddings
# ---------------------------------------------------------------------------------------------
class RowVectors:
    """An (n, dim) float32 matrix read by rows: ``get(rows)`` returns the vectors of ``rows``
    (an int array) as a (len(rows), dim) array. The semantic stage reads its vectors in blocks
    through one, so vectors that live elsewhere (the embedding cache) are searched without a
    full copy of them next to FAISS's own.

    >>> m = np.eye(3, dtype=np.float32)
    >>> RowVectors(3, 3, lambda rows: m[rows]).block(1, 3).tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """

    def __init__(self, n: int, dim: int, get: Callable[[np.ndarray], np.ndarray],
                 array: np.ndarray | None = None, dtype: Any = np.float32) -> None:
        self.n = int(n)
        self.dim = int(dim)
        self.get = get
        self._array = array  # when the rows are an array: blocks are views of it
        #: the precision the vectors are held in (float16: a search may store them so, exactly)
        self.dtype = np.dtype(dtype)

    @classmethod
    def of(cls, array: np.ndarray) -> RowVectors:
        return cls(array.shape[0], array.shape[1], lambda rows: array[rows], array,
                   np.float16 if array.dtype == np.float16 else np.float32)

    def __len__(self) -> int:
        return self.n

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.dim)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.get(np.asarray(rows, dtype=np.int64)), dtype=np.float32)

    def block(self, start: int, stop: int) -> np.ndarray:
        if self._array is not None:
            return np.asarray(self._array[start:stop], dtype=np.float32)
        return self.rows(np.arange(start, min(stop, self.n)))

    def subset(self, rows: np.ndarray) -> RowVectors:
        """The rows ``rows`` of this matrix, still read on demand."""
        rows = np.asarray(rows, dtype=np.int64)
        return RowVectors(len(rows), self.dim, lambda r: self.rows(rows[r]), dtype=self.dtype)


class SemanticDuplicateFinder:
    """Rows whose embeddings have cosine similarity >= ``threshold`` (FAISS inner product).

    Each row is paired with its ``k`` nearest neighbours above the threshold (a kept centre with
    more than ``k`` near-identical neighbours absorbs its ``k`` nearest; the others form their
    own star).

    Parameters
    ----------
    threshold : cosine similarity in (0, 1]. The default 0.95 is for all-MiniLM-L6-v2 (see
        DEFAULT_SEMANTIC_THRESHOLD; precision/recall per threshold in benchmarks/RESULTS.md).
    k : neighbours searched per row.
    index : ``"flat"`` (exact search), ``"ivf"`` (inverted lists, approximate, for large n) or
        ``"auto"`` (flat up to ``flat_max`` rows).
    nprobe : inverted lists visited per query with ``"ivf"``.
    flat_max : largest n searched exactly under ``"auto"``. Exact search costs O(n^2 dim):
        ~10 s for 20k MiniLM vectors on 2 cores, ~1 min for 50k; beyond that IVF (~4 sqrt(n)
        lists) keeps time ~O(n^1.5) (20k clustered vectors: the same pairs as exact search).
    random_state : seed of the IVF training sample and k-means.

    Embeddings are L2-normalised before search (a zero vector matches nothing).

    >>> vecs = np.array([[1, 0], [0, 1], [2, 0]], dtype=np.float32)
    >>> SemanticDuplicateFinder(threshold=0.95).find_pairs(vecs)
    [(0, 2, 1.0)]
    """

    def __init__(
        self,
        threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
        k: int = 10,
        index: str = "auto",
        nprobe: int = 16,
        flat_max: int = 50_000,
        random_state: int = 0,
    ) -> None:
        self.threshold = threshold
        self.k = k
        self.index = index
        self.nprobe = nprobe
        self.flat_max = flat_max
        self.random_state = random_state

    def _validate(self) -> None:
        owner = "SemanticDuplicateFinder"
        check_param(owner, "threshold", self.threshold, _is_unit_interval(self.threshold),
                    "a float in (0, 1]")
        check_param(owner, "k", self.k, _is_int(self.k, 1), "an int >= 1")
        check_param(owner, "index", self.index, self.index in ("auto", "flat", "ivf"),
                    "one of 'auto', 'flat', 'ivf'")
        check_param(owner, "nprobe", self.nprobe, _is_int(self.nprobe, 1), "an int >= 1")
        check_param(owner, "flat_max", self.flat_max, _is_int(self.flat_max, 1), "an int >= 1")
        check_param(owner, "random_state", self.random_state, _is_int(self.random_state, 0),
                    "an int >= 0")

    #: Rows read at a time while checking, normalising and adding vectors.
    BLOCK = 16384
    #: IVF training points per list (FAISS needs >= 39; it would subsample to 256).
    IVF_TRAIN = 64

    def _build_index(self, vecs: RowVectors, unit: Callable[[np.ndarray], np.ndarray]) -> Any:
        import faiss  # heavy import: only when semantic dedup runs

        n, dim = vecs.shape
        kind = self.index
        if kind == "auto":
            kind = "flat" if n <= self.flat_max else "ivf"
        index: Any
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        else:
            # ~4 sqrt(n) lists, each trained on >= 39 points (FAISS's minimum per centroid)
            nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
            quantizer = faiss.IndexFlatIP(dim)
            if vecs.dtype == np.float16:
                # vectors held in float16: the lists store them so (exactly: no residuals), half
                # the memory of IndexIVFFlat's float32 copy; inner products in float32
                index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_fp16,
                                                      faiss.METRIC_INNER_PRODUCT, False)
            else:
                index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = int(self.random_state)
            rng = np.random.default_rng(self.random_state)
            # IVF_TRAIN points per list: enough for k-means, and a float32 training copy of
            # ~6% of the rows at a million (of every row up to ~60k before)
            sample = np.sort(rng.choice(n, size=min(n, self.IVF_TRAIN * nlist), replace=False))
            index.train(unit(vecs.rows(sample)))
            del sample
            index.nprobe = min(self.nprobe, nlist)
            self._add_presized(index, quantizer, vecs, unit)
            return index
        # added in blocks: the same vectors in the same order as one add, never all copied at once
        for s in range(0, n, self.BLOCK):
            index.add(np.ascontiguousarray(unit(vecs.block(s, s + self.BLOCK)), dtype=np.float32))
        return index

    def _add_presized(self, index: Any, quantizer: Any, vecs: RowVectors,
                      unit: Callable[[np.ndarray], np.ndarray]) -> None:
        """``index.add`` of every row in blocks, with each inverted list allocated once at its
        final size: FAISS appends vector by vector, so a list's buffer grows by doubling and
        holds ~1.4x its vectors (measured: +209 MiB for 148 MiB of 200k float16 rows; +181 MiB
        presized). The lists are assigned first (what ``add`` does itself), counted, sized,
        then filled: the same index, entry for entry."""
        import faiss

        n = len(vecs)
        assign = np.empty(n, dtype=np.int64)
        for s in range(0, n, self.BLOCK):
            block = np.ascontiguousarray(unit(vecs.block(s, s + self.BLOCK)), dtype=np.float32)
            assign[s:s + len(block)] = quantizer.search(block, 1)[1][:, 0]
        invlists = faiss.extract_index_ivf(index).invlists
        assert invlists is not None  # an IVF index has its lists
        lists = faiss.downcast_InvertedLists(invlists)
        for lst, count in enumerate(np.bincount(assign[assign >= 0], minlength=index.nlist).tolist()):
            if count:
                lists.resize(lst, count)  # allocates exactly count entries ...
                lists.resize(lst, 0)      # ... and keeps them while the list is empty
        for s in range(0, n, self.BLOCK):
            block = np.ascontiguousarray(unit(vecs.block(s, s + self.BLOCK)), dtype=np.float32)
            idx = np.ascontiguousarray(assign[s:s + len(block)])
            index.add_core(len(block), faiss.swig_ptr(block), None, faiss.swig_ptr(idx))

    def _pair_arrays(self, embeddings: np.ndarray | RowVectors) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._validate()
        if isinstance(embeddings, RowVectors):
            vecs = embeddings
        else:
            arr: np.ndarray = np.asarray(embeddings, dtype=np.float32)
            if arr.ndim != 2:
                raise InputError(f"embeddings must be a 2-D array (rows, dim); got shape {arr.shape}.")
            vecs = RowVectors.of(arr)
        n = len(vecs)
        # One pass over the vectors in blocks: finite, and already unit length (the Embedder's
        # are) or to be divided by their norms. Row by row, so the same bits as on the whole.
        unit_length = True
        for s in range(0, n, self.BLOCK):
            block = vecs.block(s, s + self.BLOCK)
            if not np.isfinite(block).all():
                raise InputError("embeddings contain NaN or infinite values.")
            if unit_length and vecs.dim:
                unit_length = bool(np.allclose(np.linalg.norm(block, axis=1, keepdims=True), 1.0, atol=1e-4))
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        if n < 2 or vecs.dim == 0:
            return empty

        def unit(block: np.ndarray) -> np.ndarray:
            if unit_length:
                return block
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            return block / np.where(norms > 0, norms, 1.0)

        index = self._build_index(vecs, unit)
        k = min(self.k + 1, n)  # +1: a row usually finds itself first
        found_i, found_j, found_s = [], [], []
        for s in range(0, n, 4096):  # query batches bound the (batch, k) result arrays
            sims, nbrs = index.search(np.ascontiguousarray(unit(vecs.block(s, s + 4096)), dtype=np.float32), k)
            rows = np.repeat(np.arange(s, s + len(sims)), k)
            sims, nbrs = sims.ravel(), nbrs.ravel()
            ok = (nbrs >= 0) & (nbrs != rows) & (sims >= self.threshold)
            found_i.append(np.minimum(rows[ok], nbrs[ok]))
            found_j.append(np.maximum(rows[ok], nbrs[ok]))
            found_s.append(sims[ok])
        del index
        i = np.concatenate(found_i).astype(np.int64)
        j = np.concatenate(found_j).astype(np.int64)
        sim = np.concatenate(found_s).astype(np.float64)
        if not len(i):
            return empty
        # each pair may come from both ends: keep one, with the larger similarity
        order = np.lexsort((-sim, j, i))
        i, j, sim = i[order], j[order], sim[order]
        first = np.concatenate(([True], (i[1:] != i[:-1]) | (j[1:] != j[:-1])))
        return i[first], j[first], np.minimum(sim[first], 1.0)

    def find_pairs(self, embeddings: np.ndarray) -> list[tuple[int, int, float]]:
        """Semantic-duplicate edges ``(i, j, cosine)``, ``i < j``, sorted."""
        return _as_pairs(*self._pair_arrays(embeddings))
