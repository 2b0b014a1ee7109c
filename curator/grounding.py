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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .embed import Embedder
from .errors import ConfigError, ModelError, check_param
from .text import STOPWORDS, chunk_text, numbers, sentence_spans, words

if False:  # typing only; keeps faiss out of import time
    from .index import PassageIndex

FEATURES = (
    "cov_local", "cov_global", "emb_max", "emb_top2", "fuzz", "num_novel", "ent_novel",
    "neg_mismatch", "short_claim",
)
NEGATIONS = frozenset("not no never none nobody nothing neither nor cannot can't won't don't doesn't "
                      "didn't isn't aren't wasn't weren't hasn't haven't hadn't without".split())
SHORT_CLAIM_WORDS = 6
_CAP_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’-]+")


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
    verdict: str                 # "supported" | "unsupported" | "unverifiable"
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
    if not claim_stems:
        return 1.0
    return sum(w in evidence_stems for w in claim_stems) / len(claim_stems)


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
                         threshold=float(raw.get("threshold", 0.5)), meta=raw.get("meta", {}))
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"could not read grounding parameters from {path or 'package data'}: {exc}") from exc
        if list(params.features) != list(FEATURES):
            raise ConfigError(f"grounding parameters {path} are for features {params.features}, "
                              f"this curator computes {list(FEATURES)}; refit them with `curator calibrate`.")
        return params

    def save(self, path: str | Path) -> None:
        from .io import write_json

        write_json(path, asdict(self))

    def prob_unsupported(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = self.intercept + z @ np.asarray(self.coef)
        return 1.0 / (1.0 + np.exp(-logit))


# ---------------------------------------------------------------------------------------------
# evidence
# ---------------------------------------------------------------------------------------------
@dataclass
class _EvidenceSentence:
    text: str
    passage: str          # citation id of the passage
    start: int            # span within the passage
    end: int


def _split_passage(pid: str, text: str) -> list[_EvidenceSentence]:
    return [_EvidenceSentence(s, pid, a, b) for s, a, b in sentence_spans(text)]


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
    """

    def __init__(self, embedder: Embedder | None = None, index: PassageIndex | None = None,
                 top_k: int = 5, threshold: float | None = None, params: str | Path | None = None,
                 source_chunk_tokens: int = 128, verifier: str | Path | Any | None = None,
                 verifier_band: Sequence[float] = (0.2, 0.8), verifier_weight: float = 0.5) -> None:
        self.embedder = embedder
        self.index = index
        self.top_k = top_k
        self.threshold = threshold
        self.params = params
        self.source_chunk_tokens = source_chunk_tokens
        self.verifier = verifier
        self.verifier_band = verifier_band
        self.verifier_weight = verifier_weight
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
            for i in need_retrieval:
                p = pairs[i]
                queries.append(f"{p.prompt} {p.response}".strip())
                owner.append(i)
                sents = [s for s, _, _ in sentence_spans(p.response)]
                if len(sents) > 1:
                    for s in sents:
                        queries.append(_claim_query(p.prompt, s))
                        owner.append(i)
            hits = self.index.search(embedder.encode(queries), k=self.top_k)
            for i, hs in zip(owner, hits):
                have = {pid for pid, _ in passages[i]}
                for h in hs:
                    pid = f"p{h.passage_id}"
                    if pid not in have:
                        passages[i].append((pid, h.text))
                        have.add(pid)
        evidence = [[s for pid, text in ps for s in _split_passage(pid, text)] for ps in passages]
        return evidence, modes

    # -- scoring ------------------------------------------------------------------------------
    def features(self, pairs: Sequence[PairInput]) -> tuple[list[list[SentenceVerdict]], list[str]]:
        """Per pair, per sentence: the feature dict and alignment (verdicts not yet decided)."""
        embedder = self.embedder or (self.index.embedder if self.index is not None else Embedder())
        per_pair, modes, _ = self._features(pairs, embedder)
        return per_pair, modes

    def _features(self, pairs: Sequence[PairInput], embedder: Embedder
                  ) -> tuple[list[list[SentenceVerdict]], list[str], list[str]]:
        """Per pair: sentence verdicts with features, evidence mode, and all evidence as one text."""
        from rapidfuzz import fuzz

        evidence, modes = self._evidence(pairs, embedder)
        claims: list[list[tuple[str, int, int]]] = []
        texts: list[str] = []
        for p in pairs:
            spans = sentence_spans(p.response) or ([(p.response.strip(), 0, len(p.response))] if p.response.strip() else [])
            claims.append(spans)
            texts.extend(_claim_query(p.prompt, s) for s, _, _ in spans)
            for_ev = evidence[len(claims) - 1]
            texts.extend(e.text for e in for_ev)
        vecs = embedder.encode(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        out: list[list[SentenceVerdict]] = []
        pos = 0
        for p, spans, ev in zip(pairs, claims, evidence):
            cvec = vecs[pos:pos + len(spans)]
            pos += len(spans)
            evec = vecs[pos:pos + len(ev)]
            pos += len(ev)
            ev_stems = [{stem(w) for w in words(e.text)} for e in ev]
            all_stems: set[str] = set().union(*ev_stems) if ev_stems else set()
            ev_text = " ".join(e.text for e in ev)
            ev_numbers = set(numbers(ev_text))
            prompt_numbers = set(numbers(p.prompt))
            prompt_stems = {stem(w) for w in words(p.prompt)}
            verdicts = []
            sims_all = cvec @ evec.T if len(ev) else np.zeros((len(spans), 0))
            for ci, (claim, a, b) in enumerate(spans):
                cw = claim_words(claim, p.prompt)
                if len(ev):
                    sims = sims_all[ci]
                    lex = np.array([_coverage(cw, s) for s in ev_stems])
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
                else:
                    local, best, emb_max, emb_top2, fz, local_text = set(), -1, 0.0, 0.0, 0.0, ""
                cov_local = _coverage(cw, local)
                cov_global = _coverage(cw, all_stems)
                claim_nums = [n for n in numbers(claim) if n not in prompt_numbers]
                num_novel = float(any(n not in ev_numbers for n in claim_nums))
                caps = [stem(w) for c in _capitalised(claim) for w in words(c)]
                caps = [c for c in caps if c not in prompt_stems and c not in STOPWORDS]
                ent_novel = (sum(c not in all_stems for c in caps) / len(caps)) if caps else 0.0
                claim_neg = bool(NEGATIONS & set(words(claim)))
                ev_neg = bool(NEGATIONS & set(words(local_text)))
                feats = {
                    "cov_local": cov_local, "cov_global": cov_global, "emb_max": emb_max,
                    "emb_top2": emb_top2, "fuzz": fz, "num_novel": num_novel, "ent_novel": ent_novel,
                    "neg_mismatch": float(claim_neg != ev_neg),
                    "short_claim": float(len(words(claim)) <= SHORT_CLAIM_WORDS),
                }
                missing = [w for w in dict.fromkeys(cw) if w not in local]
                e = ev[best] if best >= 0 else None
                verdicts.append(SentenceVerdict(
                    text=claim, start=a, end=b, verdict="unverifiable", support=float("nan"),
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
                for v in vs if low <= 1.0 - v.support <= high]
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

    def score(self, pairs: Sequence[PairInput]) -> list[PairGrounding]:
        """Judge every pair; the result list is aligned with ``pairs``."""
        embedder, params, threshold = self._validate()
        self.threshold_ = threshold
        per_pair, modes, ev_texts = self._features(pairs, embedder)
        flat = [v for vs in per_pair for v in vs]
        if flat:
            x = np.array([[v.features[f] for f in FEATURES] for v in flat], dtype=np.float64)
            probs = params.prob_unsupported(x)
            for v, pr in zip(flat, probs):
                v.support = float(1.0 - pr)
            if self._verifier is not None:
                self._verify(pairs, per_pair, ev_texts, modes)
        results = []
        for p, verdicts, mode in zip(pairs, per_pair, modes):
            low_conf = _non_ascii_letter_share(p.response) > 0.5
            if mode == "none" or not verdicts:
                for v in verdicts:
                    v.verdict, v.support = "unverifiable", float("nan")
                results.append(PairGrounding(
                    grounding=float("nan"), hallucination_prob=float("nan"), hallucinated=False,
                    evidence_mode=mode, sentences=verdicts, worst_sentence=None, confidence="low"))
                continue
            for v in verdicts:
                v.verdict = "supported" if (1.0 - v.support) < threshold else "unsupported"
            worst = min(verdicts, key=lambda v: v.support)
            prob = 1.0 - worst.support
            results.append(PairGrounding(
                grounding=worst.support, hallucination_prob=prob, hallucinated=prob >= threshold,
                evidence_mode=mode, sentences=verdicts, worst_sentence=worst.text,
                confidence="low" if low_conf else "normal"))
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
