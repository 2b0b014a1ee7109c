"""Deduplication: exact, near (MinHash + LSH) and semantic (embedding) duplicates.

Three finders each turn rows into weighted edges ``(i, j, similarity)`` with ``i < j``; the
:class:`Deduplicator` clusters them and keeps one row per cluster. Stages, as in text-dedup:
fingerprint -> candidate pairs -> verify -> guard -> cluster -> assign. What each method merges
and never merges, with examples: docs/dedup.md.

Every merge is justified pairwise: a dropped row is directly similar (>= the threshold of the
method that merged it) to the kept row it names, and ``similarity`` is that direct value.
Connected components did not guarantee it: a chain of rows that each edit ~15% of the previous
one ended in one cluster whose ends shared a quarter of their 5-grams, and on a real 21k-row
merge about half the near-duplicate drops were below the threshold to the row they named. We
use star clustering (:func:`star_clusters`): rows in keep order (score desc, row asc); each row
not yet absorbed becomes a kept centre and absorbs its still-free direct neighbours; exact-copy
groups follow their best row. Complete linkage would also bound the similarity *between*
dropped rows, which nobody reads, at the cost of every pair inside a cluster; star clustering
needs only each centre's edges and runs in O(rows + pairs). LSH buckets order their rows by
keep priority and pair every row with the bucket's first ``window`` rows, so a centre sees its
direct neighbours even in huge template buckets (the old ``window`` only paired consecutive
mates and relied on chaining).

Near and semantic pairs also pass a value guard (:class:`_ValueGuard`): a pair whose texts
differ by a *replaced* number, operator/symbol, capitalised name or caseless-script word is a
different task ("... in 2019?" / "... in 2020?") and is not merged unless
``allow_value_changes``.

>>> res = Deduplicator(semantic=False).run(
...     ["Hello, World!", "hello world", "Something else entirely."], scores=[0.1, 0.9, 0.5])
>>> res.keep.tolist(), res.duplicate_of.tolist(), res.method
([False, True, True], [1, -1, -1], ['exact', None, None])

Design choices, measured with ``benchmarks/dedup.py`` (numbers in benchmarks/RESULTS.md):

* One normalisation for exact and near matching, which keeps what carries meaning: NFKC,
  case-folding, whitespace collapsed, invisible format characters (ZWSP, soft hyphen, BOM, bidi
  marks) deleted and only meaning-neutral sentence punctuation (. , ! ? ; : quotes) turned into
  spaces; digits, operators and symbols (+ - * / < > = # % $ @ & |), emoji and letters of every
  script stay, so "7+3" / "7-3", "C++" / "C#" and "😀" / "😢" are neither exact duplicates nor
  the same shingles. Done with numpy over code points. (Until issue 10 every punctuation mark
  and symbol was erased; ``strip_punctuation=True`` still gives that.)
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
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError, check_param
from .text import STOPWORDS

__all__ = [
    "DEFAULT_NEAR_THRESHOLD",
    "DEFAULT_NGRAM",
    "DEFAULT_SEMANTIC_THRESHOLD",
    "MAX_UNK_SHARE",
    "MULTILINGUAL_MODEL",
    "DedupResult",
    "Deduplicator",
    "ExactDuplicateFinder",
    "NearDuplicateFinder",
    "SemanticDuplicateFinder",
    "connected_components",
    "latin_letter_share",
    "optimal_lsh_params",
    "semantic_readable",
    "star_clusters",
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
_SPACE, _PUNCT, _IDEOGRAPH, _FOLD, _FORMAT, _DIGIT = 1, 2, 3, 4, 5, 6
# CJK ideograph blocks, as in BERT's BasicTokenizer (_is_chinese_char).
_IDEOGRAPH_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)
# "Other punctuation" (Unicode Po) that carries meaning and so is never folded: operators and
# signs such as # % & * @ / \ (C# vs C, 50% vs 50, a/b vs a b) and reference marks.
_MEANINGFUL_PO = frozenset("#%&*@/\\§¶†‡‰‱′″‴⁎⁑※")


@functools.lru_cache(maxsize=1)
def _char_classes() -> np.ndarray:
    """Class of every code point.

    0 other (letters of every script, marks, emoji and other symbols), 1 whitespace,
    2 punctuation or symbol that can carry meaning (+ - < > = # % $ @ & | brackets, emoji...),
    3 CJK ideograph, 4 meaning-neutral sentence punctuation (. , ! ? ; : quotes, 。 ، ؟ ...: Unicode
    Po, Pi, Pf less _MEANINGFUL_PO), 5 invisible format character (Unicode Cf: ZWSP, soft hyphen,
    BOM, bidi marks, ZWJ), 6 decimal digit.
    Built once per process (~0.3 s); a lookup table lets numpy classify millions of characters
    at once where a Python loop per character would dominate the whole dedup run.
    """
    table = np.zeros(sys.maxunicode + 1, dtype=np.uint8)
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if ch.isspace():
            table[cp] = _SPACE
            continue
        cat = unicodedata.category(ch)
        if cat in ("Po", "Pi", "Pf") and ch not in _MEANINGFUL_PO:
            table[cp] = _FOLD
        elif cat[0] in "PS":
            table[cp] = _PUNCT
        elif cat == "Cf":
            table[cp] = _FORMAT
        elif cat == "Nd":
            table[cp] = _DIGIT
    for lo, hi in _IDEOGRAPH_RANGES:
        table[lo:hi + 1] = _IDEOGRAPH
    return table


def _normalize_codepoints(
    texts: Sequence[str],
    lowercase: bool = True,
    collapse_whitespace: bool = True,
    strip_punctuation: bool | str = "neutral",
) -> tuple[np.ndarray, np.ndarray]:
    """Normalise texts and return (code points as uint32, offsets of each text, length n + 1).

    Text ``i`` is ``cps[offsets[i]:offsets[i + 1]]``. ``strip_punctuation``:

    * ``"neutral"`` (what dedup compares): invisible format characters are deleted and only
      meaning-neutral sentence punctuation (class 4 of :func:`_char_classes`, but not a ``.``,
      ``,`` or ``:`` between two digits) becomes a space; digits, operators, symbols, emoji and
      letters of every script stay.
    * ``True``: every punctuation mark and symbol becomes a space, format characters stay
      (equals ``curator.text.normalize_text(t, lowercase, collapse_whitespace, True)``).
    * ``False``: no character is removed.
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
    if strip_punctuation == "neutral":
        fmt = cls == _FORMAT
        if fmt.any():  # invisible characters go without leaving a space: "capi\u00adtal" = "capital"
            kept = np.flatnonzero(~fmt)
            cps, cls, starts = cps[kept], cls[kept], np.searchsorted(kept, starts)
            lens = np.diff(starts)
        fold = cls == _FOLD
        if len(cls) > 2:  # "3.14", "10,000", "7:30" keep their separator
            digit = cls == _DIGIT
            inner = np.zeros(len(cls), dtype=bool)
            inner[1:-1] = digit[:-2] & digit[2:]
            ends = np.concatenate((starts[:-1], starts[1:] - 1))
            inner[ends[(ends >= 0) & (ends < len(cls))]] = False
            fold &= ~inner
        strip_cls = fold
    elif strip_punctuation:
        strip_cls = (cls == _PUNCT) | (cls == _FOLD)
    else:
        strip_cls = np.zeros(len(cls), dtype=bool)
    if strip_punctuation:
        space = (cls == _SPACE) | strip_cls
        if not collapse_whitespace:
            cps[strip_cls] = 32
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
# Task-changing differences: the value guard of the near and semantic stages
# ---------------------------------------------------------------------------------------------
# A number, with a sign when the minus is not between two operands ("-5", but "7-3" is 7, -, 3)
# and thousands separators ("10,000" = "10000").
_NUMBER_RE = re.compile(r"(?<![\w)])(-)?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)")
# A word that may be a name: letters/digits, inner apostrophes, trailing + or # (C++, C#, F#).
_WORD_RE = re.compile(r"[^\W_][\w'’]*[+#]*")
# ASCII signs that are operators only between operands: "7-3", "7 / 3", "2 * 4" (not "well-known",
# "and/or", "**bold**").
_CONTEXT_OPS = frozenset("-/*")
_SENTENCE_END = frozenset(".!?:;…\n。！？")
_OPENERS = "\"'“‘«([{*_-#>•· \t\r"


def _canonical_number(sign: str | None, digits: str) -> str:
    """"10,000" -> "10000", "1.50" -> "1.5", "007" -> "7", Arabic-Indic digits -> ASCII."""
    text = "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in digits.replace(",", ""))
    whole, _, frac = text.partition(".")
    whole, frac = whole.lstrip("0") or "0", frac.rstrip("0")
    value = f"{whole}.{frac}" if frac else whole
    return f"-{value}" if sign and value != "0" else value


def _is_operand(ch: str) -> bool:
    return ch.isdigit() or ch in "()"


_TOKEN_RE = re.compile(r"\S+")
# a whole word that is a number, with sentence punctuation after it: "2019?", "10,000.", "-5"
_WHOLE_NUMBER_RE = re.compile(r"(-)?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)[.,;:!?)]*")
# Cheap per-kind tests of a chunk: a value of a kind can be replaced only if both sides hold one.
_KIND_TESTS = (re.compile(r"\d"), re.compile(r"(?:^|\s)\W*[^\W\d_a-z]"),
               re.compile(r"[^\w\s.,;:!?'\"()\[\]{}]"), re.compile(r"[^\x00-\x7f]"))


def _may_replace_value(a: str, b: str) -> bool:
    """False when no kind of value (digit, capital, symbol, non-ASCII) is in both chunks."""
    return any(t.search(a) and t.search(b) for t in _KIND_TESTS)


def _symbol_runs(chunk: str, left: str = "", right: str = "") -> list[str]:
    """Operators and symbols of a text chunk; adjacent ones form one token ("<=", "==", "++").
    ``left``/``right``: the non-space characters around the chunk (is "-" between operands?)."""
    out: list[str] = []
    stripped = left + "".join(chunk.split()) + right
    last = -2
    for k in range(len(left), len(stripped) - len(right)):
        ch = stripped[k]
        if ch in _CONTEXT_OPS:
            is_symbol = (0 < k < len(stripped) - 1 and _is_operand(stripped[k - 1])
                         and _is_operand(stripped[k + 1]))
        else:  # accents and backticks (Markdown) are not values
            is_symbol = (ch in "%#@&" or unicodedata.category(ch) in ("Sm", "Sc", "So", "Sk")) \
                and ch not in "`´¨¯¸˜"
        if is_symbol:
            if last == k - 1:
                out[-1] += ch
            else:
                out.append(ch)
            last = k
    return out


def _caseless(s: str) -> bool:
    return not s.isascii() and any(c.isalpha() and c.lower() == c.upper() for c in s)


def _caseless_replaced(a: str, b: str) -> bool:
    """Whether letters of a script without case (CJK, Thai, Arabic, Hangul...) were replaced by
    others. Names cannot be told by capitals there, so any replaced run of such letters may be
    a changed name ("中国" -> "美国", "ไทย" -> "ลาว"); inserted or deleted runs (a particle) are not."""
    from rapidfuzz.distance import Levenshtein

    src = dst = ""
    for op in Levenshtein.opcodes(a, b):
        if op.tag == "equal":
            if _caseless(src) and _caseless(dst):
                return True
            src = dst = ""
            continue
        src += a[op.src_start:op.src_end]
        dst += b[op.dest_start:op.dest_end]
    return _caseless(src) and _caseless(dst)


def _changed(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether a value was *replaced* by one of its kind: for numbers ("n:"), symbols ("s:") or
    names ("w:"), each side has one the other lacks (multisets). A value only added or only
    removed ("... in 2019" vs "... in 2019 and 2020") does not count, nor a number replaced by
    a word."""
    from collections import Counter

    if not a or not b:
        return False
    for kind in ("n:", "s:", "w:"):
        xa = [x for x in a if x.startswith(kind)]
        xb = [x for x in b if x.startswith(kind)] if xa else []
        if not xb:  # one side holds no value of this kind: nothing was replaced
            continue
        if len(xa) == 1 == len(xb):  # the usual case: one value each side
            if xa[0] != xb[0]:
                return True
            continue
        ca, cb = Counter(xa), Counter(xb)
        if ca - cb and cb - ca:
            return True
    return False


class _Side:
    """One text of a pair, tokenised on whitespace, for the value guard."""

    def __init__(self, text: str) -> None:
        self.text = text if text.isascii() else unicodedata.normalize("NFKC", text)
        self.tokens = list(_TOKEN_RE.finditer(self.text))
        self.words = [m.group(0) for m in self.tokens]
        self._shouting: bool | None = None
        self._lower_words: set[str] | None = None
        # per token, once: its numbers and its possible names (see _token_values)
        self._token_values: list[tuple[list[str], list[str]] | None] = [None] * len(self.words)

    @property
    def shouting(self) -> bool:
        """Mostly upper-case text: capitals say nothing about names there."""
        if self._shouting is None:
            # count upper- and lower-case letters in C: characters that change when folded
            def changed(other: str) -> int:
                if len(other) != len(self.text):
                    return sum(1 for a, b in zip(self.text, other) if a != b)
                a = np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
                b = np.frombuffer(other.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
                return int((a != b).sum())
            self._shouting = changed(self.text.lower()) > changed(self.text.upper())
        return self._shouting

    @property
    def lower_words(self) -> set[str]:
        """Words the text writes in lower case."""
        if self._lower_words is None:
            self._lower_words = {w for w in re.findall(r"\w+", self.text) if w.islower()}
        return self._lower_words

    def sentence_start(self, k: int) -> bool:
        if k == 0:
            return True
        prev = self.words[k - 1].rstrip("\"'”’»)]*_")
        gap = self.text[self.tokens[k - 1].end():self.tokens[k].start()]
        return not prev or prev[-1] in _SENTENCE_END or "\n" in gap or prev in ("-", "*", "•", "#")

    def values(self, lo: int, hi: int, other: _Side) -> list[str]:
        """Numbers, symbols and names of tokens [lo, hi), as typed strings."""
        if lo >= hi:
            return []
        chunk = self.text[self.tokens[lo].start():self.tokens[hi - 1].end()]
        before = self.text[:self.tokens[lo].start()].rstrip()[-1:]
        after = self.text[self.tokens[hi - 1].end():].lstrip()[:1]
        # symbols per chunk: adjacent ones form one run across spaces ("< =" is "<=")
        out = ["s:" + s for s in _symbol_runs(chunk, before, after)]
        for k in range(lo, hi):
            numbers, names = self._values_of_token(k)
            out += numbers
            # a capitalised word the other text uses in lower case is a plain word there too
            out += ["w:" + low for low in names if low not in other.lower_words]
        return out

    def _values_of_token(self, k: int) -> tuple[list[str], list[str]]:
        """Token k's numbers ("n:..."; a number never spans whitespace) and its possible names
        (case-folded): everything about a token that does not depend on the other text."""
        got = self._token_values[k]
        if got is not None:
            return got
        word = self.words[k]
        numbers = ["n:" + _canonical_number(m.group(1), m.group(2))
                   for m in _NUMBER_RE.finditer(word)] if _KIND_TESTS[0].search(word) else []
        names: list[str] = []
        for m in _WORD_RE.finditer(word):
            w = m.group(0)
            if not w[0].isupper() or w == "I" or w.startswith(("I'", "I’")) or self.shouting:
                continue
            if word[:m.start()].strip(_OPENERS) or (m.start() == 0 and self.sentence_start(k)):
                continue  # not at a word start, or the first word of a sentence
            low = w.casefold()
            if low in STOPWORDS:  # "These", "Why": capitalised for emphasis, not names
                continue
            # a capitalised word the text also uses in lower case is a plain word
            if low == w or low in self.lower_words:
                continue
            names.append(low)
        got = self._token_values[k] = (numbers, names)
        return got


# Negations, whose presence or absence flips what a row asks: counted per text by the guard.
_NEGATION_RE = re.compile(
    r"\b(?:not|no|never|none|nobody|nothing|neither|nor|cannot|without)\b|\w(?:n't|n’t)\b", re.IGNORECASE)


class _ValueGuard:
    """Blocks near/semantic pairs where a task-changing value was *replaced*: a number ("2019" vs
    "2020", "-5" vs "5"; "10,000" = "10000"), an operator or symbol ("7+3" vs "7-3", "5 < 3" vs
    "5 <= 3", "😀" vs "😢", "$5" vs "€5"), a capitalised name not at a sentence start ("Lamar" vs
    "Leon"; a capitalised word the texts also use in lower case is a plain word), or a run of
    letters of a caseless script (CJK, Thai, Arabic...: any replaced run may be a name). A
    negation added or removed ("not", "never", "n't") blocks too, although it is an insertion.

    The two texts are aligned word by word (rapidfuzz Levenshtein opcodes over whitespace
    tokens); only spans replaced by other words are examined, and a span blocks when each side
    holds a value the other lacks. Values only added or removed, words moved, and edits of
    ordinary words pass, which keeps lightly edited copies mergeable."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts
        # recently used rows (pairs come sorted by their first row): bounded, so memory stays
        # flat however many rows take part in pairs
        self._sides: dict[int, _Side] = {}
        self._words: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
        # numbers per row are small and decide most template pairs: a larger cache
        self._numbers: dict[int, frozenset[str]] = {}
        self._negation_counts: dict[int, int] = {}

    def _row_numbers(self, r: int) -> frozenset[str]:
        got = self._numbers.get(r)
        if got is None:
            if len(self._numbers) >= 1 << 18:
                self._numbers.clear()
            got = self._numbers[r] = self._word_sets(r)[1]
        return got

    def _side(self, r: int) -> _Side:
        side = self._sides.get(r)
        if side is None:
            if len(self._sides) >= 4096:
                self._sides.clear()
            side = self._sides[r] = _Side(self.texts[r])
        return side

    def _word_sets(self, r: int) -> tuple[frozenset[str], frozenset[str]]:
        """(whitespace words, canonical numbers written as whole words) of row r."""
        got = self._words.get(r)
        if got is None:
            if len(self._words) >= 4096:
                self._words.clear()
            words = frozenset(self.texts[r].split())
            numbers = frozenset(_canonical_number(m.group(1), m.group(2)) for w in words
                                if (m := _WHOLE_NUMBER_RE.fullmatch(w)))
            got = self._words[r] = (words, numbers)
        return got

    def _negations(self, r: int) -> int:
        got = self._negation_counts.get(r)
        if got is None:
            if len(self._negation_counts) >= 1 << 18:
                self._negation_counts.clear()
            got = self._negation_counts[r] = len(_NEGATION_RE.findall(self.texts[r]))
        return got

    def blocked(self, a: int, b: int) -> bool:
        """Whether the pair (a, b) is refused (a = the row that would absorb b): the plain,
        pair-at-a-time decision. :meth:`verdicts` takes the cheap ones for many pairs at once."""
        cheap = self._cheap(a, b)
        return self._aligned_either(a, b) if cheap == ASK else cheap == BLOCK

    def _aligned_either(self, a: int, b: int) -> bool:
        """The alignment in both directions: a minimal edit script is not unique, and one order
        can pair a moved word with a changed value ("the 7+3" / "7-3 the") where the other sees
        only an insertion and a deletion. A pair is refused when either order finds a value
        replaced, so whether two rows merge never depends on which one is the centre."""
        return self._aligned_blocked(a, b) or self._aligned_blocked(b, a)

    def _cheap(self, a: int, b: int) -> int:
        """PASS, BLOCK or ASK (only the alignment can tell) for one pair; symmetric."""
        ta, tb = self.texts[a], self.texts[b]
        if ta == tb:
            return PASS
        # a negation added or removed reverses the task ("Is Paris in France?" / "Is Paris not
        # in France?", "Do delete ..." / "Do not delete ..."), though it is only an insertion
        if self._negations(a) != self._negations(b):
            return BLOCK
        # fast paths: values can only change among the words one text has and the other lacks;
        # and each text having a number (a whole word) the other lacks is a changed number
        na, nb = self._row_numbers(a), self._row_numbers(b)
        if na - nb and nb - na:
            return BLOCK
        (wa, _), (wb, _) = self._word_sets(a), self._word_sets(b)
        if not _may_replace_value(" ".join(wa - wb), " ".join(wb - wa)):
            return PASS
        return ASK

    def _aligned_blocked(self, a: int, b: int) -> bool:
        """The word alignment: asked only for pairs the cheap decisions leave open."""
        from rapidfuzz.distance import Levenshtein

        sa, sb = self._side(a), self._side(b)
        if sa.words == sb.words:
            return False
        spans: list[list[int]] = []
        for op in Levenshtein.opcodes(sa.words, sb.words):
            if op.tag == "equal":
                continue
            if spans and spans[-1][1] == op.src_start and spans[-1][3] == op.dest_start:
                spans[-1][1], spans[-1][3] = op.src_end, op.dest_end
            else:
                spans.append([op.src_start, op.src_end, op.dest_start, op.dest_end])
        for a0, a1, b0, b1 in spans:
            if a0 == a1 or b0 == b1:
                continue  # words only inserted or deleted
            if not _may_replace_value(" ".join(sa.words[a0:a1]), " ".join(sb.words[b0:b1])):
                continue
            if _changed(sa.values(a0, a1, sb), sb.values(b0, b1, sa)):
                return True
            ca = sa.text[sa.tokens[a0].start():sa.tokens[a1 - 1].end()]
            cb = sb.text[sb.tokens[b0].start():sb.tokens[b1 - 1].end()]
            if _caseless(ca) and _caseless(cb):
                ua = _normalize_codepoints([ca])[0].tobytes().decode("utf-32-le", "surrogatepass")
                ub = _normalize_codepoints([cb])[0].tobytes().decode("utf-32-le", "surrogatepass")
                if _caseless_replaced(ua, ub):
                    return True
        return False

    def keep_mask(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """True for the pairs (i, j) the guard lets through."""
        ver = self.verdicts(i, j)
        ask = np.flatnonzero(ver == ASK)
        for k, a, b in zip(ask.tolist(), np.asarray(i)[ask].tolist(), np.asarray(j)[ask].tolist()):
            ver[k] = not self._aligned_either(a, b)
        return ver == PASS

    # -- the cheap decisions, vectorised --------------------------------------------------------
    # On templated data (GSM8K-like rows that differ only by their numbers) the near stage
    # yields hundreds of thousands of pairs per ten thousand rows, nearly all decided by the
    # cheap checks of blocked(); taken one pair at a time in Python they cost more than the
    # whole near stage. verdicts() reads each row once (negation count, numbers, value-bearing
    # words as small integer ids) and takes the same decisions for all pairs with numpy.
    def verdicts(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Per pair (i[k], j[k]): PASS (1), BLOCK (0) or ASK (-1): only the word alignment
        (:meth:`_aligned_blocked`) can tell. Exactly the cheap decisions of :meth:`blocked`,
        in its order: identical texts pass; different negation counts block; each side
        having a number the other lacks blocks; pairs whose differing words hold no value of
        a kind on both sides pass."""
        i = np.asarray(i, dtype=np.int64).reshape(-1)
        j = np.asarray(j, dtype=np.int64).reshape(-1)
        out = np.full(len(i), ASK, dtype=np.int8)
        if not len(i):
            return out
        # each row read once (local ids 0..m-1), then the pairs compared in chunks (bounded
        # temporary arrays), each check only on the pairs the earlier ones left open
        local = np.zeros(max(int(i.max()), int(j.max())) + 1, dtype=np.int64)
        local[i] = 1
        local[j] = 1
        rows = np.flatnonzero(local)
        local[rows] = np.arange(len(rows))
        sig = _RowSignatures([self.texts[r] for r in rows.tolist()])
        for s in range(0, len(i), _GUARD_CHUNK):
            a, b = local[i[s:s + _GUARD_CHUNK]], local[j[s:s + _GUARD_CHUNK]]
            ver = np.full(len(a), ASK, dtype=np.int8)
            ver[sig.text_id[a] == sig.text_id[b]] = PASS
            ver[(ver == ASK) & (sig.negations[a] != sig.negations[b])] = BLOCK
            open_ = np.flatnonzero(ver == ASK)
            ver[open_[sig.numbers.replaced(a[open_], b[open_])[:, 0]]] = BLOCK
            open_ = np.flatnonzero(ver == ASK)
            ver[open_[~sig.values.replaced(a[open_], b[open_]).any(axis=1)]] = PASS
            out[s:s + len(a)] = ver
        return out


# a whitespace token with a character other than a-z (str.split and \s agree on whitespace)
_NOT_PLAIN_WORD_RE = re.compile(r"\S*[^a-z\s]\S*")
PASS, BLOCK, ASK = 1, 0, -1  # verdicts of the value guard (ASK: only the alignment can tell)
_GUARD_CHUNK = 1 << 16  # pairs per vectorised guard chunk


class _SetColumn:
    """One small set of integer ids per row (CSR: ``ptr``, sorted ``data`` per row), ids
    encoded as ``id * kinds + kind``; ``set_id`` equal <=> the two rows' sets are equal."""

    def __init__(self, sets: list[list[int]], kinds: int) -> None:
        self.kinds = kinds
        sizes = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
        self.ptr = np.zeros(len(sets) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.ptr[1:])
        self.data = np.fromiter((x for t in sets for x in sorted(t)), dtype=np.int64,
                                count=int(self.ptr[-1]))
        ids: dict[tuple[int, ...], int] = {}
        self.set_id = np.fromiter((ids.setdefault(tuple(sorted(t)), len(ids)) for t in sets),
                                  dtype=np.int64, count=len(sets))
        self.span = int(self.data.max()) + 1 if len(self.data) else 1
        # (row, element) keys, sorted (rows ascending, each row's elements sorted)
        self.keys = np.repeat(np.arange(len(sets), dtype=np.int64), sizes) * self.span + self.data

    def _missing(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(pairs, kinds) bool: set a holds an element of that kind that set b lacks."""
        size = self.ptr[a + 1] - self.ptr[a]
        pair = np.repeat(np.arange(len(a)), size)
        src = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size) \
            + np.repeat(self.ptr[a], size)
        elem = self.data[src]
        query = b[pair] * self.span + elem
        found = np.zeros(len(query), dtype=bool)
        if len(self.keys):
            pos = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
            found = self.keys[pos] == query
        missing = np.bincount(pair * self.kinds + elem % self.kinds, weights=~found,
                              minlength=len(a) * self.kinds)
        return missing.reshape(len(a), self.kinds) > 0

    def replaced(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(pairs, kinds) bool: each set holds an element of that kind the other lacks. Rows
        with equal sets (the same ``set_id``) are not compared element-wise."""
        out = np.zeros((len(a), self.kinds), dtype=bool)
        differ = np.flatnonzero(self.set_id[a] != self.set_id[b])
        if len(differ):
            da, db = a[differ], b[differ]
            out[differ] = self._missing(da, db) & self._missing(db, da)
        return out


class _RowSignatures:
    """What :meth:`_ValueGuard.verdicts` needs of each row, read once: a text id, the negation
    count, the canonical numbers written as whole words, and the words holding a value of each
    kind of ``_KIND_TESTS`` (digit, capital / caseless letter, symbol, non-ASCII). Words get
    integer ids shared by the rows of one chunk, so the sets compare exactly (no hashing)."""

    def __init__(self, texts: list[str]) -> None:
        text_ids: dict[str, int] = {}
        number_ids: dict[str, int] = {}
        word_ids: dict[str, int] = {}
        kinds = len(_KIND_TESTS)
        # word -> (number id or -1, value elements word_id * kinds + kind)
        seen: dict[str, tuple[int, tuple[int, ...]]] = {}
        numbers: list[list[int]] = []
        values: list[list[int]] = []
        for t in texts:
            row_numbers: set[int] = set()
            row_values: list[int] = []
            # words of plain a-z letters hold no value of any kind: found in C, never looked at
            for w in set(_NOT_PLAIN_WORD_RE.findall(t)):
                got = seen.get(w)
                if got is None:
                    m = _WHOLE_NUMBER_RE.fullmatch(w)
                    num = -1 if m is None else number_ids.setdefault(
                        _canonical_number(m.group(1), m.group(2)), len(number_ids))
                    hit = [k for k, test in enumerate(_KIND_TESTS) if test.search(w)]
                    elems: tuple[int, ...] = ()
                    if hit:
                        wid = word_ids.setdefault(w, len(word_ids))
                        elems = tuple(wid * kinds + k for k in hit)
                    got = (num, elems)
                    if len(seen) >= 1 << 20:  # a cache only (ids live in the dicts above)
                        seen.clear()
                    seen[w] = got
                if got[0] >= 0:
                    row_numbers.add(got[0])
                row_values.extend(got[1])
            numbers.append(list(row_numbers))
            values.append(row_values)
        self.text_id = np.fromiter((text_ids.setdefault(t, len(text_ids)) for t in texts),
                                   dtype=np.int64, count=len(texts))
        self.negations = np.fromiter((len(_NEGATION_RE.findall(t)) for t in texts),
                                     dtype=np.int64, count=len(texts))
        self.numbers = _SetColumn(numbers, 1)
        self.values = _SetColumn(values, kinds)


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
                    rank: np.ndarray | None = None) -> np.ndarray:
        """Unique candidate pairs encoded as ``i * n + j`` (i < j), sorted.

        Bucket mates are ordered by ``rank`` (keep-priority; default row order). Each is paired
        with its next ``window - 1`` mates and with the bucket's first ``window`` mates, so in
        a bucket of any size the rows most worth keeping (the likely cluster centres) are
        checked against every member: star clustering needs a centre's direct neighbours, not
        a chain."""
        n = len(sigs)
        rows_idx = np.flatnonzero(active)
        prio = rows_idx if rank is None else np.asarray(rank)[rows_idx]
        found: list[np.ndarray] = []
        for band in range(self.bands_):
            cols = slice(band * self.rows_, (band + 1) * self.rows_)
            key = np.full(len(rows_idx), band_coefs[0], dtype=np.uint64)
            with np.errstate(over="ignore"):
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

    def _pair_arrays(self, texts: list[str], rank: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._validate()
        self.bands_, self.rows_ = optimal_lsh_params(float(self.threshold), int(self.num_perm))
        n = len(texts)
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        self.n_candidates_ = 0
        if n < 2:
            return empty
        sigs, n_shingles = self._signatures(texts)
        band_coefs = self._coefficients()[3]
        codes = self._candidates(sigs, n_shingles > 0, band_coefs, rank)
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
                 array: np.ndarray | None = None) -> None:
        self.n = int(n)
        self.dim = int(dim)
        self.get = get
        self._array = array  # when the rows are an array: blocks are views of it

    @classmethod
    def of(cls, array: np.ndarray) -> RowVectors:
        return cls(array.shape[0], array.shape[1], lambda rows: array[rows], array)

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
        return RowVectors(len(rows), self.dim, lambda r: self.rows(rows[r]))


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
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = int(self.random_state)
            rng = np.random.default_rng(self.random_state)
            sample = np.sort(rng.choice(n, size=min(n, 256 * nlist), replace=False))
            index.train(unit(vecs.rows(sample)))
            index.nprobe = min(self.nprobe, nlist)
        # added in blocks: the same vectors in the same order as one add, never all copied at once
        for s in range(0, n, self.BLOCK):
            index.add(np.ascontiguousarray(unit(vecs.block(s, s + self.BLOCK)), dtype=np.float32))
        return index

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


def star_clusters(
    rank: np.ndarray, i: np.ndarray, j: np.ndarray, sim: np.ndarray, kind: np.ndarray | None = None,
    accept: Callable[[int, int], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Star clustering: every row absorbed is a direct neighbour of the row that absorbs it.

    Rows are visited by ``rank`` (0 first = the row most worth keeping). A row not yet absorbed
    becomes a kept centre and absorbs each of its direct neighbours (edges ``(i, j)``) that is
    still free; a centre is never absorbed later. So a dropped row's similarity to its kept
    row is the weight of a real edge between them, never a chain through third rows, which is
    what connected components gave (a -> b -> c merged a and c however different they were).
    With several edges between two rows the first of them in the input order wins, so pass
    edges ordered by preference (exact before near before semantic).

    ``accept(centre, row)``, if given, is asked before each absorption (the value guard): only
    edges that would absorb a free row are checked, never edges to rows already absorbed.

    Returns ``(centre, sim, kind)`` per row: the absorbing row (-1 for centres and rows without
    edges), and the weight and ``kind`` code of the absorbing edge (NaN / -1 otherwise).

    >>> centre, sim, _ = star_clusters(np.arange(3), np.array([0, 1]), np.array([1, 2]),
    ...                                np.array([0.7, 0.8]))
    >>> centre.tolist(), sim.tolist()[:2]
    ([-1, 0, -1], [nan, 0.7])
    """
    return _star_clusters(rank, i, j, sim, kind, accept)[:3]


def _star_clusters(
    rank: np.ndarray, i: np.ndarray, j: np.ndarray, sim: np.ndarray, kind: np.ndarray | None = None,
    accept: Callable[[int, int], bool] | None = None, verdict: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`star_clusters`, plus ``verdict`` (per edge PASS / BLOCK / ASK, the value guard's
    decisions taken beforehand: only ASK edges call ``accept``) and, as a fourth value, the
    ``(centre, row)`` pairs refused (one line per refused edge)."""
    n = len(rank)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    sim = np.asarray(sim, dtype=np.float64)
    kind = np.zeros(len(i), dtype=np.int64) if kind is None else np.asarray(kind, dtype=np.int64)
    centre = np.full(n, -1, dtype=np.int64)
    out_sim = np.full(n, np.nan)
    out_kind = np.full(n, -1, dtype=np.int64)
    refused = np.zeros((0, 2), dtype=np.int64)
    if not len(i):
        return centre, out_sim, out_kind, refused
    # adjacency lists (CSR), both directions, each list in the input order of the edges
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    pos = np.concatenate([np.arange(len(i))] * 2)
    order = np.lexsort((pos, src))
    dst_s, sim_s, kind_s = dst[order], np.concatenate([sim, sim])[order], np.concatenate([kind, kind])[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=ptr[1:])
    nodes = np.unique(src)
    nodes = nodes[np.argsort(rank[nodes], kind="stable")]
    absorbed = bytearray(n)
    ptr_l, dst_l, rank_l = ptr.tolist(), dst_s.tolist(), np.asarray(rank).tolist()
    if verdict is None:
        ver_l = [PASS if accept is None else ASK] * len(dst_l)
    else:
        ver_l = np.concatenate([verdict, verdict])[order].tolist()
    took_v: list[int] = []
    took_e: list[int] = []
    took_u: list[int] = []
    refused_u: list[int] = []
    refused_v: list[int] = []
    for u in nodes.tolist():  # Python loop over rows with edges only: O(rows + edges)
        if absorbed[u]:
            continue
        ru = rank_l[u]
        for e in range(ptr_l[u], ptr_l[u + 1]):
            v = dst_l[e]
            # a free neighbour ranks after u: one ranked before would have absorbed u already
            if absorbed[v] or rank_l[v] <= ru:
                continue
            ok = ver_l[e]
            if ok == ASK:
                ok = accept is None or accept(u, v)
            if ok:
                absorbed[v] = 1
                took_v.append(v)
                took_e.append(e)
                took_u.append(u)
            else:
                refused_u.append(u)
                refused_v.append(v)
    if took_v:
        tv, te = np.array(took_v), np.array(took_e)
        centre[tv] = took_u
        out_sim[tv] = sim_s[te]
        out_kind[tv] = kind_s[te]
    if refused_u:
        refused = np.stack([np.array(refused_u, dtype=np.int64),
                            np.array(refused_v, dtype=np.int64)], axis=1)
    return centre, out_sim, out_kind, refused


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

    Exact copies are grouped first and only the group's best row goes on to the near and semantic
    stages (the others follow it), which saves work on copy-heavy data. Near and semantic edges
    that pass the value guard are clustered into stars (:func:`star_clusters`): in keep order
    (highest score, ties and ``scores=None``: the lowest row index) each row not yet absorbed is
    kept and absorbs its direct neighbours, so every dropped row is directly similar to its
    kept row.

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
    allow_value_changes : let the near and semantic stages merge rows whose numbers, operators,
        symbols or names differ ("... in 2019?" / "... in 2020?"); off by default, as such a
        difference usually makes a different task. Templated sets (GSM8K-style) may want it.

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
        allow_value_changes: bool = False,
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
        self.allow_value_changes = allow_value_changes

    def _validate(self) -> None:
        for name in ("exact", "near", "semantic", "verify", "allow_value_changes"):
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
        embeddings: np.ndarray | RowVectors | None = None,
        scores: Sequence[float] | None = None,
        progress: Callable[[str], None] | None = None,
        semantic_mask: Sequence[bool] | np.ndarray | None = None,
    ) -> DedupResult:
        """Cluster duplicate rows and choose one row to keep per cluster.

        ``embeddings`` (n, dim), an array or a :class:`RowVectors`, feed the semantic stage;
        ``scores`` (n,) rank rows within a
        cluster (higher is kept; NaN ranks lowest). ``semantic_mask`` (n,) bool: rows the
        semantic stage may compare (default all; the pipeline leaves out texts the embedding
        model cannot read, see ``curator.pipeline.DedupStep``). ``progress`` is called with the
        name of each stage ("exact", "near", "semantic", "cluster") as it starts.
        """
        def stage(name: str) -> None:
            if progress is not None:
                progress(name)

        self._validate()
        rows = _check_texts(texts)
        n = len(rows)
        emb: RowVectors | None = None
        if embeddings is not None:
            if isinstance(embeddings, RowVectors):
                emb = embeddings
            else:
                arr = np.asarray(embeddings)
                if arr.ndim != 2:
                    raise InputError(
                        f"embeddings must have shape ({n}, dim) to match the texts; got {arr.shape}."
                    )
                emb = RowVectors.of(arr)
            if len(emb) != n:
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
        sem_ok = np.ones(n, dtype=bool)
        if semantic_mask is not None:
            sem_ok = np.asarray(semantic_mask, dtype=bool).reshape(-1)
            if len(sem_ok) != n:
                raise InputError(f"semantic_mask has {len(sem_ok)} values for {n} texts.")
        # keep-priority: highest score first, then lowest row index
        order = np.lexsort((np.arange(n), -score))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)

        timings: dict[str, float] = {}
        skipped: dict[str, str] = {}
        edges: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        lsh: dict[str, int] = {}

        # Exact stage: groups of identical normalised text. `rep` = the group's best-ranked row,
        # which the later stages compare for the whole group.
        stage("exact")
        t0 = time.perf_counter()
        exact_finder = ExactDuplicateFinder()
        first, empty = exact_finder._groups(rows)
        if self.exact:
            best = np.full(n, n, dtype=np.int64)
            np.minimum.at(best, first, rank)
            rep = order[best[first]]
            dup = np.flatnonzero(rep != np.arange(n))
            edges["exact"] = (rep[dup], dup, np.ones(len(dup)))
        else:
            skipped["exact"] = "disabled"
            rep = np.arange(n, dtype=np.int64)
        timings["exact"] = time.perf_counter() - t0
        # Later stages see one row per exact group and never an empty row.
        active = np.flatnonzero((rep == np.arange(n)) & ~empty)
        guard = None if self.allow_value_changes else _ValueGuard(rows)
        blocked: dict[str, int] = {}  # "pairs": would-be absorptions the value guard refused

        if self.near:
            stage("near")
            t0 = time.perf_counter()
            finder = NearDuplicateFinder(
                threshold=self.near_threshold, num_perm=self.num_perm, ngram=self.ngram,
                verify=self.verify, random_state=self.random_state,
            )
            i, j, s = finder._pair_arrays([rows[a] for a in active], rank=rank[active])
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
            sem_rows = active[sem_ok[active]]
            # the rows are read from ``emb`` in blocks (no copy of the subset)
            i, j, s = sem._pair_arrays(emb if len(sem_rows) == n else emb.subset(sem_rows))
            edges["semantic"] = (sem_rows[i], sem_rows[j], s)
            timings["semantic"] = time.perf_counter() - t0
        elif self.semantic:
            skipped["semantic"] = "no embeddings given"
        else:
            skipped["semantic"] = "disabled"

        stage("cluster")
        t0 = time.perf_counter()
        # Star clustering of the group representatives over near and semantic edges (near
        # first: with both, the literal evidence names the merge); exact copies follow their
        # representative.
        ei, ej, es, ek = [], [], [], []
        for code, name in enumerate(_METHODS):
            if name != "exact" and name in edges:
                ei.append(edges[name][0])
                ej.append(edges[name][1])
                es.append(edges[name][2])
                ek.append(np.full(len(edges[name][0]), code, dtype=np.int64))
        none = np.zeros(0, dtype=np.int64)
        all_i, all_j = np.concatenate(ei + [none]), np.concatenate(ej + [none])
        aligned: dict[tuple[int, int], bool] = {}

        def accept(u: int, v: int) -> bool:  # the word alignment, for pairs left open (ASK)
            assert guard is not None
            ok = aligned.get((u, v))
            if ok is None:
                ok = aligned[(u, v)] = not guard._aligned_either(u, v)
            return ok

        # the guard's cheap decisions for every edge at once (vectorised); the star loop asks
        # the alignment only for ASK edges that would absorb a free row
        verdict = None if guard is None else guard.verdicts(all_i, all_j)
        centre, via_sim, via_kind, refused = _star_clusters(
            rank, all_i, all_j, np.concatenate(es + [np.zeros(0)]), np.concatenate(ek + [none]),
            accept=None if guard is None else accept, verdict=verdict)
        # each refused (centre, row) pair counted once, however many edges join them
        blocked["pairs"] = len(np.unique(refused[:, 0] * n + refused[:, 1])) if len(refused) else 0
        kept = np.where(centre[rep] >= 0, centre[rep], rep)
        keep = kept == np.arange(n)
        duplicate_of = np.where(keep, -1, kept)
        cluster = np.full(n, n, dtype=np.int64)
        np.minimum.at(cluster, kept, np.arange(n))
        cluster = cluster[kept]
        size = np.bincount(cluster, minlength=n)[cluster]
        method: list[str | None] = [None] * n
        similarity = np.full(n, np.nan)
        for r in np.flatnonzero(~keep).tolist():
            if rep[r] == kept[r]:
                method[r], similarity[r] = "exact", 1.0
            else:  # the group's representative was absorbed by the kept row through one edge
                g = rep[r]
                method[r], similarity[r] = _METHODS[via_kind[g]], float(via_sim[g])
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
            "pairs_blocked_by_value_guard": blocked.get("pairs", 0),
            "semantic_excluded": int((~sem_ok[active]).sum()) if self.semantic else 0,
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
