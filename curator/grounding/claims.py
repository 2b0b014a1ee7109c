"""What grounding judges: a (prompt, response) pair, the claims of its response, one claim's verdict.

The response is cut into claims by :func:`curator.text.segment_claims`; this module is the glue
between those segments and the rest of the package: the text a claim is embedded or verified as
(a short answer gets its question in front) and the claim's new content words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..text import STOPWORDS, stem, words

#: A claim of at most this many words is judged with its question in front (as the scorer does).
SHORT_CLAIM_WORDS = 6


@dataclass
class PairInput:
    """One pair to score. ``source`` = inline source text; ``source_id`` = a document in the index."""

    prompt: str
    response: str
    source: str | None = None
    source_id: str | None = None


@dataclass
class SentenceVerdict:
    """The judgement of one response sentence."""

    text: str
    start: int
    end: int
    verdict: str                 # "supported" | "unsupported" | "unverifiable" | "not_checked"
    support: float               # P(supported) in [0, 1]
    citation: str | None         # passage id ("p123" index passage, "s0" chunk of the own source)
    citation_span: tuple[int, int] | None   # char span of the cited sentence in that passage
    evidence: str | None         # the cited evidence sentence
    unsupported_tokens: list[str] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    verifier_prob: float | None = None   # P(unsupported) from the verifier, if it judged this sentence


def asked(pair: PairInput) -> str:
    """What the prompt asks, without the pair's own source when the prompt holds it (an Alpaca
    instruction with its ``input`` read as the source): the source is evidence, not something the
    user gave the answer. Otherwise every word the source states would count as given by the
    prompt, so a claim's coverage would be read on the few words the source lacks, a short claim
    would be embedded with the whole source, and any window would hold four of the prompt's words."""
    src = (pair.source or "").strip()
    if src and src in pair.prompt:
        return " ".join(pair.prompt.replace(src, " ").split()) or pair.prompt
    return pair.prompt


def claim_words(claim: str, prompt: str) -> list[str]:
    """The claim's content words that the prompt does not already give (stems, in order)."""
    prompt_stems = {stem(w) for w in words(prompt)}
    cw = [stem(w) for w in words(claim) if w not in STOPWORDS]
    novel = [w for w in cw if w not in prompt_stems]
    return novel if novel else cw


#: A claim that opens with a pronoun refers back to its question's subject ("It was designed by ...").
REFERS_BACK_RE = re.compile(r"^\W*(?:he|she|it|they|its|his|her|their|this|these)\b", re.IGNORECASE)


def _claim_query(prompt: str, claim: str) -> str:
    """What to embed for a claim: short answers ("Delhi") mean little without their question, nor
    does one that opens with a pronoun ("It was designed by Gaudi.") without the subject it names.
    In an open-ended task too: "It was not a gift from France." in a paragraph asked about the
    Statue of Liberty is about nothing without its prompt (tests/test_grounding_queries.py)."""
    if prompt.strip() and (len(words(claim)) <= SHORT_CLAIM_WORDS or REFERS_BACK_RE.match(claim)):
        return f"{prompt.strip()} {claim.strip()}"
    return claim


def make_claim(response: str, prompt: str | None = None) -> str:
    """The text the verifier judges: a short answer ("Delhi.") means little without its question,
    so one of at most ``SHORT_CLAIM_WORDS`` words gets the prompt in front; longer ones stand alone."""
    response = (response or "").strip()
    if prompt and prompt.strip() and len(words(response)) <= SHORT_CLAIM_WORDS:
        return f"{prompt.strip()} {response}"
    return response


#: A label answer has at most this many content words ("Unsupport", "Sports, Politics, Soccer").
LABEL_WORDS = 4


def is_label(claim: str, prompt: str, source: str | None) -> bool:
    """Is the claim only a label the instruction offers ("relevant", "Unsupport", "Yes, they are
    duplicates.")? Its content words (at most :data:`LABEL_WORDS`) all stand in the prompt outside
    its source text, and none of them in the source: the source is the thing labelled, it never
    states the label, so what it lacks says nothing. Only for a prompt that holds its source (an
    instruction with its input, as Alpaca rows are read): a chat reply echoing the last turn
    (source: a knowledge snippet apart from the prompt) is still judged. A choice between things
    the source names ("Which magazine was started first, A or B?" -> "A") is not a label: the
    source can decide it. With no source at all (index mode), the prompt's text after its first
    blank line is the thing labelled (:func:`curator.records.prompt_text` joins an instruction
    and its input so)."""
    src = (source or "").strip()
    if source is None:
        src = prompt.partition("\n\n")[2].strip()
    if not src or src not in prompt:
        return False
    cw = {stem(w) for w in words(claim) if w not in STOPWORDS}
    if not cw or len(cw) > LABEL_WORDS:
        return False
    asked = prompt.replace(src, " ")
    if not cw <= _stems(asked) or cw & _stems(src):
        return False
    # A pick among names the prompt offers, another of which the source names, is the source's to
    # decide ("… Australia, Sydney or Canberra?" -> "Sydney." against "Canberra has been the
    # capital …"): not a label. A comparison ("Who was born first, A or B?") is decided only by a
    # source naming both, and then the pick is in it.
    if not _COMPARE_RE.search(asked):
        named = _stems(src)
        if any(not o <= cw and o <= named for o in _options(asked)):
            return False
    return True


# Two names a question offers: "Sydney or Canberra", "Charles Dickens or Jane Austen", "Arthur's
# Magazine or First for Women", "the Danube or the Rhine" (a capitalised phrase, with "of", "for",
# "the", "de" … inside).
_NAME_PHRASE = r"[A-Z][\w'’.-]*(?:\s+(?:(?:of|for|the|de|la|von|van)\s+)*[A-Z][\w'’.-]*)*"
_OPTIONS_RE = re.compile(rf"({_NAME_PHRASE})\s*,?\s+(?:or|vs\.?|versus)\s+(?:the\s+)?({_NAME_PHRASE})")
# A comparison between the offered names: only evidence naming both decides it.
_COMPARE_RE = re.compile(r"\b(?:first|earlier|earliest|older|oldest|younger|youngest|later|latest|last|more|most|"
                         r"less|least|fewer|greater|larger|largest|bigger|biggest|smaller|smallest|longer|"
                         r"longest|shorter|shortest|taller|tallest|higher|highest|lower|lowest|\w+er than)\b",
                         re.IGNORECASE)


def _options(prompt: str) -> list[set[str]]:
    """The stems of each name a question offers as an alternative ("A or B", "A vs B")."""
    out = []
    for m in _OPTIONS_RE.finditer(prompt):
        for g in m.groups():
            st = {stem(w) for w in words(g)} - STOPWORDS
            if st:
                out.append(st)
    return out




# A question that offers alternatives, and a yes/no question (the answer picks one of what the
# prompt names); read by is_lead_in and by features (which names the answer must hold).
_CHOICE_RE = re.compile(r"\b(?:or|vs|versus|either|neither|nor|between|whether)\b|\b(?:which|who|whom|whose)\b.*\band\b"
                        r"|\b[A-Da-d]\)\s*\S.*\b[A-Da-d]\)\s*\S", re.IGNORECASE | re.DOTALL)
_POLAR_RE = re.compile(r"(?:^|[.!?:\n]\s*)(?:is|are|was|were|am|do|does|did|has|have|had|can|could|will|would|should|"
                       r"shall|may|might|must|isn't|aren't|wasn't|weren't|doesn't|don't|didn't|hasn't|haven't|"
                       r"can't|won't)\b[^.!?]*\?", re.IGNORECASE)
# A negation: a line holding one takes a side, whatever its words.
_LEAD_NEG_RE = re.compile(r"\b(?:not|no|never|none|neither|nor|cannot)\b|n[’']t\b", re.IGNORECASE)


#: Words a lead-in may add to its prompt's to announce what follows ("Some of its most common
#: applications include:", "Here are the steps:").
LEAD_WORDS = frozenset(stem(w) for w in (
    "here following follows below list steps step tips tip ways way examples example ideas idea points point "
    "key main common important popular some few several reasons reason options option include includes including "
    "summary overview applications application uses use types type kinds kind things thing answer timeline "
    "events event").split())


def is_lead_in(claim: str, prompt: str) -> bool:
    """Is the claim only a lead-in to what follows it ("Here are five tips for staying healthy:",
    "The timeline of important events leading up to World War II:")? It ends with a colon, and
    either it is a label of at most two words ("Ingredients:", "Verse 1:", "Explanation:"), or its
    content words are all the prompt's or :data:`LEAD_WORDS`, it holds no negation and the prompt
    offers no choice (a yes/no or either/or question: "Coffee is not healthy, for these main
    reasons:" answers "Is coffee healthy or not?"). It restates the task or names a part, and
    states nothing the lines after it do not, so it is not checked (they are). A line that adds
    words of its own ("Sydney is the capital:", "He was born in 1899:", "Paris has three
    airports:") is still a claim."""
    text = claim.rstrip()
    if not text.endswith(":"):
        return False
    if len(text.split()) <= 2:
        return True
    if _LEAD_NEG_RE.search(text) or _CHOICE_RE.search(prompt) or _POLAR_RE.search(prompt):
        return False
    return {stem(w) for w in words(text) if w not in STOPWORDS} <= (_stems(prompt) | LEAD_WORDS)


@lru_cache(maxsize=64)
def _stems(text: str) -> frozenset[str]:
    """The stems of a text's words (a pair's prompt and source, read once for all its claims)."""
    return frozenset(stem(w) for w in words(text))

