"""Exceptions in the evidence: "open every day except Monday", "all states but Hawaii" states the general fact and, for
Monday, its opposite (below :mod:`curator.grounding.features`).

A claim about the excepted item that restates the general fact ("Yes, the museum is open on
Mondays.") contradicts the evidence; one that states the exception in words of its own ("No, it
is closed on Mondays.") cannot be matched word for word, so nothing is held against it
(``combiner.judge_pair`` lists it as doubtful at most).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..text import STOPWORDS, stem, words

_EXCEPT_RE = re.compile(r"\b(?:except(?:\s+for|\s+on|\s+in)?|other than|apart from|aside from|excluding|"
                        r"with the exception of|but not|save for)\s+([^.;:!?()]{1,60})", re.IGNORECASE)
# "all states but Hawaii", "every day but Sunday": "but" after a quantifier, not "but not".
_ALL_BUT_RE = re.compile(r"\b(?:all|every|each|any)\b[^.;:!?]{0,60}?\bbut\s+(?!not\b)([^.;:!?()]{1,60})",
                         re.IGNORECASE)
_HEAD_END_RE = re.compile(r",|\b(?:and|which|who|when|where|are|is|were|was|has|have|had|can|could|will|would|do|does|did)\b")


def excepted(texts: Sequence[str]) -> list[tuple[set[str], set[str]]]:
    """Per exception in ``texts``: (stems of the general statement, stems of the excepted item):
    "The museum is open every day except Monday." -> ({museum, open, every, day}, {monday});
    "All ingredients other than the barley are gluten-free." -> ({ingredient, gluten-free …},
    {barley}). The item is the first content words after the marker, up to a comma, "and", a
    relative pronoun or an auxiliary verb; the statement is the rest of the sentence, less a
    relative clause about the item (", who abstained")."""
    out = []
    for text in texts:
        for m in [*_EXCEPT_RE.finditer(text), *_ALL_BUT_RE.finditer(text)]:
            tail = m.group(1)
            cut = _HEAD_END_RE.search(tail)
            head = tail[:cut.start()] if cut else tail
            items = {stem(w) for w in words(head) if w not in STOPWORDS}
            after = text[m.start(1) + len(head):]
            if re.match(r"\s*,\s*(?:who|which|whose|where)\b", after):
                after = ""
            marker_start = m.start() if m.re is _EXCEPT_RE else m.start(1)
            general = {stem(w) for w in words(text[:marker_start] + " " + after) if w not in STOPWORDS} - items
            if items:
                out.append((general, items))
    return out


def except_features(evidence: Sequence[str], claim: str, claim_stems: set[str], negated: bool) -> tuple[float, float]:
    """(``except_flip``, ``except_scope``) of a claim against its aligned evidence sentences.
    ``except_scope``: the claim names an item the evidence excepts. ``except_flip``: it also
    restates the general statement for that item - every content word of its own in the
    statement before the marker, no negation, no exception of its own ("but", "except") -
    which the evidence says is not so for it. A claim that only names the item (the answer "3000
    metres steeplechase") restates nothing."""
    scope = flip = 0.0
    own_exception = bool(_EXCEPT_RE.search(claim) or re.search(r"\bbut\b", claim, re.IGNORECASE))
    for general, items in excepted(evidence):
        hit = items & claim_stems
        if hit:
            scope = 1.0
            rest = claim_stems - hit  # what it restates: not the item alone ("3000 metres steeplechase")
            if not negated and not own_exception and rest and rest <= general:
                flip = 1.0
    return flip, scope
