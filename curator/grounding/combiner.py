"""The combiner: per-claim features -> P(unsupported) -> verdicts.

:class:`GroundingParams` is a logistic model over the features (parameters shipped in
``curator/data/grounding_params.json``, refitted by ``curator calibrate``) plus contradiction
floors; :func:`judge_pair` turns the claims' probabilities into their verdicts and the pair's
(the worst judged claim decides; ``threshold``; ``unverifiable`` when nothing can be judged).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..text import is_list_item
from .claims import SentenceVerdict
from .features import ALL_FEATURES

#: In index mode a claim whose best retrieved evidence sentence has a cosine similarity below this
#: is ``unverifiable``: the index has nothing about it (see benchmarks/grounding.py --parts floor).
RETRIEVAL_FLOOR = 0.35
#: In index mode a claim is also ``unverifiable`` when its aligned evidence shares none of the
#: prompt's content words and holds less than this share of the claim's own new words: the
#: least unrelated passage of an index that does not cover the data (see
#: benchmarks/grounding.py --parts ood).
RETRIEVAL_MIN_COVERAGE = 0.3
VERDICTS = ("supported", "hallucinated", "unverifiable")
#: The one contradiction rule judged in an open-ended task (:mod:`curator.grounding.tasks`).
OPEN_TASK_CONFLICT = "neg_flip"
#: ... and in a rewrite or a message (:data:`curator.grounding.tasks.STRICT_OPEN_KINDS`), which
#: restate given facts in new words, also a changed number or a swapped name.
STRICT_OPEN_CONFLICTS = ("neg_flip", "num_mismatch", "name_mismatch", "swap")
#: The "about" test (:func:`is_about`); defaults of :attr:`GroundingParams.about`, measured in
#: benchmarks/grounding_logo.py (part about). One evidence window must hold this share of the
#: claim's content words ...
ABOUT_MIN_COVERAGE = 0.3
#: ... and the evidence be close to the claim: its best sentence's cosine similarity, ...
ABOUT_MIN_SIM = 0.5
#: ... or this share of its names and numbers in one window ("Roger Christian" for a multi-hop
#: question), ...
ABOUT_MIN_KEYS = 0.75
#: ... or this many of the prompt's content words in its aligned sentences. In index mode the
#: window must hold this share of the claim's content words.
ABOUT_MIN_PROMPT_WORDS = 4
ABOUT_MIN_COVERAGE_INDEX = 0.4
#: In index mode, a response whose claims the index is about at most a fifth of (this share or
#: more not about it) is a response the index is not the source of: a claim it lacks, or a
#: look-alike number in a passage retrieved for its similarity, is listed as doubtful, not
#: condemned. The share is the one of GroundingStep.UNCOVERED_SHARE, at the level of one row's
#: claims (a one-row file against a Wikipedia index dropped "Version 1 started out with 65536
#: code points" for a passage about ASCII's 128; benchmarks/RESULTS.md, 2026-12-08).
INDEX_UNCOVERED_CLAIM_SHARE = 0.8


def is_about(features: dict[str, float], about: dict[str, float] | None = None) -> bool:
    """Whether the evidence is *about* a claim, so that it can judge it (docs/grounding.md).

    One evidence window (a sentence with the names it refers back to, or two adjacent sentences)
    must state a good part of the claim - ``about_cov``, the share of its content words (a short
    answer's, or one opening with a pronoun: with its question's) in that window, at least
    ``about["min_coverage"]`` - and the evidence must be close to it by one of: its best sentence's
    embedding similarity (``emb_max`` >= ``min_sim``), the claim's names and numbers in one window
    (``about_keys`` >= ``min_keys``), the prompt's content words in the aligned sentences
    (``prompt_overlap`` >= ``min_prompt_words``), a short answer's pick among names the prompt
    offers when the evidence names another of them (``choice_named``), or a structured record (a
    tool's result, which embeds unlike prose). Evidence that never says what the claim talks about (an off-topic
    retrieved passage, a source silent on the subject, a role-play line, a word problem's answer)
    cannot show it wrong, however novel its words: such a claim is ``unverifiable``."""
    return bool(about_mask(features.get("emb_max", 0.0), features.get("about_cov", 0.0), about,
                           features.get("ev_record", 0.0), features.get("about_keys", -1.0),
                           features.get("prompt_overlap", -1.0), features.get("choice_named", 0.0)))


def about_mask(emb_max: Any, about_cov: Any, about: dict[str, float] | None = None, record: Any = 0.0,
               about_keys: Any = -1.0, prompt_overlap: Any = -1.0, choice_named: Any = 0.0) -> Any:
    """:func:`is_about` on arrays (or scalars) of the features it reads."""
    a = about or {}
    cov = np.asarray(about_cov)
    similar = ((np.asarray(emb_max) >= a.get("min_sim", ABOUT_MIN_SIM)) | (np.asarray(record) >= 0.5)
               | (np.asarray(choice_named) >= 0.5)
               | (np.asarray(about_keys) >= a.get("min_keys", ABOUT_MIN_KEYS))
               | (np.asarray(prompt_overlap) >= a.get("min_prompt_words", ABOUT_MIN_PROMPT_WORDS)))
    return similar & (cov >= a.get("min_coverage", ABOUT_MIN_COVERAGE))


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
    #: Why an ``unverifiable`` pair was not judged (never None for one; None otherwise).
    reason: str | None = None

    @property
    def doubtful(self) -> bool:
        """Unverifiable because a judged claim lies between the doubt threshold and the threshold:
        kept, with confidence "low", and worth reading (report.html lists these pairs)."""
        return self.verdict == "unverifiable" and any(s.verdict == "doubtful" for s in self.sentences)

    @property
    def n_unsupported(self) -> int:
        return sum(s.verdict == "unsupported" for s in self.sentences)

    @property
    def citations(self) -> list[str]:
        return [s.citation for s in self.sentences if s.citation]


def _non_ascii_letter_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(ord(c) > 0x24F for c in letters) / len(letters)


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
    #: Pairs whose probability lies in [doubt, threshold) are ``unverifiable`` with confidence
    #: "low" ("doubtful - worth reading"); ``None`` = no doubt band (doubt = threshold).
    doubt: float | None = None
    #: The thresholds of :func:`is_about` ({"min_sim": ..., "min_coverage": ...}); empty = defaults.
    about: dict[str, float] = field(default_factory=dict)

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
                         floors={str(k): float(v) for k, v in (raw.get("floors") or {}).items()},
                         doubt=None if raw.get("doubt") is None else float(raw["doubt"]),
                         about={str(k): float(v) for k, v in (raw.get("about") or {}).items()})
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
        from ..io import write_json

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


def lacks_content(features: dict[str, float], conflicts: Sequence[str] = ()) -> bool:
    """Does the evidence show something against the claim: a content word its evidence window
    lacks (``cov_local`` < 1), or a contradiction rule (``conflicts``) that fires? A claim whose
    every word its evidence states, with no conflict found, is never ``unsupported``: the issue's
    "positive evidence" (a conflict, or the topic covered but its specific content missing).
    Against a tool's JSON result (``ev_json``) only a name or number of the claim's own can be
    missing ("In Berlin it is currently 18 degrees" against ``{"temperature": 18}``: "currently"
    and "degrees" are the answer's phrasing); "key: value" lines (a transcript's "Person 1: …") are
    read as prose here."""
    if any(features.get(c, 0.0) >= 0.5 for c in conflicts):
        return True
    if features.get("ev_json", 0.0) >= 0.5:
        return features.get("own_key_missing", 1.0) >= 0.5
    return features.get("cov_local", 0.0) < 1.0


def judge_pair(response: str, verdicts: list[SentenceVerdict], mode: str, threshold: float,
               not_about: Callable[[dict[str, float]], bool], doubt: float | None = None,
               about: dict[str, float] | None = None, conflicts: Sequence[str] = (),
               open_task: bool = False, open_conflicts: Sequence[str] = (OPEN_TASK_CONFLICT,)) -> PairGrounding:
    """A pair's judgement from its sentence verdicts, their support already set by the combiner
    (and the verifier); decides each checked sentence's verdict in place.

    A checked sentence is ``unverifiable`` when the pair has no evidence (``mode`` "none"), when
    the evidence is not about it (:func:`is_about` with ``about``; in index mode also
    ``not_about(features)``, the retrieval floor) - it keeps its support as a number, but nothing
    is held against it; else ``unsupported`` when its P(unsupported) reaches ``threshold``,
    ``doubtful`` when it reaches ``doubt``, else ``supported``. With the pair's own source (not in
    index mode), a claim one of the ``conflicts`` rules fires on is about it, and so is a short
    answer naming a name or number of its own to a prompt that points at its source
    (``points_at_source``: "Extract the name of the CEO from the text."). In an ``open_task``
    (role play, creative writing, generation, code: :mod:`curator.grounding.tasks`) a claim is
    judged only when the source states it with the opposite polarity (``OPEN_TASK_CONFLICT``): the
    source is a premise the answer may add to.

    In index mode (not an open task), when the index is about at most a fifth of the scored
    claims (``INDEX_UNCOVERED_CLAIM_SHARE`` not about it), an unsupported claim is ``doubtful``.

    The pair is ``hallucinated`` when a judged sentence is unsupported; ``unverifiable`` with
    confidence "low" (doubtful, worth reading) when one is doubtful; ``supported`` when some
    sentence was judged and all judged ones are supported; else ``unverifiable``.
    ``hallucination_prob`` is the worst judged sentence's P(unsupported), or, when none is judged,
    the worst scored one's (the pair's own source lacks its words but is not about it: a ranking
    signal, not a verdict); NaN when no sentence could be scored (no checkable claim or no
    evidence) or, in index mode, none is judged (passages retrieved by similarity, about other
    things, say nothing of the response). ``confidence`` is also "low"
    when the response is mostly non-Latin letters or nothing was judged."""
    low_conf = _non_ascii_letter_share(response) > 0.5
    doubt = threshold if doubt is None else min(doubt, threshold)
    checked = [v for v in verdicts if v.features]
    judged, scored = [], []
    # A contradiction rule that fires (``conflicts``: the parameters' floors) in a window that
    # states enough of the claim shows the pair's own source is about it, however its embedding
    # compares. Not in index mode, where passages are retrieved for their similarity and a
    # look-alike number or name is likelier.
    cover = (about or {}).get("min_coverage", ABOUT_MIN_COVERAGE)
    # Retrieved passages are the index's most similar ones whatever it holds: in index mode the
    # window must state more of the claim (``min_coverage_index``).
    cover_index = (about or {}).get("min_coverage_index", ABOUT_MIN_COVERAGE_INDEX)
    on = {id(v): mode != "none" and (
        (mode == "index" and not not_about(v.features) and is_about(v.features, about)
         and v.features.get("about_cov", 0.0) >= cover_index)
        or (mode != "index" and (is_about(v.features, about) or v.features.get("points_at_source", 0.0) >= 0.5 or (
            v.features.get("about_cov", 0.0) >= cover and any(v.features.get(c, 0.0) >= 0.5 for c in conflicts)))))
        for v in checked}
    if open_task:
        # Only a claim the source states with the opposite polarity: in generated text a new
        # number (a computed total, an estimate) or a name the instruction gives (the persona)
        # is the task, so the number and swap rules misfire there (read: benchmarks/RESULTS.md).
        # (``open_conflicts``: a rewrite or message also answers for a number or name it changes)
        for v in checked:
            on[id(v)] = on[id(v)] and any(v.features.get(c, 0.0) >= 0.5 for c in open_conflicts)
    # A list answers one question: when the pair's own source is about one of its items and
    # supports it, it is about the list, and an item it lacks is judged too ("3. Smoke 20 cigars"
    # in a list of health tips the source gives). Not in index mode: passages retrieved for one
    # item say nothing about the others.
    if mode in ("source", "source_id") and not open_task and any(
            on[id(v)] and 1.0 - v.support < threshold and is_list_item(v.text) for v in checked):
        on.update({id(v): True for v in checked if is_list_item(v.text)})
    for v in checked:
        if mode == "none":
            v.verdict = "unverifiable"
            v.support = float("nan")
            continue
        scored.append(v)
        if not on[id(v)]:
            v.verdict = "unverifiable"
            continue
        p = 1.0 - v.support
        v.verdict = "unsupported" if p >= threshold else "doubtful" if p >= doubt else "supported"
        if v.verdict == "unsupported" and v.features.get("except_scope", 0.0) >= 0.5 and not any(
                v.features.get(c, 0.0) >= 0.5 for c in conflicts):
            # About an item the evidence excepts ("every day except Monday"), in words of its
            # own ("closed on Mondays"): its missing words are the exception's, not new facts.
            v.verdict = "doubtful"
        if v.verdict == "unsupported" and not lacks_content(v.features, conflicts):
            # Nothing shown against it: its evidence window holds every content word and no
            # contradiction rule fires. Worth reading, not a drop.
            v.verdict = "doubtful"
        judged.append(v)
    uncovered = (mode == "index" and not open_task and judged
                 and len(scored) - len(judged) >= INDEX_UNCOVERED_CLAIM_SHARE * len(scored))
    if uncovered:
        for v in judged:
            if v.verdict == "unsupported":
                v.verdict = "doubtful"
    if not scored:
        return PairGrounding(
            grounding=float("nan"), hallucination_prob=float("nan"), hallucinated=False,
            evidence_mode=mode, sentences=verdicts, worst_sentence=None,
            confidence="low", verdict="unverifiable", reason=_unscored_reason(response, verdicts, mode))
    if not judged and mode == "index":
        # Passages retrieved for their similarity and not about the response say nothing of it.
        for v in scored:
            v.support = float("nan")
        return PairGrounding(
            grounding=float("nan"), hallucination_prob=float("nan"), hallucinated=False,
            evidence_mode=mode, sentences=verdicts, worst_sentence=None,
            confidence="low", verdict="unverifiable", reason=NOT_ABOUT_INDEX)
    worst = min(judged or scored, key=lambda v: v.support)
    prob = 1.0 - worst.support
    reason = None
    if not judged:
        verdict, conf = "unverifiable", "low"
        reason = NOT_ABOUT_OPEN_TASK if open_task else NOT_ABOUT_SOURCE
    elif any(v.verdict == "unsupported" for v in judged):
        verdict, conf = "hallucinated", "normal"
    elif any(v.verdict == "doubtful" for v in judged):
        verdict, conf = "unverifiable", "low"
        reason = (f"doubtful: the index is about {len(judged)} of its {len(scored)} claims, so it is not this "
                  f"row's source; a claim it lacks or seems to contradict is listed, not condemned (worth reading)"
                  if uncovered and prob >= threshold else
                  f"doubtful: a judged claim's probability of being unsupported (hallucination_prob) lies "
                  f"between the doubt threshold {doubt:.2f} and the threshold {threshold:.2f} (worth reading)"
                  if prob < threshold else  # a claim over it that nothing is shown against
                  f"doubtful: a judged claim's probability of being unsupported reaches the threshold "
                  f"{threshold:.2f}, but its evidence shows nothing against it (worth reading)")
    else:
        verdict, conf = "supported", "normal"
    return PairGrounding(
        grounding=worst.support, hallucination_prob=prob, hallucinated=verdict == "hallucinated",
        evidence_mode=mode, sentences=verdicts, worst_sentence=worst.text,
        confidence="low" if low_conf else conf, verdict=verdict, reason=reason)


#: Why a pair is ``unverifiable`` (:attr:`PairGrounding.reason`), where it has claims to check.
NO_EVIDENCE = "no evidence: the row has no source text and there is no index to retrieve from"
NOT_ABOUT_INDEX = ("not about the evidence: the passages retrieved from the index are not about its claims "
                   "(the index does not seem to cover them)")
NOT_ABOUT_SOURCE = "not about the evidence: its source does not speak of what its claims talk about"
NOT_ABOUT_OPEN_TASK = ("an open-ended task: its source is a premise the answer may add to, and states none of "
                       "its claims negated")
UNREADABLE = "its claims are in a script or number words curator's checks do not read"
EMPTY_RESPONSE = "no checkable claim: the response is empty"
#: What each kind of not-checked piece of a response (:class:`curator.text.Segment`) is called.
NOT_CHECKED_KINDS = {"code": "code", "table": "a table", "heading": "a heading", "url": "a URL",
                     "punctuation": "text without words (punctuation, initials, symbols)", "non_answer": "a non-answer (\"I don't know\", \"Sure!\")",
                     "yes_no": "a bare yes or no", "calculation": "a calculation",
                     "label": "a label the instruction offers", "lead_in": "a lead-in to what follows (\"Here are the steps:\")"}


def _unscored_reason(response: str, verdicts: list[SentenceVerdict], mode: str) -> str:
    """Why nothing in a pair could be scored: no claim to check (which kinds of piece it holds
    instead), claims set aside as unreadable, or no evidence."""
    if any(v.verdict == "unverifiable" for v in verdicts):  # claims there, but none with features
        return NO_EVIDENCE if mode == "none" and any(v.features for v in verdicts) else UNREADABLE
    if not response.strip():
        return EMPTY_RESPONSE
    from ..text import segment_claims

    # A claim the scorer set aside as a label (claims.is_label) reads as a claim here.
    kinds = dict.fromkeys(NOT_CHECKED_KINDS.get(s.kind if not s.checked else "label", s.kind)
                          for s in segment_claims(response))
    return f"no checkable claim: only {', '.join(kinds) or 'text that states nothing'} (curator does not check these)"


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
