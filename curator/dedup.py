"""Deduplication: exact, near (MinHash + LSH) and semantic (embedding) duplicates.

Three finders each turn rows into weighted edges ``(i, j, similarity)`` with ``i < j``; the
:class:`Deduplicator` joins all edges into clusters (connected components) and keeps one row per
cluster. Stages, as in text-dedup: fingerprint -> candidate pairs -> verify -> cluster -> assign.

>>> res = Deduplicator(semantic=False).run(
...     ["Hello, World!", "hello world", "Something else entirely."], scores=[0.1, 0.9, 0.5])
>>> res.keep.tolist(), res.duplicate_of.tolist(), res.method
([False, True, True], [1, -1, -1], ['exact', None, None])

Design choices, measured with ``benchmarks/dedup.py`` (numbers in benchmarks/RESULTS.md):

* One normalisation for exact and near matching: NFKC, case-folding, punctuation and symbols
  turned into spaces, whitespace collapsed (the same string as
  ``curator.text.normalize_text(t, True, True, True)``), done with numpy over code points.
* Near duplicates are compared on character 5-grams of that normalised text. Character n-grams
  need no tokenizer, so Thai, Japanese kana and other scripts written without spaces shingle
  like English (CJK ideographs, each about a word, are first spaced apart as BERT's tokenizer
  does); and on instruction data they separate lightly edited copies from unrelated rows
  better than word n-grams (a 10% word edit keeps a median Jaccard of ~0.79 on 5-grams of
  characters but ~0.62 on 3-grams of words, while unrelated rows stay near ~0.1).
* MinHash is a vectorised numpy implementation (one 32-bit hash per shingle, then 128
  multiply-add permutations over blocks of shingles of many rows at once) instead of
  datasketch: same estimator, ~8-12x the throughput and a third of the memory in the
  benchmark, and its working arrays are bounded by a batch size, not by the corpus. The
  Rust-backed rensa and gaoya were measured too (``benchmarks/minhash_libs.py``): from raw
  text to clusters they took 2.2x and 2.4-6x curator's time, as they need Python token lists.
"""

from __future__ import annotations

import functools
import hashlib
import math
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError, check_param

__all__ = [
    "DEFAULT_NEAR_THRESHOLD",
    "DEFAULT_NGRAM",
    "DEFAULT_SEMANTIC_THRESHOLD",
    "DedupResult",
    "Deduplicator",
    "ExactDuplicateFinder",
    "NearDuplicateFinder",
    "SemanticDuplicateFinder",
    "connected_components",
    "optimal_lsh_params",
]

# Jaccard similarity of character 5-gram sets at or above which two rows are near duplicates.
# Measured on 20,000 synthetic rows (benchmarks/dedup.py, copies with 0-20% of their words
# replaced): 0.6 finds 100% / 99.8% / 98.3% / 79.7% of copies at 2 / 5 / 10 / 20% edits (0.7:
# 100 / 99.0 / 93.9 / 15.5%), with no pair joining unrelated rows; on the 2,455 real instructions
# of LIMA + Alpaca-GPT4 + Self-Instruct it merges exactly the same 15 pairs as 0.7, while 0.5
# starts merging distinct tasks ("Is 1021 a prime number?" / "Is 1011 ..."). Short paraphrase
# pairs pay for it: near-stage precision on STS-B falls from 0.68 to 0.58 (recall 0.07 -> 0.18).
DEFAULT_NEAR_THRESHOLD = 0.6
DEFAULT_NGRAM = 5
# Cosine similarity (all-MiniLM-L6-v2) at or above which two rows are semantic duplicates.
# On labelled pairs 0.95 is the lowest threshold whose precision stays >= 0.8 on STS-B
# (score >= 4), SICK (>= 4.5) and MRPC (0.84 / 0.80 / 0.94, recall 0.16 / 0.37 / 0.15); 0.90
# recalls about twice as much, but over a quarter of what it flags on STS-B and SICK are
# related-but-different sentences, which dedup would wrongly drop. No threshold separates
# PAWS's word-order swaps ("flights from A to B" vs "B to A"): embeddings cannot.
DEFAULT_SEMANTIC_THRESHOLD = 0.95

_MAX_HASH = np.uint32(0xFFFFFFFF)
_U64 = np.uint64
# Characters of text and shingles processed per numpy batch: bounds the temporary arrays
# (~50 bytes per character) whatever the corpus size.
_BATCH_CHARS = 1 << 21
# Shingles per permutation block: a (num_perm, block) uint32 block of 4 MiB stays in cache,
# which measured ~10x faster than one pass over a large array.
_PERM_BLOCK = 8192


# ---------------------------------------------------------------------------------------------
# Normalisation and shingling (vectorised over code points)
# ---------------------------------------------------------------------------------------------
_SPACE, _PUNCT, _IDEOGRAPH = 1, 2, 3
# CJK ideograph blocks, as in BERT's BasicTokenizer (_is_chinese_char).
_IDEOGRAPH_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


@functools.lru_cache(maxsize=1)
def _char_classes() -> np.ndarray:
    """Class of every code point: 0 other, 1 whitespace, 2 punctuation/symbol, 3 CJK ideograph.

    Built once per process (~0.3 s); a lookup table lets numpy classify millions of characters
    at once where a Python loop per character would dominate the whole dedup run.
    """
    table = np.zeros(sys.maxunicode + 1, dtype=np.uint8)
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if ch.isspace():
            table[cp] = _SPACE
        elif unicodedata.category(ch)[0] in "PS":
            table[cp] = _PUNCT
    for lo, hi in _IDEOGRAPH_RANGES:
        table[lo:hi + 1] = _IDEOGRAPH
    return table


def _normalize_codepoints(
    texts: Sequence[str],
    lowercase: bool = True,
    collapse_whitespace: bool = True,
    strip_punctuation: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalise texts and return (code points as uint32, offsets of each text, length n + 1).

    Text ``i`` is ``cps[offsets[i]:offsets[i + 1]]`` and equals
    ``curator.text.normalize_text(texts[i], lowercase, collapse_whitespace, strip_punctuation)``.
    """
    pre = [unicodedata.normalize("NFKC", t) for t in texts]
    if lowercase:
        pre = [t.casefold() for t in pre]
    lens = np.fromiter(map(len, pre), dtype=np.int64, count=len(pre))
    starts = np.zeros(len(pre) + 1, dtype=np.int64)
    np.cumsum(lens, out=starts[1:])
    # surrogatepass: lone surrogates (from lax JSON or surrogateescape decoding) are kept
    cps = np.frombuffer("".join(pre).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    if not collapse_whitespace and not strip_punctuation:
        return cps, starts
    cls = _char_classes()[cps]
    if strip_punctuation:
        space = (cls == _SPACE) | (cls == _PUNCT)
        if not collapse_whitespace:
            cps[cls == _PUNCT] = 32
            return cps, starts
    else:
        space = cls == _SPACE
    # Collapse: keep every non-space and the last space of a run when non-space characters of
    # the same text stand on both sides of the run (a space before a text's end is dropped).
    nonempty = lens > 0
    next_space = np.ones_like(space)
    next_space[:-1] = space[1:]
    next_space[starts[1:][nonempty] - 1] = True
    keep = ~space
    run_end = np.flatnonzero(space & ~next_space)  # runs followed by text in the same row
    if run_end.size:
        nonspace = np.flatnonzero(keep)
        doc = np.searchsorted(starts, run_end, side="right") - 1
        first_nonspace = nonspace[np.searchsorted(nonspace, starts[doc])]
        keep[run_end[first_nonspace < run_end]] = True
    cps[space] = 32
    kept = np.flatnonzero(keep)
    return cps[kept], np.searchsorted(kept, starts)


def _space_ideographs(cps: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put a space on both sides of every CJK ideograph of normalised texts.

    An ideograph is about a word, so Chinese shingled by raw characters would compare
    5-word n-grams where English compares ~1-word ones (one changed character in 28 costs
    Jaccard 0.67, one English word in 30 ~0.85). Spaced, as BERT's tokenizer spaces them, a
    5-gram spans two or three ideographs and the two scripts get comparable similarities.
    """
    if not len(cps):
        return cps, offsets
    ideo = _char_classes()[cps] == _IDEOGRAPH
    nonspace = cps != 32
    # a space goes after position p when p and p + 1 are non-space characters of the same text
    # and either is an ideograph
    gap = nonspace[:-1] & nonspace[1:] & (ideo[:-1] | ideo[1:])
    lens = np.diff(offsets)
    gap[offsets[1:][(lens > 0) & (offsets[1:] < len(cps))] - 1] = False
    if not gap.any():
        return cps, offsets
    shift = np.zeros(len(cps) + 1, dtype=np.int64)  # spaces inserted before each position
    np.cumsum(gap, out=shift[1:-1])
    shift[-1] = shift[-2]
    out = np.full(len(cps) + int(shift[-1]), 32, dtype=np.uint32)
    out[np.arange(len(cps)) + shift[:-1]] = cps
    return out, offsets + shift[offsets]


def _near_codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The text near-duplicate search shingles: normalised, CJK ideographs spaced."""
    return _space_ideographs(*_normalize_codepoints(texts))


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, in place: spreads every input bit over every output bit.

    The shingle hash and the band keys are linear in their inputs; MinHash with linear
    permutations measurably under-estimates Jaccard (by ~0.07) on structured inputs unless the
    hash is mixed first.
    """
    with np.errstate(over="ignore"):
        h ^= h >> _U64(33)
        h *= _U64(0xFF51AFD7ED558CCD)
        h ^= h >> _U64(33)
        h *= _U64(0xC4CEB9FE1A85EC53)
        h ^= h >> _U64(33)
    return h


def _shingle_hashes(
    cps: np.ndarray, offsets: np.ndarray, ngram: int, coefs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every character n-gram of every text, and the number per text.

    A text shorter than ``ngram`` (but not empty) is one shingle: itself. Empty texts have none.
    The hash is multilinear (``c0 + sum c_k * char_k`` mod 2**64, strongly universal) then mixed.
    """
    lens = np.diff(offsets)
    counts = np.where(lens == 0, 0, np.maximum(lens - ngram + 1, 1))
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.uint32), counts
    # Lay the texts out with ngram - 1 zeros after each: a window then never spans two texts,
    # a short text is zero-padded, and every window is a plain slice (no gathers).
    gap = ngram - 1
    shift = gap * np.arange(len(lens), dtype=np.int64)
    size = int(offsets[-1]) + gap * len(lens)
    padded = np.zeros(size + gap, dtype=np.uint64)
    padded[np.arange(len(cps), dtype=np.int64) + np.repeat(shift, lens)] = cps
    h = np.empty(size, dtype=np.uint64)
    tmp = np.empty(_PERM_BLOCK * 8, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for s in range(0, size, len(tmp)):  # blocks that stay in cache
            block = h[s:s + len(tmp)]
            block.fill(coefs[0])
            t = tmp[:len(block)]
            for k in range(ngram):
                np.multiply(padded[s + k:s + k + len(block)], coefs[k + 1], out=t)
                block += t
    first = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=first[1:])
    # a text's shingles start at its first character and are consecutive
    start = np.arange(total, dtype=np.int64) + np.repeat(offsets[:-1] + shift - first[:-1], counts)
    return (_fmix64(h[start]) >> _U64(32)).astype(np.uint32), counts


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique by sorting: numpy 2.x's default hash-based unique measured ~50x slower on
    large uint64 arrays."""
    a = np.sort(a)
    if len(a) < 2:
        return a
    first = np.ones(len(a), dtype=bool)
    first[1:] = a[1:] != a[:-1]
    return a[first]


def _batches(lengths: np.ndarray, budget: int) -> Iterator[tuple[int, int]]:
    """Consecutive [start, stop) row ranges whose summed lengths stay near ``budget``."""
    n = len(lengths)
    start = 0
    cum = np.cumsum(lengths, dtype=np.int64)
    while start < n:
        base = cum[start - 1] if start else 0
        stop = int(np.searchsorted(cum, base + budget, side="right"))
        stop = min(max(stop, start + 1), n)
        yield start, stop
        start = stop


# ---------------------------------------------------------------------------------------------
# LSH parameters
# ---------------------------------------------------------------------------------------------
# Weights of the two error areas when choosing bands x rows. Every candidate is checked again
# (exact Jaccard, or the MinHash estimate when verify=False), so a false candidate only costs a
# check while a missed pair is lost for good: weigh misses 9x more than datasketch's 0.5/0.5.
_FALSE_POSITIVE_WEIGHT = 0.1
_FALSE_NEGATIVE_WEIGHT = 0.9


@functools.lru_cache(maxsize=64)
def optimal_lsh_params(
    threshold: float,
    num_perm: int,
    false_positive_weight: float = _FALSE_POSITIVE_WEIGHT,
    false_negative_weight: float = _FALSE_NEGATIVE_WEIGHT,
) -> tuple[int, int]:
    """Bands ``b`` and rows per band ``r`` (``b * r <= num_perm``) for a Jaccard threshold.

    Two rows with Jaccard ``s`` share at least one band (become a candidate pair) with
    probability ``P(s) = 1 - (1 - s**r)**b``, an S-curve whose steep part sits near
    ``(1/b)**(1/r)``. The threshold therefore fixes (b, r): we pick the pair minimising
    ``fp_weight * (area under P on [0, t]) + fn_weight * (area above P on [t, 1])``, the
    weighted probability of false positives and false negatives, exactly as datasketch's
    ``_optimal_param`` does (integrated here with a fine trapezoid rule instead of scipy).

    >>> optimal_lsh_params(0.7, 128)
    (20, 6)
    >>> optimal_lsh_params(0.7, 128, 0.5, 0.5)  # datasketch's weights
    (14, 9)
    """
    lo = np.linspace(0.0, threshold, 1001)
    hi = np.linspace(threshold, 1.0, 1001)

    def area(y: np.ndarray, x: np.ndarray) -> float:  # trapezoid rule
        return float(((y[1:] + y[:-1]) * np.diff(x)).sum() / 2)

    best, best_err = (1, 1), math.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = area(1.0 - (1.0 - lo**r) ** b, lo)
            fn = area((1.0 - hi**r) ** b, hi)
            err = false_positive_weight * fp + false_negative_weight * fn
            if err < best_err - 1e-12:
                best, best_err = (b, r), err
    return best


# ---------------------------------------------------------------------------------------------
# Shared checks
# ---------------------------------------------------------------------------------------------
def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError("texts must be a sequence of strings, not one string.")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InputError(f"Row {i} of texts is {type(t).__name__}, not str.")
    return out


def _is_unit_interval(x: object, allow_zero: bool = False) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    return (0.0 <= x <= 1.0) if allow_zero else (0.0 < x <= 1.0)


def _is_int(x: object, low: int) -> bool:
    return bool(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= low)


def _as_pairs(i: np.ndarray, j: np.ndarray, s: np.ndarray) -> list[tuple[int, int, float]]:
    return list(zip(i.tolist(), j.tolist(), s.tolist()))


# ---------------------------------------------------------------------------------------------
# Exact duplicates
# ---------------------------------------------------------------------------------------------
class ExactDuplicateFinder:
    """Rows whose normalised text is identical (same blake2b-128 digest).

    Parameters
    ----------
    lowercase, collapse_whitespace, strip_punctuation : the normalisation applied before
        comparing (see ``curator.text.normalize_text``; NFKC is always applied).

    Rows that normalise to the empty string (empty, whitespace- or punctuation-only) are never
    paired: they carry no content to be a duplicate of.

    >>> ExactDuplicateFinder().find_pairs(["A  cat.", "a cat", "", " ", "dog", "A CAT!"])
    [(0, 1, 1.0), (0, 5, 1.0)]
    """

    def __init__(
        self,
        lowercase: bool = True,
        collapse_whitespace: bool = True,
        strip_punctuation: bool = True,
    ) -> None:
        self.lowercase = lowercase
        self.collapse_whitespace = collapse_whitespace
        self.strip_punctuation = strip_punctuation

    def _validate(self) -> None:
        for name in ("lowercase", "collapse_whitespace", "strip_punctuation"):
            value = getattr(self, name)
            check_param("ExactDuplicateFinder", name, value, isinstance(value, bool), "a bool")

    def _groups(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(first row with the same normalised text, is-empty) per row."""
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
                    continue
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


# ---------------------------------------------------------------------------------------------
# Near duplicates: MinHash + LSH, verified
# ---------------------------------------------------------------------------------------------
class NearDuplicateFinder:
    """Rows whose character n-gram sets have Jaccard similarity >= ``threshold``.

    Fingerprint each row with MinHash (``num_perm`` 32-bit minima of multiply-add permutations
    of its shingle hashes), put rows sharing one LSH band into candidate pairs, then verify each
    candidate: exact Jaccard of the two shingle sets when ``verify`` (the default), else the
    MinHash estimate (fraction of equal minima, standard error <= 0.5 / sqrt(num_perm)).

    Parameters
    ----------
    threshold : Jaccard similarity in (0, 1] at or above which a pair is a near duplicate.
    num_perm : MinHash permutations; more = sharper LSH and estimate, linearly slower.
    ngram : shingle length in characters of the normalised text (see module notes).
    verify : check candidates with the exact Jaccard (slower, no false positives) rather than
        the MinHash estimate.
    random_state : seed of the shingle hash and permutations (results are deterministic).
    window : a band bucket's rows (in row order) are paired with their next ``window - 1``
        bucket mates only, so one huge bucket costs O(size * window) checks, not O(size**2).
        Clusters stay connected through the chain of checked pairs.

    Attributes set by :meth:`find_pairs`: ``bands_``, ``rows_`` (the LSH parameters),
    ``n_candidates_`` (pairs checked).

    >>> finder = NearDuplicateFinder()
    >>> finder.find_pairs(["The quick brown fox jumps over the lazy dog by the river bank.",
    ...                    "the quick brown fox jumped over the lazy dog by the river bank",
    ...                    "An entirely different sentence."])
    [(0, 1, 0.8225806451612904)]
    """

    def __init__(
        self,
        threshold: float = DEFAULT_NEAR_THRESHOLD,
        num_perm: int = 128,
        ngram: int = DEFAULT_NGRAM,
        verify: bool = True,
        random_state: int = 0,
        window: int = 32,
    ) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.ngram = ngram
        self.verify = verify
        self.random_state = random_state
        self.window = window

    # -- setup ------------------------------------------------------------------------------
    def _validate(self) -> None:
        owner = "NearDuplicateFinder"
        check_param(owner, "threshold", self.threshold, _is_unit_interval(self.threshold),
                    "a float in (0, 1]")
        check_param(owner, "num_perm", self.num_perm, _is_int(self.num_perm, 2), "an int >= 2")
        check_param(owner, "ngram", self.ngram, _is_int(self.ngram, 1), "an int >= 1")
        check_param(owner, "verify", self.verify, isinstance(self.verify, bool), "a bool")
        check_param(owner, "random_state", self.random_state, _is_int(self.random_state, 0),
                    "an int >= 0")
        check_param(owner, "window", self.window, _is_int(self.window, 2), "an int >= 2")

    def _coefficients(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Shingle-hash coefficients, permutation multipliers/offsets, band-key coefficients."""
        rng = np.random.default_rng(self.random_state)
        shingle = rng.integers(0, 2**64, size=self.ngram + 1, dtype=np.uint64, endpoint=False)
        # Odd multipliers make x -> a*x + b (mod 2**32) a permutation of the 32-bit hashes.
        a = rng.integers(0, 2**32, size=self.num_perm, dtype=np.uint64).astype(np.uint32) | 1
        b = rng.integers(0, 2**32, size=self.num_perm, dtype=np.uint64).astype(np.uint32)
        band = rng.integers(0, 2**64, size=self.num_perm + 1, dtype=np.uint64)
        return shingle, a.reshape(-1, 1), b.reshape(-1, 1), band

    # -- fingerprints -----------------------------------------------------------------------
    def _iter_shingles(
        self, texts: list[str], shingle_coefs: np.ndarray
    ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        for start, stop in _batches(lens, _BATCH_CHARS):
            cps, offsets = _near_codepoints(texts[start:stop])
            hashes, counts = _shingle_hashes(cps, offsets, self.ngram, shingle_coefs)
            yield start, stop, hashes, counts

    def _signatures(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(MinHash signatures (n, num_perm) uint32, shingle count per row)."""
        shingle_coefs, a, b, _ = self._coefficients()
        n = len(texts)
        sigs = np.full((n, self.num_perm), _MAX_HASH, dtype=np.uint32)
        n_shingles = np.zeros(n, dtype=np.int64)
        buf = np.empty((self.num_perm, _PERM_BLOCK), dtype=np.uint32)
        for start, _, hashes, counts in self._iter_shingles(texts, shingle_coefs):
            n_shingles[start:start + len(counts)] = counts
            doc_of = np.repeat(np.arange(len(counts)), counts)
            with np.errstate(over="ignore"):
                for s in range(0, len(hashes), _PERM_BLOCK):
                    block = hashes[s:s + _PERM_BLOCK]
                    view = buf[:, :len(block)]
                    np.multiply(a, block, out=view)
                    np.add(view, b, out=view)
                    docs = doc_of[s:s + len(block)]
                    # segments of consecutive shingles of one row; a long row spans blocks, so
                    # the block's minima are merged into what earlier blocks found
                    cut = np.flatnonzero(np.diff(docs)) + 1
                    seg = np.concatenate(([0], cut))
                    mins = np.minimum.reduceat(view, seg, axis=1).T
                    rows = start + docs[seg]
                    np.minimum(sigs[rows], mins, out=mins)
                    sigs[rows] = mins
        return sigs, n_shingles

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """MinHash signatures, shape (n, num_perm) uint32; rows with no text are all 2**32-1.

        The fraction of equal columns of two rows estimates their Jaccard similarity.
        """
        self._validate()
        return self._signatures(_check_texts(texts))[0]

    def shingles(self, text: str) -> np.ndarray:
        """Sorted unique 32-bit hashes of the character n-grams of one normalised text."""
        self._validate()
        cps, offsets = _near_codepoints([text])
        hashes, _ = _shingle_hashes(cps, offsets, self.ngram, self._coefficients()[0])
        return _sorted_unique(hashes)

    def similarity(self, text_a: str, text_b: str) -> float:
        """Exact Jaccard similarity of the two texts' shingle sets (0.0 if either is empty)."""
        sa, sb = self.shingles(text_a), self.shingles(text_b)
        if not len(sa) or not len(sb):
            return 0.0
        inter = len(np.intersect1d(sa, sb, assume_unique=True))
        return inter / (len(sa) + len(sb) - inter)

    # -- candidates -------------------------------------------------------------------------
    def _candidates(self, sigs: np.ndarray, active: np.ndarray, band_coefs: np.ndarray
                    ) -> np.ndarray:
        """Unique candidate pairs encoded as ``i * n + j`` (i < j), sorted."""
        n = len(sigs)
        rows_idx = np.flatnonzero(active)
        found: list[np.ndarray] = []
        for band in range(self.bands_):
            cols = slice(band * self.rows_, (band + 1) * self.rows_)
            key = np.full(len(rows_idx), band_coefs[0], dtype=np.uint64)
            with np.errstate(over="ignore"):
                for c, coef in zip(range(cols.start, cols.stop), band_coefs[1 + cols.start:]):
                    key += sigs[rows_idx, c].astype(np.uint64) * coef
            _fmix64(key)
            order = np.argsort(key, kind="stable")  # stable: bucket mates stay in row order
            skey = key[order]
            same = skey[1:] == skey[:-1]
            if not same.any():
                continue
            # position of each sorted entry's bucket end, to stop pairing at the bucket edge
            bounds = np.flatnonzero(np.concatenate(([True], ~same, [True])))
            run_len = np.diff(bounds)
            run_end = np.repeat(bounds[1:], run_len)
            members = np.flatnonzero(np.repeat(run_len, run_len) > 1)
            for d in range(1, self.window):
                members = members[members + d < run_end[members]]
                if not members.size:
                    break
                i = rows_idx[order[members]]
                j = rows_idx[order[members + d]]
                found.append(np.minimum(i, j).astype(np.uint64) * _U64(n)
                             + np.maximum(i, j).astype(np.uint64))
            if found:  # merge per band: a pair found in many bands is held once
                found = [_sorted_unique(np.concatenate(found))]
        if not found:
            return np.zeros(0, dtype=np.uint64)
        return found[0]

    # -- verification -----------------------------------------------------------------------
    def _exact_jaccard(self, texts: list[str], i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Exact Jaccard of the shingle sets of pairs (i, j), in batches of bounded size."""
        shingle_coefs = self._coefficients()[0]
        out = np.zeros(len(i), dtype=np.float64)
        lens = np.fromiter((len(texts[a]) + len(texts[b]) for a, b in zip(i, j)),
                           dtype=np.int64, count=len(i))
        for start, stop in _batches(lens, _BATCH_CHARS):
            bi, bj = i[start:stop], j[start:stop]
            docs = np.unique(np.concatenate([bi, bj]))
            cps, offsets = _near_codepoints([texts[d] for d in docs])
            hashes, counts = _shingle_hashes(cps, offsets, self.ngram, shingle_coefs)
            # sort (local doc, hash) keys once; unique keys = each doc's shingle *set*
            local = np.repeat(np.arange(len(docs), dtype=np.uint64), counts)
            keys = _sorted_unique((local << _U64(32)) | hashes.astype(np.uint64))
            set_size = np.bincount((keys >> _U64(32)).astype(np.int64), minlength=len(docs))
            set_start = np.zeros(len(docs) + 1, dtype=np.int64)
            np.cumsum(set_size, out=set_start[1:])
            li, lj = np.searchsorted(docs, bi), np.searchsorted(docs, bj)
            # look up every shingle of the smaller set in the other set's sorted keys
            swap = set_size[li] > set_size[lj]
            small, big = np.where(swap, lj, li), np.where(swap, li, lj)
            take = set_size[small]
            pair_of = np.repeat(np.arange(len(bi)), take)
            src = np.arange(int(take.sum())) - np.repeat(np.cumsum(take) - take, take)
            src += np.repeat(set_start[small], take)
            query = (big[pair_of].astype(np.uint64) << _U64(32)) | (keys[src] & _U64(0xFFFFFFFF))
            pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
            inter = np.bincount(pair_of, weights=keys[pos] == query, minlength=len(bi))
            union = set_size[li] + set_size[lj] - inter
            out[start:stop] = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        return out

    def _pair_arrays(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._validate()
        self.bands_, self.rows_ = optimal_lsh_params(float(self.threshold), int(self.num_perm))
        n = len(texts)
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        self.n_candidates_ = 0
        if n < 2:
            return empty
        sigs, n_shingles = self._signatures(texts)
        band_coefs = self._coefficients()[3]
        codes = self._candidates(sigs, n_shingles > 0, band_coefs)
        if not codes.size:
            return empty
        i = (codes // _U64(n)).astype(np.int64)
        j = (codes % _U64(n)).astype(np.int64)
        # MinHash estimate, in chunks so the (pairs, num_perm) comparison stays small
        est = np.empty(len(i))
        for s in range(0, len(i), 65536):
            est[s:s + 65536] = (sigs[i[s:s + 65536]] == sigs[j[s:s + 65536]]).mean(axis=1)
        if self.verify:
            # Skip pairs whose estimate is > 4 standard errors below the threshold: a true
            # near duplicate lands there with probability < 1e-4, and the exact check is the
            # expensive step.
            keep = est >= self.threshold - 4 * 0.5 / math.sqrt(self.num_perm)
            i, j = i[keep], j[keep]
            self.n_candidates_ = int(len(i))
            sim = self._exact_jaccard(texts, i, j)
        else:
            self.n_candidates_ = int(len(i))
            sim = est
        hit = sim >= self.threshold
        return i[hit], j[hit], sim[hit]

    def find_pairs(self, texts: Sequence[str]) -> list[tuple[int, int, float]]:
        """Near-duplicate edges ``(i, j, jaccard)``, ``i < j``, sorted."""
        return _as_pairs(*self._pair_arrays(_check_texts(texts)))


# ---------------------------------------------------------------------------------------------
# Semantic duplicates: nearest neighbours of unit embeddings
# ---------------------------------------------------------------------------------------------
class SemanticDuplicateFinder:
    """Rows whose embeddings have cosine similarity >= ``threshold`` (FAISS inner product).

    Each row is paired with its ``k`` nearest neighbours above the threshold; rows of a larger
    group still end in one cluster through chains of neighbours.

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

    def _build_index(self, vecs: np.ndarray) -> Any:
        import faiss  # heavy import: only when semantic dedup runs

        n, dim = vecs.shape
        kind = self.index
        if kind == "auto":
            kind = "flat" if n <= self.flat_max else "ivf"
        index: Any
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
            index.add(vecs)
            return index
        # ~4 sqrt(n) lists, each trained on >= 39 points (FAISS's minimum per centroid)
        nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = int(self.random_state)
        rng = np.random.default_rng(self.random_state)
        sample = np.sort(rng.choice(n, size=min(n, 256 * nlist), replace=False))
        index.train(vecs[sample])
        index.add(vecs)
        index.nprobe = min(self.nprobe, nlist)
        return index

    def _pair_arrays(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._validate()
        vecs: np.ndarray = np.asarray(embeddings, dtype=np.float32)
        if vecs.ndim != 2:
            raise InputError(f"embeddings must be a 2-D array (rows, dim); got shape {vecs.shape}.")
        if not np.isfinite(vecs).all():
            raise InputError("embeddings contain NaN or infinite values.")
        n = len(vecs)
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        if n < 2 or vecs.shape[1] == 0:
            return empty
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        if not np.allclose(norms, 1.0, atol=1e-4):  # Embedder output is already unit length
            vecs = vecs / np.where(norms > 0, norms, 1.0)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        index = self._build_index(vecs)
        k = min(self.k + 1, n)  # +1: a row usually finds itself first
        found_i, found_j, found_s = [], [], []
        for s in range(0, n, 4096):  # query batches bound the (batch, k) result arrays
            sims, nbrs = index.search(vecs[s:s + 4096], k)
            rows = np.repeat(np.arange(s, s + len(sims)), k)
            sims, nbrs = sims.ravel(), nbrs.ravel()
            ok = (nbrs >= 0) & (nbrs != rows) & (sims >= self.threshold)
            found_i.append(np.minimum(rows[ok], nbrs[ok]))
            found_j.append(np.maximum(rows[ok], nbrs[ok]))
            found_s.append(sims[ok])
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


# ---------------------------------------------------------------------------------------------
# Clustering and selection
# ---------------------------------------------------------------------------------------------
def connected_components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Label of every node = the smallest node index of its connected component.

    Vectorised union-find: hook each edge's larger root under its smaller root, then jump
    pointers until every node points at its root; repeat until no edge joins two roots.
    Memory is O(n + edges).

    >>> connected_components(5, np.array([3, 0]), np.array([4, 3])).tolist()
    [0, 1, 2, 0, 0]
    """
    parent = np.arange(n, dtype=np.int64)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    while len(i):
        ri, rj = parent[i], parent[j]
        lo, hi = np.minimum(ri, rj), np.maximum(ri, rj)
        cross = lo != hi
        if not cross.any():
            break
        i, j, lo, hi = i[cross], j[cross], lo[cross], hi[cross]
        np.minimum.at(parent, hi, lo)
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return parent


_METHODS = ("exact", "near", "semantic")


@dataclass
class DedupResult:
    """Per-row outcome of :meth:`Deduplicator.run`.

    Attributes
    ----------
    cluster_id : int64, the smallest row index of the row's cluster (singletons: their own).
    cluster_size : int64, rows in the row's cluster.
    keep : bool, exactly one True per cluster.
    duplicate_of : int64, the kept row of the row's cluster; -1 for kept rows.
    method : "exact" | "near" | "semantic" for dropped rows: the kind of edge linking the row
        (or its group of exact copies) to the kept row; None for kept rows.
    similarity : float64, similarity of that edge (1.0 for exact); NaN for kept rows.
    stats : counts per method, cluster-size histogram, parameters and timings (seconds).
    """

    cluster_id: np.ndarray
    cluster_size: np.ndarray
    keep: np.ndarray
    duplicate_of: np.ndarray
    method: list[str | None]
    similarity: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def kept_indices(self) -> np.ndarray:
        """Row indices of the kept rows, ascending."""
        return np.flatnonzero(self.keep)

    def __len__(self) -> int:
        return len(self.keep)


class Deduplicator:
    """Find exact, near and semantic duplicates and keep the best row of each cluster.

    Exact copies are grouped first and only one row per group goes on to the near and semantic
    stages (the others follow it), which saves work on copy-heavy data. All edges are joined
    into connected components; the kept row of a component is the one with the highest score
    (ties and ``scores=None``: the lowest row index).

    Parameters
    ----------
    exact, near, semantic : which finders run. Semantic needs ``embeddings`` in :meth:`run`;
        without them it is skipped and ``stats["skipped"]`` says so.
    near_threshold : Jaccard threshold of :class:`NearDuplicateFinder`.
    semantic_threshold : cosine threshold of :class:`SemanticDuplicateFinder`.
    num_perm, ngram : MinHash permutations and character n-gram length.
    verify : exact-Jaccard check of near-duplicate candidates.
    k : neighbours per row in the semantic search.
    random_state : seed of every randomised step.

    >>> dd = Deduplicator(semantic=False)
    >>> res = dd.run(["Is it raining?", "is it raining", "Paris is in France."])
    >>> res.cluster_id.tolist(), res.stats["n_clusters"]
    ([0, 0, 2], 2)
    """

    def __init__(
        self,
        exact: bool = True,
        near: bool = True,
        semantic: bool = True,
        near_threshold: float = DEFAULT_NEAR_THRESHOLD,
        semantic_threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
        num_perm: int = 128,
        ngram: int = DEFAULT_NGRAM,
        verify: bool = True,
        k: int = 10,
        random_state: int = 0,
    ) -> None:
        self.exact = exact
        self.near = near
        self.semantic = semantic
        self.near_threshold = near_threshold
        self.semantic_threshold = semantic_threshold
        self.num_perm = num_perm
        self.ngram = ngram
        self.verify = verify
        self.k = k
        self.random_state = random_state

    def _validate(self) -> None:
        for name in ("exact", "near", "semantic", "verify"):
            value = getattr(self, name)
            check_param("Deduplicator", name, value, isinstance(value, bool), "a bool")
        check_param("Deduplicator", "near_threshold", self.near_threshold,
                    _is_unit_interval(self.near_threshold), "a float in (0, 1]")
        check_param("Deduplicator", "semantic_threshold", self.semantic_threshold,
                    _is_unit_interval(self.semantic_threshold), "a float in (0, 1]")
        check_param("Deduplicator", "num_perm", self.num_perm, _is_int(self.num_perm, 2),
                    "an int >= 2")
        check_param("Deduplicator", "ngram", self.ngram, _is_int(self.ngram, 1), "an int >= 1")
        check_param("Deduplicator", "k", self.k, _is_int(self.k, 1), "an int >= 1")
        check_param("Deduplicator", "random_state", self.random_state,
                    _is_int(self.random_state, 0), "an int >= 0")

    def run(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray | None = None,
        scores: Sequence[float] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> DedupResult:
        """Cluster duplicate rows and choose one row to keep per cluster.

        ``embeddings`` (n, dim) feed the semantic stage; ``scores`` (n,) rank rows within a
        cluster (higher is kept; NaN ranks lowest). ``progress`` is called with the name of each
        stage ("exact", "near", "semantic", "cluster") as it starts.
        """
        def stage(name: str) -> None:
            if progress is not None:
                progress(name)

        self._validate()
        rows = _check_texts(texts)
        n = len(rows)
        emb = None
        if embeddings is not None:
            emb = np.asarray(embeddings)
            if emb.ndim != 2 or len(emb) != n:
                raise InputError(
                    f"embeddings must have shape ({n}, dim) to match the texts; got {emb.shape}."
                )
        score = np.zeros(n)
        if scores is not None:
            try:
                score = np.asarray(scores, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError) as exc:
                raise InputError(f"scores must be numbers: {exc}") from exc
            if len(score) != n:
                raise InputError(f"scores has {len(score)} values for {n} texts.")
            score = np.where(np.isnan(score), -np.inf, score)

        timings: dict[str, float] = {}
        skipped: dict[str, str] = {}
        edges: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        lsh: dict[str, int] = {}

        # Exact stage: groups of identical normalised text. `rep` = first row of each group.
        stage("exact")
        t0 = time.perf_counter()
        exact_finder = ExactDuplicateFinder()
        first, empty = exact_finder._groups(rows)
        if self.exact:
            dup = np.flatnonzero(first != np.arange(n))
            edges["exact"] = (first[dup], dup, np.ones(len(dup)))
            rep = first
        else:
            skipped["exact"] = "disabled"
            rep = np.arange(n, dtype=np.int64)
        timings["exact"] = time.perf_counter() - t0
        # Later stages see one row per exact group and never an empty row.
        active = np.flatnonzero((rep == np.arange(n)) & ~empty)

        if self.near:
            stage("near")
            t0 = time.perf_counter()
            finder = NearDuplicateFinder(
                threshold=self.near_threshold, num_perm=self.num_perm, ngram=self.ngram,
                verify=self.verify, random_state=self.random_state,
            )
            i, j, s = finder._pair_arrays([rows[a] for a in active])
            edges["near"] = (active[i], active[j], s)
            lsh = {"bands": finder.bands_, "rows": finder.rows_,
                   "candidates": finder.n_candidates_}
            timings["near"] = time.perf_counter() - t0
        else:
            skipped["near"] = "disabled"

        if self.semantic and emb is not None:
            stage("semantic")
            t0 = time.perf_counter()
            sem = SemanticDuplicateFinder(threshold=self.semantic_threshold, k=self.k,
                                          random_state=self.random_state)
            i, j, s = sem._pair_arrays(emb if len(active) == n else emb[active])
            edges["semantic"] = (active[i], active[j], s)
            timings["semantic"] = time.perf_counter() - t0
        elif self.semantic:
            skipped["semantic"] = "no embeddings given"
        else:
            skipped["semantic"] = "disabled"

        stage("cluster")
        t0 = time.perf_counter()
        none = np.zeros(0, dtype=np.int64)
        all_i = np.concatenate([e[0] for e in edges.values()] + [none])
        all_j = np.concatenate([e[1] for e in edges.values()] + [none])
        cluster = connected_components(n, all_i, all_j)
        size = np.bincount(cluster, minlength=n)[cluster]
        # kept row: highest score, then lowest index
        order = np.lexsort((np.arange(n), -score, cluster))
        head = np.ones(n, dtype=bool)
        head[1:] = cluster[order][1:] != cluster[order][:-1]
        kept_of_cluster = np.full(n, -1, dtype=np.int64)
        kept_of_cluster[cluster[order][head]] = order[head]
        kept = kept_of_cluster[cluster]
        keep = kept == np.arange(n)
        duplicate_of = np.where(keep, -1, kept)
        method, similarity = self._attribute(n, edges, rep, kept, keep)
        timings["cluster"] = time.perf_counter() - t0

        sizes, counts = np.unique(size[keep], return_counts=True)
        hist = {int(a): int(b) for a, b in zip(sizes, counts)}
        stats: dict[str, Any] = {
            "n_rows": n,
            "n_kept": int(keep.sum()),
            "n_dropped": int(n - keep.sum()),
            "n_clusters": int(keep.sum()),
            "n_empty": int(empty.sum()),
            "dropped_by_method": {m: sum(1 for x in method if x == m) for m in _METHODS},
            "pairs_by_method": {m: int(len(edges[m][0])) for m in _METHODS if m in edges},
            "cluster_size_histogram": hist,
            "skipped": skipped,
            "near_lsh": lsh,
            "timings_s": timings,
        }
        return DedupResult(
            cluster_id=cluster, cluster_size=size.astype(np.int64), keep=keep,
            duplicate_of=duplicate_of.astype(np.int64), method=method,
            similarity=similarity, stats=stats,
        )

    @staticmethod
    def _attribute(
        n: int,
        edges: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
        rep: np.ndarray,
        kept: np.ndarray,
        keep: np.ndarray,
    ) -> tuple[list[str | None], np.ndarray]:
        """Method and similarity of the edge that links each dropped row to its kept row.

        A row in the same exact group as its kept row: "exact", 1.0. Otherwise the row's
        exact-group representative speaks for it: its edge to the kept row's representative
        when there is one, else its strongest edge (near before semantic, then similarity).
        """
        method: list[str | None] = [None] * n
        similarity = np.full(n, np.nan)
        codes = np.full(n, -1, dtype=np.int64)
        sims = np.full(n, np.nan)
        ends, kinds, weights, others = [], [], [], []
        for code, name in enumerate(_METHODS):
            if name == "exact" or name not in edges:
                continue
            i, j, s = edges[name]
            ends += [i, j]
            others += [j, i]
            kinds += [np.full(len(i), code), np.full(len(i), code)]
            weights += [s, s]
        if ends:
            end = np.concatenate(ends)
            other = np.concatenate(others)
            kind = np.concatenate(kinds)
            weight = np.concatenate(weights)
            direct = other == rep[kept[end]]
            order = np.lexsort((-weight, kind, ~direct, end))
            end_sorted = end[order]
            head = np.ones(len(order), dtype=bool)
            head[1:] = end_sorted[1:] != end_sorted[:-1]
            best = order[head]
            codes[end[best]] = kind[best]
            sims[end[best]] = weight[best]
        for r in np.flatnonzero(~keep).tolist():
            if rep[r] == rep[kept[r]]:
                method[r], similarity[r] = "exact", 1.0
            else:  # the group joined its cluster through an edge of its representative
                g = rep[r]
                method[r], similarity[r] = _METHODS[codes[g]], sims[g]
        return method, similarity
