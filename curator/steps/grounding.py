"""``GroundingStep``: grounding of each response in its own source or in retrieved index passages."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import records as R
from ..context import RunContext
from ..dedup.context import has_media, maybe_context
from ..errors import ConfigError
from ..grounding.combiner import NOT_ABOUT_INDEX, NOT_ABOUT_OPEN_TASK, NOT_ABOUT_SOURCE
from ..grounding.tasks import open_ended
from ..records import prompt_text
from .base import Step, alive_mask, put_column, set_drops


class GroundingStep(Step):
    """Grounding of each response in its own source or in retrieved index passages.

    Each row gets a ``grounding_verdict``: ``supported``, ``hallucinated`` or ``unverifiable``
    (no checkable claim, no source, or an index with nothing about it). Drops the
    ``hallucinated`` rows when ``drop=True`` (default); ``unverifiable`` rows are kept and counted.
    A row without a source while others have one is ``unverifiable``, never an error. Every
    ``unverifiable`` row says why in ``unverifiable_reason`` (no checkable claim and what it holds
    instead, no evidence, evidence not about its claims, an open-ended task, unreadable claims,
    media, a doubtful claim, an unknown ``source_id``); other rows have none.

    A row whose ``source_id`` names no document of the index (an id with a trailing space or
    another case, a document ``index add`` skipped) is never graded against retrieved passages:
    with ``unknown_source_id="error"`` (default; the CLI without ``--on-error skip``) the run
    stops before any stage with one line naming the first such rows; with ``"unverifiable"``
    (``--on-error skip``) they are ``unverifiable`` with the reason in ``unverifiable_reason``
    and one warning with their count.

    ``batch_size``: pairs per batch (the unit a Ray worker takes). Each batch embeds its queries
    in one call, whose fixed-shape batches end in partial batches filled with copies: on 500
    instruction rows 1,024 pairs per batch computed 5 % fewer word pieces than 256, with the same
    outputs (benchmarks/RESULTS.md "Scale")."""

    name = "grounding"
    #: Share of the rows with a checkable claim whose evidence is about none of their claims at or
    #: above which the summary and the CLI warn that the evidence does not cover the data.
    UNVERIFIABLE_WARN_SHARE = 0.2
    #: An index that covers almost none of the data: when at least this share of the rows judged
    #: against it (a checkable claim, not an open-ended task; at least ``UNCOVERED_MIN_ROWS`` of
    #: them) have evidence about none of their claims, its few flags come from passages picked for
    #: their similarity in a corpus about other things (read on the real file, LIMA and Alpaca
    #: against a Wikipedia index: true facts against a neighbouring subject). They are listed as
    #: doubtful (worth reading), not dropped. The share mirrors the warning's: the index covers at
    #: most a fifth of the rows (0.9 was tried first and missed LIMA against Wikipedia at 88 %;
    #: the demo, which its index covers, is at 8 %): benchmarks/RESULTS.md. The least number of
    #: rows judged is low on purpose: a wrong call only lists real flags as doubtful (kept), and
    #: at 50 a 1,551-row slice of the real file (32 rows judged, 30 of them about nothing in the
    #: index) lost a right answer ("1. Kenya" against a passage about Algeria); at 10 a 5-row
    #: file warned that 4 of its 5 rows were about nothing in the index and still dropped a true
    #: claim (a second trial).
    UNCOVERED_SHARE = 0.8
    UNCOVERED_MIN_ROWS = 5

    def __init__(self, index: str | None = None, top_k: int = 5, threshold: float | None = None,
                 params: str | None = None, drop: bool = True, batch_size: int = 1024,
                 verifier: str | None = None, verifier_band: tuple[float, float] | list[float] = (0.2, 0.8),
                 verifier_weight: float = 0.5, retrieval_floor: float | None = None,
                 retrieval_min_coverage: float | None = None, unknown_source_id: str = "error") -> None:
        self.index = index
        self.top_k = top_k
        self.threshold = threshold
        self.params = params
        self.drop = drop
        self.batch_size = batch_size
        self.verifier = verifier
        self.verifier_band = tuple(verifier_band)
        self.verifier_weight = verifier_weight
        self.retrieval_floor = retrieval_floor
        self.retrieval_min_coverage = retrieval_min_coverage
        self.unknown_source_id = unknown_source_id

    def check(self, table: Any, ctx: RunContext) -> None:
        """Before any stage runs: the settings, and (``unknown_source_id="error"``) every
        ``source_id`` names a document of the index."""
        from ..errors import InputError, check_param

        check_param("GroundingStep", "unknown_source_id", self.unknown_source_id,
                    self.unknown_source_id in UNKNOWN_SOURCE_ID, f"one of {', '.join(UNKNOWN_SOURCE_ID)}")
        if self.index is None or self.unknown_source_id != "error":
            return
        rows = np.flatnonzero(alive_mask(table))
        unknown = unknown_source_ids(table, rows, ctx.get_index(self.index))
        if unknown:
            where = [f"{_where(table, pos)}: {sid!r}{hint}" for pos, (sid, hint) in list(unknown.items())[:3]]
            raise InputError(
                f"{len(unknown)} rows name a source document that is not in index {self.index} "
                f"({'; '.join(where)}{'; ...' if len(unknown) > 3 else ''}): fix the ids, add the documents with "
                "`curator index add`, or pass --on-error skip to keep these rows as unverifiable.")

    def apply(self, table: Any, ctx: RunContext) -> tuple[Any, dict[str, Any]]:
        import polars as pl

        from ..grounding import PairInput, verdicts_json

        self.check(table, ctx)  # Pipeline.run checked before the first stage; a direct call checks here
        index = ctx.get_index(self.index)
        scorer = self._scorer(ctx)
        rows = np.flatnonzero(alive_mask(table))
        sub = table[rows]
        # A multi-turn row contributes one pair per assistant turn (prompt = preceding turns);
        # `owner` maps each pair back to its row, and the row keeps its worst turn.
        pairs: list[PairInput] = []
        owner: list[int] = []
        media: set[int] = set()
        calls_only: set[int] = set()  # rows of tool calls only: nothing to check
        for j, (ins, inp, resp, src, sid, turns, rec) in enumerate(zip(
                sub[R.INSTRUCTION], sub[R.INPUT], sub[R.RESPONSE], sub[R.SOURCE], sub[R.SOURCE_ID], sub[R.TURNS],
                R.record_texts(sub, maybe=maybe_context))):
            if not (src or "").strip() and sid is None and has_media(rec):
                # The answer may describe an image, a sound or a video that curator does not read:
                # not judged (an empty response is unverifiable), unless the row brings its own
                # source text or document, against which its claims are checked as usual.
                media.add(j)
                pairs.append(PairInput(prompt_text(ins, inp), "", None, None))
                owner.append(j)
            elif turns:
                # A tool call is not a prose claim: not scored (a row of calls only scores an
                # empty response: unverifiable). A tool result is the evidence of the turn that
                # answers from it when the row has no source of its own.
                prose = [t for t in json.loads(turns) if not t.get("tool_call")]
                if not prose:
                    calls_only.add(j)
                    prose = [{"prompt": ins, "response": ""}]
                for t in prose:
                    own = src is not None or sid is not None
                    pairs.append(PairInput(t["prompt"], t["response"], src if own else t.get("context"), sid))
                    owner.append(j)
            else:
                pairs.append(PairInput(prompt_text(ins, inp), resp, src, sid))
                owner.append(j)
        unknown = unknown_source_ids(sub, np.arange(len(rows)), index) if index is not None else {}
        # A row of tool calls only has nothing to check (an empty response): it needs no source.
        checkable = [p for p in pairs if p.response.strip()]
        no_source = sum(not (p.source or "").strip() and p.source_id is None for p in checkable)
        if checkable and no_source == len(checkable) and index is None:
            raise ConfigError("the pairs have no source and no index was given: pass --index NAME "
                              "(build one with `curator index build`) or --source-field.")
        scorer.score([])  # validates the settings here, before any worker starts; sets threshold_
        # The same batches in the same order on every engine: the verifier's batching, if any,
        # then matches too, and the outputs are byte-identical.
        batches = [pairs[start:start + self.batch_size] for start in range(0, len(pairs), self.batch_size)]
        per_pair = [g for out in ctx.map_batches(self._batch_scorer, batches, "grounding") for g in out]
        by_row: list[list[Any]] = [[] for _ in range(len(rows))]
        for o, g in zip(owner, per_pair):
            by_row[o].append(g)
        results = [worst_turn(turns) for turns in by_row]
        # Open-ended tasks (role play, creative writing, code): only a claim the prompt's text states negated is judged.
        open_kind: list[str | None] = [None] * len(rows)
        for o, p in zip(owner, pairs):
            open_kind[o] = open_kind[o] or open_ended(p.prompt, p.source, p.response)
        # Rows judged against their evidence: a checkable claim, evidence, not an open-ended task.
        judgeable = [j for j, g in enumerate(results) if g.evidence_mode != "none" and open_kind[j] is None
                     and any(v.features for v in g.sentences)]
        off = sum(results[j].verdict == "unverifiable" and not results[j].doubtful for j in judgeable)
        uncovered = 0
        if (index is not None and len(judgeable) >= self.UNCOVERED_MIN_ROWS
                and off >= self.UNCOVERED_SHARE * len(judgeable)):
            for g in results:
                if g.hallucinated and g.evidence_mode == "index":
                    for v in g.sentences:
                        if v.verdict == "unsupported":
                            v.verdict = "doubtful"
                    g.verdict, g.hallucinated, g.confidence = "unverifiable", False, "low"
                    g.reason = (f"doubtful: flagged against an index that covers almost none of this data ({off} of "
                                f"{len(judgeable)} rows judged against it are not about it): listed, not dropped")
                    uncovered += 1
        # A pair without a probability (nothing scored) gets a null, never NaN (docs/grounding.md).
        table = put_column(table, R.GROUNDING, rows, [_null(g.grounding) for g in results], pl.Float64)
        table = put_column(table, R.HALLUCINATION_PROB, rows, [_null(g.hallucination_prob) for g in results],
                           pl.Float64)
        table = put_column(table, R.HALLUCINATED, rows, [g.hallucinated for g in results], pl.Boolean)
        table = put_column(table, R.GROUNDING_VERDICT, rows, [g.verdict for g in results], pl.String)
        table = put_column(table, R.N_SENTENCES, rows, [len(g.sentences) for g in results], pl.Int64)
        table = put_column(table, R.N_UNSUPPORTED, rows, [g.n_unsupported for g in results], pl.Int64)
        table = put_column(table, R.WORST_SENTENCE, rows, [g.worst_sentence for g in results], pl.String)
        table = put_column(table, R.CITATIONS, rows, [",".join(dict.fromkeys(g.citations)) for g in results], pl.String)
        table = put_column(table, R.EVIDENCE_MODE, rows, [g.evidence_mode for g in results], pl.String)
        table = put_column(table, "grounding_confidence", rows, [g.confidence for g in results], pl.String)
        table = put_column(table, R.SENTENCES, rows, [verdicts_json(g) for g in results], pl.String)
        why: list[str | None] = [None] * len(rows)
        unreadable = Counter[str]()
        for j, g in enumerate(results):
            found = unreadable_claims(g)
            unreadable.update(found)
            if found and g.verdict == "unverifiable":
                why[j] = f"claims {', '.join(_phrase(r) for r in dict.fromkeys(found))}: curator's checks do not read them"
        for j, kind in enumerate(open_kind):
            # (not when nothing in it could be judged anyway: no claim, no evidence, a doubtful claim)
            if (kind is not None and why[j] is None and results[j].verdict == "unverifiable"
                    and results[j].reason in (None, NOT_ABOUT_INDEX, NOT_ABOUT_SOURCE, NOT_ABOUT_OPEN_TASK)):
                why[j] = (f"an open-ended task ({kind}): the prompt's text is a premise the answer may add to; "
                          "only a claim it states negated is judged")
        for j in media:
            why[j] = "the row holds media (image, audio or video) that curator does not read: not judged"
        for j in calls_only:
            why[j] = "no checkable claim: the row holds only tool calls (a call is not a prose claim)"
        for j, (sid, hint) in unknown.items():
            if results[j].verdict == "unverifiable":
                why[j] = f"source_id {sid!r} is not a document of the index{hint}"
        for j, g in enumerate(results):  # every unverifiable row says why (the judgement's reason)
            if g.verdict == "unverifiable" and why[j] is None:
                why[j] = g.reason or "not judged"
        if any(w is not None for w in why):
            table = put_column(table, R.UNVERIFIABLE_REASON, rows, why, pl.String)
        verdicts = Counter(g.verdict for g in results)
        stats: dict[str, Any] = {
            "flagged": int(sum(g.hallucinated for g in results)),
            "verdicts": {v: int(verdicts.get(v, 0)) for v in ("supported", "hallucinated", "unverifiable")},
            "doubtful": int(sum(g.doubtful for g in results)),
            "evidence_modes": dict(Counter(g.evidence_mode for g in results)),
            "threshold": getattr(scorer, "threshold_", self.threshold)}
        warnings = []
        kinds = Counter(k for k in open_kind if k is not None)
        if kinds:
            stats["open_ended"] = dict(kinds)
            warnings.append(f"{sum(kinds.values())} rows are open-ended tasks ("
                            + ", ".join(f"{n} {k}" for k, n in kinds.most_common())
                            + "): only a claim their prompt's text states negated is judged, never what it lacks.")
        if media:
            stats["media_rows"] = len(media)
            warnings.append(f"{len(media)} rows hold media (image, audio or video) that curator does not read "
                            "and no source text: they are unverifiable (kept, not judged).")
        if index is None and no_source:
            warnings.append(f"{no_source} pairs have no source text: they are unverifiable (kept, not judged).")
        if unreadable:
            parts = ", ".join(f"{n} {_phrase(r)}" for r, n in unreadable.most_common())
            warnings.append(f"{sum(unreadable.values())} claims are unverifiable (not supported): curator's checks "
                            f"do not read them ({parts}); their names and numbers are never compared.")
        if unknown:
            examples = ", ".join(f"{sid!r}{hint}" for sid, hint in list(unknown.values())[:3])
            warnings.append(f"{len(unknown)} rows name a source document that is not in the index ({examples}"
                            f"{', ...' if len(unknown) > 3 else ''}): they are unverifiable (kept, not judged), "
                            "never graded against other documents; fix the ids or add the documents with "
                            "`curator index add`.")
        # Rows with a checkable claim and evidence, not open-ended, none of whose claims the
        # evidence is about (counted before the uncovered-index rule above).
        stats["not_about"] = off
        if judgeable and off >= self.UNVERIFIABLE_WARN_SHARE * len(judgeable):
            what = ("the index does not seem to cover this data" if index is not None
                    else "the sources do not seem to cover these responses")
            warnings.append(f"{off} of {len(judgeable)} rows with a checkable claim that are not open-ended tasks "
                            f"({off / len(judgeable):.0%}) are unverifiable: {what} (the evidence found is about "
                            "something else); they are kept, not judged.")
        if uncovered:
            stats["uncovered_index_flags"] = uncovered
            n_rows = "1 row" if uncovered == 1 else f"{uncovered} rows"
            warnings.append(f"{n_rows} flagged against an index that covers almost none of this data (at least "
                            f"{self.UNCOVERED_SHARE:.0%} of the rows judged against it are about nothing in it) "
                            "kept as doubtful, not dropped (unverifiable; listed in report.html where one is "
                            "written).")
        if warnings:
            stats["warnings"] = warnings
        if self.drop:
            reasons = ["hallucinated" if g.hallucinated else None for g in results]
            details = [f"hallucination_prob={g.hallucination_prob:.2f}; unsupported: {g.worst_sentence!r}"
                       if g.hallucinated else None for g in results]
            table = set_drops(table, self.name, reasons, details, rows=rows)
        return table, stats

    def depends_on(self, ctx: RunContext) -> dict[str, str]:
        """The index's manifest (it holds the sha256 of every index file, so `index add` and
        `index build --force` change it) and document list, the parameters file (the shipped one
        when none is given) and a verifier folder: an edit to any of them changes verdicts."""
        from importlib import resources
        from pathlib import Path

        from ..context import folder_digest
        from ..index import DOCUMENTS_FILE, MANIFEST_FILE

        out: dict[str, str] = {}
        if self.index is not None:
            folder = ctx.index_path(self.index)
            h = hashlib.sha256()
            for name in (MANIFEST_FILE, DOCUMENTS_FILE):
                if (folder / name).exists():
                    h.update(name.encode() + b"\0" + (folder / name).read_bytes())
            out["index"] = h.hexdigest()
        if self.params is not None:
            out["params"] = folder_digest(self.params)
        else:
            shipped = resources.files("curator").joinpath("data/grounding_params.json").read_bytes()
            out["params"] = hashlib.sha256(shipped).hexdigest()
        if isinstance(self.verifier, (str, Path)) and Path(self.verifier).exists():
            out["verifier"] = folder_digest(self.verifier)
        return out

    def _scorer(self, ctx: RunContext) -> Any:
        from ..grounding import RETRIEVAL_FLOOR, RETRIEVAL_MIN_COVERAGE, GroundingScorer

        verifier: Any = self.verifier
        if isinstance(verifier, str) and ctx.embedder.device != "cpu":
            from ..embed import resolve_device

            device = resolve_device(ctx.embedder.device)
            if device != "cpu":
                # the cross-encoder runs where the embedder runs (a GPU when there is one)
                from ..grounding import GroundingVerifier

                verifier = GroundingVerifier(verifier, device=device)
        return GroundingScorer(embedder=ctx.embedder, index=ctx.get_index(self.index), top_k=self.top_k,
                               threshold=self.threshold, params=self.params, verifier=verifier,
                               verifier_band=self.verifier_band, verifier_weight=self.verifier_weight,
                               retrieval_floor=RETRIEVAL_FLOOR if self.retrieval_floor is None else self.retrieval_floor,
                               retrieval_min_coverage=(RETRIEVAL_MIN_COVERAGE if self.retrieval_min_coverage is None
                                                       else self.retrieval_min_coverage))

    def _batch_scorer(self, ctx: RunContext) -> Callable[[list[Any]], list[Any]]:
        return self._scorer(ctx).score


def worst_turn(turns: list[Any]) -> Any:
    """A conversation is as grounded as its worst assistant turn; its sentences are all turns'."""
    from ..grounding import PairGrounding

    if len(turns) == 1:
        return turns[0]
    scored = [g for g in turns if not np.isnan(g.hallucination_prob)]
    worst = max(scored, key=lambda g: g.hallucination_prob) if scored else turns[0]
    hallucinated = any(g.hallucinated for g in turns)
    doubtful = not hallucinated and any(g.doubtful for g in turns)
    verdict = ("hallucinated" if hallucinated else "unverifiable" if doubtful else
               "supported" if any(g.verdict == "supported" for g in turns) else "unverifiable")
    # an unverifiable conversation: why its doubtful turns are doubtful, or why no turn was judged
    why = [(i, g.reason) for i, g in enumerate(turns) if g.verdict == "unverifiable" and (g.doubtful or not doubtful)]
    reason = (why[0][1] if len({r for _, r in why}) == 1 else
              "; ".join(f"answer {i + 1}: {r}" for i, r in why)) if verdict == "unverifiable" and why else None
    return PairGrounding(grounding=worst.grounding, hallucination_prob=worst.hallucination_prob,
                         hallucinated=hallucinated, evidence_mode=worst.evidence_mode,
                         sentences=[s for g in turns for s in g.sentences], worst_sentence=worst.worst_sentence,
                         confidence="low" if any(g.confidence == "low" for g in turns) else "normal",
                         verdict=verdict, reason=reason)


def _null(x: float) -> float | None:
    return None if x is None or math.isnan(x) else x


#: What GroundingStep does with a ``source_id`` the index does not have.
UNKNOWN_SOURCE_ID = ("error", "unverifiable")


def unknown_source_ids(table: Any, rows: np.ndarray, index: Any) -> dict[int, tuple[str, str]]:
    """Position (in ``rows``) -> (source id, hint) of the rows that name a document by
    ``source_id``, have no source text of their own (which would win), and whose document the
    index does not have. The hint names a document whose id differs only in case or surrounding
    spaces (" (did you mean 'd1'?)"), else ""."""
    if index is None or table[R.SOURCE_ID].null_count() == table.height:
        return {}
    known = set(index.passages["doc_id"].unique().to_list())
    folded = {str(k).strip().casefold(): k for k in known}
    out: dict[int, tuple[str, str]] = {}
    sids = table[R.SOURCE_ID].to_list()
    srcs = table[R.SOURCE].to_list()
    for j, pos in enumerate(rows):
        sid, src = sids[int(pos)], srcs[int(pos)]
        if sid is None or (src is not None and src.strip()) or sid in known:
            continue
        near = folded.get(sid.strip().casefold())
        out[j] = (sid, f" (did you mean {near!r}?)" if near is not None else "")
    return out


def _where(table: Any, pos: int) -> str:
    """"line 3" (or "shard.jsonl:3" among several files) of a table row, for messages."""
    line = table[R.LINE][int(pos)]
    if R.FILE in table.columns and table[R.FILE][int(pos)] is not None:
        return f"{table[R.FILE][int(pos)]}:{line}"
    return f"line {line}"


def unreadable_claims(g: Any) -> list[str]:
    """Why each of a pair's unverifiable claims could not be read ("Arabic script", "a number in
    French words"; see :mod:`curator.grounding.coverage`), one entry per such claim."""
    from ..grounding.coverage import unreadable_reason

    out = []
    for v in g.sentences:
        if v.verdict == "unverifiable":
            reason = unreadable_reason(v.text)
            if reason is not None:
                out.append(reason)
    return out


def _phrase(reason: str) -> str:
    """"in Arabic script", "with a number in French words"."""
    return f"with {reason}" if reason.startswith("a number") else f"in {reason}"
