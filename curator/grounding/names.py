"""Names the grounding checks read as one or tell apart (below :mod:`curator.grounding.features`).

* An acronym and its expansion are the same words (:func:`acronym_terms`): "FDA" / "Food and
  Drug Administration", "CEO" / "chief executive officer".
* A name of the claim that the evidence never writes, where an aligned evidence sentence has
  another name in the same slot, is that sentence's fact with the name changed
  (:func:`name_mismatch`): "discovered by Louis Pasteur" vs "discovered by Alexander Fleming".
* A country and its people are one family of words (:func:`same_family`): "France" / "French",
  "China" / "Chinese".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..text import STOPWORDS, stem, words

_ACRONYM_RE = re.compile(r"\b[A-Z]{3,6}\b")
# Function words an acronym's expansion may hold without a letter for them ("Food and Drug
# Administration" = FDA, "Department of Defense" = DoD's D-D, "the" anywhere).
_ACRONYM_SKIP = frozenset("of and the for in on to a an &".split())
_WORD_RE = re.compile(r"[A-Za-z][\w'’-]*|&")


def spelled(acronym: str, text: str) -> list[str] | None:
    """The words of a run in ``text`` whose initials spell ``acronym`` ("chief executive officer"
    for CEO; function words may sit inside unspelled), or None. Only acronyms of three letters or
    more (two capitalised words spell too many: "SS Heinävesi" is not "Steven Spielberg"; the
    common two-letter ones are :func:`curator.text.expand_abbreviations`'), spelled by capitalised
    words or by lowercase words of four letters or more ("chief executive officer", not "can each
    offer")."""
    letters = acronym.lower()
    if len(letters) < 3:
        return None
    toks = _WORD_RE.findall(text)
    for i, first in enumerate(toks):
        if first[0].lower() != letters[0] or first.lower() in _ACRONYM_SKIP:
            continue
        k, run = 0, []
        for w in toks[i:]:
            if k < len(letters) and w[0].lower() == letters[k] and (w.lower() not in _ACRONYM_SKIP or k):
                run.append(w)
                k += 1
                if k == len(letters):
                    break
            elif w.lower() in _ACRONYM_SKIP and run:
                continue
            else:
                break
        if k == len(letters) and (all(w[0].isupper() for w in run) or all(len(w) >= 4 for w in run)):
            return run
    return None


def acronym_terms(evidence: Sequence[str], claims: str) -> list[set[str]]:
    """Per evidence sentence, the stems it states through an acronym or an expansion the claims
    write the other way: "The Food and Drug Administration approved …" against "approved by the
    FDA" gives that sentence food, drug, administration; "Dana Whitfield is Acme's CEO." against
    "its chief executive officer, Dana Whitfield" gives it ceo."""
    out: list[set[str]] = [set() for _ in evidence]
    if not claims:
        return out
    in_claims = set(_ACRONYM_RE.findall(claims))
    for j, text in enumerate(evidence):
        for a in in_claims:
            if not re.search(rf"\b{a}\b", text, re.IGNORECASE) and spelled(a, text):
                out[j].add(stem(a.lower()))
        for a in set(_ACRONYM_RE.findall(text)):
            run = spelled(a, claims)
            if run:
                out[j] |= {stem(w.lower()) for w in run if w.lower() not in _ACRONYM_SKIP}
    return out


# A name phrase: capitalised words, with "of", "the", "de" ... inside, not opening a sentence.
_NAME_RUN_RE = re.compile(r"(?<![.!?:]\s)(?<![.!?:])(?<!^)\b[A-Z][\w'’-]+(?:\s+(?:(?:of|the|de|del|von|van|la|le)\s+)?"
                          r"[A-Z][\w'’-]+)*")
#: Class nouns two different names may share ("the Pacific Ocean" / "the Atlantic Ocean"); a name
#: sharing any other word with the claim's is a variant of it ("President Obama", "Barack Obama").
_CLASS_NOUNS = frozenset(stem(w) for w in (
    "ocean sea river lake mountain mountains island islands bay gulf desert valley university college "
    "school street avenue road bridge park city county state province republic kingdom empire church "
    "cathedral museum hospital airport station stadium cup prize award war battle day north south east "
    "west new saint st").split())


def name_runs(text: str) -> list[tuple[set[str], set[str], set[str]]]:
    """Each name phrase of ``text`` (not its first word) with the stem of the content word right
    before it and of the one right after it (numbers aside), apart: "discovered by Louis Pasteur
    in 1928" -> ({loui, pasteur}, {discov}, set())."""
    out = []
    for m in _NAME_RUN_RE.finditer(text):
        if (any(w.isupper() or any(c.isdigit() for c in w) for w in m.group(0).split())
                or len(m.group(0)) < 3):
            continue  # an acronym, a model number or "Rs" has too many written forms (BJP, MLAs, SP160)
        st = {stem(w) for w in words(m.group(0))} - STOPWORDS
        if not st:
            continue
        before = [w for w in words(text[max(0, m.start() - 60):m.start()]) if w not in STOPWORDS and not w[0].isdigit()][-1:]
        after = [w for w in words(text[m.end():m.end() + 60]) if w not in STOPWORDS and not w[0].isdigit()][:1]
        out.append((st, {stem(w) for w in before}, {stem(w) for w in after}))
    return out


def name_mismatch(claim: str, ev_stems: set[str], aligned: Sequence[str], given: set[str]) -> float:
    """1.0 when a name of the claim is nowhere in the evidence and an aligned evidence sentence
    has another name in its slot - the same content word right before both or right after both
    ("discovered by Louis Pasteur in 1928" vs "discovered by Alexander Fleming in 1928", "on
    Friday, 9 May" vs "for Thursday, 9 May"; not "founded in Albuquerque, New Mexico" vs "founded
    by Bill Gates", whose nearest words differ): the claim states the sentence's fact with another name, as
    :func:`curator.grounding.features._num_mismatch` does for numbers. A name sharing a word other than a class noun with
    the claim's ("President Obama" for "Barack Obama") is a variant of it, not another name;
    the prompt's names are neither missing nor replacements."""
    claim_stems = {stem(w) for w in words(claim)}

    def written(w: str, where: set[str]) -> bool:
        """``w`` or a word of its family by spelling is in ``where`` ("Indian" / "India"). Not
        the irregular pairs of :func:`same_family` ("British" / "Britain"): a nationality is a
        claim of its own, and a passage naming the country elsewhere must not hide a wrong one
        (a demo row, "James Henry Miller's wife was British.")."""
        return w in where or any(same_family(w, e, irregular=False) for e in where)

    missing = [(st, b, a) for st, b, a in name_runs(claim)
               if any(not written(w, ev_stems) and w not in given for w in st)
               and not any(written(w, ev_stems) for w in st - _CLASS_NOUNS)]
    if not missing:
        return 0.0
    for text in aligned:
        for st, b, a in name_runs(text):
            if (not any(not written(w, claim_stems) and w not in given for w in st)
                    or any(written(w, claim_stems) for w in st - _CLASS_NOUNS)):
                continue
            if any((b & cb) or (a & ca) for _, cb, ca in missing):
                return 1.0
    return 0.0


# Countries whose adjective is not their name's prefix (the others share one: Japan / Japanese,
# China / Chinese, Italy / Italian, Brazil / Brazilian, Germany / German).
_DEMONYMS = {
    "france": "french", "netherlands": "dutch", "holland": "dutch", "spain": "spanish", "britain": "british",
    "switzerland": "swiss", "greece": "greek", "sweden": "swedish", "denmark": "danish", "finland": "finnish",
    "poland": "polish", "ireland": "irish", "wales": "welsh", "philippines": "filipino", "thailand": "thai",
    "peru": "peruvian", "iraq": "iraqi", "israel": "israeli", "pakistan": "pakistani", "bangladesh": "bangladeshi",
    "yemen": "yemeni", "kuwait": "kuwaiti", "qatar": "qatari", "oman": "omani", "cyprus": "cypriot",
    "madagascar": "malagasy", "monaco": "monegasque", "norway": "norwegian", "portugal": "portuguese",
    "scotland": "scottish", "england": "english", "iceland": "icelandic", "turkey": "turkish", "lebanon": "lebanese",
    "vietnam": "vietnamese", "sudan": "sudanese", "senegal": "senegalese", "nepal": "nepali", "belgium": "belgian",
}
_FAMILY = {stem(a): stem(b) for a, b in _DEMONYMS.items()} | {stem(b): stem(a) for a, b in _DEMONYMS.items()}


def same_family(a: str, b: str, irregular: bool = True) -> bool:
    """Whether two stems are one family of words: a country and its people ("France" / "French",
    "Italy" / "Italian", "China" / "Chinese"), a place and its adjective ("Europe" /
    "European"): one starts with the other, or with the other less its final vowels (four
    letters at least), or (``irregular``) they are a pair of :data:`_DEMONYMS`."""
    if a == b or (irregular and _FAMILY.get(a) == b):
        return True
    if len(a) < 4 or len(b) < 4:
        return False
    ra, rb = a.rstrip("aeiouy"), b.rstrip("aeiouy")
    return (b.startswith(a) or a.startswith(b) or (len(ra) >= 4 and b.startswith(ra))
            or (len(rb) >= 4 and a.startswith(rb)))
