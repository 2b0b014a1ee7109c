"""The per-claim features of grounding: cheap, transferable signals of (un)support.

Each checked claim is aligned with its best evidence sentences (embedding similarity and word
overlap) and described by the features named in :data:`ALL_FEATURES`: lexical coverage of its
new content words, embedding similarity, fuzzy similarity, numbers and names the evidence lacks,
and relation-level rules (a fact with one slot swapped, a relation half-grounded, a statement the
evidence negates). The combiner (:mod:`curator.grounding.combiner`) turns them into a
probability.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..text import (
    STOPWORDS,
    Segment,
    expand_abbreviations,
    number_spans,
    numbers,
    read_number_words,
    stem,
    words,
)
from .claims import (
    _CHOICE_RE,
    _COMPARE_RE,
    _POLAR_RE,
    SHORT_CLAIM_WORDS,
    SentenceVerdict,
    _options,
    claim_words,
)
from .evidence import _EvidenceSentence
from .names import acronym_terms, name_mismatch, same_family
from .scope import except_features
from .tasks import _EXTRACTIVE_RE

#: Every feature the scorer computes per claim; a parameters file uses any subset of them (so a
#: verifier probability or a new feature is one more name here, then a refit).
ALL_FEATURES = (
    "cov_local", "cov_global", "emb_max", "emb_top2", "fuzz", "num_novel", "ent_novel",
    "neg_mismatch", "short_claim", "cov_best", "rel_gap", "rel_gap2", "num_local", "num_mismatch",
    "swap", "key_absent", "nov_pair", "own_key_absent", "neg_flip", "choice_key_absent", "name_mismatch",
    "except_flip",
)
#: Alias of ALL_FEATURES (the columns of calibrate.pair_features); the shipped parameters use a subset.
FEATURES = ALL_FEATURES
#: Features where a larger value means *more* support: their combiner coefficient must not be
#: positive (more evidence can never make a claim look less supported; see calibrate.fit_params).
SUPPORT_FEATURES = frozenset({"cov_local", "cov_global", "emb_max", "emb_top2", "fuzz", "cov_best"})
#: Features where a larger value means less support: coefficient must not be negative.
AGAINST_FEATURES = frozenset({"num_novel", "ent_novel", "rel_gap", "rel_gap2", "num_local", "num_mismatch",
                              "swap", "key_absent", "nov_pair", "own_key_absent", "neg_flip",
                              "choice_key_absent", "name_mismatch", "except_flip"})
NEGATIONS = frozenset("not no never none nobody nothing neither nor cannot can't won't don't doesn't "
                      "didn't isn't aren't wasn't weren't hasn't haven't hadn't without".split())
#: Negations that flip a statement ("not", "never", "no longer", "isn't", any "n't"), for the
#: ``neg_flip`` rule; "without" negates a phrase, not the statement, so it is left out.
_FLIP_EXTRA = frozenset({"longer", "anymore"})   # "no longer", "not anymore": part of the negation
_CLAUSE_RE = re.compile(r"[,;:()—–!?]|(?<!\d)\.|\.(?!\d)|\s-\s|\b(?:but|while|whereas|although|though|which|who|because|unlike)\b",
                        re.IGNORECASE)
# A prompt that offers alternatives ("Is the capital Lima or Quito?", "Which is older, A and B?")
# or asks a yes/no question ("Is Paris the capital of Peru?"): its names are the answer's
# candidates, not facts the user gave, so the answer must find them in the evidence.
_SNAKE_RE = re.compile(r"(?<=[^\W_])_+(?=[^\W_])")
_CAP_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’-]+")
_PRONOUN_START_RE = re.compile(r"^\W*(?:he|she|it|they|its|his|her|their|this|these)\b", re.IGNORECASE)
_THE_NOUN_RE = re.compile(r"^\W*(?:The|This|That|These|Those)\s+([a-z][\w-]+)")
_FIRST_CAP_RE = re.compile(r"^\W*([A-Z][\w'’-]+)")
# A sentence's capitalised first word is a name when another capitalised word or a verb of
# being/having follows ("Quito is", "Marie Curie won", "Osaka has"), not in an imperative
# ("Know your audience", "Drink water").
_FIRST_NAME_RE = re.compile(r"^\W*([A-Z][\w'’-]+)(?=\s+(?:[A-Z]|(?:is|was|are|were|has|had|have|will|would|can|could|"
                            r"did|does|became|becomes|remains|lies|won|flows)\b))")


def _names(text: str) -> set[str]:
    """Stems of the names in one sentence: capitalised words after the first, and the first word
    when :data:`_FIRST_NAME_RE` says it is a name; function words excluded."""
    out = {stem(w) for c in _capitalised(text) for w in words(c)}
    m = _FIRST_NAME_RE.match(text)
    if m:
        out |= {stem(w) for w in words(m.group(1))}
    return out - STOPWORDS


def _coverage(claim_stems: Sequence[str], evidence_stems: set[str]) -> float:
    return _coverages(claim_stems, [evidence_stems])[0]


def _coverages(claim_stems: Sequence[str], evidence_stems: Sequence[set[str]]) -> list[float]:
    """Per evidence stem set, the share of the claim's stems in it (1.0 for a claim without
    stems); each distinct stem is looked up once and counted with its multiplicity."""
    if not claim_stems:
        return [1.0] * len(evidence_stems)
    held, n = _Held(claim_stems), len(claim_stems)
    keys = held.keys
    if held.single:
        return [len(keys.intersection(e)) / n for e in evidence_stems]
    counts = held.counts
    return [sum(counts[w] for w in keys.intersection(e)) / n for e in evidence_stems]


class _Held:
    """A claim's stems with their multiplicity: :meth:`count` is how many of them a set of terms
    holds, from one set intersection in C (not a Python lookup per stem, per evidence set: that
    was the largest part of ``claim_features`` once every window is compared; issue 21)."""

    __slots__ = ("counts", "keys", "single")

    def __init__(self, stems: Sequence[str]) -> None:
        self.counts = Counter(stems)
        self.keys = set(self.counts)
        self.single = len(self.keys) == len(stems)

    def count(self, terms: set[str]) -> int:
        common = self.keys.intersection(terms)
        if self.single:
            return len(common)
        counts = self.counts
        return sum(counts[w] for w in common)


def _capitalised(text: str) -> set[str]:
    return {m.group(0).casefold() for m in _CAP_RE.finditer(text)}


@dataclass
class _Lex:
    """Lexical view of one evidence sentence (abbreviations expanded)."""

    stems: set[str]
    numbers: set[str]
    terms: set[str]         # stems + numbers: what a claim's key terms are looked up in
    caps: set[str]          # casefolded words written capitalised
    names: set[str]         # stems of the capitalised words (minus function words)
    words: set[str]         # casefolded words as written

    @classmethod
    def of(cls, text: str) -> _Lex:
        x = _lexical(text)
        ws = words(x)
        stems = {stem(w) for w in ws}
        nums = set(numbers(x))
        caps = {m.group(0).casefold() for m in re.finditer(r"\b[A-Z][\w'’-]+", x)}
        names = _names(x)
        return cls(stems, nums, stems | nums, caps, names, set(ws))


def _key_terms(claim: str, all_stems: set[str], ev: Sequence[_EvidenceSentence], elex: Sequence[_Lex]) -> set[str]:
    """The facts a claim joins: its numbers and names (stems of capitalised words).

    The claim's first word counts as a name only when the evidence writes it capitalised too
    ("Quito is ..."), so a sentence-initial "Returns" or "The" is not a name."""
    keys = set(numbers(claim)) | _names(claim)
    m = _FIRST_CAP_RE.match(claim)
    if m and m.group(1).casefold() not in STOPWORDS and any(m.group(1).casefold() in x.caps for x in elex):
        keys.add(stem(m.group(1)))
    return keys


def _with_antecedents(ev: Sequence[_EvidenceSentence], elex: Sequence[_Lex]) -> list[set[str]]:
    """Each evidence sentence's terms plus the names it refers back to: a cheap stand-in for
    coreference. A sentence opening with a pronoun ("She won ...") inherits the names of the
    sentence before it; one opening with "The <noun>" ("The tower is 330 m") inherits the names of
    the latest earlier sentence of its passage that names that noun ("The Eiffel Tower ...")."""
    out = []
    for j, x in enumerate(elex):
        terms = x.terms
        if j and ev[j - 1].passage == ev[j].passage:
            if _PRONOUN_START_RE.match(ev[j].text):
                terms = terms | elex[j - 1].names
            else:
                m = _THE_NOUN_RE.match(ev[j].text)
                if m:
                    head = stem(m.group(1))
                    for k in range(j - 1, -1, -1):
                        if ev[k].passage != ev[j].passage:
                            break
                        if head in elex[k].names:
                            terms = terms | elex[k].names
                            break
        out.append(terms)
    return out


@lru_cache(maxsize=1 << 16)
def _lexical(text: str) -> str:
    """The text lexical features compare: composed Unicode (NFC: "L'Ore\u0301al" is "L'Oréal"), abbreviations expanded, English number words in
    digits ("three million" compares with "3,000,000"), and identifiers cut at their
    underscores, so a tool result's JSON key ``"temp_c"`` or ``"wind_speed"`` holds the words
    "temp", "c", "wind", "speed" that a prose answer uses."""
    x = read_number_words(expand_abbreviations(unicodedata.normalize("NFC", text)))
    return _SNAKE_RE.sub(" ", x) if "_" in x else x


def _given_terms(prompt: str) -> set[str]:
    """Names and numbers the prompt *gives* rather than asks about: all the prompt's words when it
    is an open question or an instruction ("What's the weather in Paris?": an answer repeating
    Paris need not find it in a tool result such as ``{"temp_c": 18}``); none when it
    offers alternatives or asks yes/no (``_CHOICE_RE``, ``_POLAR_RE``): there the names are the
    candidates the answer picks from, and the pick must be in the evidence."""
    if _CHOICE_RE.search(prompt) or _POLAR_RE.search(prompt):
        return set()
    return {stem(w) for w in words(prompt)} | set(numbers(prompt))


def _is_flip_neg(w: str) -> bool:
    return (w in NEGATIONS and w != "without") or w.endswith(("n't", "n’t"))


def _negated(text: str, anchor: set[str]) -> bool:
    """Whether a clause of ``text`` that holds at least half the ``anchor`` stems is negated ("The
    tower, which is not red, is 330 m tall." is not negated about its height; nor is "The NFL has
    no written rule against female players." about the NFL's game time)."""
    need = max(1.0, 0.5 * len(anchor))
    for clause in _CLAUSE_RE.split(text):
        ws = words(clause)
        if any(_is_flip_neg(w) for w in ws) and sum(stem(w) in anchor for w in set(ws)) >= need:
            return True
    return False


_TOKEN_RE = re.compile(r"[\w'’-]+")
# Verbs that only link a negation to what it negates ("did not become a folk hero", "does not
# seem necessary"): the word after them is the negation's head.
_LIGHT_HEADS = frozenset({"become", "became", "becomes", "becoming", "remain", "remained", "remains", "seem",
                          "seemed", "seems", "appear", "appeared", "appears", "get", "got", "gets"})


def _negates(text: str, target: set[str], scope: int = 3, head_only: bool = False) -> bool:
    """Whether a negation of ``text`` bears on ``target`` (lemma stems of a claim's content words):
    one of the next ``scope`` content words after it, in its clause, is in ``target``. "They are
    called house cats when kept as indoor pets, when there is no need to distinguish them" does
    not negate the house cats ("no" bears on "need", "distinguish"); "typically not professional
    actors" negates "professional actors" in any clause. A negation written capitalised inside
    the text is part of a name or title ("Not Ready for Prime Time Players", "Never Shout Never"),
    not a negation.

    ``head_only``: the negation's head must be the claim's, the first content word after it that
    is not an "-ly" adverb or a linking verb ("not professional actors", "not originally built",
    "did not become a folk hero"). A negated
    predicate that only mentions the claim's words further on is about something else: "Python
    3.0 was released in 2008 and is not backward compatible with Python 2." does not negate
    "Python 3.0 was released in 2008."; "Tokyo ... was not chosen to host them again" does not
    negate "Tokyo hosted the Summer Olympics in 1964."; "The capital is not Paris" still negates
    "The capital is Paris"."""
    for clause in _CLAUSE_RE.split(text):
        toks = [m.group(0) for m in _TOKEN_RE.finditer(clause)]
        for i, t in enumerate(toks):
            low = t.casefold()
            if not _is_flip_neg(low) or (t[:1].isupper() and text.lstrip()[:len(t)] != t):
                continue
            after = [w.casefold() for w in toks[i + 1:] if w.casefold() not in STOPWORDS
                     and not _is_flip_neg(w.casefold()) and w.casefold() not in _FLIP_EXTRA][:scope]
            if head_only:
                head = next((w for w in after if not w.endswith("ly") and _lemma(w) not in _LIGHT_HEADS), None)
                if head is not None and stem(_lemma(head)) in target:
                    return True
            elif any(stem(_lemma(w)) in target for w in after):
                return True
    return False


def _lenient_terms(ev: Sequence[_EvidenceSentence], elex: Sequence[_Lex], ctx_terms: Sequence[set[str]]) -> list[set[str]]:
    """Each evidence sentence's terms (``ctx_terms``) plus, when it opens with a pronoun, the stems
    of the sentence before it in its passage: what ``_neg_flip`` reads a sentence with."""
    return [ctx_terms[j] | elex[j - 1].stems
            if j and ev[j - 1].passage == ev[j].passage and _PRONOUN_START_RE.match(ev[j].text) else ctx_terms[j]
            for j in range(len(elex))]


def _neg_flip(claim: str, own_keys: set[str], ev: Sequence[_EvidenceSentence], elex: Sequence[_Lex],
              ctx_terms: Sequence[set[str]], lenient_terms: Sequence[set[str]]) -> int:
    """Index of an evidence sentence that states the claim with the opposite negation, else -1.

    The sentence must state the claim: 80 % of its content words (negations aside; at least half in
    the sentence itself, the rest in the sentence before when it opens with a pronoun), all its
    numbers and names. And no evidence sentence may state it with the claim's own polarity (a sentence
    opening with a pronoun is read with the one before it: "The museum opened in 1990. It is not
    open on Mondays." states "The museum is not open on Mondays.")."""
    ws = words(claim)
    core = [stem(w) for w in ws if w not in STOPWORDS and not _is_flip_neg(w) and w not in _FLIP_EXTRA]
    if len(set(core)) < 2:
        return -1
    cnums = set(numbers(claim))
    # Its predicate (the content words that are not names or numbers) must be there whole: "had no
    # relation to" is not the negation of "was against", nor "is dissociated from" of "has not hosted".
    predicate = set(core) - own_keys - _names(claim) - cnums
    # The core's distinct words with their counts: the same sums as over the list, fewer lookups.
    counts = list(Counter(core).items())
    held = _Held(core)
    flipped = -1
    for j, x in enumerate(elex):
        strict = ctx_terms[j]  # holds x.stems (see _with_antecedents)
        lenient = lenient_terms[j]
        if held.count(lenient) < 0.8 * len(core) or not (
                predicate <= lenient or {_lemma(w) for w in predicate} <= {_lemma(w) for w in lenient}):
            continue
        anchor = {w for w, _ in counts if w in lenient}
        same = _negated(claim, anchor) == _negated(ev[j].text, anchor)
        if same:
            return -1
        # Read with its antecedent, but at least half of the claim in the sentence itself. The
        # negation must bear on the claim's words, and the other side must not negate them
        # anywhere (clauses cut differently: "cast that are typically not professional actors" vs
        # "cast who are typically not professional actors").
        if (flipped < 0 and held.count(strict) >= 0.5 * len(core) and cnums <= x.numbers
                and own_keys <= ctx_terms[j]):
            neg_claim = _negated(claim, anchor)
            target = {stem(_lemma(w)) for w in ws if w not in STOPWORDS and not _is_flip_neg(w)}
            yes, no = (claim, ev[j].text) if neg_claim else (ev[j].text, claim)
            # the negated side's negation must have the claim's word for its head; the other side
            # must not negate the claim's words anywhere
            if _negates(yes, target, head_only=True) and not _negates(no, target):
                flipped = j
    return flipped


_UNIT_RE = re.compile(r"[$€£¥%]")


def _number_slots(text: str) -> list[tuple[str, set[str]]]:
    """Each number of ``text`` (normalised as :func:`~curator.text.numbers`) with its *slot*: the
    stems of the content words right around it (two before, two after) and a currency or percent
    sign next to it. "24 km" and "42 km" share the slot {"km"}; "the 14th Dalai Lama" and "in
    1959" share none."""
    return [(n, before | after) for n, before, after in _sided_number_slots(text)]


def _sided_number_slots(text: str) -> list[tuple[str, set[str], set[str]]]:
    """:func:`_number_slots` with the slot's two sides apart: (number, words before, words after)."""
    out = []
    for n, a, b in number_spans(text):
        before = [w for w in words(text[max(0, a - 60):a]) if w not in STOPWORDS and not w[0].isdigit()][-2:]
        after = [w for w in words(text[b:b + 60]) if w not in STOPWORDS and not w[0].isdigit()][:2]
        out.append((n, {stem(w) for w in before} | set(_UNIT_RE.findall(text[max(0, a - 2):a])),
                    {stem(w) for w in after} | set(_UNIT_RE.findall(text[b:b + 2]))))
    return out


def _num_mismatch(claim: str, ev_numbers: set[str], given: set[str], aligned: Sequence[str]) -> float:
    """1.0 when a number of the claim is nowhere in the evidence and an aligned evidence sentence
    has another number in the same slot ("24 km" vs "42 km", "$1.30 per share" vs "$1.87 per
    share"): the claim states the sentence's quantity with another value."""
    mine = [(n, slot) for n, slot in _number_slots(claim) if n not in given]
    missing = [(n, slot) for n, slot in mine if n not in ev_numbers and slot]
    if not missing:
        return 0.0
    own = {n for n, _ in mine}
    for text in aligned:
        for m, slot in _number_slots(text):
            if m not in own and m not in given and any(slot & s for _, s in missing):
                return 1.0
    return 0.0


#: Irregular past forms, for matching a negated claim's verb with the evidence's ("did not win"
#: vs "won"); only the negation-flip rule uses them.
_IRREGULAR = dict(pair.split(":") for pair in (
    "won:win wrote:write made:make took:take gave:give began:begin became:become went:go came:come found:find "
    "led:lead held:hold built:build sold:sell bought:buy told:tell said:say left:leave grew:grow ran:run met:meet "
    "kept:keep brought:bring thought:think saw:see knew:know fell:fall rose:rise drove:drive chose:choose "
    "spoke:speak taught:teach lost:lose paid:pay sent:send spent:spend stood:stand fought:fight flew:fly "
    "drew:draw broke:break wore:wear sang:sing swam:swim hid:hide shot:shoot threw:throw ate:eat").split())


def _lemma(w: str) -> str:
    return _IRREGULAR.get(w, w)


def _half_absent(keys: set[str], present: set[str]) -> float:
    """Share of ``keys`` absent from ``present`` when at least one is present and one absent."""
    if len(keys) < 2:
        return 0.0
    n_absent = sum(k not in present for k in keys)
    return n_absent / len(keys) if 0 < n_absent < len(keys) else 0.0


def _slots(text: str, term: str) -> list[tuple[set[str], set[str]]]:
    """The slots of ``term`` (a stem or a normalised number) in ``text``: per occurrence, the stems
    of the two content words before it and of the two after it, apart, and a currency or percent
    sign next to it (see :func:`_number_slots`)."""
    if term[:1].isdigit():
        return [(before, after) for n, before, after in _sided_number_slots(text) if n == term]
    out = []
    for m in _WORD_ITER_RE.finditer(text):
        if stem(m.group(0)) != term:
            continue
        a, b = m.start(), m.end()
        before = [w for w in words(text[max(0, a - 60):a]) if w not in STOPWORDS][-2:]
        after = [w for w in words(text[b:b + 60]) if w not in STOPWORDS][:2]
        out.append(({stem(w) for w in before}, {stem(w) for w in after}))
    return out


#: Experiment (issue 21): a swap's slots matched side by side. It lost more right flags than wrong
#: ones (FEVER-Symmetric: 3 wrong and 4 right flags fewer; HaluEval-QA 7 right ones), so it is off.
SIDED_SLOTS = False


def _same_slot(mine: Sequence[tuple[set[str], set[str]]], theirs: Sequence[tuple[set[str], set[str]]],
               sided: bool = True) -> bool:
    """Whether two terms stand in the same slot: a content word on the *same side* of both ("Quito
    is the capital" / "Lima is the capital"; "24 km" / "42 km"). "Ingushetia was established" and
    "established on June 4" share a word, on opposite sides: the subject and the date of the
    relation, not one slot with two values."""
    if not sided:
        return any((mb | ma) & (tb | ta) for mb, ma in mine for tb, ta in theirs)
    return any((mb & tb) or (ma & ta) for mb, ma in mine for tb, ta in theirs)


_WORD_ITER_RE = re.compile(r"\w+(?:[-'’.]\w+)*")


def _name_partners(claim: str, missing: set[str], present: set[str]) -> set[str]:
    """Missing name stems that sit in one capitalised name with a present one ("Penélope Cruz"
    against "Cruz has modelled ...", "Alexei Popyrin" against "Popyrin"): the name is there."""
    out = set()
    for run in re.finditer(r"[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)+", claim):
        stems = {stem(w) for w in words(run.group(0))} - STOPWORDS
        if stems & present:
            out |= stems & missing
    return out


STRICT_SWAP = True
#: A sentence whose subject refers back without naming it: a clause (the sentence, or what follows
#: a comma) opening with a personal pronoun, or with "the <noun>" before a verb ("It was
#: established ...", "After George's death, she became ...", "Distributed by Columbia, the film
#: was released ..."). Not a pronoun elsewhere ("The Nile flows through Cairo ... on its banks").
_REFERS_BACK_RE = re.compile(r"(?:^|[,;]\s)\W*(?:(?i:he|she|it|they)\b|[Tt]h(?:e|is)\s+[a-z][\w-]*\s+"
                             r"(?:is|was|are|were|has|had|have|became|becomes|will|would|can|could)\b)")
_SUBJECT_RE = re.compile(r"^\W*((?:[A-Z][\w'’.-]*\s*)+(?:(?:of|the|de|del|von|van|la|le)\s+(?:[A-Z][\w'’.-]*\s*)+)*)")


def _subject(claim: str) -> set[str]:
    """Stems of the name a claim opens with ("Mary of Teck 's son ..." -> mary, teck): its subject."""
    m = _SUBJECT_RE.match(claim)
    return ({stem(w) for w in words(m.group(1))} - STOPWORDS) if m else set()


def _swap(claim: str, keys: set[str], claim_numbers: set[str], claim_stems: Sequence[str], aligned_text: str,
          aligned: _Lex, aligned_terms: set[str], given: set[str]) -> float:
    """1.0 when the aligned evidence sentence states the claim's relation with one slot changed.

    A key term of the claim (a number or a name) is missing from the sentence the claim aligns
    with, that sentence holds another term of the same kind *in its slot* - with a content word
    next to it that is next to the missing term in the claim ("Quito is the capital of Peru." vs
    "Lima is the capital of Peru."; "24 km" vs "42 km"; "moved to Paris in 1867" vs "She moved to
    Paris in 1891") - and the rest of the claim is there: at least half its key terms, or at least
    60 % of its other content words. Terms the prompt gives do not count as replacements; a given
    name whose family name is there is not missing ("Penélope Cruz" vs "Cruz has modelled ...")."""
    missing = keys - aligned_terms
    missing -= _name_partners(claim, missing, aligned_terms)
    if not missing:
        return 0.0
    kept = len(keys) - len(missing)
    rest = [w for w in claim_stems if w not in keys]
    rest_cov = (sum(w in aligned.stems for w in rest) / len(rest)) if rest else 0.0
    if not (kept * 2 >= len(keys) and kept > 0) and rest_cov < 0.6:
        return 0.0
    if STRICT_SWAP and (len(missing) != 1 or len(words(claim)) > 20 or (rest and rest_cov < 0.6)):
        return 0.0
    for k in missing:
        if k in claim_numbers and k in _qualified_numbers(claim):
            continue  # "less than $1 million" is not a value that "$181,674" replaces
        if k not in claim_numbers and k in _subject(claim) and _REFERS_BACK_RE.search(aligned_text):
            continue  # "Lemmy had a gravelly voice" vs "He was known for his gravelly voice": "He" may be Lemmy
        mine = _slots(claim, k)
        candidates = (aligned.numbers if k in claim_numbers else aligned.names) - keys - given
        for c in candidates:
            if same_family(c, k) or any(same_family(c, w) for w in claim_stems):
                # one family of words ("Europe", "European"; "France", "French"), not a
                # replacement; nor a name the claim writes in another form ("Germany" for the
                # claim's "German and French delegates")
                continue
            if _same_slot(mine, _slots(aligned_text, c), sided=SIDED_SLOTS):
                return 1.0
    return 0.0


_QUALIFIED_RE = re.compile(r"(?:\b(?:less|more|fewer|greater|lower|higher)\s+than|\b(?:over|under|nearly|almost|about|"
                           r"around|approximately|roughly|at\s+least|at\s+most|up\s+to))\s*[$€£]?\s*$", re.IGNORECASE)


def _qualified_numbers(text: str) -> set[str]:
    """Numbers stated as a bound or an estimate ("less than 1 million", "about 40", "over $5")."""
    out = set()
    for n, a, _ in number_spans(text):
        if _QUALIFIED_RE.search(text[max(0, a - 24):a]):
            out.add(n)
    return out


_ALIAS_RE = re.compile(r"\(\s*([A-Z][A-Z0-9&.-]{1,9})\s*\)")


def _aliases(text: str, known: set[str]) -> set[str]:
    """Stems of the abbreviations a text introduces in parentheses after a name it shares with the
    evidence or the prompt: "Microsoft (MSFT)", "Microsoft's stock (MSFT)", "the World Health
    Organization (WHO)". The abbreviation is that name again, not a new fact: a tool's result
    (``{"stock_price": "216.54"}``) or a source that names Microsoft need not spell out MSFT."""
    out = set()
    for m in _ALIAS_RE.finditer(text):
        before = [t for t in text[max(0, m.start() - 48):m.start()].split()[-4:] if t[:1].isupper()]
        names = {stem(w) for t in before for w in words(t)} - STOPWORDS
        if names & known and _abbreviates(m.group(1), before):
            out.add(stem(m.group(1).casefold()))
    return out


def _abbreviates(alias: str, names: Sequence[str]) -> bool:
    """Whether ``alias``'s letters are, in order, letters of ``names`` starting with one's initial:
    WHO of World Health Organization, MSFT of Microsoft, IBM of International Business Machines;
    not UNICEF of World Health Organization."""
    letters = [c for c in alias.casefold() if c.isalpha()]
    for i in range(len(names)):
        rest = "".join(names[i:]).casefold()
        if letters and rest.startswith(letters[0]):
            it = iter(rest)
            if all(c in it for c in letters):
                return True
    return False


def _about(claim_stems: Sequence[str], keys: set[str], question: set[str],
           windows: Sequence[set[str]]) -> tuple[float, float]:
    """How much of a claim one evidence window states: the largest share of its content stems
    (``claim_stems``, plus the ``question``'s content stems not among them) in one window, and
    the largest share of its key terms (-1.0 when it has fewer than two: one name found is weak)."""
    want = list(claim_stems) + [w for w in question if w not in claim_stems]
    if not windows:
        return 0.0, (-1.0 if not keys else 0.0)
    cov = max(_coverages(want, windows)) if want else 1.0
    share = max(len(keys & w) for w in windows) / len(keys) if len(keys) >= 2 else -1.0
    return float(cov), float(share)


def claim_features(prompts: Sequence[str], segments: Sequence[Sequence[Segment]],
                   evidence: Sequence[Sequence[_EvidenceSentence]], vecs: np.ndarray) -> list[list[SentenceVerdict]]:
    """Per pair, per response segment: a :class:`SentenceVerdict` with its features and alignment.

    ``vecs`` holds the embeddings of, pair after pair, its checked claims' queries
    (:func:`~curator.grounding.claims._claim_query`) then its evidence sentences. The verdicts are
    not decided yet (``unverifiable``, support NaN); a not-checked segment gets ``not_checked``
    and no features."""
    from rapidfuzz import fuzz

    lex_cache: dict[str, _Lex] = {}
    out: list[list[SentenceVerdict]] = []
    pos = 0
    for prompt, ss, ev in zip(prompts, segments, evidence):
        claims = [s for s in ss if s.checked]
        cvec = vecs[pos:pos + len(claims)]
        pos += len(claims)
        evec = vecs[pos:pos + len(ev)]
        pos += len(ev)
        elex = [lex_cache.get(e.text) or lex_cache.setdefault(e.text, _Lex.of(e.text)) for e in ev]
        for j, add in enumerate(acronym_terms([e.text for e in ev], " ".join(c.check for c in claims))):
            if add - elex[j].stems:  # a copy: the cached views are never changed
                x = elex[j]
                elex[j] = _Lex(x.stems | add, x.numbers, x.terms | add, x.caps | add, x.names | add, x.words | add)
        ev_stems = [x.stems for x in elex]
        all_stems: set[str] = set().union(*ev_stems) if ev_stems else set()
        ev_numbers: set[str] = set().union(*(x.numbers for x in elex)) if elex else set()
        # Windows of two adjacent evidence sentences of the same passage.
        # (Built only for a pair with a checked claim: they are read per claim.)
        win_terms = [elex[j].terms | elex[j + 1].terms for j in range(len(ev) - 1)
                     if ev[j].passage == ev[j + 1].passage] if claims else []
        ctx_terms = _with_antecedents(ev, elex)
        # The about test's windows: each sentence with its antecedents, and any two adjacent
        # sentences of a passage joined (facts in neighbouring sentences count as stated together).
        windows = ctx_terms + [ctx_terms[j] | ctx_terms[j + 1] for j in range(len(ev) - 1)
                               if ev[j].passage == ev[j + 1].passage] if claims else []
        lenient_terms = _lenient_terms(ev, elex, ctx_terms) if claims else []
        prompt_x = _lexical(prompt)
        prompt_numbers = set(numbers(prompt_x))
        prompt_stems = {stem(w) for w in words(prompt_x)}
        prompt_ents = {stem(w) for c in _capitalised(prompt_x) for w in words(c)} - STOPWORDS
        # Names/numbers the prompt gives need not be in the evidence (they leave the claim's
        # relation, `swap`, `own_key_absent` and `nov_pair`) only when the evidence is a
        # structured record (a tool's result): it answers the call without naming its
        # subject, while prose that never names the question's subject ("I had a great day
        # in Paris" for "What is the capital of France?") is about something else.
        given = _given_terms(prompt_x) if ev and all(e.record for e in ev) else set()
        # Replacements in a swap: not the names the prompt gives, but those it offers count.
        prompt_given = _given_terms(prompt_x)
        prompt_cw = {stem(w) for w in words(prompt_x) if w not in STOPWORDS and len(w) > 2}
        # The question offers candidates (alternatives, or a yes/no question) and names some.
        offered = bool((prompt_ents or prompt_numbers) and (_CHOICE_RE.search(prompt_x) or _POLAR_RE.search(prompt_x)))
        options = _options(prompt_x)
        # The instruction says its answer is in the source ("from the text", "according to the
        # passage"): the source is about a short answer that names something of its own.
        points = bool(_EXTRACTIVE_RE.search(prompt_x.split("\n\n", 1)[0]))
        # A comparison ("Who was born first, A or B?") is decided only by evidence naming both.
        compared = bool(_COMPARE_RE.search(prompt_x))
        sims_all = cvec @ evec.T if len(ev) else np.zeros((len(claims), 0))
        # Pair-level lexical novelty: the share of the response's content words (checked
        # claims only) that the evidence never uses, as written.
        ev_words: set[str] = set().union(*(x.words for x in elex)) if elex else set()
        # Abbreviations the response introduces after a known name ("Microsoft (MSFT)") are that name.
        known = all_stems | prompt_stems
        aliases = set().union(*(_aliases(_lexical(c.check), known) for c in claims)) if claims else set()
        resp_cw = [w for c in claims for w in words(_lexical(c.check))
                   if w not in STOPWORDS and stem(w) not in given and stem(w) not in aliases]
        if given:  # a record: its keys are identifiers ("population_millions"), compared by stem
            ev_words |= all_stems
            resp_cw = [stem(w) for w in resp_cw]
        nov_pair = (sum(w not in ev_words for w in resp_cw) / len(resp_cw)) if resp_cw else 0.0
        verdicts: list[SentenceVerdict] = []
        ci = 0
        for seg in ss:
            if not seg.checked:
                verdicts.append(SentenceVerdict(
                    text=seg.text, start=seg.start, end=seg.end, verdict="not_checked",
                    support=float("nan"), citation=None, citation_span=None, evidence=None))
                continue
            claim = _lexical(seg.check)
            cw = claim_words(claim, prompt_x)
            claim_nums = [n for n in numbers(claim) if n not in prompt_numbers]
            short = len(words(claim)) <= SHORT_CLAIM_WORDS
            claim_stems = [stem(w) for w in words(claim) if w not in STOPWORDS]
            keys = _key_terms(claim, all_stems, ev, elex) - aliases
            # The relation the claim states, less what the prompt gave (see `given`).
            own_keys = set(keys) - given
            if short:  # "Paris." answers "capital of France?": the relation includes the question's names
                keys |= prompt_ents | prompt_numbers
            if len(ev):
                sims = sims_all[ci]
                lex = np.array(_coverages(cw, ev_stems))
                align = 0.5 * sims + 0.5 * lex
                order = np.argsort(-align, kind="stable")
                top = order[:2]
                local = set().union(*(ev_stems[j] for j in top))
                best = int(order[0])
                emb_sorted = np.sort(sims)[::-1]
                emb_max = float(emb_sorted[0])
                emb_top2 = float(emb_sorted[:2].mean())
                fz = fuzz.token_set_ratio(claim, ev[best].text) / 100.0
                local_text = " ".join(ev[j].text for j in top)
                cov_best = float(lex[best])
                local_nums: set[str] = set().union(*(elex[j].numbers for j in top))
                # A swap needs a relation no evidence sentence states whole; checked on the
                # claim's best two aligned sentences, so an unrelated look-alike sentence
                # elsewhere in a big index cannot turn a stated fact into a "swap".
                # With the claim's own key terms only: a short answer's question names are
                # often stated in another sentence of a multi-hop source (with them, the
                # rule fired on 59 % of HaluEval-QA pairs, mostly faithful ones).
                whole = any(own_keys <= t for t in ctx_terms)
                # The rest of the claim: all its content words (those it shares with the question
                # too: "The bridge is in Berlin." restates "Where is the bridge?").
                swap = 0.0 if whole else max(_swap(claim, own_keys, set(numbers(claim)), claim_stems,
                                                   _lexical(ev[int(j)].text),
                                                   elex[int(j)], ctx_terms[int(j)], prompt_given)
                                             for j in top)
                flip = _neg_flip(claim, own_keys, ev, elex, ctx_terms, lenient_terms)
                if flip >= 0:  # cite the sentence the claim contradicts
                    best = flip
                if len(keys) >= 2:
                    rel1 = max(len(keys & t) for t in ctx_terms) / len(keys)
                    rel2 = max([len(keys & t) for t in win_terms] or [0]) / len(keys)
                    rel_gap, rel_gap2 = 1.0 - rel1, 1.0 - max(rel1, rel2)
                else:
                    rel_gap = rel_gap2 = 0.0
            else:
                local, best, emb_max, emb_top2, fz, local_text = set(), -1, 0.0, 0.0, 0.0, ""
                cov_best, local_nums, top = 0.0, set(), np.zeros(0, dtype=np.int64)
                rel_gap = rel_gap2 = 1.0 if len(keys) >= 2 else 0.0
                swap = 0.0
                flip = -1
            ci += 1
            own_absent = _half_absent(own_keys, all_stems | ev_numbers)
            # All its content words (also those it shares with the question: "It was designed by
            # Gaudi." restates "Who designed the tower?"), and the question's when it is a short
            # answer or opens with a pronoun that refers back to the question's subject.
            # Against a record, less the names and numbers the prompt gives: a tool's result
            # answers the call without naming its subject ("Paris" in "It is 18 °C in Paris." vs
            # {"temp_c": 18}).
            given_keys = given & (prompt_ents | prompt_numbers)
            about_cov, about_keys = _about(
                [w for w in claim_stems if w not in given_keys], keys - given_keys,
                set() if given else prompt_cw if short or _PRONOUN_START_RE.match(claim) else set(), windows)
            cov_local = _coverage(cw, local)
            cov_global = _coverage(cw, all_stems)
            num_novel = float(any(n not in ev_numbers for n in claim_nums))
            num_local = (sum(n not in local_nums for n in claim_nums) / len(claim_nums)) if claim_nums else 0.0
            # "24 km" where the aligned sentence says "42 km": a number the evidence lacks,
            # in place of one the aligned sentence has.
            # The prompt's numbers are not replacements, unless the evidence states them too (a
            # chat's prompt carries the tool result the answer misreads).
            aligned_texts = [_lexical(ev[int(j)].text) for j in top] if len(ev) else []
            num_mismatch = (_num_mismatch(claim, ev_numbers, prompt_numbers - ev_numbers, aligned_texts)
                            if len(ev) and num_novel else 0.0)
            # The same for a name: "discovered by Louis Pasteur" where the aligned sentence says
            # "discovered by Alexander Fleming" (names.name_mismatch).
            name_mm = name_mismatch(claim, all_stems, aligned_texts, prompt_ents - all_stems) if len(ev) else 0.0
            caps = [stem(w) for c in _capitalised(claim) for w in words(c)]
            caps = [c for c in caps if c not in prompt_stems and c not in STOPWORDS and c not in aliases]
            ent_novel = (sum(c not in all_stems for c in caps) / len(caps)) if caps else 0.0
            claim_neg = bool(NEGATIONS & set(words(claim)))
            # The aligned sentences except an item the claim names ("open every day except
            # Monday" for "… on Mondays"): the claim restating the general fact for it, all its
            # own words there and no negation, states the opposite of the evidence (scope.py).
            except_flip, except_scope = except_features(aligned_texts, claim, set(claim_stems), claim_neg)
            ev_neg = bool(NEGATIONS & set(words(local_text)))
            feats = {
                "cov_local": cov_local, "cov_global": cov_global, "emb_max": emb_max,
                "emb_top2": emb_top2, "fuzz": fz, "num_novel": num_novel, "ent_novel": ent_novel,
                "neg_mismatch": float(claim_neg != ev_neg), "short_claim": float(short),
                "cov_best": cov_best, "rel_gap": rel_gap, "rel_gap2": rel_gap2,
                "num_local": num_local, "num_mismatch": num_mismatch, "name_mismatch": name_mm, "swap": swap,
                "key_absent": (sum(k not in all_stems and k not in ev_numbers for k in keys) / len(keys)) if keys else 0.0,
                # A name or number of the claim's own (not the prompt's) that no evidence holds: what
                # a tool's record can lack (its other words are the answer's phrasing). Not a
                # combiner feature: combiner.lacks_content reads it for record evidence.
                "own_key_missing": float(any(k not in all_stems and k not in ev_numbers for k in own_keys)),
                "nov_pair": nov_pair,
                # A relation half-grounded: of the claim's own names/numbers (two or more),
                # some are in the evidence and some nowhere ("The capital of France is
                # Paris." vs "I had a great day in Paris"). Names the prompt gives (not
                # offers as alternatives) need not be in the evidence: "It is 18 °C in
                # Paris." answering "What's the weather in Paris?" from {"temp_c": 18}.
                "own_key_absent": own_absent,
                # The same where the question offers the candidates (a choice or a yes/no question
                # naming them): the answer's pick is absent while the rest of its relation is
                # there ("Is it 18 °C in Paris or in Lyon?" -> "It is 18 °C in Lyon." vs
                # {"city": "Paris", ...}). Not for an open question: a ticker ("MSFT") or a
                # name the tool's call carried is not in its result.
                "choice_key_absent": own_absent if offered else 0.0,
                # The claim stated by an evidence sentence with the opposite negation.
                # (not about an item the evidence excepts: "not available in Alaska" agrees with
                # "available in every state except Alaska")
                "neg_flip": float(flip >= 0 and not except_scope),
                "except_flip": except_flip,
                # ... else a claim about the excepted item is worded apart from the evidence
                # ("closed on Mondays"): not a combiner feature, combiner.judge_pair reads it.
                "except_scope": except_scope,
                # The "about" test's inputs (see combiner.is_about): the largest share of the
                # claim's content words (a short answer's: with its question's) that one
                # evidence window (a sentence, or two adjacent ones) holds, and of its key terms
                # (-1: it has none).
                "about_cov": about_cov, "about_keys": about_keys,
                # 1.0 when all the evidence is structured records (a tool's JSON result): the
                # about test reads them by their words only (a record embeds unlike prose).
                "ev_record": float(bool(ev) and all(e.record for e in ev)),
                # ... all of it JSON (a tool's result as returned; not "Speaker: line" transcripts).
                "ev_json": float(bool(ev) and all(e.json for e in ev)),
                # A pick among names the prompt offers ("Charles Dickens or Jane Austen?"), the
                # aligned evidence naming one the claim does not: the evidence decides the choice,
                # so it is about the claim (combiner.is_about), however little of it it states.
                "choice_named": float(len(ev) > 0 and short and any(
                    not o <= set(claim_stems) and o <= local for o in options)
                    and not (compared and not all(o <= local for o in options))),
                # A short answer to an instruction that points at its source ("Extract the name
                # of the CEO from the text." -> "The CEO is Bill Gates."), naming only names of its
                # own (not the prompt's) that the source never writes: the source was to hold the
                # answer, so it is about it (combiner.judge_pair; not in index mode, where the
                # passages are not the one the prompt points at). Not for a number (a count is
                # read, not copied: "Two." for "how many founders") nor where the source writes
                # one of its names ("Albuquerque, New Mexico." adds a true state).
                "points_at_source": float(points and short and bool(own_names := own_keys - set(numbers(claim))
                                                                    - prompt_stems)
                                          and not own_names & all_stems),
                # Prompt content words in the aligned evidence (-1: the prompt has none);
                # not a combiner feature: index mode's off-topic test (retrieval_min_coverage).
                "prompt_overlap": float(len(prompt_cw & local)) if prompt_cw else -1.0,
            }
            missing = [w for w in dict.fromkeys(cw) if w not in local]
            e = ev[best] if best >= 0 else None
            verdicts.append(SentenceVerdict(
                text=seg.text, start=seg.start, end=seg.end, verdict="unverifiable", support=float("nan"),
                citation=e.passage if e else None, citation_span=(e.start, e.end) if e else None,
                evidence=e.text if e else None, unsupported_tokens=missing, features=feats))
        out.append(verdicts)
    return out
