"""GroundingScorer: is each response sentence supported by the source, and by which passage?

For every pair the scorer gathers *evidence*: the pair's own source text when the data has one
(``source``), the passages of its named document (``source_id``), or else the top-``k`` passages
retrieved from a :class:`~curator.index.PassageIndex`. Each response sentence (a *claim*) is then
aligned to its best evidence sentences and judged with cheap, transferable features:

* embedding similarity of the claim (with the question prepended when the claim is a short
  answer) to its best evidence sentences;
* lexical support: the share of the claim's new content words (words not already in the prompt)
  that the aligned evidence contains, locally (top-2 aligned sentences) and anywhere in the
  evidence; numbers and capitalised names missing from the evidence; negation mismatches;
* rapidfuzz similarity of the claim to its best evidence sentence.

A logistic model over these features (parameters in ``curator/data/grounding_params.json``, fitted
by ``benchmarks/grounding.py --fit``) gives each sentence a probability of being unsupported; a
pair's ``hallucination_prob`` is that of its worst sentence, ``grounding`` is 1 minus it, and
``hallucinated`` is ``hallucination_prob >= threshold``.

>>> scorer = GroundingScorer()                                                  # doctest: +SKIP
>>> res = scorer.score([PairInput("Capital of France?", "Lyon.", source="Paris is the capital of France.")])  # doctest: +SKIP
>>> res[0].hallucinated                                                         # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .embed import Embedder
from .errors import ConfigError, ModelError, check_param
from .text import (
    STOPWORDS,
    Segment,
    chunk_text,
    expand_abbreviations,
    numbers,
    segment_claims,
    sentence_spans,
    words,
)

if False:  # typing only; keeps faiss out of import time
    from .index import PassageIndex

#: Every feature the scorer computes per claim; a parameters file uses any subset of them (so a
#: verifier probability or a new feature is one more name here, then a refit).
ALL_FEATURES = (
    "cov_local", "cov_global", "emb_max", "emb_top2", "fuzz", "num_novel", "ent_novel",
    "neg_mismatch", "short_claim", "cov_best", "rel_gap", "rel_gap2", "num_local", "num_mismatch",
    "swap", "key_absent", "nov_pair", "own_key_absent", "neg_flip",
)
#: Alias of ALL_FEATURES (the columns of calibrate.pair_features); the shipped parameters use a subset.
FEATURES = ALL_FEATURES
#: Features where a larger value means *more* support: their combiner coefficient must not be
#: positive (more evidence can never make a claim look less supported; see calibrate.fit_params).
SUPPORT_FEATURES = frozenset({"cov_local", "cov_global", "emb_max", "emb_top2", "fuzz", "cov_best"})
#: Features where a larger value means less support: coefficient must not be negative.
AGAINST_FEATURES = frozenset({"num_novel", "ent_novel", "rel_gap", "rel_gap2", "num_local", "num_mismatch",
                              "swap", "key_absent", "nov_pair", "own_key_absent", "neg_flip"})
NEGATIONS = frozenset("not no never none nobody nothing neither nor cannot can't won't don't doesn't "
                      "didn't isn't aren't wasn't weren't hasn't haven't hadn't without".split())
#: Negations that flip a statement ("not", "never", "no longer", "isn't", any "n't"), for the
#: ``neg_flip`` rule; "without" negates a phrase, not the statement, so it is left out.
_FLIP_EXTRA = frozenset({"longer", "anymore"})   # "no longer", "not anymore": part of the negation
_CLAUSE_RE = re.compile(r"[,;:()—–]|\s-\s|\b(?:but|while|whereas|although|though|which|who|because|unlike)\b",
                        re.IGNORECASE)
# A prompt that offers alternatives ("Is the capital Lima or Quito?", "Which is older, A and B?")
# or asks a yes/no question ("Is Paris the capital of Peru?"): its names are the answer's
# candidates, not facts the user gave, so the answer must find them in the evidence.
_CHOICE_RE = re.compile(r"\b(?:or|vs|versus|either|neither|nor|between|whether)\b|\b(?:which|who|whom|whose)\b.*\band\b",
                        re.IGNORECASE | re.DOTALL)
_POLAR_RE = re.compile(r"(?:^|[.!?:\n]\s*)(?:is|are|was|were|am|do|does|did|has|have|had|can|could|will|would|should|"
                       r"shall|may|might|must|isn't|aren't|wasn't|weren't|doesn't|don't|didn't|hasn't|haven't|"
                       r"can't|won't)\b[^.!?]*\?", re.IGNORECASE)
SHORT_CLAIM_WORDS = 6
_SNAKE_RE = re.compile(r"(?<=[^\W_])_+(?=[^\W_])")
#: In index mode a claim whose best retrieved evidence sentence has a cosine similarity below this
#: is ``unverifiable``: the index has nothing about it (see benchmarks/grounding_floor.py).
RETRIEVAL_FLOOR = 0.35
#: In index mode a claim is also ``unverifiable`` when its aligned evidence shares none of the
#: prompt's content words and holds less than this share of the claim's own new words: the
#: least unrelated passage of an index that does not cover the data (see
#: benchmarks/grounding_ood.py).
RETRIEVAL_MIN_COVERAGE = 0.3
VERDICTS = ("supported", "hallucinated", "unverifiable")
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


@dataclass
class PairGrounding:
    """The judgement of one pair."""

    grounding: float             # 1 - hallucination_prob
    hallucination_prob: float
    hallucinated: bool
    evidence_mode: str           # "source" | "source_id" | "index" | "none"
    sentences: list[SentenceVerdict]
    worst_sentence: str | None
    confidence: str = "normal"   # "low" when the text looks non-English or evidence is missing
    verdict: str = "supported"   # "supported" | "hallucinated" | "unverifiable" (see VERDICTS)

    @property
    def n_unsupported(self) -> int:
        return sum(s.verdict == "unsupported" for s in self.sentences)

    @property
    def citations(self) -> list[str]:
        return [s.citation for s in self.sentences if s.citation]


# ---------------------------------------------------------------------------------------------
# word-level helpers
# ---------------------------------------------------------------------------------------------
@cache
def stem(word: str) -> str:
    """A deliberately crude suffix stripper: enough to match 'wrote'/'write'? no, but
    'countries'/'country', 'played'/'plays', 'running'/'runs' yes; cheap and language-light."""
    w = word.casefold().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    for suf, rep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            return w[: len(w) - len(suf)] + rep
    return w


def claim_words(claim: str, prompt: str) -> list[str]:
    """The claim's content words that the prompt does not already give (stems, in order)."""
    prompt_stems = {stem(w) for w in words(prompt)}
    cw = [stem(w) for w in words(claim) if w not in STOPWORDS]
    novel = [w for w in cw if w not in prompt_stems]
    return novel if novel else cw


def _coverage(claim_stems: Sequence[str], evidence_stems: set[str]) -> float:
    return _coverages(claim_stems, [evidence_stems])[0]


def _coverages(claim_stems: Sequence[str], evidence_stems: Sequence[set[str]]) -> list[float]:
    """Per evidence stem set, the share of the claim's stems in it (1.0 for a claim without
    stems); each distinct stem is looked up once and counted with its multiplicity."""
    if not claim_stems:
        return [1.0] * len(evidence_stems)
    counts, n = list(Counter(claim_stems).items()), len(claim_stems)
    return [sum(c for w, c in counts if w in e) / n for e in evidence_stems]


def _capitalised(text: str) -> set[str]:
    return {m.group(0).casefold() for m in _CAP_RE.finditer(text)}


def _non_ascii_letter_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(ord(c) > 0x24F for c in letters) / len(letters)


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------
@dataclass
class GroundingParams:
    """Logistic model over FEATURES: P(unsupported) = sigmoid(intercept + coef · (x - mean) / scale)."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)
    #: Contradiction rules: a claim whose feature ``f`` is >= 0.5 gets P(unsupported) of at least
    #: ``floors[f]`` (e.g. ``{"swap": 0.95}``: a fact stated with one slot changed is a
    #: contradiction however much of the wording the evidence shares). Empty = combiner only.
    floors: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> GroundingParams:
        """Load parameters from JSON (default: the ones shipped with curator)."""
        try:
            if path is None:
                text = resources.files("curator").joinpath("data/grounding_params.json").read_text("utf-8")
            else:
                text = Path(path).read_text("utf-8")
            raw = json.loads(text)
            params = cls(**{k: raw[k] for k in ("features", "mean", "scale", "coef", "intercept")},
                         threshold=float(raw.get("threshold", 0.5)), meta=raw.get("meta", {}),
                         floors={str(k): float(v) for k, v in (raw.get("floors") or {}).items()})
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"could not read grounding parameters from {path or 'package data'}: {exc}") from exc
        unknown = [f for f in [*params.features, *params.floors] if f not in ALL_FEATURES]
        if unknown or not (len(params.features) == len(params.mean) == len(params.scale) == len(params.coef)):
            raise ConfigError(f"grounding parameters {path or 'package data'} use features {unknown or params.features} "
                              f"that this curator does not compute ({', '.join(ALL_FEATURES)}); "
                              "refit them with `curator calibrate`.")
        return params

    def matrix(self, feats: Sequence[dict[str, float]]) -> np.ndarray:
        """The (n, len(features)) matrix of these parameters' features from per-claim dicts."""
        return np.array([[f[name] for name in self.features] for f in feats], dtype=np.float64).reshape(
            len(feats), len(self.features))

    def save(self, path: str | Path) -> None:
        from .io import write_json

        write_json(path, asdict(self))

    def prob_unsupported(self, x: np.ndarray) -> np.ndarray:
        """The combiner's P(unsupported) for rows of ``x`` (columns = ``features``; no floors)."""
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = self.intercept + z @ np.asarray(self.coef)
        return 1.0 / (1.0 + np.exp(-logit))

    def apply_floors(self, prob: np.ndarray, fired: dict[str, np.ndarray]) -> np.ndarray:
        """Raise ``prob`` to each rule's floor where the rule's feature (values in ``fired``) is >= 0.5."""
        out = np.array(prob, dtype=np.float64, copy=True)
        for f, floor in self.floors.items():
            hit = np.asarray(fired[f]) >= 0.5
            out[hit] = np.maximum(out[hit], floor)
        return out

    def predict(self, feats: Sequence[dict[str, float]]) -> np.ndarray:
        """P(unsupported) of claims given their feature dicts: the combiner, then the floors."""
        prob = self.prob_unsupported(self.matrix(feats))
        return self.apply_floors(prob, {f: np.array([d[f] for d in feats]) for f in self.floors})


# ---------------------------------------------------------------------------------------------
# evidence
# ---------------------------------------------------------------------------------------------
@dataclass
class _EvidenceSentence:
    text: str
    passage: str          # citation id of the passage
    start: int            # span within the passage
    end: int
    record: bool = False  # the passage is a structured record (a JSON tool result, "key: value" lines)


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


def _lexical(text: str) -> str:
    """The text lexical features compare: abbreviations expanded, and identifiers cut at their
    underscores, so a tool result's JSON key ``"temp_c"`` or ``"wind_speed"`` holds the words
    "temp", "c", "wind", "speed" that a prose answer uses."""
    x = expand_abbreviations(text)
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
    """Whether a clause of ``text`` that holds one of the ``anchor`` stems is negated ("The tower,
    which is not red, is 330 m tall." is not negated about its height)."""
    for clause in _CLAUSE_RE.split(text):
        ws = words(clause)
        if any(_is_flip_neg(w) for w in ws) and any(stem(w) in anchor for w in ws):
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
    # The core's distinct words with their counts: the same sums as over the list, fewer lookups.
    counts = list(Counter(core).items())
    flipped = -1
    for j, x in enumerate(elex):
        strict = ctx_terms[j]  # holds x.stems (see _with_antecedents)
        lenient = lenient_terms[j]
        if sum(c for w, c in counts if w in lenient) < 0.8 * len(core):
            continue
        anchor = {w for w, _ in counts if w in lenient}
        same = _negated(claim, anchor) == _negated(ev[j].text, anchor)
        if same:
            return -1
        # Read with its antecedent, but at least half of the claim in the sentence itself.
        if (flipped < 0 and sum(c for w, c in counts if w in strict) >= 0.5 * len(core) and cnums <= x.numbers
                and own_keys <= ctx_terms[j]):
            flipped = j
    return flipped


def _half_absent(keys: set[str], present: set[str]) -> float:
    """Share of ``keys`` absent from ``present`` when at least one is present and one absent."""
    if len(keys) < 2:
        return 0.0
    n_absent = sum(k not in present for k in keys)
    return n_absent / len(keys) if 0 < n_absent < len(keys) else 0.0


def _swap(keys: set[str], claim_numbers: set[str], claim_stems: Sequence[str], aligned: _Lex,
          aligned_terms: set[str], given: set[str]) -> float:
    """1.0 when the aligned evidence sentence states the claim's relation with one slot changed.

    A key term of the claim (a number or a name) is missing from the sentence the claim aligns
    with, that sentence holds another term of the same kind in its place ("Quito is the capital of
    Peru." vs "Lima is the capital of Peru."; "24 km" vs "42 km"), and the rest of the claim is
    there: at least half its key terms, or at least 60 % of its other content words. Terms the
    prompt gives do not count as replacements."""
    missing = keys - aligned_terms
    if not missing:
        return 0.0
    kept = len(keys) - len(missing)
    rest = [w for w in claim_stems if w not in keys]
    rest_cov = (sum(w in aligned.stems for w in rest) / len(rest)) if rest else 0.0
    if not (kept * 2 >= len(keys) and kept > 0) and rest_cov < 0.6:
        return 0.0
    for k in missing:
        if k in claim_numbers:
            if aligned.numbers - keys - given:
                return 1.0
        elif aligned.names - keys - given:
            return 1.0
    return 0.0


def _split_passage(pid: str, text: str) -> list[_EvidenceSentence]:
    rec = _is_record(text)
    return [_EvidenceSentence(s, pid, a, b, rec) for s, a, b in sentence_spans(text)]


_KV_LINE_RE = re.compile(r"^\s*[\"']?[\w .-]{1,40}[\"']?\s*[:=]\s*\S")


def _is_record(text: str) -> bool:
    """A structured record, as tools return them: a JSON object or array, or "key: value" lines
    ("temp c: 18")."""
    t = text.strip()
    if t[:1] in "{[" and t[-1:] in "}]":
        try:
            json.loads(t)
            return True
        except ValueError:
            return False
    lines = [x for x in t.splitlines() if x.strip()]
    return bool(lines) and len(lines) <= 50 and all(_KV_LINE_RE.match(x) for x in lines)


class GroundingScorer:
    """Score (prompt, response) pairs for grounding in their evidence.

    Parameters
    ----------
    embedder : the Embedder; defaults to the index's, else the packaged model.
    index : a PassageIndex used for pairs with a ``source_id`` or no source at all.
    top_k : passages retrieved per query in index mode.
    threshold : ``hallucination_prob`` at or above which a pair is flagged; ``None`` = the
        threshold stored with the parameters.
    params : path to a parameters JSON (from ``curator calibrate``); ``None`` = shipped default.
    source_chunk_tokens : inline sources are cut into passages of this many tokens (citations
        point at these passages; a long source is chunked, never truncated).
    verifier : an optional cross-encoder that reads claim and evidence together: a local folder
        (an NLI CrossEncoder with an "entailment" label, or one trained by
        :func:`curator.verifier.train_verifier`), or any object with
        ``predict(claims, evidences) -> P(unsupported)``. ``None`` = features only.
    verifier_band : the verifier judges only *doubtful* sentences, those whose feature
        probability of being unsupported lies in this closed interval; ``(0, 1)`` = all.
    verifier_weight : a judged sentence's probability becomes
        ``(1 - w) * features + w * verifier``.
    retrieval_floor : in index mode (evidence retrieved, not named), a claim whose most similar
        evidence sentence has a cosine similarity below this is ``unverifiable``: the index has
        nothing about it. Measured in benchmarks/grounding_floor.py; 0 = never.
    retrieval_min_coverage : in index mode, a claim is also ``unverifiable`` when its two aligned
        evidence sentences share no content word with the prompt (a prompt that has some) and hold
        less than this share of the claim's new content words: the evidence is not about the
        pair, however similar. Measured in benchmarks/grounding_ood.py; 0 = never.
    """

    def __init__(self, embedder: Embedder | None = None, index: PassageIndex | None = None,
                 top_k: int = 5, threshold: float | None = None, params: str | Path | None = None,
                 source_chunk_tokens: int = 128, verifier: str | Path | Any | None = None,
                 verifier_band: Sequence[float] = (0.2, 0.8), verifier_weight: float = 0.5,
                 retrieval_floor: float = RETRIEVAL_FLOOR,
                 retrieval_min_coverage: float = RETRIEVAL_MIN_COVERAGE) -> None:
        self.embedder = embedder
        self.index = index
        self.top_k = top_k
        self.threshold = threshold
        self.params = params
        self.source_chunk_tokens = source_chunk_tokens
        self.verifier = verifier
        self.verifier_band = verifier_band
        self.verifier_weight = verifier_weight
        self.retrieval_floor = retrieval_floor
        self.retrieval_min_coverage = retrieval_min_coverage
        self._verifier: Any = None

    def _validate(self) -> tuple[Embedder, GroundingParams, float]:
        check_param("GroundingScorer", "top_k", self.top_k, isinstance(self.top_k, int) and self.top_k >= 1, "an int >= 1")
        if self.threshold is not None:
            check_param("GroundingScorer", "threshold", self.threshold,
                        isinstance(self.threshold, (int, float)) and 0.0 <= self.threshold <= 1.0, "a float in [0, 1]")
        check_param("GroundingScorer", "source_chunk_tokens", self.source_chunk_tokens,
                    isinstance(self.source_chunk_tokens, int) and self.source_chunk_tokens >= 8, "an int >= 8")
        embedder = self.embedder or (self.index.embedder if self.index is not None else Embedder())
        if self.index is not None and embedder is not self.index.embedder:
            self.index.check_embedder(self.index.manifest, embedder)
        band = self.verifier_band
        check_param("GroundingScorer", "verifier_band", band,
                    isinstance(band, (tuple, list)) and len(band) == 2
                    and all(isinstance(b, (int, float)) for b in band) and 0.0 <= band[0] <= band[1] <= 1.0,
                    "a pair (low, high) with 0 <= low <= high <= 1")
        check_param("GroundingScorer", "retrieval_floor", self.retrieval_floor,
                    isinstance(self.retrieval_floor, (int, float)) and -1.0 <= self.retrieval_floor <= 1.0,
                    "a float in [-1, 1]")
        check_param("GroundingScorer", "retrieval_min_coverage", self.retrieval_min_coverage,
                    isinstance(self.retrieval_min_coverage, (int, float)) and 0.0 <= self.retrieval_min_coverage <= 1.0,
                    "a float in [0, 1]")
        check_param("GroundingScorer", "verifier_weight", self.verifier_weight,
                    isinstance(self.verifier_weight, (int, float)) and 0.0 <= self.verifier_weight <= 1.0,
                    "a float in [0, 1]")
        if self.verifier is not None and self._verifier is None:
            if isinstance(self.verifier, (str, Path)):
                from .verifier import GroundingVerifier

                self._verifier = GroundingVerifier(self.verifier)
            elif callable(getattr(self.verifier, "predict", None)):
                self._verifier = self.verifier
            else:
                raise ConfigError("GroundingScorer: verifier must be a model folder or an object with "
                                  f"predict(claims, evidences), got {type(self.verifier).__name__}.")
        params = GroundingParams.load(self.params)
        threshold = params.threshold if self.threshold is None else float(self.threshold)
        return embedder, params, threshold

    # -- evidence gathering -------------------------------------------------------------------
    def _evidence(self, pairs: Sequence[PairInput], embedder: Embedder) -> tuple[list[list[_EvidenceSentence]], list[str]]:
        modes: list[str] = []
        passages: list[list[tuple[str, str]]] = []   # per pair: (citation id, passage text)
        need_retrieval: list[int] = []
        for i, p in enumerate(pairs):
            if p.source is not None and p.source.strip():
                chunks = chunk_text(p.source, self.source_chunk_tokens, 1)
                passages.append([(f"s{j}", c.text) for j, c in enumerate(chunks)])
                modes.append("source")
            elif p.source_id is not None and self.index is not None and self.index.passages_of(p.source_id):
                passages.append([(f"p{q.passage_id}", q.text) for q in self.index.passages_of(p.source_id)])
                modes.append("source_id")
            elif self.index is not None and len(self.index):
                passages.append([])
                modes.append("index")
                need_retrieval.append(i)
            else:
                passages.append([])
                modes.append("none")
        if need_retrieval:
            assert self.index is not None
            # One query for the whole pair plus one per response sentence: the pair query finds
            # the topic, sentence queries find the passage each claim is about.
            queries: list[str] = []
            owner: list[int] = []
            slot: list[int] = []  # per query: >= 0 a pair query (row of pair_vecs); < 0 -1 - claim
            n_claims: list[int] = []
            for n, i in enumerate(need_retrieval):
                p = pairs[i]
                slot.append(n)
                owner.append(i)
                sents = [c.check for c in segment_claims(p.response) if c.checked]
                n_claims.append(len(sents))
                if len(sents) > 1:
                    for s in sents:
                        slot.append(-1 - len(queries))
                        queries.append(_claim_query(p.prompt, s))
                        owner.append(i)
            # one call for both kinds of query: fuller fixed-shape batches (fewer filler copies)
            pair_vecs, claim_vecs = self._pair_queries([pairs[i] for i in need_retrieval], embedder, n_claims,
                                                       also=queries)
            qvecs = np.stack([pair_vecs[k] if k >= 0 else claim_vecs[-1 - k] for k in slot]).astype(np.float32)
            hits = self.index.search(qvecs, k=self.top_k)
            for i, hs in zip(owner, hits):
                have = {pid for pid, _ in passages[i]}
                for h in hs:
                    pid = f"p{h.passage_id}"
                    if pid not in have:
                        passages[i].append((pid, h.text))
                        have.add(pid)
        # a passage retrieved for many pairs is split once (its sentences are read, never changed)
        split: dict[tuple[str, str], list[_EvidenceSentence]] = {}

        def sentences(pid: str, text: str) -> list[_EvidenceSentence]:
            if (pid, text) not in split:
                split[(pid, text)] = _split_passage(pid, text)
            return split[(pid, text)]

        evidence = [[s for pid, text in ps for s in sentences(pid, text)] for ps in passages]
        return evidence, modes

    #: How a pair's own retrieval query is made. "concat": prompt and response embedded as one
    #: text. "mean": the normalised sum of the prompt's and the response's own vectors, which the
    #: quality step has embedded already (nothing is embedded again). "auto" (default): concat
    #: for a short pair (at most PAIR_QUERY_CONCAT_WORDS words, or a response of one checked
    #: sentence: then the pair query is the claim's only query, and a short answer like "Roger
    #: Christian" finds its passage through its question), mean for a long multi-sentence response,
    #: whose every sentence also gets its own query and whose concatenation would be a third
    #: embedding of up to 256 word pieces (~45 % of grounding's embedding work on Alpaca/LIMA
    #: rows). Measured in benchmarks/RESULTS.md ("Scale", pair query).
    PAIR_QUERY = "auto"
    PAIR_QUERY_CONCAT_WORDS = 64

    def _pair_queries(self, pairs: Sequence[PairInput], embedder: Embedder, n_claims: Sequence[int],
                      also: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
        """One unit query vector per pair, for retrieving the passages of its topic; and the
        vectors of the texts ``also``, embedded in the same call."""
        def concat(p: PairInput, n: int) -> bool:
            if self.PAIR_QUERY == "concat" or not (p.prompt.strip() and p.response.strip()):
                return True
            return self.PAIR_QUERY == "auto" and (
                n <= 1 or len(p.prompt.split()) + len(p.response.split()) <= self.PAIR_QUERY_CONCAT_WORDS)

        joined = [concat(p, n) for p, n in zip(pairs, n_claims)]
        texts: list[str] = []
        for p, j in zip(pairs, joined):
            texts += [f"{p.prompt} {p.response}".strip()] if j else [p.prompt, p.response]
        every = texts + list(also)
        vecs = embedder.encode(every) if every else np.zeros((0, embedder.dimension), np.float32)
        extra, vecs = vecs[len(texts):], vecs[:len(texts)]
        out = np.empty((len(pairs), embedder.dimension), dtype=np.float32)
        k = 0
        for n, j in enumerate(joined):
            if j:
                out[n] = vecs[k]
                k += 1
            else:
                q = vecs[k].astype(np.float64) + vecs[k + 1].astype(np.float64)
                out[n] = q / max(float(np.linalg.norm(q)), 1e-12)
                k += 2
        return out, extra

    # -- scoring ------------------------------------------------------------------------------
    def features(self, pairs: Sequence[PairInput]) -> tuple[list[list[SentenceVerdict]], list[str]]:
        """Per pair, per sentence: the feature dict and alignment (verdicts not yet decided)."""
        embedder = self.embedder or (self.index.embedder if self.index is not None else Embedder())
        per_pair, modes, _ = self._features(pairs, embedder)
        return per_pair, modes

    def _features(self, pairs: Sequence[PairInput], embedder: Embedder
                  ) -> tuple[list[list[SentenceVerdict]], list[str], list[str]]:
        """Per pair: sentence verdicts with features, evidence mode, and all evidence as one text.

        Not-checked segments (code, tables, headings, URLs, list markers alone, non-answers) get
        verdict ``not_checked`` and no features; they never change a pair's probability."""
        from rapidfuzz import fuzz

        evidence, modes = self._evidence(pairs, embedder)
        segs: list[list[Segment]] = []
        texts: list[str] = []
        for p, ev in zip(pairs, evidence):
            ss = segment_claims(p.response)
            segs.append(ss)
            texts.extend(_claim_query(p.prompt, s.check) for s in ss if s.checked)
            texts.extend(e.text for e in ev)
        vecs = embedder.encode(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        lex_cache: dict[str, _Lex] = {}
        out: list[list[SentenceVerdict]] = []
        pos = 0
        for p, ss, ev in zip(pairs, segs, evidence):
            claims = [s for s in ss if s.checked]
            cvec = vecs[pos:pos + len(claims)]
            pos += len(claims)
            evec = vecs[pos:pos + len(ev)]
            pos += len(ev)
            elex = [lex_cache.get(e.text) or lex_cache.setdefault(e.text, _Lex.of(e.text)) for e in ev]
            ev_stems = [x.stems for x in elex]
            all_stems: set[str] = set().union(*ev_stems) if ev_stems else set()
            ev_numbers: set[str] = set().union(*(x.numbers for x in elex)) if elex else set()
            # Windows of two adjacent evidence sentences of the same passage.
            win_terms = [elex[j].terms | elex[j + 1].terms for j in range(len(ev) - 1)
                         if ev[j].passage == ev[j + 1].passage]
            ctx_terms = _with_antecedents(ev, elex)
            lenient_terms = _lenient_terms(ev, elex, ctx_terms)
            prompt_x = _lexical(p.prompt)
            prompt_numbers = set(numbers(prompt_x))
            prompt_stems = {stem(w) for w in words(prompt_x)}
            prompt_ents = {stem(w) for c in _capitalised(prompt_x) for w in words(c)} - STOPWORDS
            # Names/numbers the prompt gives need not be in the evidence (they leave the claim's
            # relation, `swap`, `own_key_absent` and `nov_pair`) only when the evidence is a
            # structured record (a tool's result): it answers the call without naming its
            # subject, while prose that never names the question's subject ("I had a great day
            # in Paris" for "What is the capital of France?") is about something else.
            given = _given_terms(prompt_x) if ev and all(e.record for e in ev) else set()
            prompt_cw = {stem(w) for w in words(prompt_x) if w not in STOPWORDS and len(w) > 2}
            sims_all = cvec @ evec.T if len(ev) else np.zeros((len(claims), 0))
            # Pair-level lexical novelty: the share of the response's content words (checked
            # claims only) that the evidence never uses, as written.
            ev_words: set[str] = set().union(*(x.words for x in elex)) if elex else set()
            resp_cw = [w for c in claims for w in words(_lexical(c.check))
                       if w not in STOPWORDS and stem(w) not in given]
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
                keys = _key_terms(claim, all_stems, ev, elex)
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
                    best_nums = elex[best].numbers
                    # A swap needs a relation no evidence sentence states whole; checked on the
                    # claim's best two aligned sentences, so an unrelated look-alike sentence
                    # elsewhere in a big index cannot turn a stated fact into a "swap".
                    # With the claim's own key terms only: a short answer's question names are
                    # often stated in another sentence of a multi-hop source (with them, the
                    # rule fired on 59 % of HaluEval-QA pairs, mostly faithful ones).
                    whole = any(own_keys <= t for t in ctx_terms)
                    swap = 0.0 if whole else max(_swap(own_keys, set(numbers(claim)), cw, elex[int(j)],
                                                       ctx_terms[int(j)], prompt_stems | prompt_numbers)
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
                    cov_best, local_nums, best_nums = 0.0, set(), set()
                    rel_gap = rel_gap2 = 1.0 if len(keys) >= 2 else 0.0
                    swap = 0.0
                    flip = -1
                ci += 1
                cov_local = _coverage(cw, local)
                cov_global = _coverage(cw, all_stems)
                num_novel = float(any(n not in ev_numbers for n in claim_nums))
                num_local = (sum(n not in local_nums for n in claim_nums) / len(claim_nums)) if claim_nums else 0.0
                # "24 km" where the aligned sentence says "42 km": a number the evidence lacks,
                # in place of one the aligned sentence has.
                num_mismatch = float(bool(num_novel) and bool(best_nums - set(claim_nums) - prompt_numbers))
                caps = [stem(w) for c in _capitalised(claim) for w in words(c)]
                caps = [c for c in caps if c not in prompt_stems and c not in STOPWORDS]
                ent_novel = (sum(c not in all_stems for c in caps) / len(caps)) if caps else 0.0
                claim_neg = bool(NEGATIONS & set(words(claim)))
                ev_neg = bool(NEGATIONS & set(words(local_text)))
                feats = {
                    "cov_local": cov_local, "cov_global": cov_global, "emb_max": emb_max,
                    "emb_top2": emb_top2, "fuzz": fz, "num_novel": num_novel, "ent_novel": ent_novel,
                    "neg_mismatch": float(claim_neg != ev_neg), "short_claim": float(short),
                    "cov_best": cov_best, "rel_gap": rel_gap, "rel_gap2": rel_gap2,
                    "num_local": num_local, "num_mismatch": num_mismatch, "swap": swap,
                    "key_absent": (sum(k not in all_stems and k not in ev_numbers for k in keys) / len(keys)) if keys else 0.0,
                    "nov_pair": nov_pair,
                    # A relation half-grounded: of the claim's own names/numbers (two or more),
                    # some are in the evidence and some nowhere ("The capital of France is
                    # Paris." vs "I had a great day in Paris"). Names the prompt gives (not
                    # offers as alternatives) need not be in the evidence: "It is 18 °C in
                    # Paris." answering "What's the weather in Paris?" from {"temp_c": 18}.
                    "own_key_absent": _half_absent(own_keys, all_stems | ev_numbers),
                    # The claim stated by an evidence sentence with the opposite negation.
                    "neg_flip": float(flip >= 0),
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
        return out, modes, [" ".join(e.text for e in ev) for ev in evidence]

    def _verify(self, pairs: Sequence[PairInput], per_pair: list[list[SentenceVerdict]],
                ev_texts: list[str], modes: list[str]) -> None:
        """Let the verifier re-judge the doubtful sentences (support already set from features)."""
        from .verifier import evidence_window, make_claim

        low, high = self.verifier_band
        todo = [(i, v) for i, vs in enumerate(per_pair) if modes[i] != "none"
                for v in vs if v.features and low <= 1.0 - v.support <= high]
        if not todo:
            return
        claims = [make_claim(v.text, pairs[i].prompt) for i, v in todo]
        evidences = [evidence_window(c, ev_texts[i]) for c, (i, _) in zip(claims, todo)]
        probs = np.asarray(self._verifier.predict(claims, evidences), dtype=np.float64)
        if probs.shape != (len(todo),):
            raise ModelError(f"verifier returned {probs.shape} scores for {len(todo)} claims.")
        w = float(self.verifier_weight)
        for (_, v), pv in zip(todo, np.clip(probs, 0.0, 1.0)):
            v.verifier_prob = float(pv)
            v.support = float(1.0 - ((1.0 - w) * (1.0 - v.support) + w * pv))

    def _not_about(self, f: dict[str, float]) -> bool:
        """Index mode: is the retrieved evidence not about this claim (so it cannot judge it)?"""
        if f["emb_max"] < self.retrieval_floor:
            return True
        return f["prompt_overlap"] == 0 and f["cov_local"] < self.retrieval_min_coverage

    def score(self, pairs: Sequence[PairInput]) -> list[PairGrounding]:
        """Judge every pair; the result list is aligned with ``pairs``.

        A pair is ``unverifiable`` (``hallucinated`` False, probabilities NaN) when it makes no
        checkable claim (only code, tables, non-answers...), has no evidence, or (index mode)
        none of its claims retrieves evidence about it (``retrieval_floor``,
        ``retrieval_min_coverage``); otherwise
        ``hallucinated`` if its worst judged claim's probability reaches the threshold, else
        ``supported``. Claims below the floor are ``unverifiable`` and do not count."""
        embedder, params, threshold = self._validate()
        self.threshold_ = threshold
        per_pair, modes, ev_texts = self._features(pairs, embedder)
        flat = [v for vs in per_pair for v in vs if v.features]
        if flat:
            probs = params.predict([v.features for v in flat])
            for v, pr in zip(flat, probs):
                v.support = float(1.0 - pr)
            if self._verifier is not None:
                self._verify(pairs, per_pair, ev_texts, modes)
        results = []
        for p, verdicts, mode in zip(pairs, per_pair, modes):
            low_conf = _non_ascii_letter_share(p.response) > 0.5
            checked = [v for v in verdicts if v.features]
            judged = []
            for v in checked:
                if mode == "none" or (mode == "index" and self._not_about(v.features)):
                    v.verdict = "unverifiable"
                else:
                    v.verdict = "supported" if (1.0 - v.support) < threshold else "unsupported"
                    judged.append(v)
            if not judged:
                for v in checked:
                    v.support = float("nan")
                results.append(PairGrounding(
                    grounding=float("nan"), hallucination_prob=float("nan"), hallucinated=False,
                    evidence_mode=mode, sentences=verdicts, worst_sentence=None,
                    confidence="low", verdict="unverifiable"))
                continue
            worst = min(judged, key=lambda v: v.support)
            prob = 1.0 - worst.support
            flagged = bool(prob >= threshold)
            results.append(PairGrounding(
                grounding=worst.support, hallucination_prob=prob, hallucinated=flagged,
                evidence_mode=mode, sentences=verdicts, worst_sentence=worst.text,
                confidence="low" if low_conf else "normal",
                verdict="hallucinated" if flagged else "supported"))
        return results


def _claim_query(prompt: str, claim: str) -> str:
    """What to embed for a claim: short answers ("Delhi") mean little without their question."""
    if len(words(claim)) <= SHORT_CLAIM_WORDS and prompt.strip():
        return f"{prompt.strip()} {claim.strip()}"
    return claim


def verdicts_json(g: PairGrounding) -> str:
    """The per-sentence explanation as compact JSON (for scores.parquet / JSONL outputs)."""
    rows = []
    for v in g.sentences:
        rows.append({
            "text": v.text, "span": [v.start, v.end], "verdict": v.verdict,
            "support": None if math.isnan(v.support) else round(v.support, 4),
            "citation": v.citation, "citation_span": list(v.citation_span) if v.citation_span else None,
            "evidence": v.evidence, "unsupported_tokens": v.unsupported_tokens,
            **({"verifier_prob": round(v.verifier_prob, 4)} if v.verifier_prob is not None else {}),
        })
    return json.dumps(rows, ensure_ascii=False)
