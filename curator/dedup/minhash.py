"""MinHash building blocks: shingle hashes, the 64-bit mixer, sorted-unique, LSH parameters.

Pure numpy functions over code-point arrays (from :mod:`curator.dedup.normalize`); the
fingerprints, band buckets and verification that use them are the near stage's
(:class:`~curator.dedup.near.NearDuplicateFinder`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

_MAX_HASH = np.uint32(0xFFFFFFFF)
_U64 = np.uint64
# Shingles per permutation block: a (num_perm, block) uint32 block of 4 MiB stays in cache,
# which measured ~10x faster than one pass over a large array.
_PERM_BLOCK = 8192


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
