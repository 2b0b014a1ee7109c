"""Text utilities: normalisation, word tokens, sentence splitting, passage chunking.

Kept dependency-free (regex only) so every stage shares one definition of a "word" and a
"sentence".

>>> split_sentences("Dr. Smith arrived at 5 p.m. He left. Was it 3.5 km?")
['Dr. Smith arrived at 5 p.m.', 'He left.', 'Was it 3.5 km?']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_WORD_RE = re.compile(r"\w+(?:[-'’.]\w+)*", re.UNICODE)
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
# Abbreviations after which a period does not end a sentence.
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "fig",
    "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "u.s", "u.k", "p.m", "a.m", "approx", "dept", "est", "gen", "gov", "lt",
    "col", "mt", "ft", "vol", "op", "cf", "al",
}
# Abbreviations that also commonly end a sentence: split after them when a capital follows.
_FINAL_ABBREV = {"etc", "p.m", "a.m", "inc", "ltd", "co", "corp"}
# "century.First": sources scraped without a space between sentences.
_GLUED_RE = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")
_SENT_END_RE = re.compile(r"([.!?。！？]+[\"'”’)\]]*)(\s*)")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
    don't down during each few for from further had hadn't has hasn't have haven't having he he'd
    he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into
    is isn't it it's its itself let's me more most mustn't my myself nor of off on once only or other
    ought our ours ourselves out over own same shan't she she'd she'll she's should shouldn't so some
    such than that that's the their theirs them themselves then there there's these they they'd
    they'll they're they've this those through to too under until up very was wasn't we we'd we'll
    we're we've were weren't what what's when when's where where's which while who who's whom why
    why's with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
    also just yes yeah well really like one would get got much many may might will shall must s t
    """.split()
)


def normalize_text(text: str, lowercase: bool = True, collapse_whitespace: bool = True,
                   strip_punctuation: bool = False) -> str:
    """NFKC-normalise text, optionally lower-case it, drop punctuation and collapse whitespace."""
    text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.casefold()
    if strip_punctuation:
        text = "".join(" " if unicodedata.category(c).startswith(("P", "S")) else c for c in text)
    if collapse_whitespace:
        text = " ".join(text.split())
    return text


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits, keeping inner hyphens, apostrophes and decimals)."""
    return [m.group(0).casefold() for m in _WORD_RE.finditer(text)]


def content_words(text: str) -> list[str]:
    """Word tokens that are not stopwords (numbers kept)."""
    return [w for w in words(text) if w not in STOPWORDS]


def numbers(text: str) -> list[str]:
    """Numbers in the text with thousands separators removed ("1,000" -> "1000")."""
    return [m.group(0).replace(",", "") for m in _NUMBER_RE.finditer(text)]


def count_tokens(text: str) -> int:
    """Whitespace token count: the default budget unit."""
    return len(text.split())


def split_sentences(text: str) -> list[str]:
    """Split text into sentences with a rule-based splitter (abbreviation and decimal aware).

    Newlines that separate lines (lists, paragraphs) also end sentences.
    """
    return [s for s, _, _ in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[str, int, int]]:
    """Like :func:`split_sentences` but with (sentence, start, end) character offsets."""
    out: list[tuple[str, int, int]] = []
    for para in re.finditer(r"[^\n]+", text):
        block, base = para.group(0), para.start()
        start = 0
        glued = {g.start() for g in _GLUED_RE.finditer(block)}
        for m in _SENT_END_RE.finditer(block):
            end = m.end(1)
            cjk = any(c in "。！？" for c in m.group(1))
            if not m.group(2) and not cjk and end not in glued and end != len(block):
                continue  # "3.5", "U.S.A", "example.com": no space, not a boundary
            before = block[:m.start(1)].rsplit(None, 1)
            last = before[-1].casefold().rstrip(".") if before else ""
            nxt = block[m.end():m.end() + 1]
            if m.group(1).startswith(".") and end not in glued:
                if nxt.islower():
                    continue
                if last in _ABBREV and not (last in _FINAL_ABBREV and nxt.isupper()):
                    continue
                if len(last) == 1 and last.isalpha():
                    continue
            _append_span(out, block, base, start, end)
            start = m.end()
        _append_span(out, block, base, start, len(block))
    return out


def _append_span(out: list[tuple[str, int, int]], block: str, base: int, start: int, end: int) -> None:
    piece = block[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    lead = len(piece) - len(piece.lstrip())
    s = base + start + lead
    out.append((stripped, s, s + len(stripped)))


@dataclass(frozen=True)
class Chunk:
    """A passage cut from a document: its text and character offsets in the document."""

    text: str
    start: int
    end: int


def chunk_text(text: str, max_tokens: int = 128, overlap_sentences: int = 1) -> list[Chunk]:
    """Cut a document into sentence-aligned passages of at most ``max_tokens`` whitespace tokens.

    Consecutive passages share ``overlap_sentences`` sentences so a fact spanning a boundary is
    whole in at least one passage. A single sentence longer than ``max_tokens`` is cut on word
    boundaries (nothing is dropped).
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    spans = []
    for sent, s, e in sentence_spans(text):
        toks = list(re.finditer(r"\S+", sent))
        if len(toks) <= max_tokens:
            spans.append((s, e, len(toks)))
            continue
        for i in range(0, len(toks), max_tokens):
            piece = toks[i:i + max_tokens]
            spans.append((s + piece[0].start(), s + piece[-1].end(), len(piece)))
    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        j, total = i, 0
        while j < len(spans) and (total + spans[j][2] <= max_tokens or j == i):
            total += spans[j][2]
            j += 1
        start, end = spans[i][0], spans[j - 1][1]
        chunks.append(Chunk(text[start:end], start, end))
        if j >= len(spans):
            break
        # Step back over `overlap_sentences` sentences, but only if the next passage can still
        # hold them plus at least one new sentence; otherwise a passage would repeat its
        # predecessor's tail and add nothing.
        back = max(j - overlap_sentences, i + 1)
        if sum(sp[2] for sp in spans[back:j + 1]) > max_tokens:
            back = j
        i = back
    return chunks
