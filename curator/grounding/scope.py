"""Exceptions in the evidence: "open every day except Monday" states the general fact and, for
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


def excepted(texts: Sequence[str]) -> list[tuple[set[str], set[str]]]:
    """Per exception in ``texts``: (stems of the general statement before its marker, stems of
    the first content words after it, up to the clause's end): "The museum is open every day
    except Monday." -> ({museum, open, every, day …}, {monday})."""
    out = []
    for text in texts:
        for m in _EXCEPT_RE.finditer(text):
            head = re.split(r",|\band\b|\bwhich\b|\bwho\b|\bwhen\b|\bwhere\b", m.group(1))[0]
            items = {stem(w) for w in words(head) if w not in STOPWORDS}
            general = {stem(w) for w in words(text[:m.start()]) if w not in STOPWORDS}
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
