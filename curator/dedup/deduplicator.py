"""The :class:`Deduplicator`: exact, near and semantic stages, value guard, star clusters."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError, check_param
from .checks import _check_texts, _is_int, _is_unit_interval
from .cluster import _star_clusters
from .exact import ExactDuplicateFinder
from .guard import _ValueGuard, swapped_task
from .near import DEFAULT_NEAR_THRESHOLD, DEFAULT_NGRAM, NearDuplicateFinder
from .preamble import PREAMBLE_MIN_ROWS, Preambles, split_preambles
from .semantic import DEFAULT_SEMANTIC_THRESHOLD, RowVectors, SemanticDuplicateFinder

_METHODS = ("exact", "near", "semantic")


@dataclass
class DedupResult:
    """Per-row outcome of :meth:`Deduplicator.run`.

    Attributes
    ----------
    cluster_id : int64, the smallest row index of the row's cluster (singletons: their own).
    cluster_size : int64, rows in the row's cluster.
    keep : bool, exactly one True per cluster.
    duplicate_of : int64, the kept row of the row's cluster; -1 for kept rows.
    method : "exact" | "near" | "semantic" for dropped rows: the kind of edge linking the row
        (or its group of exact copies) to the kept row; None for kept rows.
    similarity : float64, similarity of that edge (1.0 for exact); NaN for kept rows.
    stats : counts per method, cluster-size histogram, parameters and timings (seconds).
    """

    cluster_id: np.ndarray
    cluster_size: np.ndarray
    keep: np.ndarray
    duplicate_of: np.ndarray
    method: list[str | None]
    similarity: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def kept_indices(self) -> np.ndarray:
        """Row indices of the kept rows, ascending."""
        return np.flatnonzero(self.keep)

    def __len__(self) -> int:
        return len(self.keep)


class Deduplicator:
    """Find exact, near and semantic duplicates and keep the best row of each cluster.

    Exact copies are grouped first and only the group's best row goes on to the near and semantic
    stages (the others follow it), which saves work on copy-heavy data. Near and semantic edges
    that pass the value guard are clustered into stars (:func:`star_clusters`): in keep order
    (highest score, ties and ``scores=None``: the lowest row index) each row not yet absorbed is
    kept and absorbs its direct neighbours, so every dropped row is directly similar to its
    kept row.

    Parameters
    ----------
    exact, near, semantic : which finders run. Semantic needs ``embeddings`` in :meth:`run`;
        without them it is skipped and ``stats["skipped"]`` says so.
    near_threshold : Jaccard threshold of :class:`NearDuplicateFinder`.
    semantic_threshold : cosine threshold of :class:`SemanticDuplicateFinder`.
    num_perm, ngram : MinHash permutations and character n-gram length.
    verify : exact-Jaccard check of near-duplicate candidates.
    k : neighbours per row in the semantic search.
    random_state : seed of every randomised step.
    allow_value_changes : let the near and semantic stages merge rows whose numbers, operators,
        symbols or names differ ("... in 2019?" / "... in 2020?"); off by default, as such a
        difference usually makes a different task. Templated sets (GSM8K-style) may want it.
    preambles : find preambles shared by many rows (a system prompt, a tool description: see
        :mod:`~curator.dedup.preamble`) and compare the near and semantic stages on what follows
        them, only among rows under the same preamble (``preamble_min_rows``: rows with
        different rests that make a preamble). False: whole texts, as before.

    >>> dd = Deduplicator(semantic=False)
    >>> res = dd.run(["Is it raining?", "is it raining", "Paris is in France."])
    >>> res.cluster_id.tolist(), res.stats["n_clusters"]
    ([0, 0, 2], 2)
    """

    def __init__(
        self,
        exact: bool = True,
        near: bool = True,
        semantic: bool = True,
        near_threshold: float = DEFAULT_NEAR_THRESHOLD,
        semantic_threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
        num_perm: int = 128,
        ngram: int = DEFAULT_NGRAM,
        verify: bool = True,
        k: int = 10,
        random_state: int = 0,
        allow_value_changes: bool = False,
        preambles: bool = True,
        preamble_min_rows: int = PREAMBLE_MIN_ROWS,
    ) -> None:
        self.exact = exact
        self.near = near
        self.semantic = semantic
        self.near_threshold = near_threshold
        self.semantic_threshold = semantic_threshold
        self.num_perm = num_perm
        self.ngram = ngram
        self.verify = verify
        self.k = k
        self.random_state = random_state
        self.allow_value_changes = allow_value_changes
        self.preambles = preambles
        self.preamble_min_rows = preamble_min_rows

    def _validate(self) -> None:
        for name in ("exact", "near", "semantic", "verify", "allow_value_changes", "preambles"):
            value = getattr(self, name)
            check_param("Deduplicator", name, value, isinstance(value, bool), "a bool")
        check_param("Deduplicator", "near_threshold", self.near_threshold,
                    _is_unit_interval(self.near_threshold), "a float in (0, 1]")
        check_param("Deduplicator", "semantic_threshold", self.semantic_threshold,
                    _is_unit_interval(self.semantic_threshold), "a float in (0, 1]")
        check_param("Deduplicator", "num_perm", self.num_perm, _is_int(self.num_perm, 2),
                    "an int >= 2")
        check_param("Deduplicator", "ngram", self.ngram, _is_int(self.ngram, 1), "an int >= 1")
        check_param("Deduplicator", "k", self.k, _is_int(self.k, 1), "an int >= 1")
        check_param("Deduplicator", "preamble_min_rows", self.preamble_min_rows,
                    _is_int(self.preamble_min_rows, 2), "an int >= 2")
        check_param("Deduplicator", "random_state", self.random_state,
                    _is_int(self.random_state, 0), "an int >= 0")

    def run(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray | RowVectors | None = None,
        scores: Sequence[float] | None = None,
        progress: Callable[[str], None] | None = None,
        semantic_mask: Sequence[bool] | np.ndarray | None = None,
        context: Sequence[int] | np.ndarray | None = None,
        preambles: Preambles | None = None,
        answers: Sequence[str | None] | None = None,
    ) -> DedupResult:
        """Cluster duplicate rows and choose one row to keep per cluster.

        ``context`` (n,) int: a key of what each row holds besides its text (its media and
        offered tools, :func:`~curator.dedup.context.context_keys`); rows with different keys
        are never duplicates of any kind. ``preambles``: :func:`split_preambles` of ``texts``
        if already found (the pipeline finds them first, to embed the bodies); by default
        found here when the ``preambles`` option is on. ``answers`` (n,): the rows' responses
        when ``texts`` are their prompts: near and semantic never merge two rows whose short
        answers differ, nor a short answer with a longer one that does not hold it
        (:func:`~curator.dedup.guard.answer_ids`; not with ``allow_value_changes``).
        ``embeddings`` (n, dim), an array or a :class:`RowVectors`, feed the semantic stage:
        vectors of the texts it compares, ``preambles.bodies`` (each text after its shared
        preamble; the text itself when it has none);
        ``scores`` (n,) rank rows within a
        cluster (higher is kept; NaN ranks lowest). ``semantic_mask`` (n,) bool: rows the
        semantic stage may compare (default all; the pipeline leaves out texts the embedding
        model cannot read, see ``curator.pipeline.DedupStep``). ``progress`` is called with the
        name of each stage ("exact", "near", "semantic", "cluster") as it starts.
        """
        def stage(name: str) -> None:
            if progress is not None:
                progress(name)

        self._validate()
        rows = _check_texts(texts)
        n = len(rows)
        emb: RowVectors | None = None
        if embeddings is not None:
            if isinstance(embeddings, RowVectors):
                emb = embeddings
            else:
                arr = np.asarray(embeddings)
                if arr.ndim != 2:
                    raise InputError(
                        f"embeddings must have shape ({n}, dim) to match the texts; got {arr.shape}."
                    )
                emb = RowVectors.of(arr)
            if len(emb) != n:
                raise InputError(
                    f"embeddings must have shape ({n}, dim) to match the texts; got {emb.shape}."
                )
        score = np.zeros(n)
        if scores is not None:
            try:
                score = np.asarray(scores, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError) as exc:
                raise InputError(f"scores must be numbers: {exc}") from exc
            if len(score) != n:
                raise InputError(f"scores has {len(score)} values for {n} texts.")
            score = np.where(np.isnan(score), -np.inf, score)
        ctx = np.zeros(n, dtype=np.int64)
        if context is not None:
            ctx = np.asarray(context, dtype=np.int64).reshape(-1)
            if len(ctx) != n:
                raise InputError(f"context has {len(ctx)} values for {n} texts.")
        if preambles is None:
            preambles = (split_preambles(rows, self.preamble_min_rows) if self.preambles
                         else Preambles(rows, np.zeros(n, dtype=np.int64)))
        elif len(preambles.bodies) != n:
            raise InputError(f"preambles has {len(preambles.bodies)} rows for {n} texts.")
        bodies = preambles.bodies
        # near and semantic compare rows of one partition only: same context, same preamble
        _, part = np.unique(np.stack([ctx, preambles.preamble]), axis=1, return_inverse=True)
        part = part.reshape(-1).astype(np.int64)
        sem_ok = np.ones(n, dtype=bool)
        if semantic_mask is not None:
            sem_ok = np.asarray(semantic_mask, dtype=bool).reshape(-1)
            if len(sem_ok) != n:
                raise InputError(f"semantic_mask has {len(sem_ok)} values for {n} texts.")
        # keep-priority: highest score first, then lowest row index
        order = np.lexsort((np.arange(n), -score))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)

        timings: dict[str, float] = {}
        skipped: dict[str, str] = {}
        edges: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        lsh: dict[str, int] = {}

        # Exact stage: groups of identical normalised text. `rep` = the group's best-ranked row,
        # which the later stages compare for the whole group.
        stage("exact")
        t0 = time.perf_counter()
        exact_finder = ExactDuplicateFinder()
        first, empty = exact_finder._groups(rows)
        if ctx.any():  # the same text with other media or tools is another row
            _, grp = np.unique(np.stack([first, ctx]), axis=1, return_inverse=True)
            grp = grp.reshape(-1)
            lowest = np.full(int(grp.max()) + 1, n, dtype=np.int64)
            np.minimum.at(lowest, grp, np.arange(n))
            first = lowest[grp]
        if self.exact:
            best = np.full(n, n, dtype=np.int64)
            np.minimum.at(best, first, rank)
            rep = order[best[first]]
            dup = np.flatnonzero(rep != np.arange(n))
            edges["exact"] = (rep[dup], dup, np.ones(len(dup)))
        else:
            skipped["exact"] = "disabled"
            rep = np.arange(n, dtype=np.int64)
        timings["exact"] = time.perf_counter() - t0
        # Later stages see one row per exact group and never an empty row, and only rows that
        # share their partition with another such row.
        distinct = np.flatnonzero((rep == np.arange(n)) & ~empty)
        active = distinct[np.bincount(part[distinct], minlength=n)[part[distinct]] > 1]
        if answers is not None and len(answers) != n:
            raise InputError(f"answers has {len(answers)} values for {n} texts.")
        guard = None if self.allow_value_changes else _ValueGuard(bodies, answers)
        blocked: dict[str, int] = {}  # "pairs": would-be absorptions the value guard refused

        if self.near:
            stage("near")
            t0 = time.perf_counter()
            finder = NearDuplicateFinder(
                threshold=self.near_threshold, num_perm=self.num_perm, ngram=self.ngram,
                verify=self.verify, random_state=self.random_state,
            )
            i, j, s = finder._pair_arrays([bodies[a] for a in active], rank=rank[active],
                                          groups=None if not part.any() else part[active])
            i, j = active[i], active[j]
            if guard is not None and len(i):
                # under one shared preamble a short body is the task: a swapped word is another task
                swap = np.array([preambles.preamble[a] > 0 and swapped_task(bodies[a], bodies[b])
                                 for a, b in zip(i.tolist(), j.tolist())], dtype=bool)
                blocked["swapped_task"] = int(swap.sum())
                i, j, s = i[~swap], j[~swap], s[~swap]
            edges["near"] = (i, j, s)
            lsh = {"bands": finder.bands_, "rows": finder.rows_,
                   "candidates": finder.n_candidates_}
            timings["near"] = time.perf_counter() - t0
        else:
            skipped["near"] = "disabled"

        if self.semantic and emb is not None:
            stage("semantic")
            t0 = time.perf_counter()
            sem = SemanticDuplicateFinder(threshold=self.semantic_threshold, k=self.k,
                                          random_state=self.random_state)
            sem_rows = active[sem_ok[active]]
            # the rows are read from ``emb`` in blocks (no copy of the subset)
            i, j, s = sem._pair_arrays(emb if len(sem_rows) == n else emb.subset(sem_rows))
            i, j = sem_rows[i], sem_rows[j]
            same = part[i] == part[j]
            edges["semantic"] = (i[same], j[same], s[same])
            timings["semantic"] = time.perf_counter() - t0
        elif self.semantic:
            skipped["semantic"] = "no embeddings given"
        else:
            skipped["semantic"] = "disabled"

        stage("cluster")
        t0 = time.perf_counter()
        # Star clustering of the group representatives over near and semantic edges (near
        # first: with both, the literal evidence names the merge); exact copies follow their
        # representative.
        ei, ej, es, ek = [], [], [], []
        for code, name in enumerate(_METHODS):
            if name != "exact" and name in edges:
                ei.append(edges[name][0])
                ej.append(edges[name][1])
                es.append(edges[name][2])
                ek.append(np.full(len(edges[name][0]), code, dtype=np.int64))
        none = np.zeros(0, dtype=np.int64)
        all_i, all_j = np.concatenate(ei + [none]), np.concatenate(ej + [none])
        aligned: dict[tuple[int, int], bool] = {}

        def accept(u: int, v: int) -> bool:  # the word alignment, for pairs left open (ASK)
            assert guard is not None
            ok = aligned.get((u, v))
            if ok is None:
                ok = aligned[(u, v)] = not guard._aligned_either(u, v)
            return ok

        # the guard's cheap decisions for every edge at once (vectorised); the star loop asks
        # the alignment only for ASK edges that would absorb a free row
        verdict = None if guard is None else guard.verdicts(all_i, all_j)
        centre, via_sim, via_kind, refused = _star_clusters(
            rank, all_i, all_j, np.concatenate(es + [np.zeros(0)]), np.concatenate(ek + [none]),
            accept=None if guard is None else accept, verdict=verdict)
        # each refused (centre, row) pair counted once, however many edges join them
        blocked["pairs"] = len(np.unique(refused[:, 0] * n + refused[:, 1])) if len(refused) else 0
        kept = np.where(centre[rep] >= 0, centre[rep], rep)
        keep = kept == np.arange(n)
        duplicate_of = np.where(keep, -1, kept)
        cluster = np.full(n, n, dtype=np.int64)
        np.minimum.at(cluster, kept, np.arange(n))
        cluster = cluster[kept]
        size = np.bincount(cluster, minlength=n)[cluster]
        method: list[str | None] = [None] * n
        similarity = np.full(n, np.nan)
        for r in np.flatnonzero(~keep).tolist():
            if rep[r] == kept[r]:
                method[r], similarity[r] = "exact", 1.0
            else:  # the group's representative was absorbed by the kept row through one edge
                g = rep[r]
                method[r], similarity[r] = _METHODS[via_kind[g]], float(via_sim[g])
        timings["cluster"] = time.perf_counter() - t0

        sizes, counts = np.unique(size[keep], return_counts=True)
        hist = {int(a): int(b) for a, b in zip(sizes, counts)}
        stats: dict[str, Any] = {
            "n_rows": n,
            "n_kept": int(keep.sum()),
            "n_dropped": int(n - keep.sum()),
            "n_clusters": int(keep.sum()),
            "n_empty": int(empty.sum()),
            "dropped_by_method": {m: sum(1 for x in method if x == m) for m in _METHODS},
            "pairs_by_method": {m: int(len(edges[m][0])) for m in _METHODS if m in edges},
            "pairs_blocked_by_value_guard": blocked.get("pairs", 0),
            "near_pairs_with_a_swapped_task": blocked.get("swapped_task", 0),
            "semantic_excluded": int((~sem_ok[distinct]).sum()) if self.semantic else 0,
            "cluster_size_histogram": hist,
            "skipped": skipped,
            "near_lsh": lsh,
            "timings_s": timings,
        }
        # only when there are any: summaries of data without them stay as they were
        if ctx.any():
            stats["rows_with_context"] = int((ctx != 0).sum())
        if preambles.stats["preambles"]:
            stats.update(preambles.stats)
        return DedupResult(
            cluster_id=cluster, cluster_size=size.astype(np.int64), keep=keep,
            duplicate_of=duplicate_of.astype(np.int64), method=method,
            similarity=similarity, stats=stats,
        )
