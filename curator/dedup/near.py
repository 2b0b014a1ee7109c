"""Near duplicates: MinHash signatures, LSH band buckets, candidates verified by exact Jaccard."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from ..errors import check_param
from .checks import _as_pairs, _check_texts, _is_int, _is_unit_interval
from .minhash import (
    _MAX_HASH,
    _PERM_BLOCK,
    _U64,
    _fmix64,
    _shingle_hashes,
    _sorted_unique,
    optimal_lsh_params,
)
from .normalize import _BATCH_CHARS, _batches, _near_codepoints

# Jaccard similarity of character 5-gram sets at or above which two rows are near duplicates.
# Measured on 20,000 synthetic rows (benchmarks/dedup.py, copies with 0-20% of their words
# replaced): 0.6 finds 100% / 99.8% / 98.3% / 79.7% of copies at 2 / 5 / 10 / 20% edits (0.7:
# 100 / 99.0 / 93.9 / 15.5%), with no pair joining unrelated rows; on the 2,455 real instructions
# of LIMA + Alpaca-GPT4 + Self-Instruct it merges exactly the same 15 pairs as 0.7, while 0.5
# starts merging distinct tasks ("Is 1021 a prime number?" / "Is 1011 ..."). Short paraphrase
# pairs pay for it: near-stage precision on STS-B falls from 0.68 to 0.58 (recall 0.07 -> 0.18).
DEFAULT_NEAR_THRESHOLD = 0.6
DEFAULT_NGRAM = 5
# Mixes a row's group into its band keys (odd, so distinct groups give distinct offsets).
_GROUP_COEF = np.uint64(0x9E3779B97F4A7C15)
# Text characters whose shingle sets the exact-Jaccard check holds at once (~12 bytes per
# character: the hashes and their sorted (row, hash) keys). Rows of pairs beyond it are taken in
# blocks, each row's set built once per block pair instead of once for the whole check.
_SET_CHARS = 1 << 24


def _spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indices ``starts[k] .. starts[k] + lengths[k] - 1`` of every span, end to end."""
    total = int(lengths.sum())
    return np.arange(total, dtype=np.int64) + np.repeat(starts - (np.cumsum(lengths) - lengths),
                                                         lengths)


def _merge_unique(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted unique union of two sorted unique arrays. A stable sort (timsort) of the two
    runs end to end is one linear merge, where a plain sort would start over."""
    if not len(a) or not len(b):
        return b if not len(a) else a
    both = np.sort(np.concatenate([a, b]), kind="stable")
    first = np.ones(len(both), dtype=bool)
    first[1:] = both[1:] != both[:-1]
    return both[first]


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
    ngram : shingle length in characters of the normalised text (see the package notes,
        curator/dedup/__init__.py).
    verify : check candidates with the exact Jaccard (slower, no false positives) rather than
        the MinHash estimate.
    random_state : seed of the shingle hash and permutations (results are deterministic).
    window : a band bucket's rows (in keep-priority order, see :meth:`_candidates`) are paired
        with their next ``window - 1`` bucket mates and with the bucket's first ``window``
        mates only, so one huge bucket costs O(size * window) checks, not O(size**2).

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
    def _candidates(self, sigs: np.ndarray, active: np.ndarray, band_coefs: np.ndarray,
                    rank: np.ndarray | None = None, groups: np.ndarray | None = None
                    ) -> np.ndarray:
        """Unique candidate pairs encoded as ``i * n + j`` (i < j), sorted.

        ``groups`` (n,) int: rows of different groups never share a bucket (the group is part
        of every band key), so a big group cannot crowd another's rows out of the window.

        Bucket mates are ordered by ``rank`` (keep-priority; default row order). Each is paired
        with its next ``window - 1`` mates and with the bucket's first ``window`` mates, so in
        a bucket of any size the rows most worth keeping (the likely cluster centres) are
        checked against every member: star clustering needs a centre's direct neighbours, not
        a chain."""
        n = len(sigs)
        rows_idx = np.flatnonzero(active)
        prio = rows_idx if rank is None else np.asarray(rank)[rows_idx]
        pairs = np.zeros(0, dtype=np.uint64)  # sorted, unique: the bands so far
        for band in range(self.bands_):
            found: list[np.ndarray] = []
            cols = slice(band * self.rows_, (band + 1) * self.rows_)
            key = np.full(len(rows_idx), band_coefs[0], dtype=np.uint64)
            with np.errstate(over="ignore"):
                if groups is not None:
                    key += np.asarray(groups)[rows_idx].astype(np.uint64) * _GROUP_COEF
                for c, coef in zip(range(cols.start, cols.stop), band_coefs[1 + cols.start:]):
                    key += sigs[rows_idx, c].astype(np.uint64) * coef
            _fmix64(key)
            order = np.lexsort((prio, key))  # bucket mates in priority order
            skey = key[order]
            same = skey[1:] == skey[:-1]
            if not same.any():
                continue
            # position of each sorted entry's bucket end, to stop pairing at the bucket edge
            bounds = np.flatnonzero(np.concatenate(([True], ~same, [True])))
            run_len = np.diff(bounds)
            run_end = np.repeat(bounds[1:], run_len)
            run_start = np.repeat(bounds[:-1], run_len)
            big = np.flatnonzero(np.repeat(run_len, run_len) > self.window)
            for h in range(self.window):  # big buckets: every member meets the first mates
                m = big[big > run_start[big] + h + self.window - 1]
                if not m.size:
                    break
                i = rows_idx[order[run_start[m] + h]]
                j = rows_idx[order[m]]
                found.append(np.minimum(i, j).astype(np.uint64) * _U64(n)
                             + np.maximum(i, j).astype(np.uint64))
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
                pairs = _merge_unique(pairs, _sorted_unique(np.concatenate(found)))
        return pairs

    # -- verification -----------------------------------------------------------------------
    def _row_sets(self, texts: list[str], rows: np.ndarray, shingle_coefs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Shingle sets of ``texts[rows]``, each row normalised and hashed once: CSR ``ptr``
        (len(rows) + 1) and ``data`` (uint32, each row's hashes sorted and unique)."""
        sizes: list[np.ndarray] = []
        data: list[np.ndarray] = []
        lens = np.fromiter((len(texts[r]) for r in rows.tolist()), dtype=np.int64, count=len(rows))
        for start, stop in _batches(lens, _BATCH_CHARS):
            cps, offsets = _near_codepoints([texts[r] for r in rows[start:stop].tolist()])
            hashes, counts = _shingle_hashes(cps, offsets, self.ngram, shingle_coefs)
            local = np.repeat(np.arange(stop - start, dtype=np.uint64), counts)
            keys = _sorted_unique((local << _U64(32)) | hashes.astype(np.uint64))
            sizes.append(np.bincount((keys >> _U64(32)).astype(np.int64), minlength=stop - start))
            data.append((keys & _U64(0xFFFFFFFF)).astype(np.uint32))
        ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        if sizes:
            np.cumsum(np.concatenate(sizes), out=ptr[1:])
        return ptr, np.concatenate(data) if data else np.zeros(0, dtype=np.uint32)

    @staticmethod
    def _intersections(ptr: np.ndarray, data: np.ndarray, li: np.ndarray, lj: np.ndarray
                       ) -> np.ndarray:
        """|A & B| of the CSR sets of local rows (li, lj), float64: every element of the smaller
        set looked up among the bigger set's, in chunks of bounded size."""
        size = np.diff(ptr)
        out = np.zeros(len(li), dtype=np.float64)
        swap = size[li] > size[lj]
        small, big = np.where(swap, lj, li), np.where(swap, li, lj)
        # pairs by their bigger set: a chunk then looks up in the sorted (row, hash) keys of
        # its few bigger sets only, a small array that stays in cache
        by_big = np.argsort(big, kind="stable")
        small, big = small[by_big], big[by_big]
        take_all = size[small]
        for start, stop in _batches(take_all, _BATCH_CHARS):
            sm, bg, take = small[start:stop], big[start:stop], take_all[start:stop]
            first = np.ones(len(bg), dtype=bool)
            first[1:] = bg[1:] != bg[:-1]
            rows = bg[first]  # the chunk's bigger sets, ascending
            local = np.cumsum(first) - 1
            rsize = size[rows]
            keys = (np.repeat(np.arange(len(rows), dtype=np.uint64), rsize) << _U64(32)) \
                | data[_spans(ptr[rows], rsize)].astype(np.uint64)
            pair_of = np.repeat(np.arange(stop - start), take)
            query = (local[pair_of].astype(np.uint64) << _U64(32)) \
                | data[_spans(ptr[sm], take)].astype(np.uint64)
            if not len(keys):
                continue
            pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
            out[by_big[start:stop]] = np.bincount(pair_of, weights=keys[pos] == query,
                                                  minlength=stop - start)
        return out

    def _exact_jaccard(self, texts: list[str], i: np.ndarray, j: np.ndarray,
                       at_least: float = 0.0) -> np.ndarray:
        """Exact Jaccard of the shingle sets of pairs (i, j).

        Each row's shingle set is built once (in blocks of rows of bounded size, see
        :data:`_SET_CHARS`). ``at_least`` > 0: pairs whose set sizes alone put the Jaccard
        below it (``|A & B| / |A | B| <= min / max``) are not compared and get 0.0."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        out = np.zeros(len(i), dtype=np.float64)
        if not len(i):
            return out
        shingle_coefs = self._coefficients()[0]
        rows = np.unique(np.concatenate([i, j]))
        # rows in blocks of bounded text size; the pairs of blocks (a, b) are taken with the
        # sets of both blocks at hand, block a's built once per a
        lens = np.fromiter((len(texts[r]) for r in rows.tolist()), dtype=np.int64, count=len(rows))
        bounds = [0] + [stop for _, stop in _batches(lens, _SET_CHARS)]
        block = np.searchsorted(np.asarray(bounds[1:]), np.arange(len(rows)), side="right")
        bi = block[np.searchsorted(rows, i)]
        bj = block[np.searchsorted(rows, j)]
        lo, hi = np.minimum(bi, bj), np.maximum(bi, bj)
        for a in np.unique(lo).tolist():
            ptr_a, data_a = self._row_sets(texts, rows[bounds[a]:bounds[a + 1]], shingle_coefs)
            for b in np.unique(hi[lo == a]).tolist():
                sel = np.flatnonzero((lo == a) & (hi == b))
                # local row ids: block a's rows, then block b's (when another block)
                li = np.searchsorted(rows, i[sel]) - bounds[a]
                lj = np.searchsorted(rows, j[sel]) - bounds[a]
                if b == a:
                    ptr, data = ptr_a, data_a
                else:
                    ptr_b, data_b = self._row_sets(texts, rows[bounds[b]:bounds[b + 1]],
                                                   shingle_coefs)
                    ptr = np.concatenate([ptr_a, ptr_b[1:] + ptr_a[-1]])
                    data = np.concatenate([data_a, data_b])
                    n_a, gap = bounds[a + 1] - bounds[a], bounds[b] - bounds[a + 1]
                    li = np.where(li >= n_a, li - gap, li)
                    lj = np.where(lj >= n_a, lj - gap, lj)
                size = np.diff(ptr)
                si, sj = size[li], size[lj]
                union_max = np.maximum(si, sj)
                # J <= min / max: below ``at_least`` from the sizes alone (correctly rounded
                # division is monotone, so no pair that could reach it is skipped)
                go = (np.minimum(si, sj) / np.maximum(union_max, 1) >= at_least) & (union_max > 0)
                sel, li, lj = sel[go], li[go], lj[go]
                inter = self._intersections(ptr, data, li, lj)
                union = size[li] + size[lj] - inter
                out[sel] = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        return out

    def _pair_arrays(self, texts: list[str], rank: np.ndarray | None = None,
                     groups: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs (i, j, similarity) at or above the threshold; with ``groups``, only pairs of
        rows of one group (see :meth:`_candidates`)."""
        self._validate()
        self.bands_, self.rows_ = optimal_lsh_params(float(self.threshold), int(self.num_perm))
        n = len(texts)
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        self.n_candidates_ = 0
        if n < 2:
            return empty
        sigs, n_shingles = self._signatures(texts)
        band_coefs = self._coefficients()[3]
        codes = self._candidates(sigs, n_shingles > 0, band_coefs, rank, groups)
        if not codes.size:
            return empty
        i = (codes // _U64(n)).astype(np.int64)
        j = (codes % _U64(n)).astype(np.int64)
        if groups is not None:  # a band key collision across groups
            same = np.asarray(groups)[i] == np.asarray(groups)[j]
            i, j = i[same], j[same]
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
            sim = self._exact_jaccard(texts, i, j, at_least=float(self.threshold))
        else:
            self.n_candidates_ = int(len(i))
            sim = est
        hit = sim >= self.threshold
        return i[hit], j[hit], sim[hit]

    def find_pairs(self, texts: Sequence[str]) -> list[tuple[int, int, float]]:
        """Near-duplicate edges ``(i, j, jaccard)``, ``i < j``, sorted."""
        return _as_pairs(*self._pair_arrays(_check_texts(texts)))
