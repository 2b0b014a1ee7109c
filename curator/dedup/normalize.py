"""Meaning-keeping normalisation, vectorised over code points.

One normalisation serves every literal comparison of the package: the exact stage hashes it
(:class:`~curator.dedup.exact.ExactDuplicateFinder`), the near stage shingles it with CJK
ideographs spaced apart (:func:`_near_codepoints`), and the value guard compares caseless-script
runs through it. Texts are processed in batches of bounded size (:func:`_batches`), so the
temporary arrays do not grow with the corpus.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Iterator, Sequence

import numpy as np

from .syntax import protect

# Characters of text and shingles processed per numpy batch: bounds the temporary arrays
# (~50 bytes per character) whatever the corpus size.
_BATCH_CHARS = 1 << 21


# ---------------------------------------------------------------------------------------------
# Normalisation (vectorised over code points)
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
    Built once per process (~0.06 s); a lookup table lets numpy classify millions of characters
    at once where a Python loop per character would dominate the whole dedup run. Only the
    planes holding characters of classes 1-6 are read (:data:`_CLASSED_PLANES`): the others
    hold letters (CJK extensions G, H), private-use and unassigned code points, all class 0.
    """
    return _classify(tuple(range(a << 16, (b + 1) << 16) for a, b in _CLASSED_PLANES))


# Planes of Unicode (first, last) with characters of a class other than 0: BMP, SMP, SIP (CJK
# ideographs of _IDEOGRAPH_RANGES) and plane 14 (tags: format characters). Planes 3-13 hold
# letters or nothing yet, 15-16 private use (tests compare with every code point).
_CLASSED_PLANES = ((0, 2), (14, 14))


def _classify(ranges: Sequence[range]) -> np.ndarray:
    """The table of :func:`_char_classes`, reading only the code points of ``ranges``."""
    table = np.zeros(sys.maxunicode + 1, dtype=np.uint8)
    for cp in (c for r in ranges for c in r):
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
      letters of every script stay. Syntax is kept first (:func:`~curator.dedup.syntax.protect`):
      code keeps its indentation, line breaks and marks; primes (``f'(2)``), apostrophes
      inside words and marks inside expressions (``(1,)``, ``a.b``) stay.
    * ``True``: every punctuation mark and symbol becomes a space, format characters stay
      (equals ``curator.text.normalize_text(t, lowercase, collapse_whitespace, True)``).
    * ``False``: no character is removed.
    """
    pre = [unicodedata.normalize("NFKC", t) for t in texts]
    if strip_punctuation == "neutral":
        pre = [protect(t) for t in pre]
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
