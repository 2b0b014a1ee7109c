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
from functools import cache

_WORD_RE = re.compile(r"\w+(?:[-'’.]\w+)*", re.UNICODE)
# A number: "1,280" (comma = thousands separator only before exactly three digits, so the date
# "July 10,1981" reads as 10 and 1981, not 101981), "3.5", "2024".
_NUMBER_RE = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]*\d)|\d+(?:\.\d+)?")
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
_GLUED_RE = re.compile(r"(?<=[a-z]{2})[.!?](?=[A-Z][a-z])")
# "El-P.Jaime", "NASA.The", "in 1990.It": the same glue after a word ending in a capital or after a
# number; checked token by token (:func:`_glued_ends`), since "J.R.R.Tolkien", "U.S.Army",
# "Mr.Smith" and "3.5" are not sentence ends.
_GLUED_CAP_RE = re.compile(r"(?<=[A-Z0-9])[.!?](?=[A-Z][a-z])")
# A chain of initials ("J.R.R", "U.S", "e.g", "P"): a period after it is not a sentence end
# unless a sentence starter follows.
_INITIALS_RE = re.compile(r"^(?:[^\W\d_]\.)*[^\W\d_]$")
# A sentence end: punctuation, closing quotes/brackets, then Wikipedia-style citation markers
# ("years.[9] Breeding ..."), which stay with the sentence they cite.
_SENT_END_RE = re.compile(r"([.!?。！？]+[\"'”’)\]]*(?:\[\d{1,3}\])*)(\s*)")

_NEXT_WORD_RE = re.compile(r"[A-Za-z]{2,}(?:'[a-z]+)?")

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

# Capitalised words that start a sentence after an abbreviation: function words, minus those
# that are also common names ("Dr. Will Smith", "Mt. Hood"? no; "Dr. May").
_STARTERS = (STOPWORDS | {"however", "then", "there", "yes", "no", "in", "on", "after", "today"}) - {
    "may", "will", "much", "might", "shall", "must", "get", "got", "one", "like", "well", "just",
    "really", "s", "t", "am"}


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


@cache
def stem(word: str) -> str:
    """A deliberately crude suffix stripper: enough to match 'wrote'/'write'? no, but
    'countries'/'country', 'played'/'plays', 'running'/'runs', 'analyzed'/'analyze',
    'proposes'/'proposed' yes (a final "e" left after the suffix goes too); cheap and language-light."""
    w = word.casefold().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    for suf, rep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            w = w[: len(w) - len(suf)] + rep
            break
    while len(w) > 4 and w.endswith("e") and w not in STOPWORDS:  # "there", "these" stay stopwords
        w = w[:-1]
    return w


def numbers(text: str) -> list[str]:
    """Numbers in the text, normalised: thousands separators removed ("1,000" -> "1000"),
    trailing decimal zeros dropped ("3.50" -> "3.5", "2.0" -> "2"); "July 10,1981" -> 10, 1981."""
    return [n for n, _, _ in number_spans(text)]


def number_spans(text: str) -> list[tuple[str, int, int]]:
    """:func:`numbers` with each number's character span in ``text``."""
    out = []
    for m in _NUMBER_RE.finditer(text):
        n = m.group(0).replace(",", "")
        if "." in n:
            n = n.rstrip("0").rstrip(".")
        out.append((n, m.start(), m.end()))
    return out


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
        glued = _glued_ends(block)
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
                # "based in the U.S. It was", "said no. Then", "Main St. The", "is A. The": a
                # capitalised function word after an abbreviation starts a new sentence; a name
                # ("Dr. Smith", "J. R. R. Tolkien", "U.S. Army") does not.
                nw = _NEXT_WORD_RE.match(block, m.end())
                starter = nw is not None and nw.group(0)[0].isupper() and nw.group(0).casefold() in _STARTERS
                if last in _ABBREV and not starter and not (last in _FINAL_ABBREV and nxt.isupper()):
                    continue
                if last not in _ABBREV and _INITIALS_RE.match(last) and not starter:  # "is A. The" splits, "J.R.R. Tolkien" not
                    continue
            _append_span(out, block, base, start, end)
            start = m.end()
        _append_span(out, block, base, start, len(block))
    return out


def _glued_ends(block: str) -> set[int]:
    """Positions right after a sentence end written without a space ("century.First",
    "El-P.Jaime", "in 1990.It"). After a capital or a digit only when the token before the period
    is neither an abbreviation ("Mr.Smith", "St.Louis") nor a chain of initials ("J.R.R.Tolkien",
    "U.S.Army", "P.Diddy"), nor part of a URL or a number with more dots ("www.Example", "v1.2.Beta")."""
    out = set()
    # the patterns match the period itself (a scan for it is faster than a lookbehind at every
    # position); a sentence starts where it ends
    for pos in sorted({g.end() for r in (_GLUED_RE, _GLUED_CAP_RE) for g in r.finditer(block)}):
        head = block[:pos - 1]
        token = head.rsplit(None, 1)[-1].lstrip("\"'“‘([") if head.strip() else ""
        if not token or "/" in token or token.casefold().startswith(("www", "http")):
            continue
        if token.casefold() in _ABBREV - _FINAL_ABBREV or _INITIALS_RE.match(token):
            continue
        if token[-1].isdigit() and not re.fullmatch(r"[\d,]*\d{2}", token):
            continue  # "v1.2.Beta", "3.Then": only a whole number of two or more digits ends a sentence
        out.add(pos)
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


# ---------------------------------------------------------------------------------------------
# claims: what in a response can be checked against a source
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    """A piece of a response: a checkable ``claim`` or a ``not_checked`` part (code, table...).

    ``text`` is the piece as written (a list item keeps its marker); ``check`` is what grounding
    compares with the evidence (marker, inline code, URLs and citation markers removed);
    ``kind`` says why a piece is not checked: "code", "table", "heading", "url", "punctuation",
    "non_answer", "yes_no" (a bare yes/no: nothing in it that evidence could be compared with),
    "calculation" (a computation written out: "4*2=8 crayons"), "code" also for a sentence with a
    tool call ("search('...')"); the grounding scorer adds "label" (a label the instruction offers,
    :func:`curator.grounding.claims.is_label`) and "lead_in" (a lead-in restating the task before a
    list: :func:`curator.grounding.claims.is_lead_in`)."""

    text: str
    start: int
    end: int
    kind: str = "claim"
    check: str = ""

    @property
    def checked(self) -> bool:
        return self.kind == "claim"


_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_TABLE_RE = re.compile(r"^\s*\|.*\|\s*$|^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$")
# A table row without its outer pipes ("Product | Price | Rating"): two " | " at least; a table
# when two such rows follow each other.
_BARE_ROW_RE = re.compile(r"^[^|\n]*[^|\s][^|\n]*\|[^|\n]*[^|\s][^|\n]*\|[^\n]*[^|\s][^\n]*$")


def _table_row(line: str) -> bool:
    # Both patterns need two pipes; testing that first spares the bare-row pattern's backtracking
    # on every long line of prose (~1 % of a run's CPU on a real file).
    return line.count("|") >= 2 and bool(_TABLE_RE.match(line) or _BARE_ROW_RE.match(line))
_HEADING_RE = re.compile(r"^\s{0,3}(#{1,6}\s+\S.*|\*\*[^*]+\*\*:?|__[^_]+__:?)\s*$")
_MARKER_RE = re.compile(r"^\s*(?:[-*+•‣◦]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)]|\[[ xX]\])\s+")
_INLINE_CODE_RE = re.compile(r"`[^`\n]+`")
_URL_RE = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_CITATION_RE = re.compile(r"\[\d{1,3}\]")
_LETTERS_RE = re.compile(r"[^\W\d_]{2,}")
# A letterless sentence that is still a claim: a number given as an answer ("1986", "3.5 million"
# is caught by the letters rule anyway), not arithmetic ("2 + 2 = 4") nor a bare list number ("7.").
_NUMBER_ANSWER_RE = re.compile(r"^\W{0,3}\d[\d,.:/ -]*(?<![.)])\W{0,2}$")
_BARE_MARKER_RE = re.compile(r"^\s*(?:\(?\d{1,3}[.)]|[-*+•])\s*$")
_URL_VERBS = {"see", "visit", "link", "here", "source", "sources", "read", "more", "at", "via", "check"}
# Replies that state nothing: refusals to answer, acknowledgements. Whole-text matches only.
_NON_ANSWER_RE = re.compile(
    r"^\W*(?:(?:sorry,?\s*)?i\s*(?:do not|don'?t|don’t)\s*know(?: the answer)?|i'?m not sure|i am not sure|"
    r"i have no idea|no idea|(?:sure|ok(?:ay)?|certainly|of course|absolutely|got it|thanks?|thank you|"
    r"you'?re welcome|hello|hi|great)(?:,? (?:here you go|here it is|i can help(?: with that)?|"
    r"happy to help|no problem))?|i can(?:not|'?t) answer(?: that)?|n/?a|none)\W*$", re.IGNORECASE)


# A bare yes/no, alone or with a pronoun and an auxiliary ("No.", "Yes, it is.", "No, he wasn't.",
# "Nope"). Whole-text matches only: it answers a yes/no question, but the words that would let it
# be checked are in the question, so no lexical feature can see whether it is right.
_YES_NO_RE = re.compile(
    r"^\W*(?:yes|no|yeah|yep|yup|nope|nah)\b\W*(?:(?:it|he|she|they|that|this|there|i|we|you)\s+"
    r"(?:is|are|was|were|does|do|did|has|have|had|can|could|will|would|should|am)(?:n['’]t|\s+not)?"
    r"|(?:it|that|this)(?:['’]s|\s+is|\s+was)\s+(?:not\s+)?(?:right|wrong|correct|incorrect|true|false))?\W*$",
    re.IGNORECASE)
# "No, Paris is in France." / "Yes - it was built in 1889.": the interjection is not part of the claim
# (its "no" would read as a negation).
_YES_NO_LEAD_RE = re.compile(r"^\W*(?:yes|no|yeah|yep|yup|nope|nah)\s*[,;:!–—-]\s*(?=\S)", re.IGNORECASE)


def is_list_item(text: str) -> bool:
    """True for a response segment that is a list item ("1. ...", "- ...", "a) ...")."""
    return bool(_MARKER_RE.match(text))


def is_yes_no(text: str) -> bool:
    """True for a bare yes/no answer ("No.", "Yes, it is.", "No, they weren't.")."""
    return len(text) < 40 and bool(_YES_NO_RE.match(text.strip()))


def is_non_answer(text: str) -> bool:
    """True for a reply that states nothing checkable ("I don't know.", "Sure!", "OK")."""
    return len(text) < 60 and bool(_NON_ANSWER_RE.match(text.strip()))


# "Address: Grass Valley", "Date: Tomorrow" in a list of such lines: a field's label (up to four
# words) names what was asked for (the instruction's words), the value after it is the claim. Not
# in running text ("Puss in Boots: The Three Diablos is ..." is a title).
_FIELD_LABEL_RE = re.compile(r"^\s*(?:[-*•]\s*)?[A-Z][\w'&/-]*(?: [\w'&/-]+){0,3}\s*:\s+(?=\S)")
# "The document discusses ...", "It highlights how ...": words about the source (a summary's
# frame), which the source never uses about itself; what follows is the claim.
_META_LEAD_RE = re.compile(
    r"^(?:(?:the|this) (?:document|text|article|passage|story|author|paragraph|report|paper|email|review|essay|"
    r"excerpt|speech|letter|poem|post)|it) (?:discusses|describes|explains|highlights|mentions|notes|states|says|"
    r"argues|emphasi[sz]es|stresses|suggests|talks about|is about|focuses on|presents|outlines|covers|reports|"
    r"points out|concludes|claims)(?: (?:that|how))?\s+(?=\S)", re.IGNORECASE)


def claim_text(text: str, fields: bool = False) -> str:
    """The comparable text of a claim: no list marker, inline code, URL or citation marker, no
    frame about the source ("The document discusses ..."); with ``fields`` (a response that lists
    "Key: value" lines) no field label ("Address: ...")."""
    text = _MARKER_RE.sub("", text, count=1)
    text = _INLINE_CODE_RE.sub(" ", text)
    text = _URL_RE.sub(" ", text)
    text = _CITATION_RE.sub("", text)
    text = _YES_NO_LEAD_RE.sub("", text, count=1)
    if fields:
        text = _FIELD_LABEL_RE.sub("", text, count=1)
    text = _META_LEAD_RE.sub("", text.lstrip(), count=1)
    return " ".join(text.split())


def segment_claims(text: str) -> list[Segment]:
    """Cut a response into checkable claims and not-checked pieces, with character spans.

    Fenced code blocks, markdown tables and headings are single not-checked segments; other
    lines are split into sentences (:func:`sentence_spans`); a list item's marker ("1.", "-")
    stays with its first sentence. A sentence with no word of two letters left once inline code,
    URLs and citation markers are removed (a bare URL, "```", "2 + 2 = 4", "…") is not checked.

    >>> [(s.text, s.kind) for s in segment_claims("1. Know your audience.\\n```py\\nx = 1\\n```")]
    [('1. Know your audience.', 'claim'), ('```py\\nx = 1\\n```', 'code')]
    """
    out: list[Segment] = []
    lines = [(m.group(0).rstrip("\n"), m.start()) for m in re.finditer(r"[^\n]*\n?", text) if m.group(0)]
    fields = sum(bool(_FIELD_LABEL_RE.match(_MARKER_RE.sub("", ln, count=1))) for ln, _ in lines) >= 2
    i = 0

    def block(kind: str, a: int, b: int) -> None:
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        piece = piece.strip()
        if piece:
            out.append(Segment(piece, a + lead, a + lead + len(piece), kind, ""))

    while i < len(lines):
        line, pos = lines[i]
        if not line.strip():
            i += 1
            continue
        fence = _FENCE_RE.match(line)
        if fence:
            j = i + 1
            while j < len(lines) and not lines[j][0].lstrip().startswith(fence.group(1)):
                j += 1
            last = min(j, len(lines) - 1)
            block("code", pos, lines[last][1] + len(lines[last][0]))
            i = last + 1
            continue
        if _table_row(line) and (not _BARE_ROW_RE.match(line) or (
                i + 1 < len(lines) and _table_row(lines[i + 1][0]))):
            j = i
            while j + 1 < len(lines) and _table_row(lines[j + 1][0]):
                j += 1
            block("table", pos, lines[j][1] + len(lines[j][0]))
            i = j + 1
            continue
        if _HEADING_RE.match(line):
            block("heading", pos, pos + len(line))
            i += 1
            continue
        if len(lines) > 1 and _BARE_MARKER_RE.match(line):  # "1." alone on its line: a list marker
            block("punctuation", pos, pos + len(line))
            i += 1
            continue
        marker = _MARKER_RE.match(line)
        body_at = marker.end() if marker else 0
        first = True
        calls = _call_spans(line)
        spans = sentence_spans(_mask(line, calls)[body_at:])
        for k, (_sent, a, b) in enumerate(spans):
            a, b = a + body_at, b + body_at
            if first and marker:
                a = len(line) - len(line.lstrip())
            first = False
            check = claim_text(line[a:b], fields and k == 0)
            if k + 1 < len(spans) and _INLINE_MARKER_RE.match(line[a:b]):
                # "... communication. 2. Utilize ...": an inline list's marker, not a number answer.
                out.append(Segment(line[a:b], pos + a, pos + b, "punctuation", ""))
            elif is_non_answer(check):
                out.append(Segment(line[a:b], pos + a, pos + b, "non_answer", ""))
            elif is_yes_no(check) or is_yes_no(line[a:b]):
                out.append(Segment(line[a:b], pos + a, pos + b, "yes_no", ""))
            elif (not _LETTERS_RE.search(check) and not _NUMBER_ANSWER_RE.match(check)) or (
                    _URL_RE.search(line[a:b]) and not (set(content_words(check)) - _URL_VERBS)):
                kind = "url" if _URL_RE.search(line[a:b]) else ("code" if "`" in line[a:b] else "punctuation")
                out.append(Segment(line[a:b], pos + a, pos + b, kind, ""))
            elif _CALC_RE.search(check):
                # "Each box contains 4*2=8 crayons.": its numbers are computed, not read from a source.
                out.append(Segment(line[a:b], pos + a, pos + b, "calculation", ""))
            elif _CALL_RE.search(check) or any(a < ce and cs < b for cs, ce in calls):
                # "The champion is search('2021 Wimbledon winner')": a tool call, code in a sentence.
                out.append(Segment(line[a:b], pos + a, pos + b, "code", ""))
            else:
                out.append(Segment(line[a:b], pos + a, pos + b, "claim", check))
        if marker and first:  # a bare marker line ("1.") is nothing to check
            block("punctuation", pos, pos + len(line))
        i += 1
    return out


#: A calculation written out: numbers joined by an operator, then "= number" ("4*2=8",
#: "3 hours * 60 minutes = 180 minutes", "$80 000 + $16 000 = $96 000").
_CALC_RE = re.compile(r"\d[^=\n]{0,40}?(?:[-+*/×÷]|\sx\s)[^=\n]{0,40}?=\s*\$?-?\d")
#: A function call with a quoted argument inside a sentence ("search('...')", "shell(\"ls\")").
_CALL_RE = re.compile(r"\b[A-Za-z_]\w*\((?:'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\")\)")

#: Where a call with a quoted argument opens ("python(\"from ...", "shell('echo ..."): its
#: argument may hold sentences of its own, so the call is one piece of code wherever it ends.
_CALL_OPEN_RE = re.compile(r"\b[A-Za-z_]\w*\(\s*['\"]")


def _call_spans(line: str) -> list[tuple[int, int]]:
    """Character spans of the tool calls in a line, from the name to the closing parenthesis
    outside quotes (the line's end when it never closes)."""
    out: list[tuple[int, int]] = []
    for m in _CALL_OPEN_RE.finditer(line):
        if out and m.start() < out[-1][1]:
            continue
        depth, quote, k = 0, "", m.end() - 1
        while k < len(line):
            c = line[k]
            if quote:
                if c == "\\":
                    k += 1
                elif c == quote:
                    quote = ""
            elif c in "'\"":
                quote = c
            elif c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
            k += 1
        out.append((m.start(), min(k + 1, len(line))))
    return out


def _mask(line: str, spans: list[tuple[int, int]]) -> str:
    """The line with the spans' characters replaced by letters (same length): no sentence ends there."""
    for a, b in spans:
        line = line[:a] + "x" * (b - a) + line[b:]
    return line


#: A sentence that is only a list number ("2.", "3)") with another sentence after it on its line.
_INLINE_MARKER_RE = re.compile(r"^\s*\(?\d{1,2}[.)]\s*$")


# Abbreviations and their expansions, applied to claim and evidence alike before comparison so
# "U.S." supports "United States" and "Dr." supports "Doctor". Each with the strings one of which
# a text must hold for it to match (a substring test is ~100x cheaper than the regex's scan: this
# ran on every claim and evidence sentence, ~3 % of a run's CPU on a real file before).
_EXPANSIONS = [(needles, re.compile(p), r) for needles, p, r in (
    (("U.S.A", "USA"), r"\bU\.S\.A\.?(?=\W|$)|\bUSA\b", "United States"),
    (("U.S", "US"), r"\bU\.S\.(?=\W|$)|\bU\.S\b|\bUS\b(?=\s+[A-Za-z])", "United States"),
    (("U.K", "UK"), r"\bU\.K\.?(?=\W|$)|\bUK\b", "United Kingdom"),
    (("U.N", "UN"), r"\bU\.N\.?(?=\W|$)|\bUN\b", "United Nations"),
    (("Dr.",), r"\bDr\.(?=\s)", "Doctor"),
    (("Mt.",), r"\bMt\.(?=\s)", "Mount"),
    (("Mr.",), r"\bMr\.(?=\s)", "Mister"),
    ((" St.",), r"\b([A-Z][a-z]+) St\.(?=\W|$)", r"\1 Street"),
    (("St.",), r"\bSt\.(?=\s+[A-Z])", "Saint"),
    (("e.g.",), r"\be\.g\.(?=\W|$)", "for example"),
    (("i.e.",), r"\bi\.e\.(?=\W|$)", "that is"),
    (("etc.",), r"\betc\.(?=\W|$)", "et cetera"),
    (("%",), r"(?<=\d)\s?%", " percent"),
    (("&",), r"\s&\s", " and "),
    # Temperatures: "19 degrees Celsius" says what a tool's {"temp_c": 19} or "19 °C" says.
    (("egree",), r"\b[Dd]egrees?\s+(?:Celsius|centigrade|C\b)", "°C"),
    (("egree",), r"\b[Dd]egrees?\s+(?:Fahrenheit|F\b)", "°F"),
    # "Grass Valley, CA": a US state's postal code after a place name and a comma (not OK, OR, IN:
    # words as well).
    *(((f", {code}",), rf"\b([A-Z][a-z]+), {code}\b(?![-'’]\w)", rf"\1, {name}") for code, name in (
        ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"), ("CA", "California"),
        ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"), ("FL", "Florida"), ("GA", "Georgia"),
        ("HI", "Hawaii"), ("ID", "Idaho"), ("IL", "Illinois"), ("IA", "Iowa"), ("KS", "Kansas"),
        ("KY", "Kentucky"), ("LA", "Louisiana"), ("ME", "Maine"), ("MD", "Maryland"), ("MA", "Massachusetts"),
        ("MI", "Michigan"), ("MN", "Minnesota"), ("MS", "Mississippi"), ("MO", "Missouri"), ("MT", "Montana"),
        ("NE", "Nebraska"), ("NV", "Nevada"), ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"),
        ("NY", "New York"), ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"),
        ("PA", "Pennsylvania"), ("RI", "Rhode Island"), ("SC", "South Carolina"),
        ("SD", "South Dakota"), ("TN", "Tennessee"), ("TX", "Texas"), ("UT", "Utah"), ("VT", "Vermont"),
        ("VA", "Virginia"), ("WA", "Washington"), ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
        ("DC", "District of Columbia"))),
)]


def expand_abbreviations(text: str) -> str:
    """Expand common abbreviations ("U.S." -> "United States", "Dr." -> "Doctor", "e.g." ...)."""
    if ("." not in text and "%" not in text and "&" not in text and "egree" not in text
            and not re.search(r"\b(?:US|USA|UK|UN)\b|[a-z], [A-Z]{2}\b", text)):
        return text
    for needles, pat, rep in _EXPANSIONS:
        if any(n in text for n in needles):
            text = pat.sub(rep, text)
    return text


# English number words, read as numbers (:func:`read_number_words`). A small table rather than a
# library: none of curator's dependencies reads number words, and the grammar needed here
# (cardinals up to the trillions, "and", hyphens, "a"/"half a" before a scale word, digits before
# a scale word: "3.5 million") is a page of code that tests pin down.
_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
_TEENS = {w: i + 10 for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: (i + 2) * 10 for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"thousand": 10 ** 3, "million": 10 ** 6, "billion": 10 ** 9, "trillion": 10 ** 12}
_FRACTIONS = {"half": 0.5, "quarter": 0.25}
# Words that make the number before them a fraction's numerator ("two thirds", "three quarters").
_DENOMINATORS = frozenset("halves thirds quarters fifths sixths sevenths eighths ninths tenths third fifth sixth "
                          "seventh eighth ninth tenth".split())
_NUMBER_WORD_RE = re.compile(
    r"\b(?:" + "|".join([*_UNITS, *_TEENS, *_TENS, *_SCALES, "hundred", "dozen"]) + r")\b", re.IGNORECASE)
_NUM_TOKEN_RE = re.compile(r"[A-Za-z]+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
# A value under a key that names its scale, as tools return them: {"population_millions": 10}.
_SCALED_KEY_RE = re.compile(r"(?<![A-Za-z])(thousand|million|billion|trillion)s?[\"']?\s*[:=]\s*(\d+(?:\.\d+)?)\b(?![.,]\d)",
                            re.IGNORECASE)


def read_number_words(text: str) -> str:
    """``text`` with English cardinal number words written as digits, so a number compares with
    the same number in digits: "three million" -> "3,000,000" (= "3,000,000" and "3000000",
    != "800,000"), "twenty-one" -> "21", "one hundred and five" -> "105", "3.5 million" ->
    "3,500,000", "half a million" -> "500,000", "two dozen" -> "24". Values from 10,000 up get
    thousands separators (as prose writes them), smaller ones none ("two thousand" -> "2000").
    A lone "one" ("one of the", "no one"), plurals ("millions of") and a fraction's numerator
    ("two thirds", "three quarters") stay words. A value under a
    key that names its scale, as tools return them, is scaled too: ``{"population_millions": 10}``
    reads 10,000,000, as "10 million" does.

    >>> read_number_words("About three million people; twenty-one of them, not one.")
    'About 3,000,000 people; 21 of them, not one.'
    """
    if "illion" in text or "housand" in text:
        text = _SCALED_KEY_RE.sub(
            lambda m: m.group(0)[:m.start(2) - m.start(0)]
            + _format_number(float(m.group(2)) * _SCALES[m.group(1).lower()]), text)
    if not _NUMBER_WORD_RE.search(text):
        return text
    toks = [(m.group(0), m.start(), m.end()) for m in _NUM_TOKEN_RE.finditer(text)]
    out: list[str] = []
    pos = i = 0
    while i < len(toks):
        j, value = _number_at(toks, i, text)
        if value is None:
            i += 1
            continue
        if (j < len(toks) and toks[j][0].lower() in _DENOMINATORS and _joined(text, toks[j - 1][2], toks[j][1])
                and text[toks[j][2]:toks[j][2] + 1] != "-"):
            i = j + 1  # "two thirds" is a fraction, not the number 2: left in words
            continue
        out.append(text[pos:toks[i][1]])
        out.append(_format_number(value))
        pos = toks[j - 1][2]
        i = j
    out.append(text[pos:])
    return "".join(out)


def _format_number(value: float) -> str:
    if value != int(value):
        return f"{value:g}"
    return f"{int(value):,}" if value >= 10_000 else str(int(value))


def _number_at(toks: list[tuple[str, int, int]], i: int, text: str) -> tuple[int, float | None]:
    """The longest number in words starting at token ``i``: (index after it, value), or
    (i, None). Tokens continue a number only across spaces or one hyphen."""
    total = current = 0.0
    last: str | None = None   # kind of the previous word
    scale_used: int | None = None
    best: tuple[int, float | None] = (i, None)
    words_used = 0
    k = i

    def kind(n: int) -> str | None:
        if n >= len(toks) or (n > i and not _joined(text, toks[n - 1][2], toks[n][1])):
            return None
        w = toks[n][0].lower()
        if w in _SCALES:
            return "scale"
        if w in ("hundred", "dozen"):
            return w
        if w in _UNITS:
            return "unit"
        if w in _TEENS:
            return "teen"
        if w in _TENS:
            return "tens"
        return None

    while k < len(toks):
        if k > i and not _joined(text, toks[k - 1][2], toks[k][1]):
            break
        w = toks[k][0].lower()
        nxt = kind(k + 1)
        if w[0].isdigit():
            if last is not None or nxt not in ("scale", "hundred", "dozen"):
                break
            current, last = float(w.replace(",", "")), "digit"
        elif w == "a":
            if last is not None or nxt not in ("scale", "hundred", "dozen"):
                break
            current, last = 1.0, "a"
        elif w in _FRACTIONS:
            if last is not None or k + 2 >= len(toks) or toks[k + 1][0].lower() != "a" or kind(k + 2) != "scale":
                break
            current, last = _FRACTIONS[w], "a"
            k += 1  # the "a"
        elif w == "and":
            if last not in ("hundred", "scale") or nxt not in ("unit", "teen", "tens"):
                break
        elif w in _UNITS:
            if last not in (None, "hundred", "scale", "tens"):
                break
            current, last = current + _UNITS[w], "unit"
            words_used += 1
        elif w in _TEENS or w in _TENS:
            if last not in (None, "hundred", "scale"):
                break
            current += _TEENS.get(w, _TENS.get(w, 0))
            last = "tens" if w in _TENS else "teen"
            words_used += 2   # a word that is a number on its own
        elif w == "hundred":
            if last not in ("unit", "teen", "a", "digit"):
                break
            current, last = current * 100, "hundred"
            words_used += 2
        elif w == "dozen":
            if last not in ("unit", "teen", "tens", "a", "digit"):
                break
            current, last = current * 12, "dozen"
            words_used += 2
        elif w in _SCALES:
            s = _SCALES[w]
            if last not in ("unit", "teen", "tens", "hundred", "a", "digit", "dozen") or (scale_used is not None and s >= scale_used):
                break
            total, current, scale_used, last = total + current * s, 0.0, s, "scale"
            words_used += 2
        else:
            break
        k += 1
        if last in ("unit", "teen", "tens", "hundred", "dozen", "scale"):
            # a lone "one" is a pronoun more often than a count
            if not (words_used == 1 and toks[i][0].lower() == "one" and k == i + 1):
                best = (k, total + current)
    return best


def _joined(text: str, end: int, start: int) -> bool:
    """Whether two tokens of a number are joined (spaces, or one hyphen)."""
    gap = text[end:start]
    return gap.strip() in ("", "-") and "\n" not in gap and len(gap) <= 3
