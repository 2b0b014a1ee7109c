"""Response quality signals and drop rules for instruction/response pairs.

Cheap, deterministic checks that need no reference documents: empty fields, overlong responses,
refusals and AI disclaimers, looping (repetitive) text, leaked prompt templates, and responses
unrelated to their instruction (when embeddings are supplied).

>>> scorer = QualityScorer()
>>> cols = scorer.score(["What is the capital of France?", "Tell me a joke."],
...                     ["Paris", "I'm sorry, but I can't help with that."])
>>> cols["quality_reason"]
[None, 'refusal']
>>> cols["quality"].round(2).tolist()
[1.0, 0.2]
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import check_param
from .records import _SYSTEM_ROLES, _USER_ROLES, CONVERSATION_KEYS, content_text
from .text import STOPWORDS, is_non_answer, stem, words

#: Every reason :meth:`QualityScorer.score` can put in ``quality_reason``; when several apply,
#: the first one in this order is reported.
QUALITY_REASONS: tuple[str, ...] = (
    "empty_response",
    "empty_instruction",
    "too_long",
    "refusal",
    "non_answer",
    "repetitive",
    "off_topic",
    "template_leak",
)

# Word n-gram length of the repetition signal. 5-grams are long enough that ordinary prose,
# lists and code rarely repeat them (p99 <= 0.2 on LIMA, Alpaca-GPT4, Self-Instruct), yet a
# model looping a sentence repeats every one of them.
_NGRAM = 5
# A line must have this many words to count for duplicated lines, so "}", "```" or "end" in
# code and blank-ish separators never make a response look repetitive.
_MIN_LINE_WORDS = 3
# Repetition up to this level is normal for structured text (code, lists, songs with a chorus)
# and costs no quality; above it quality falls linearly to 0 at repetition 1.
_REPETITION_ALLOWANCE = 0.2
# Quality multiplier of a refusal or a leaked template: such rows teach little, but they are
# not garbage, so callers that keep them (drop_refusals=False) can still rank them.
_FLAG_FACTOR = 0.2
# Refusals are stated up front; looking only at the opening keeps stories and dialogues that
# contain "I can't ..." further down from matching.
_HEAD_CHARS = 400

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'"})

# Where a refusal clause may start: text start or after punctuation, then optional connectives
# and apologies ("Unfortunately, ", "I'm sorry, but ").
_LEAD = (
    r"(?:^|[.!?;:,\n(\"])\s*"
    r"(?:(?:but|so|and|therefore|thus|however|unfortunately|regrettably|sadly|sorry|apologies"
    r"|my\s+apologies|(?:i'm|i\s+am)\s+(?:very\s+|so\s+|truly\s+|really\s+)?sorry"
    r"|i\s+apologi[sz]e)\b[\s,.!]*)*"
)
# Present-tense inability or unwillingness of the speaker. Past tense ("I couldn't answer him")
# is narrative, not a refusal.
_CANNOT = (
    r"(?:cannot|can\s+not|can't|won't|will\s+not|must\s+(?:respectfully\s+|politely\s+)?decline"
    r"|(?:am|'m|are|'re)\s+(?:unable|not\s+(?:able|allowed|permitted|programmed|designed"
    r"|equipped|capable|going)))(?:\s+(?:to|of))?"
)
# What an assistant refuses to do. Verbs common in fiction, essays and letters ("I can't wait",
# "I can't believe", "I can't help but", "I cannot support this plan", "I'm unable to come into
# work") are left out.
_TASK = (
    r"(?:help(?!\s+(?:but|it|myself|feeling|thinking|wondering|noticing|laughing|smiling))"
    r"|assist|provide|fulfil|fulfill|comply|complete\s+(?:this|that|the|your|such)|answer"
    r"|respond\s+to|generate|create|produce|draw|design|display|render|access|have\s+access"
    r"|browse|retrieve|search|look\s+up|perform|process|execute|engage|participate"
    r"|endorse|condone|encourage|discuss|disclose|reveal|predict\s+(?:the\s+)?future"
    r"|share\s+(?:personal|private|that|this|such|information)"
    r"|give\s+(?:you|advice|medical|legal|financial|an?\s+opinion|opinions|personal)"
    r"|do\s+(?:that|this|so)|write\s+(?:that|this|such|content|about\s+(?:that|this)))\b"
)
# "I" or "we" before a verb; "I'm" has no space before its apostrophe.
_SUBJ = r"(?:i|we)(?:\s+|(?='))"
# "an AI", "an AI language model developed by OpenAI", "artificial intelligence assistant".
_AI = (
    r"(?:an?\s+)?(?:ai|artificial\s+intelligence)"
    r"(?:\s+(?:language\s+)?model|\s+assistant|\s+chatbot|\s+system)?"
    r"(?:\s+(?:developed|created|trained|built|made)\s+by\s+\w+(?:\s+\w+)?)?"
)
_NEGATION = (
    r"(?:cannot|can't|can\s+not|don't|do\s+not|does\s+not|doesn't|am\s+not|'m\s+not|am\s+unable"
    r"|'m\s+unable|have\s+no|lack|won't|will\s+not)\b"
)
# What an AI says it has no access to. A bare "access" would hit complaint letters ("I don't
# have access to my account").
_ACCESS = (
    r"access\s+to\s+(?:real[- ]time|the\s+internet|internet|external|current|up[- ]to[- ]date"
    r"|live|the\s+web|web|browsing|personal|private|(?:that|this|such)\s+information"
    r"|your\s+(?:data|dataset|files?|documents?|articles?|screen|computer|device))"
)
_REFUSAL_RE = re.compile(
    "|".join(
        [
            # "I'm sorry, but I cannot provide ...", "Due to privacy concerns, we cannot answer".
            _LEAD + _SUBJ + _CANNOT + r"\s+" + _TASK,
            # "I don't have access to real-time data", "I do not have personal opinions".
            _LEAD + r"i\s+(?:don't|do\s+not)\s+have\s+(?:the\s+)?(?:" + _ACCESS
            + r"|ability|capability|capacity|personal\s+(?:opinions|experiences|preferences"
            r"|feelings|emotions|beliefs)|a\s+physical\s+(?:body|form|presence))",
            # The canonical boilerplate is a disclaimer wherever it sits in the opening.
            r"\bas\s+an\s+ai\s+language\s+model\b",
            # "As an AI, I don't ...", "As an AI assistant I cannot ...". No free words between
            # "AI" and "I": "As an AI researcher, I don't think ..." is a person talking.
            r"\bas\s+" + _AI + r"\s*,?\s*" + _SUBJ + _NEGATION,
            # "I'm an AI language model and do not have ...", "I am an AI, so I don't ...".
            r"\b(?:i'm|i\s+am)\s+(?:just\s+|only\s+|merely\s+)?" + _AI
            + r"\s*,?\s*(?:and\s+|so\s+)?(?:" + _SUBJ + r")?" + _NEGATION,
            r"\bi\s+must\s+(?:respectfully\s+|politely\s+)?decline\b",
            r"\b(?:against|violates?)\s+my\s+(?:programming|guidelines|policies|content\s+policy"
            r"|ethical\s+guidelines)\b",
            r"\b(?:not|isn't|is\s+not)\s+(?:appropriate|ethical)\s+for\s+me\s+to\b",
            r"\bi'm\s+not\s+comfortable\s+(?:providing|writing|answering|helping|discussing"
            r"|generating|creating|sharing)\b",
        ]
    ),
    re.IGNORECASE,
)

# Prompt-template debris left in a generated response: chat special tokens, Alpaca-style
# section headers, and "#Question#:" style field labels (HaluEval's generation prompt).
# Markdown headings never end in "#:", so ordinary "## Answer" headings do not match.
_TEMPLATE_RE = re.compile(
    r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id|system|user"
    r"|assistant)\|>"
    r"|(?-i:\[/?INST\]|<</?SYS>>)"
    r"|^[ \t]*#{2,4}[ \t]*(?:instruction|response)[ \t]*:"
    r"|^[ \t]*#[A-Za-z][A-Za-z ]{0,30}#:",
    re.IGNORECASE | re.MULTILINE,
)


# Every refusal pattern contains one of these; checking for them first skips the costly
# search on most texts.
_REFUSAL_HINT_RE = re.compile(r"not|n't|unable|decline|against|violat|\bai\b|artificial", re.I)
# Likewise, every template marker contains one of these substrings.
_TEMPLATE_HINTS = ("<|", "INST]", "SYS>>", "#")


#: Characters that show nothing although they are not Unicode format (Cf) characters: Hangul
#: fillers, the braille blank, the combining grapheme joiner, Mongolian vowel separator.
_BLANK_CHARS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u180e")


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: empty, whitespace, or only invisible characters (format
    characters such as ZWSP U+200B, word joiner U+2060, soft hyphen U+00AD, BOM U+FEFF, bidi
    marks; control characters; Hangul fillers and the braille blank).

    >>> [is_blank(t) for t in ("", "  ", "\u200b\u2060\u00ad\ufeff", "\u200bok", "0")]
    [True, True, True, False, False]
    """
    s = text.strip()
    # stops at the first visible character: O(1) for ordinary text
    return not s or not any(not c.isspace() and c not in _BLANK_CHARS and unicodedata.category(c) not in ("Cf", "Cc")
                            for c in s)


def refusal_phrase(response: str) -> str | None:
    """The words of the opening that read as a refusal or an AI disclaimer (what
    :func:`is_refusal` matched), for a drop's detail; None when there are none.

    >>> refusal_phrase("As an AI, I don't have personal preferences, but here are some sights.")
    "As an AI, I don't"
    """
    head = response.strip()[:_HEAD_CHARS]
    if _REFUSAL_HINT_RE.search(head) is None:
        return None
    m = _REFUSAL_RE.search(head.translate(_APOSTROPHES))
    return head[m.start():m.end()] if m else None


def is_refusal(response: str) -> bool:
    """True when the opening of a response declines the task or disclaims ability as an AI.

    >>> is_refusal("I'm sorry, but I can't assist with that request.")
    True
    >>> is_refusal("I'm sorry to hear that. Here are some tips that may help.")
    False
    """
    head = response.strip()[:_HEAD_CHARS].translate(_APOSTROPHES)
    if _REFUSAL_HINT_RE.search(head) is None:
        return False
    return _REFUSAL_RE.search(head) is not None


# A refusal that names the limits of the tools it was given ("I don't have the capability to book
# flights. My current function allows me to get exchange rates."): Glaive-style tool data teaches
# exactly this answer when the offered tools cannot do what is asked.
_TOOL_LIMIT_RE = re.compile(
    r"\b(?:functions?|tools?|capabilit(?:y|ies)|(?:provided|available)\s+to\s+me|at\s+my\s+disposal"
    r"|external\s+tasks?)\b", re.IGNORECASE)
# Tool names in a system prompt that lists them as JSON ("... access to the following functions ... {"name": ...}").
_TOOL_NAME_RE = re.compile(r'"name"\s*:\s*"([^"]{1,80})"')
_TOOL_MENTION_RE = re.compile(r"\b(?:functions?|tools?)\b", re.IGNORECASE)
# Words of a tool's name that say nothing about what it does ("get_weather" is about weather).
_GENERIC_TOOL_WORDS = frozenset({"get", "fetch", "api", "tool", "function", "func", "do", "run", "call"})
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def offered_tools(record: dict[str, Any]) -> list[str]:
    """The names of the tools a record offers its assistant: OpenAI/ShareGPT ``tools`` (a list,
    or a JSON string of one, as LLaMA-Factory writes it), the legacy ``functions``, or tool
    definitions listed as JSON in a system prompt (Glaive: "You are a helpful assistant with
    access to the following functions ... {"name": "get_exchange_rate", ...}"). [] = none.

    >>> offered_tools({"tools": '[{"name": "get_exchange_rate"}]'})
    ['get_exchange_rate']
    >>> offered_tools({"tools": [{"type": "function", "function": {"name": "book_flight"}}]})
    ['book_flight']
    """
    names: list[str] = []
    for key in ("tools", "functions"):
        value = record.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        for item in value if isinstance(value, list) else []:
            if isinstance(item, dict):
                spec: dict[str, Any] = item["function"] if isinstance(item.get("function"), dict) else item
                if isinstance(spec.get("name"), str):
                    names.append(spec["name"])
    system: list[str] = [record["system"]] if isinstance(record.get("system"), str) else []
    for key in CONVERSATION_KEYS:
        msgs = record.get(key)
        for m in msgs if isinstance(msgs, list) else []:
            if isinstance(m, dict) and str(m.get("role", m.get("from", ""))).casefold() in _SYSTEM_ROLES:
                system.append(content_text(m.get("content", m.get("value"))))
    for text in system:
        if _TOOL_MENTION_RE.search(text):
            names.extend(_TOOL_NAME_RE.findall(text))
    return list(dict.fromkeys(names))


def user_requests(record: dict[str, Any], fallback: str) -> str:
    """What the user asked, without the system prompt (which lists the tools themselves): the
    user turns of a conversation record, else ``fallback`` (an instruction and its input)."""
    for key in CONVERSATION_KEYS:
        msgs = record.get(key)
        if isinstance(msgs, list):
            return "\n\n".join(content_text(m.get("content", m.get("value"))) for m in msgs
                               if isinstance(m, dict) and str(m.get("role", m.get("from", ""))).casefold() in _USER_ROLES)
    return fallback


def _tool_words(name: str) -> set[str]:
    parts = re.split(r"[\W_]+", _CAMEL_RE.sub(" ", name))
    return {stem(w.lower()) for w in parts if w and w.lower() not in STOPWORDS and w.lower() not in _GENERIC_TOOL_WORDS}


def tool_limit_refusal(response: str, request: str, tools: Sequence[str]) -> bool:
    """A refusal that the offered tools justify, so a correct answer, not a quality defect: the
    row offers tools, the refusal names their limits (functions, tools, capabilities), and no
    offered tool's name is about what was asked (every content word of the name in the request:
    "book_flight" for "Book me a flight" makes the refusal wrong; "get_exchange_rate" does not).

    >>> tool_limit_refusal("I'm sorry, but I don't have the capability to book flights. My current "
    ...                    "function allows me to get exchange rates.", "Book a flight to London.",
    ...                    ["get_exchange_rate"])
    True
    >>> tool_limit_refusal("I'm sorry, I can't do that with my tools.", "Book a flight to London.", ["book_flight"])
    False
    """
    if not tools or not is_refusal(response):
        return False
    if _TOOL_LIMIT_RE.search(response.strip()[:2 * _HEAD_CHARS]) is None:
        return False
    asked = {stem(w) for w in words(request)}
    return not any((tw := _tool_words(t)) and tw <= asked for t in tools)


def has_template_leak(response: str) -> bool:
    """True when a response contains prompt-template markup (chat tokens, "### Instruction:").

    >>> has_template_leak("Paris.\\n### Instruction:\\nName a city.")
    True
    >>> has_template_leak("## Answer\\nParis.")
    False
    """
    if not any(h in response for h in _TEMPLATE_HINTS):
        return False
    return _TEMPLATE_RE.search(response) is not None


def repetition(text: str) -> float:
    """Share of the text that repeats itself, in [0, 1].

    The larger of (a) the share of word 5-grams that already occurred earlier in the text and
    (b) the share of lines (of at least 3 words) that duplicate an earlier line.

    Data structures (JSON, JSON lines, Python literals; whole or in ``` fences) are measured by
    their structure instead: keys, brackets and list-valued fields repeat in every element of a
    list of records by nature. What counts there is an element (an object, a list, a string of 3+
    words) that repeats an earlier sibling exactly, and the repetition of each long string value.

    >>> repetition("The cat sat on the mat.")
    0.0
    >>> round(repetition("I love you. " * 20), 2)
    0.95
    >>> repetition('[{"day": "Mon", "room": "U1", "hours": 4}, {"day": "Tue", "room": "U1", "hours": 4}]')
    0.0
    >>> round(repetition(str([{"day": "Mon", "room": "U1"}] * 10)), 2)
    0.9
    """
    return _text_repetition(text, [words(line) for line in text.splitlines()])


def _text_repetition(text: str, line_tokens: list[list[str]]) -> float:
    if ("{" in text or "[" in text) and len(text) <= _MAX_PARSE_CHARS:
        structured = _structured_repetition(text)
        if structured is not None:
            return structured
    return _repetition(line_tokens)


# Texts longer than this are not parsed as data (parsing costs memory); they are measured as text.
_MAX_PARSE_CHARS = 2_000_000
_FENCE_RE = re.compile(r"^[ \t]*```[^\n]*$", re.MULTILINE)
_NOT_DATA = object()


def _structured_repetition(text: str) -> float | None:
    """Repetition of a text holding data structures, or None when it holds none."""
    found, worst, rest = False, 0.0, []
    for piece in _FENCE_RE.split(text):  # pieces alternate outside / inside ``` fences
        value = _parse_data(piece.strip())
        if value is _NOT_DATA:
            rest.append(piece)
        else:
            found = True
            worst = max(worst, _data_repetition(value))
    if not found:
        return None
    prose = "\n".join(rest)
    return max(worst, _repetition([words(line) for line in prose.splitlines()]))


def _parse_data(s: str) -> Any:
    """A list or dict parsed from JSON, JSON lines or a Python literal; else ``_NOT_DATA``."""
    import ast
    import json

    if len(s) < 2 or s[0] not in "[{" or s[-1] not in "]}":
        return _NOT_DATA
    try:
        value = json.loads(s)
    except ValueError:
        lines = [ln for ln in s.splitlines() if ln.strip()]
        try:
            value = [json.loads(ln) for ln in lines] if len(lines) > 1 else _NOT_DATA
        except ValueError:
            value = _NOT_DATA
        if value is _NOT_DATA:
            try:
                value = ast.literal_eval(s)  # model answers often print Python reprs: {'a': 1}
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                return _NOT_DATA
    return value if isinstance(value, (list, dict, tuple)) else _NOT_DATA


def _data_repetition(value: Any) -> float:
    """Share of repeated sibling elements (objects, lists, strings of 3+ words) over every list,
    or the repetition of the most repetitive long string value, whichever is larger."""
    import json

    dup = total = 0
    prose = 0.0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            seen: set[str] = set()
            for e in v:
                if isinstance(e, (list, tuple, dict)) or (isinstance(e, str) and len(words(e)) >= _MIN_LINE_WORDS):
                    key = json.dumps(e, sort_keys=True, default=str)
                    total += 1
                    dup += key in seen
                    seen.add(key)
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, str) and len(v) > 40:
            prose = max(prose, _repetition([words(line) for line in v.splitlines()]))
    return max(dup / total if total > 1 else 0.0, prose)


def _repetition(line_tokens: list[list[str]]) -> float:
    # Takes per-line tokens so score() tokenises each response once: a word never spans a
    # newline, so the text's tokens are the lines' tokens concatenated.
    ws = [w for lw in line_tokens for w in lw]
    grams = len(ws) - _NGRAM + 1
    ngram_dup = 0.0
    if grams > 1:
        unique = len(set(zip(*(ws[i:] for i in range(_NGRAM)))))
        ngram_dup = 1.0 - unique / grams
    lines = [" ".join(lw) for lw in line_tokens if len(lw) >= _MIN_LINE_WORDS]
    line_dup = 1.0 - len(set(lines)) / len(lines) if len(lines) > 1 else 0.0
    return max(ngram_dup, line_dup)


def _as_texts(values: Sequence[Any], what: str) -> list[str]:
    # Nulls from polars/pandas (None, NaN) are missing text, i.e. empty; anything else that is
    # not a string is a caller bug we should not paper over with str().
    out: list[str] = []
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append("")
        elif isinstance(v, str):
            out.append(v)
        else:
            raise TypeError(f"{what}[{i}] must be a string or None, got {type(v).__name__}.")
    return out


def _row_cosine(a: np.ndarray, b: np.ndarray, chunk: int = 8192) -> np.ndarray:
    # Row-wise cosine without assuming unit vectors; a zero vector has no direction -> NaN.
    # In chunks of rows: the float64 copies of a million 384-d rows would be 3 GiB each, and a
    # row's result does not depend on the other rows of its chunk.
    n = len(a)
    out = np.empty(n, dtype=np.float64)
    for s in range(0, n, chunk):
        x = np.asarray(a[s:s + chunk], dtype=np.float64)
        y = np.asarray(b[s:s + chunk], dtype=np.float64)
        dots = np.einsum("ij,ij->i", x, y)
        norms = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s:s + chunk] = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), np.nan)
    return np.clip(out, -1.0, 1.0)


class QualityScorer:
    """Score instruction/response pairs for quality and name the first reason to drop each.

    Parameters
    ----------
    max_response_words : a response with more words is dropped as ``"too_long"``. 4000 words
        (~5k tokens) keeps every LIMA answer (longest 3090) while catching runaway generations.
    max_repetition : a response whose :func:`repetition` exceeds this is ``"repetitive"``.
        Real curated answers peak at ~0.37 (code with repeated snippets, lists); a response
        that says the same thing twice scores ~0.5 and a loop approaches 1.
    min_relevance : a response of at least ``off_topic_min_words`` words whose embedding cosine
        with its instruction is below this is ``"off_topic"``; ``None`` disables the rule. 0.0
        is below every real pair in LIMA, Alpaca-GPT4, Self-Instruct and HaluEval (their
        lowest are creative-writing answers at 0.01-0.1, which no cosine threshold can tell
        from unrelated text) and below the median of unrelated pairs (0.01-0.07 with
        all-MiniLM-L6-v2). So the rule never drops a real answer but catches only about half
        of responses paired with an unrelated instruction; 0.05 catches ~70% and starts to
        drop short creative pieces.
    off_topic_min_words : shorter responses are never ``"off_topic"``: a one-word answer
        ("Paris") is naturally far from its question in embedding space.
    drop_refusals : drop refusals and AI disclaimers as ``"refusal"`` (the ``refusal`` column
        is filled either way).
    drop_template_leaks : drop responses containing prompt-template markup as
        ``"template_leak"`` (the ``template_leak`` column is filled either way).

    Examples
    --------
    >>> cols = QualityScorer(max_response_words=3).score(["Count to five."], ["1 2 3 4 5"])
    >>> cols["quality_reason"], round(float(cols["quality"][0]), 2)
    (['too_long'], 0.6)
    """

    def __init__(
        self,
        max_response_words: int = 4000,
        max_repetition: float = 0.5,
        min_relevance: float | None = 0.0,
        off_topic_min_words: int = 20,
        drop_refusals: bool = True,
        drop_template_leaks: bool = True,
    ) -> None:
        self.max_response_words = max_response_words
        self.max_repetition = max_repetition
        self.min_relevance = min_relevance
        self.off_topic_min_words = off_topic_min_words
        self.drop_refusals = drop_refusals
        self.drop_template_leaks = drop_template_leaks

    def __repr__(self) -> str:
        return (
            f"QualityScorer(max_response_words={self.max_response_words!r}, "
            f"max_repetition={self.max_repetition!r}, min_relevance={self.min_relevance!r}, "
            f"off_topic_min_words={self.off_topic_min_words!r}, "
            f"drop_refusals={self.drop_refusals!r}, "
            f"drop_template_leaks={self.drop_template_leaks!r})"
        )

    def _validate(self) -> None:
        owner = type(self).__name__

        def is_int(v: object) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

        def is_real(v: object) -> bool:
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
                v, (bool, np.bool_)
            ) and math.isfinite(float(v))

        v: Any = self.max_response_words
        check_param(owner, "max_response_words", v, is_int(v) and v >= 1, "a positive int")
        v = self.max_repetition
        check_param(owner, "max_repetition", v, is_real(v) and 0 <= v <= 1,
                    "a float in [0, 1]")
        v = self.min_relevance
        check_param(owner, "min_relevance", v, v is None or (is_real(v) and -1 <= v <= 1),
                    "a float in [-1, 1] or None")
        v = self.off_topic_min_words
        check_param(owner, "off_topic_min_words", v, is_int(v) and v >= 0,
                    "a non-negative int")
        for name in ("drop_refusals", "drop_template_leaks"):
            v = getattr(self, name)
            check_param(owner, name, v, isinstance(v, (bool, np.bool_)), "a bool")

    def score(
        self,
        instructions: Sequence[str],
        responses: Sequence[str],
        instruction_embeddings: np.ndarray | None = None,
        response_embeddings: np.ndarray | None = None,
        relevance: np.ndarray | None = None,
        tools: Sequence[Sequence[str]] | None = None,
        requests: Sequence[str] | None = None,
    ) -> dict[str, list[Any] | np.ndarray]:
        """Compute quality signals for each pair; every returned column has one entry per pair.

        ``instructions`` should include the task input (instruction + input), as the response
        answers both: "Summarize the paragraph." alone looks unrelated to a good summary.
        Embeddings (one row per pair, e.g. from :class:`curator.embed.Embedder`) are optional;
        without both, ``relevance`` is NaN and ``off_topic`` never fires. ``relevance`` instead
        of the embeddings: the cosines already computed (NaN = unknown), e.g. in chunks by a
        caller that never holds every vector at once.

        Columns
        -------
        response_words, instruction_words : int64 word counts (:func:`curator.text.words`).
        repetition : float64 in [0, 1], see :func:`repetition`.
        refusal : bool, see :func:`is_refusal`.
        template_leak : bool, see :func:`has_template_leak`.
        relevance : float64 cosine of instruction and response embeddings, NaN if not given.
        quality : float64 in [0, 1], the product of independent factors, 1 meaning "no
            problem seen"; short answers lose nothing for being short:

            - 0 if the response or the instruction is empty;
            - repetition: 1 up to 0.2, then linearly down to 0 at 1;
            - length: ``min(1, max_response_words / response_words)``;
            - relevance (only when known and the response has ``off_topic_min_words`` words):
              ``clip(0.75 + 0.5 * relevance, 0, 1)``, i.e. 1 from cosine 0.5 up and 0.75 at 0,
              gentle because creative writing is legitimately far from its prompt;
            - 0.2 for a refusal, 0.2 for a leaked template.
        quality_reason : the first of :data:`QUALITY_REASONS` that applies, else None.

        ``tools`` (per pair, the names of the tools its row offers) and ``requests`` (per pair,
        what the user asked, default ``instructions``): a refusal the offered tools justify
        (:func:`tool_limit_refusal`) is a correct answer, not a ``refusal``; with ``tools``
        the result also has ``tool_limit_answer`` (bool per pair).

        >>> QualityScorer().score(["Say hi."], ["   "])["quality_reason"]
        ['empty_response']
        """
        self._validate()
        instr = _as_texts(instructions, "instructions")
        resp = _as_texts(responses, "responses")
        n = len(resp)
        if len(instr) != n:
            raise ValueError(
                f"instructions and responses must have the same length, got {len(instr)} and {n}."
            )

        if relevance is not None:
            relevance = np.asarray(relevance, dtype=np.float64).reshape(-1)
            if len(relevance) != n:
                raise ValueError(f"relevance has {len(relevance)} values for {n} pairs.")
        else:
            relevance = np.full(n, np.nan)
        if instruction_embeddings is not None and response_embeddings is not None:
            a = np.asarray(instruction_embeddings)
            b = np.asarray(response_embeddings)
            if a.ndim != 2 or b.ndim != 2 or a.shape[0] != n or b.shape != a.shape:
                raise ValueError(
                    f"instruction_embeddings and response_embeddings must both have shape "
                    f"({n}, dim), got {a.shape} and {b.shape}."
                )
            if n:
                relevance = _row_cosine(a, b)

        line_tokens = [[words(line) for line in t.splitlines()] for t in resp]
        resp_words = np.fromiter(
            (sum(len(lw) for lw in lt) for lt in line_tokens), dtype=np.int64, count=n
        )
        instr_words = np.fromiter((len(words(t)) for t in instr), dtype=np.int64, count=n)
        rep = np.fromiter((_text_repetition(t, lt) for t, lt in zip(resp, line_tokens)),
                          dtype=np.float64, count=n)
        refusal = np.fromiter((is_refusal(t) for t in resp), dtype=bool, count=n)
        tool_answer = np.zeros(n, dtype=bool)
        if tools is not None:
            asked = instr if requests is None else _as_texts(requests, "requests")
            for k in map(int, np.flatnonzero(refusal)):
                tool_answer[k] = tool_limit_refusal(resp[k], asked[k], tools[k])
            refusal &= ~tool_answer
        leak = np.fromiter((has_template_leak(t) for t in resp), dtype=bool, count=n)
        # "I don't know.", "Sure!": states nothing, teaches nothing (not a grounding failure).
        non_answer = np.fromiter((is_non_answer(t) for t in resp), dtype=bool, count=n)
        empty_resp = np.fromiter((is_blank(t) for t in resp), dtype=bool, count=n)
        empty_instr = np.fromiter((is_blank(t) for t in instr), dtype=bool, count=n)

        # Relevance only says something about responses long enough to have a topic.
        judged = ~np.isnan(relevance) & (resp_words >= self.off_topic_min_words)
        too_long = resp_words > self.max_response_words
        repetitive = rep > self.max_repetition
        if self.min_relevance is None:
            off_topic = np.zeros(n, dtype=bool)
        else:
            off_topic = judged & (np.nan_to_num(relevance, nan=1.0) < self.min_relevance)

        rules: dict[str, np.ndarray] = {
            "empty_response": empty_resp,
            "empty_instruction": empty_instr,
            "too_long": too_long,
            "refusal": refusal & bool(self.drop_refusals),
            "non_answer": non_answer,
            "repetitive": repetitive,
            "off_topic": off_topic,
            "template_leak": leak & bool(self.drop_template_leaks),
        }
        reasons: list[str | None] = [None] * n
        # Walk the rules in reverse so the earliest applicable reason is written last and wins.
        for name in reversed(QUALITY_REASONS):
            for i in np.flatnonzero(rules[name]):
                reasons[i] = name

        rep_factor = np.clip((1.0 - rep) / (1.0 - _REPETITION_ALLOWANCE), 0.0, 1.0)
        len_factor = np.minimum(1.0, self.max_response_words / np.maximum(resp_words, 1))
        rel_factor = np.where(
            judged, np.clip(0.75 + 0.5 * np.nan_to_num(relevance, nan=1.0), 0.0, 1.0), 1.0
        )
        quality = rep_factor * len_factor * rel_factor
        quality *= np.where(refusal, _FLAG_FACTOR, 1.0) * np.where(leak, _FLAG_FACTOR, 1.0)
        quality *= np.where(non_answer & ~refusal, _FLAG_FACTOR, 1.0)
        quality[empty_resp | empty_instr] = 0.0

        out: dict[str, list[Any] | np.ndarray] = {
            "response_words": resp_words,
            "instruction_words": instr_words,
            "repetition": rep,
            "refusal": refusal,
            "template_leak": leak,
            "relevance": relevance.astype(np.float64, copy=False),
            "quality": quality,
            "quality_reason": reasons,
        }
        if tools is not None:
            out["tool_limit_answer"] = tool_answer
        return out
