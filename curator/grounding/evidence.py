"""The evidence a pair is judged against, and the evidence window a verifier reads.

A pair's evidence is its own source text when it has one, else the passages of its named
document (``source_id``) in a :class:`~curator.index.PassageIndex`, else the passages retrieved
from that index for the pair and for each of its claims. Passages are split into evidence
sentences, each remembering its passage (the citation) and its span there.

:func:`evidence_window` picks, from a long source, the sentences aligned with one claim, within
a word budget (the evidence side of a cross-encoder's input).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import check_param
from ..text import STOPWORDS, chunk_text, numbers, segment_claims, sentence_spans, stem, words
from .claims import PairInput, _claim_query

if TYPE_CHECKING:  # typing only; keeps faiss and the model out of import time
    from ..embed import Embedder
    from ..index import PassageIndex

#: A source "sentence" longer than this many words (lists, transcripts) is cut into pieces.
MAX_UNIT_WORDS = 48


@dataclass
class _EvidenceSentence:
    text: str
    passage: str          # citation id of the passage
    start: int            # span within the passage
    end: int
    record: bool = False  # the passage is a structured record (a JSON tool result, "key: value" lines)
    json: bool = False    # ... and a JSON one (a tool's result as it returned it)


def _split_passage(pid: str, text: str) -> list[_EvidenceSentence]:
    rec = _is_record(text)
    js = rec and text.lstrip()[:1] in "{["
    return [_EvidenceSentence(s, pid, a, b, rec, js) for s, a, b in sentence_spans(text)]


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


def gather_evidence(pairs: Sequence[PairInput], embedder: Embedder, index: PassageIndex | None, top_k: int,
                    source_chunk_tokens: int, pair_query: str = "auto", pair_query_concat_words: int = 64,
                    open_tasks: Sequence[bool] | None = None,
                    ) -> tuple[list[list[_EvidenceSentence]], list[str]]:
    """Per pair: its evidence sentences and its evidence mode.

    The mode is ``source`` (the pair's own source, cut into passages of ``source_chunk_tokens``
    tokens, cited ``s0``, ``s1`` ...), ``source_id`` (the passages of its document in ``index``;
    ``none`` when the index has no document of that id),
    ``index`` (the top-``top_k`` passages retrieved for the pair and for each of its claims,
    cited ``p<passage id>``) or ``none``. ``pair_query``, ``pair_query_concat_words``: see
    :func:`pair_queries`. ``open_tasks``: per pair, whether it is an open-ended task (its pair
    query is the mean: :func:`pair_queries`)."""
    modes: list[str] = []
    passages: list[list[tuple[str, str]]] = []   # per pair: (citation id, passage text)
    need_retrieval: list[int] = []
    for i, p in enumerate(pairs):
        if p.source is not None and p.source.strip():
            chunks = chunk_text(p.source, source_chunk_tokens, 1)
            passages.append([(f"s{j}", c.text) for j, c in enumerate(chunks)])
            modes.append("source")
        elif p.source_id is not None and index is not None:
            # A named document the index lacks is no evidence (mode "none": unverifiable), never a
            # silent retrieval from the whole index, whose other documents could "support" it.
            named = index.passages_of(p.source_id)
            passages.append([(f"p{q.passage_id}", q.text) for q in named])
            modes.append("source_id" if named else "none")
        elif index is not None and len(index):
            passages.append([])
            modes.append("index")
            need_retrieval.append(i)
        else:
            passages.append([])
            modes.append("none")
    if need_retrieval:
        assert index is not None
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
        pair_vecs, claim_vecs = pair_queries([pairs[i] for i in need_retrieval], embedder, n_claims,
                                             pair_query, pair_query_concat_words, also=queries,
                                             open_tasks=[bool(open_tasks and open_tasks[i]) for i in need_retrieval])
        qvecs = np.stack([pair_vecs[k] if k >= 0 else claim_vecs[-1 - k] for k in slot]).astype(np.float32)
        hits = index.search(qvecs, k=top_k)
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


def pair_queries(pairs: Sequence[PairInput], embedder: Embedder, n_claims: Sequence[int],
                 pair_query: str = "auto", pair_query_concat_words: int = 64,
                 also: Sequence[str] = (), open_tasks: Sequence[bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One unit query vector per pair, for retrieving the passages of its topic; and the
    vectors of the texts ``also``, embedded in the same call.

    ``pair_query`` is :attr:`GroundingScorer.PAIR_QUERY <curator.grounding.GroundingScorer.PAIR_QUERY>`
    (``concat``, ``mean`` or ``auto``), ``pair_query_concat_words`` its
    ``PAIR_QUERY_CONCAT_WORDS``; ``n_claims`` = each pair's number of checked claims;
    ``open_tasks``: per pair, whether it is an open-ended task, whose query under "auto" is the
    mean (its prompt asks for a piece of work: no short answer finds its passage through it)."""
    def concat(p: PairInput, n: int, open_task: bool) -> bool:
        if pair_query == "concat" or not (p.prompt.strip() and p.response.strip()):
            return True
        return pair_query == "auto" and not open_task and (
            n <= 1 or len(p.prompt.split()) + len(p.response.split()) <= pair_query_concat_words)

    opens = list(open_tasks) if open_tasks is not None else [False] * len(pairs)
    joined = [concat(p, n, o) for p, n, o in zip(pairs, n_claims, opens)]
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


def _units(source: str) -> list[tuple[int, str]]:
    """Source sentences (long ones cut into ~MAX_UNIT_WORDS-word pieces), with their order."""
    out: list[str] = []
    for sent, _, _ in sentence_spans(source):
        toks = sent.split()
        if len(toks) <= MAX_UNIT_WORDS:
            out.append(sent)
            continue
        n = math.ceil(len(toks) / MAX_UNIT_WORDS)
        size = math.ceil(len(toks) / n)
        out.extend(" ".join(toks[i:i + size]) for i in range(0, len(toks), size))
    return list(enumerate(out))


def evidence_window(claim: str, source: str, max_words: int = 150) -> str:
    """The source sentences most relevant to ``claim``, in source order, within ``max_words`` words.

    A source that fits is returned unchanged. A longer one is split into sentences (a sentence of
    more than ``MAX_UNIT_WORDS`` words is cut into pieces), and sentences are chosen greedily:

    1. each sentence's *gain* is the weight of the claim's content words (crude stems) it covers
       that the sentences already chosen do not, a word weighing its inverse frequency among the
       source's sentences (a name or number found once counts more than a word found everywhere),
       plus 0.25 x the rapidfuzz ``token_set_ratio`` of claim and sentence (in [0, 1]) to break
       ties and to favour paraphrased alignments;
    2. the sentence with the largest gain that still fits is taken; repeat until nothing fits or
       no sentence adds a new word; then the budget left is filled with the remaining sentences
       by their own (not marginal) score, the sentence next to a chosen one first.

    The chosen sentences are joined in source order, so a claim that combines sentences 2 and 40
    of a long document sees both, and nothing is silently dropped from the start or the end.
    """
    check_param("evidence_window", "max_words", max_words, isinstance(max_words, int) and max_words >= 8,
                "an int >= 8")
    source = source or ""
    if len(source.split()) <= max_words:
        return source.strip()
    from rapidfuzz import fuzz

    units = _units(source)
    if not units:
        return ""
    unit_stems = [{stem(w) for w in words(u)} | set(numbers(u)) for _, u in units]
    claim_stems = {stem(w) for w in words(claim) if w not in STOPWORDS} | set(numbers(claim))
    n = len(units)
    df: dict[str, int] = {}
    for s in unit_stems:
        for w in s & claim_stems:
            df[w] = df.get(w, 0) + 1
    # Claim words absent from the source weigh nothing: no sentence can cover them.
    weight = {w: math.log(1.0 + n / df[w]) for w in claim_stems if w in df}
    # math.fsum: exact, so the sums (and the tie-breaks below) do not depend on set iteration order,
    # which changes with PYTHONHASHSEED from one process to the next.
    total = math.fsum(weight.values()) or 1.0
    fz = [fuzz.token_set_ratio(claim, u) / 100.0 for _, u in units]
    own = [math.fsum(weight.get(w, 0.0) for w in s) / total + 0.25 * f for s, f in zip(unit_stems, fz)]
    lengths = [len(u.split()) for _, u in units]

    chosen: set[int] = set()
    covered: set[str] = set()
    budget = max_words
    while True:
        best, best_gain = -1, 0.0
        for i in range(n):
            if i in chosen or lengths[i] > budget:
                continue
            new = math.fsum(weight.get(w, 0.0) for w in unit_stems[i] - covered) / total
            if new <= 0.0:
                continue
            gain = new + 0.25 * fz[i]
            if gain > best_gain:
                best, best_gain = i, gain
        if best < 0:
            break
        chosen.add(best)
        covered |= unit_stems[best]
        budget -= lengths[best]
    # Fill what is left: neighbours of chosen sentences first (context for pronouns), then by score.
    rest = sorted((i for i in range(n) if i not in chosen),
                  key=lambda i: (not ({i - 1, i + 1} & chosen), -own[i], i))
    for i in rest:
        if lengths[i] <= budget:
            chosen.add(i)
            budget -= lengths[i]
    if not chosen:  # every sentence alone is longer than the budget (cannot happen for max_words >= MAX_UNIT_WORDS)
        i = int(np.argmax(own))
        return " ".join(units[i][1].split()[:max_words])
    return " ".join(units[i][1] for i in sorted(chosen))
