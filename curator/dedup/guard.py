"""The value guard: near and semantic pairs whose texts differ by a *replaced* value are refused.

A number, operator or symbol, capitalised name or caseless-script word replaced by another of
its kind ("... in 2019?" / "... in 2020?"), or a negation added or removed, makes a different
task; so do, read over the whole row (:class:`_RowFacts`), other numbers (wherever they stand,
digits or words), another day, code laid out or marked otherwise, and another question after
the same givens. :class:`_ValueGuard` decides per pair: cheap checks for many pairs at once
(:meth:`_ValueGuard.verdicts`: PASS / BLOCK / ASK), the word alignment only for the ASK ones.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from ..text import _CALL_OPEN_RE, STOPWORDS, stem, words
from .normalize import _normalize_codepoints
from .numbers import (
    NUMBER_RE,
    NUMBER_WORD_PATTERN,
    NUMBER_WORDS_RE,
    canonical_number,
    final_question,
    number_multiset,
    text_numbers,
)
from .syntax import SYNTAX_MARK_RE, code_signature, expression_marks

# ---------------------------------------------------------------------------------------------
# Task-changing differences: the value guard of the near and semantic stages
# ---------------------------------------------------------------------------------------------
# A word that may be a name: letters/digits, inner apostrophes, trailing + or # (C++, C#, F#).
_WORD_RE = re.compile(r"[^\W_][\w'’]*[+#]*")
# ASCII signs that are operators only between operands: "7-3", "7 / 3", "2 * 4" (not "well-known",
# "and/or", "**bold**").
_CONTEXT_OPS = frozenset("-/*")
_SENTENCE_END = frozenset(".!?:;…\n。！？")
_OPENERS = "\"'“‘«([{*_-#>•· \t\r"
_NUMBER_RE = NUMBER_RE
_canonical_number = canonical_number


def _is_operand(ch: str) -> bool:
    return ch.isdigit() or ch in "()"


_TOKEN_RE = re.compile(r"\S+")
# Cheap per-kind tests of a chunk: a value of a kind can be replaced only if both sides hold one.
# Numbers (digits or number words), capitals, symbols (and marks of syntax: "(1,)", "f'(2)",
# '("5"+"5")'), non-ASCII letters.
_KIND_TESTS = (re.compile(rf"\d|{NUMBER_WORDS_RE.pattern}", re.IGNORECASE),
               re.compile(r"(?:^|\s)\W*[^\W\d_a-z]"),
               re.compile(rf"[^\w\s.,;:!?'\"()\[\]{{}}]|{SYNTAX_MARK_RE.pattern}"),
               re.compile(r"[^\x00-\x7f]"))


def _may_replace_value(a: str, b: str) -> bool:
    """False when no kind of value (digit, capital, symbol, non-ASCII) is in both chunks."""
    return any(t.search(a) and t.search(b) for t in _KIND_TESTS)


# Chunks of ASCII letters, digits, whitespace, sentence marks, quotes, brackets and "_": none of
# these characters is an operator or symbol for _symbol_runs, whatever stands around them.
_PLAIN_CHUNK_RE = re.compile(r"[A-Za-z0-9\s.,;:!?'\"()\[\]{}_]*")


def _symbol_runs(chunk: str, left: str = "", right: str = "",
                 marks: frozenset[int] = frozenset()) -> list[str]:
    """Operators and symbols of a text chunk; adjacent ones form one token ("<=", "==", "++").
    ``left``/``right``: the non-space characters around the chunk (is "-" between operands?).
    ``marks``: positions in ``chunk`` of marks of syntax (primes, a comma inside brackets, a
    quote next to an operator: :data:`~curator.dedup.syntax.SYNTAX_MARK_RE`), symbols too."""
    if not marks and _PLAIN_CHUNK_RE.fullmatch(chunk):
        return []  # letters, digits, spaces and sentence marks only: no symbol (fast path)
    out: list[str] = []
    at = [q for q, c in enumerate(chunk) if not c.isspace()]
    stripped = left + "".join(chunk[q] for q in at) + right
    last = -2
    for k in range(len(left), len(stripped) - len(right)):
        ch = stripped[k]
        if at[k - len(left)] in marks:
            is_symbol = True
        elif ch in _CONTEXT_OPS:
            is_symbol = (0 < k < len(stripped) - 1 and _is_operand(stripped[k - 1])
                         and _is_operand(stripped[k + 1]))
        else:  # accents and backticks (Markdown) are not values
            is_symbol = (ch in "%#@&" or unicodedata.category(ch) in ("Sm", "Sc", "So", "Sk")) \
                and ch not in "`´¨¯¸˜"
        if is_symbol:
            ch = "'" if ch in "’′" else ch  # one prime, however written
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
        self._marks: frozenset[int] | None = None
        # per token, once: its possible names (see _values_of_token)
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

    @property
    def marks(self) -> frozenset[int]:
        """Positions of the text's marks of syntax (primes, "(1,)", '("5"+"5")')."""
        if self._marks is None:
            self._marks = frozenset(p for m in SYNTAX_MARK_RE.finditer(self.text)
                                    for p in range(m.start(), m.end()))
        return self._marks

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
        start = self.tokens[lo].start()
        chunk = self.text[start:self.tokens[hi - 1].end()]
        before = self.text[:start].rstrip()[-1:]
        after = self.text[self.tokens[hi - 1].end():].lstrip()[:1]
        marks = frozenset(p - start for p in self.marks if start <= p < start + len(chunk)) \
            if self.marks else frozenset()
        # symbols per chunk: adjacent ones form one run across spaces ("< =" is "<=")
        out = ["s:" + s for s in _symbol_runs(chunk, before, after, marks)]
        # numbers per chunk: digits, and number words ("twenty five" is one number)
        out += ["n:" + v for v in text_numbers(chunk)] if _KIND_TESTS[0].search(chunk) else []
        for k in range(lo, hi):
            _, names = self._values_of_token(k)
            # a capitalised word the other text uses in lower case is a plain word there too
            out += ["w:" + low for low in names if low not in other.lower_words]
        return out

    def _values_of_token(self, k: int) -> tuple[list[str], list[str]]:
        """Token k's possible names (case-folded; the numbers are read per chunk, see
        :meth:`values`): everything about a token that does not depend on the other text."""
        got = self._token_values[k]
        if got is not None:
            return got
        word = self.words[k]
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
        got = self._token_values[k] = ([], names)
        return got


# Days named relative to now: "What was the weather yesterday?" is not "... today?".
_DAY_RE = re.compile(r"\b(?:yesterday|today|tonight|tomorrow)\b", re.IGNORECASE)
# Addresses a task acts on: URLs (with a scheme or "www."; ASCII URL characters, parentheses
# too: ".../wiki/Mercury_(element)"), e-mail addresses, and bare domains written in lower case
# (a two-letter or a common generic top-level domain: "amazon.in", "draw.io", "example.xyz";
# not "ASP.NET", "Socket.IO", "end.then").
# Compared as a set, without scheme, "www." and trailing punctuation.
_ADDRESS_RE = re.compile(
    r"(?i:https?://|www\.)[A-Za-z0-9\-._~:/?#@!$&*+,;=%()]+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b"
    r"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:[a-z]{2}|com|org|net|gov|edu|mil|int|info|biz|app|dev|xyz"
    r"|online|site|tech|shop|store|blog|news|cloud|page|io|ai)\b(?![.\w])(?:/[A-Za-z0-9\-._~:/?#@!$&*+,;=%()]*)?")
# a word that ends like a domain but is a file or a name: "report.pdf", "main.py", "e.g"
_NOT_TLD = frozenset("pdf py js ts md txt csv json html htm css png jpg jpeg gif svg exe zip gz tar doc docx xls "
                     "xlsx ppt pptx mp3 mp4 wav yaml yml toml ini cfg log sh bat java cpp hpp rs go rb php pl "
                     "swift kt sql xml ipynb h c g e i".split())


def _addresses(text: str) -> tuple[str, ...]:
    """The URLs, domains and e-mail addresses of a text, normalised, as a sorted set."""
    if "." not in text:
        return ()
    out = set()
    for m in _ADDRESS_RE.findall(text):
        a = re.sub(r"^(?:https?://)?(?:www\.)?", "", m.casefold())
        a = a.rstrip("/.,;:!?'\"")
        while a.endswith(")") and a.count(")") > a.count("("):
            a = a[:-1].rstrip("/.,;:!?'\"")
        if "@" not in a and "/" not in a and a.rsplit(".", 1)[-1] in _NOT_TLD:
            continue
        if a:
            out.add(a)
    return tuple(sorted(out))


# Units of measure and currency words, to one canonical name each: "in kilometers" / "in miles",
# "How many minutes ..." / "How many hours ..." ask for other quantities. Not the calendar's
# words ("day", "week", "year": "daily life" / "day-to-day life", "this week"), which name a
# time more often than a unit.
_UNITS = {alias: unit for unit, aliases in {
    "km": "km kms kilometer kilometers kilometre kilometres", "m": "meter meters metre metres",
    "cm": "cm centimeter centimeters centimetre centimetres", "mm": "mm millimeter millimeters millimetre millimetres",
    "mile": "mile miles", "ft": "ft foot feet", "inch": "inch inches", "yard": "yard yards yd yds",
    "kg": "kg kgs kilogram kilograms kilogramme kilogrammes", "g": "gram grams gramme grammes",
    "lb": "lb lbs pound pounds", "oz": "oz ounce ounces", "ton": "ton tons tonne tonnes",
    "celsius": "celsius centigrade", "fahrenheit": "fahrenheit", "kelvin": "kelvin kelvins",
    "l": "liter liters litre litres", "ml": "ml milliliter milliliters millilitre millilitres",
    "gallon": "gallon gallons", "cup": "cup cups", "mph": "mph", "kph": "kph kmh",
    "second": "second seconds", "minute": "minute minutes", "hour": "hour hours hr hrs",
    "dollar": "dollar dollars usd", "euro": "euro euros eur", "yen": "yen", "rupee": "rupee rupees",
    "byte": "byte bytes", "kb": "kb kilobyte kilobytes", "mb": "mb megabyte megabytes",
    "gb": "gb gigabyte gigabytes", "tb": "tb terabyte terabytes",
}.items() for alias in aliases.split()}
_UNIT_RE = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True)) + r")\b",
                      re.IGNORECASE)


# Negations, whose presence or absence flips what a row asks: counted per text by the guard.
_NEGATION_RE = re.compile(
    r"\b(?:not|no|never|none|nobody|nothing|neither|nor|cannot|without)\b|\w(?:n't|n’t)\b", re.IGNORECASE)


class _RowFacts:
    """What the guard reads of a whole row, once: its negation count, its numbers (a multiset:
    digits wherever they stand and number words), the layout and marks of its code, and the
    question it ends in."""

    __slots__ = ("addresses", "code", "days", "negations", "numbers", "question", "units")

    def __init__(self, text: str) -> None:
        self.negations = len(_NEGATION_RE.findall(text))
        self.days = tuple(sorted(d.casefold() for d in _DAY_RE.findall(text)))
        self.addresses = _addresses(text)
        self.units = tuple(sorted({_UNITS[u.casefold()] for u in _UNIT_RE.findall(text)}))
        self.numbers = number_multiset(text)
        code = code_signature(text)
        marks = expression_marks(text)
        # code and the marks of expressions outside it ("f'(2)", "(1,)") in one signature
        self.code = None if code is None and not marks else f"{code}\x00{' '.join(marks)}"
        self.question = final_question(text) if self.numbers else None

    def blocks(self, other: _RowFacts) -> bool:
        """The row-level refusals (symmetric):

        * a negation added or removed reverses the task ("Is Paris in France?" / "Is Paris not
          in France?"), though it is only an insertion;
        * code laid out or marked otherwise (indentation, quotes, commas, operators; or code in
          one text only) is another program, and a prime, a tuple's comma or a quoted operand
          added or removed is another expression ("f(2)" / "f'(2)", "(1)" / "(1,)");
        * a number replaced, added or removed, wherever it stands ("Randy has $30 ..." / "...
          If the cone cost $5, ..."; "... x^3 + 2x" / "... x^3 + 3x^2 - 2x"; "the 2021 Academy
          Award" / "the most recent Academy Award"): numbers are a task's parameters;
        * another day ("yesterday" / "today" / "tomorrow" / "tonight", added or replaced);
        * another unit of measure or currency word, where both texts name units (a set, plural
          = singular: "... in kilometers" / "... in miles", "How many seconds are in one hour?" /
          "... in one minute?"; a unit only added, "a radius of 7" / "a radius of 7 cm", passes);
        * another address: a URL, domain or e-mail address replaced, added or removed ("Fetch
          the content of https://www.bbc.com" / "... of https://www.website.com", "... of
          nytimes.com" / "... of nytimes.com/frontpage"): the thing the task acts on;
        * two problems (numbers, then a final question) that ask another question ("How many
          students are there altogether?" / "How many blind students are there?")."""
        if self.negations != other.negations or self.code != other.code:
            return True
        if self.numbers != other.numbers or self.days != other.days or self.addresses != other.addresses:
            return True
        if self.units and other.units and self.units != other.units:
            return True
        return (self.question is not None and other.question is not None
                and self.question != other.question)


class _ValueGuard:
    """Blocks near/semantic pairs where a task-changing value was *replaced*: a number ("2019" vs
    "2020", "-5" vs "5"; "10,000" = "10000"), an operator or symbol ("7+3" vs "7-3", "5 < 3" vs
    "5 <= 3", "😀" vs "😢", "$5" vs "€5"), a capitalised name not at a sentence start ("Lamar" vs
    "Leon"; a capitalised word the texts also use in lower case is a plain word), or a run of
    letters of a caseless script (CJK, Thai, Arabic...: any replaced run may be a name). A
    negation added or removed ("not", "never", "n't") blocks too, although it is an insertion,
    as do the row-level differences of :meth:`_RowFacts.blocks` (numbers, days, code, question).

    The two texts are aligned word by word (rapidfuzz Levenshtein opcodes over whitespace
    tokens); only spans replaced by other words are examined, and a span blocks when each side
    holds a value the other lacks. Values only added or removed, words moved, and edits of
    ordinary words pass, which keeps lightly edited copies mergeable."""

    def __init__(self, texts: Sequence[str], answers: Sequence[str | None] | None = None) -> None:
        self.texts = texts
        # per row: its response (when dedup compares prompts) and the id of its short answer
        # (:func:`answer_ids`), -1 for none
        self.answer_texts = answers
        self.answers = np.full(len(texts), -1, dtype=np.int64) if answers is None else answer_ids(answers)
        self._short: dict[int, str] = ({} if answers is None else
                                       {int(self.answers[k]): _answer_key(answers[k]) or ""
                                        for k in np.flatnonzero(self.answers >= 0).tolist()})
        # recently used rows (pairs come sorted by their first row): bounded, so memory stays
        # flat however many rows take part in pairs
        self._sides: dict[int, _Side] = {}
        self._words: dict[int, frozenset[str]] = {}
        # what decides most template pairs, per row: a larger cache
        self._facts: dict[int, _RowFacts] = {}

    def _answers_block(self, a: int, b: int) -> bool:
        """Whether the rows' answers make them other tasks: two short answers that differ, or a
        short answer that a longer answer does not hold ("385" / "The sum is 55."). An empty
        answer, or two long ones, say nothing."""
        ia, ib = int(self.answers[a]), int(self.answers[b])
        if ia >= 0 and ib >= 0:
            return ia != ib
        if (ia < 0 and ib < 0) or self.answer_texts is None:
            return False
        short, other = (ia, b) if ia >= 0 else (ib, a)
        long_text = " ".join((self.answer_texts[other] or "").split()).casefold()
        if not long_text:
            return False
        return re.search(rf"(?<!\w){re.escape(self._short[short])}(?!\w)", long_text) is None

    def _side(self, r: int) -> _Side:
        side = self._sides.get(r)
        if side is None:
            if len(self._sides) >= 4096:
                self._sides.clear()
            side = self._sides[r] = _Side(self.texts[r])
        return side

    def _word_set(self, r: int) -> frozenset[str]:
        """The whitespace words of row r."""
        got = self._words.get(r)
        if got is None:
            if len(self._words) >= 4096:
                self._words.clear()
            got = self._words[r] = frozenset(self.texts[r].split())
        return got

    def _row(self, r: int) -> _RowFacts:
        got = self._facts.get(r)
        if got is None:
            if len(self._facts) >= 1 << 16:
                self._facts.clear()
            got = self._facts[r] = _RowFacts(self.texts[r])
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
        if (self.answers[a] >= 0 or self.answers[b] >= 0) and self._answers_block(a, b):
            return BLOCK
        if self._row(a).blocks(self._row(b)):
            return BLOCK
        # fast path: values can only change among the words one text has and the other lacks
        wa, wb = self._word_set(a), self._word_set(b)
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
        in its order: identical texts pass; two different short answers block; different
        negation counts block; each side
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
            ans_a, ans_b = self.answers[rows[a]], self.answers[rows[b]]
            ver[(ver == ASK) & (ans_a >= 0) & (ans_b >= 0) & (ans_a != ans_b)] = BLOCK
            # a short answer against a longer one: few pairs (short answers are rare), one by one
            for k in np.flatnonzero((ver == ASK) & ((ans_a >= 0) != (ans_b >= 0))).tolist():
                if self._answers_block(int(rows[a[k]]), int(rows[b[k]])):
                    ver[k] = BLOCK
            ver[(ver == ASK) & ((sig.negations[a] != sig.negations[b])
                                | (sig.code[a] != sig.code[b])
                                | (sig.numbers[a] != sig.numbers[b])
                                | (sig.days[a] != sig.days[b])
                                | (sig.addresses[a] != sig.addresses[b])
                                | ((sig.units[a] >= 0) & (sig.units[b] >= 0) & (sig.units[a] != sig.units[b])))] = BLOCK
            qa, qb = sig.question[a], sig.question[b]
            ver[(ver == ASK) & (qa >= 0) & (qb >= 0) & (qa != qb)] = BLOCK
            open_ = np.flatnonzero(ver == ASK)
            ver[open_[~sig.values.replaced(a[open_], b[open_]).any(axis=1)]] = PASS
            out[s:s + len(a)] = ver
        return out


#: A response of at most this many words is a short answer (:func:`answer_ids`).
SHORT_ANSWER_WORDS = 3


def _answer_key(text: str | None) -> str | None:
    """A response as a bare value (:func:`answer_ids`), normalised; None when it is not one."""
    ws = (text or "").split()
    if not ws or len(ws) > SHORT_ANSWER_WORDS or _CALL_OPEN_RE.search(text or ""):
        return None
    return " ".join(ws).casefold().strip(" .!?;:,'\"*_`¡¿()[]“”‘’") or None


def answer_ids(answers: Sequence[str | None]) -> np.ndarray:
    """Per row, an id of its answer when that is a bare value (at most :data:`SHORT_ANSWER_WORDS`
    whitespace words and no tool call; compared case-folded, spaces collapsed, surrounding
    punctuation and emphasis dropped: "**Paris**" = "paris."), else -1. Near and semantic never
    merge two rows whose short answers differ, nor a short answer with a longer one that does not
    hold it: "Calculate the sum of the numbers 1 to 10." -> "55" (or "The sum is 55.") and
    "Calculate the sum of the squares of the numbers from 1 to 10" -> "385", or "... files in the
    current directory." -> "ls" and "... in the home directory." -> "ls ~", are other tasks in
    nearly the same words: a bare value is what the task asks for. Two longer answers say nothing
    here: two writers answer one task in other words ("The current / present working directory
    is shell('pwd')."), and so do tool calls ("wikipedia('History of the Eiffel Tower')" /
    "wikipedia('Eiffel Tower history')"). On the real file, comparing tool calls kept 956 rows
    apart, most of them true paraphrases; answers of up to 8 words, 87, half of them paraphrases
    (benchmarks/RESULTS.md "Dedup quality")."""
    ids = np.full(len(answers), -1, dtype=np.int64)
    seen: dict[str, int] = {}
    for k, text in enumerate(answers):
        key = _answer_key(text)
        if key is not None:
            ids[k] = seen.setdefault(key, len(seen))
    return ids


# a whitespace token with a character other than a-z (str.split and \s agree on whitespace), or
# a number word
_NOT_PLAIN_WORD_RE = re.compile(
    rf"\S*[^a-z\s]\S*|(?<!\S)(?:{NUMBER_WORD_PATTERN})(?!\S)")
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
    """What :meth:`_ValueGuard.verdicts` needs of each row, read once: a text id, the facts of
    :class:`_RowFacts` (negation count, numbers, code signature, final question; as ids), and
    the words holding a value of each kind of ``_KIND_TESTS`` (number, capital / caseless
    letter, symbol, non-ASCII). Words get integer ids shared by the rows of one chunk, so the
    sets compare exactly (no hashing)."""

    def __init__(self, texts: list[str]) -> None:
        text_ids: dict[str, int] = {}
        word_ids: dict[str, int] = {}
        kinds = len(_KIND_TESTS)
        seen: dict[str, tuple[int, ...]] = {}  # word -> value elements word_id * kinds + kind
        values: list[list[int]] = []
        facts = [_RowFacts(t) for t in texts]
        for t in texts:
            row_values: list[int] = []
            # words of plain a-z letters (but number words) hold no value of any kind: found
            # in C, never looked at
            for w in set(_NOT_PLAIN_WORD_RE.findall(t)):
                got = seen.get(w)
                if got is None:
                    hit = [k for k, test in enumerate(_KIND_TESTS) if test.search(w)]
                    got = ()
                    if hit:
                        wid = word_ids.setdefault(w, len(word_ids))
                        got = tuple(wid * kinds + k for k in hit)
                    if len(seen) >= 1 << 20:  # a cache only (ids live in the dicts above)
                        seen.clear()
                    seen[w] = got
                row_values.extend(got)
            values.append(row_values)
        self.text_id = np.fromiter((text_ids.setdefault(t, len(text_ids)) for t in texts),
                                   dtype=np.int64, count=len(texts))
        self.negations = np.fromiter((f.negations for f in facts), dtype=np.int64, count=len(texts))
        code_ids: dict[str | None, int] = {None: 0}
        self.code = np.fromiter((code_ids.setdefault(f.code, len(code_ids)) for f in facts),
                                dtype=np.int64, count=len(texts))
        question_ids: dict[frozenset[str] | None, int] = {None: -1}
        self.question = np.fromiter(
            (question_ids.setdefault(f.question, len(question_ids)) for f in facts),
            dtype=np.int64, count=len(texts))
        number_ids: dict[frozenset[str], int] = {}
        self.numbers = np.fromiter((number_ids.setdefault(f.numbers, len(number_ids)) for f in facts),
                                   dtype=np.int64, count=len(texts))
        day_ids: dict[tuple[str, ...], int] = {}
        self.days = np.fromiter((day_ids.setdefault(f.days, len(day_ids)) for f in facts),
                                dtype=np.int64, count=len(texts))
        unit_ids: dict[tuple[str, ...], int] = {(): -1}  # no unit: -1
        self.units = np.fromiter((unit_ids.setdefault(f.units, len(unit_ids)) for f in facts),
                                 dtype=np.int64, count=len(texts))
        address_ids: dict[tuple[str, ...], int] = {}
        self.addresses = np.fromiter((address_ids.setdefault(f.addresses, len(address_ids)) for f in facts),
                                     dtype=np.int64, count=len(texts))
        self.values = _SetColumn(values, kinds)


#: Bodies (the text after a shared preamble) of at most this many words are read by
#: :func:`swapped_task`.
SWAP_MAX_WORDS = 24
#: Two stems are forms or misspellings of one word at this rapidfuzz ratio or above.
SWAP_SAME_WORD = 75.0


#: Words that ask rather than say what is asked for.
_ASKING = frozenset("""find get check look search show display give provide retrieve request extract fetch tell
list want need use using know see find out up me latest current information info details content""".split())


def swapped_task(a: str, b: str) -> bool:
    """Whether two short task bodies under one shared preamble (a tool description, a system
    prompt) ask for other things: each holds a content word the other lacks that is no form or
    misspelling of any of the other's ("Find the top news stories related to the stock market."
    / "... related to the environment.": 5-gram Jaccard 0.61 after the toolformer preamble, a
    near duplicate, but another task). A word only added or dropped ("... about cryptocurrency"
    / "... about cryptocurrency regulations") passes, as do longer bodies, where one swapped
    word is more often a paraphrase."""
    from rapidfuzz import fuzz

    wa, wb = words(a), words(b)
    if len(wa) > SWAP_MAX_WORDS or len(wb) > SWAP_MAX_WORDS:
        return False
    # the request's own verb ("Find", "Get", "Look up", "Show me") is how it is asked, not what
    ca = {stem(w) for w in wa[1:] if w not in STOPWORDS and w not in _ASKING and w.isalpha()}
    cb = {stem(w) for w in wb[1:] if w not in STOPWORDS and w not in _ASKING and w.isalpha()}
    only_a, only_b = ca - cb, cb - ca

    def same(x: str, y: str) -> bool:
        return x.startswith(y) or y.startswith(x) or fuzz.ratio(x, y) >= SWAP_SAME_WORD

    def new(xs: set[str], ys: set[str]) -> bool:
        return any(not any(same(x, y) for y in ys) for x in xs)

    return bool(only_a and only_b) and new(only_a, only_b) and new(only_b, only_a)
