"""The numbers of a text and the question it ends in: what makes a templated problem its own.

GSM8K-style rows share most of their words: "Randy has $30. He spent $10 ... What is the amount
of money Randy has left?" and "Randy has some money. He spent $10 ... If the ice cream cone cost
$5, what is the amount of money Randy had at first?" are lightly edited copies by 5-gram Jaccard
(0.73) but another problem. The value guard used to compare only numbers written as whole words
("2019", "10,000.") and numbers replaced at one place of the alignment; "$30" and "$5" are
attached to a sign and stand at two places, so nothing blocked. Here a text's numbers are all
of them: digits wherever they stand ("$15", "45/3", "10%") and English number words ("four",
"twenty-five", "three hundred"; ordinals from "third" on) read as numbers, counted with
repeats.
"""

from __future__ import annotations

import re
import unicodedata

from ..text import STOPWORDS

# A number, with a sign when the minus is not between two operands ("-5", but "7-3" is 7, -, 3)
# and thousands separators ("10,000" = "10000").
NUMBER_RE = re.compile(r"(?<![\w)])(-)?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)")

_UNITS = {w: k for k, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * k for k, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "dozen": 12}
# Ordinals from "third" on ("first" and "second" are mostly adverbs and time: "First, ...",
# "a second"); "16th" is read as 16 among the digits.
_ORDINALS = {
    **{w: k for k, w in enumerate(
        "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
        "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth".split(), start=3)},
    **{w: 10 * k for k, w in enumerate(
        "twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth".split(),
        start=2)},
}
_UNITS.update({w: v for w, v in _ORDINALS.items() if v < 20})
_TENS.update({w: v for w, v in _ORDINALS.items() if v >= 20})
_SCALES.update({"hundredth": 100, "thousandth": 1000, "millionth": 10**6})
NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TENS) | frozenset(_SCALES)
#: One number word, as a regular-expression alternation.
NUMBER_WORD_PATTERN = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
# a run of number words: "three", "twenty-five", "three hundred and twenty five"
NUMBER_WORDS_RE = re.compile(
    rf"\b(?:{NUMBER_WORD_PATTERN})(?:(?:[\s-]+(?:and[\s-]+)?)(?:{NUMBER_WORD_PATTERN}))*\b",
    re.IGNORECASE)


def canonical_number(sign: str | None, digits: str) -> str:
    """"10,000" -> "10000", "1.50" -> "1.5", "007" -> "7", Arabic-Indic digits -> ASCII."""
    text = "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in digits.replace(",", ""))
    whole, _, frac = text.partition(".")
    whole, frac = whole.lstrip("0") or "0", frac.rstrip("0")
    value = f"{whole}.{frac}" if frac else whole
    return f"-{value}" if sign and value != "0" else value


def _word_values(run: str) -> list[int]:
    """The numbers of a run of number words: "twenty-five" -> [25], "three hundred and two" ->
    [302], "one two three" (counting) -> [1, 2, 3]."""
    out: list[int] = []
    total = current = 0
    last = ""  # kind of the previous word: "unit", "tens", "scale"
    seen = False
    for w in re.split(r"[\s-]+", run.casefold()):
        if w == "and" or not w:
            continue
        if w in _UNITS or w in _TENS:
            kind = "unit" if w in _UNITS else "tens"
            # "twenty five" goes on; "five six", "twenty thirty" start a new number
            if seen and (last == "unit" or (last == "tens" and kind == "tens")
                         or (last == "tens" and _UNITS.get(w, 10) >= 10)):
                out.append(total + current)
                total = current = 0
            current += _UNITS[w] if kind == "unit" else _TENS[w]
            last, seen = kind, True
        else:
            scale = _SCALES[w]
            if scale >= 1000:
                total += max(current, 1) * scale
                current = 0
            else:
                current = max(current, 1) * scale
            last, seen = "scale", True
    if seen:
        out.append(total + current)
    return out


def text_numbers(text: str) -> list[str]:
    """Every number of a text, canonical, in order of kind (digits, then words), with repeats.

    >>> text_numbers("Randy has $30. He spent 10,000 yen and three hundred and two on 4 pens.")
    ['30', '10000', '4', '302']
    >>> text_numbers("Peter has four horses; each eats 4 pounds, twenty-five times a day.")
    ['4', '4', '25']
    """
    out = [canonical_number(m.group(1), m.group(2)) for m in NUMBER_RE.finditer(text)] \
        if any(c.isdigit() for c in text) else []
    if NUMBER_WORDS_RE.search(text):
        out += [str(v) for m in NUMBER_WORDS_RE.finditer(text) for v in _word_values(m.group(0))]
    return out


def number_multiset(text: str) -> frozenset[str]:
    """The text's numbers as a set of "value#k" (the k-th time the value occurs), so set
    differences are multiset differences: "2 apples and 2 pears" vs "2 apples and 3 pears"
    each hold a number the other lacks."""
    seen: dict[str, int] = {}
    out = []
    for v in text_numbers(text):
        k = seen.get(v, 0)
        seen[v] = k + 1
        out.append(f"{v}#{k}")
    return frozenset(out)


# Where a sentence ends: ". ", "! ", "? " or a line break ("3.5" is no sentence end).
_SENTENCE_END_RE = re.compile(r"[.!?](?:\s+|$)|\n")
_CONTENT_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def final_question(text: str) -> frozenset[str] | None:
    """The content words (stop words left out, case-folded) of the question a text ends in,
    when something comes before it (a problem: givens, then what is asked); else None.

    >>> sorted(final_question("A school has 180 students. How many blind students are there?"))
    ['blind', 'students']
    >>> final_question("How many students are there?") is None
    True
    """
    q = text.rfind("?")
    if q < 0:
        return None
    start = 0
    for m in _SENTENCE_END_RE.finditer(text, 0, q):
        start = m.end()
    if not any(c.isalpha() for c in text[:start]):
        return None
    return frozenset(w for w in _CONTENT_RE.findall(text[start:q].casefold()) if w not in STOPWORDS)
