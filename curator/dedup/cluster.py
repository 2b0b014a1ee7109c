"""Clustering of duplicate edges: star clusters (every drop directly similar to its kept row)
and connected components (kept for comparison and the benchmarks)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .guard import ASK, PASS


# ---------------------------------------------------------------------------------------------
# Clustering and selection
# ---------------------------------------------------------------------------------------------
def connected_components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Label of every node = the smallest node index of its connected component.

    Vectorised union-find: hook each edge's larger root under its smaller root, then jump
    pointers until every node points at its root; repeat until no edge joins two roots.
    Memory is O(n + edges).

    >>> connected_components(5, np.array([3, 0]), np.array([4, 3])).tolist()
    [0, 1, 2, 0, 0]
    """
    parent = np.arange(n, dtype=np.int64)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    while len(i):
        ri, rj = parent[i], parent[j]
        lo, hi = np.minimum(ri, rj), np.maximum(ri, rj)
        cross = lo != hi
        if not cross.any():
            break
        i, j, lo, hi = i[cross], j[cross], lo[cross], hi[cross]
        np.minimum.at(parent, hi, lo)
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return parent


def star_clusters(
    rank: np.ndarray, i: np.ndarray, j: np.ndarray, sim: np.ndarray, kind: np.ndarray | None = None,
    accept: Callable[[int, int], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Star clustering: every row absorbed is a direct neighbour of the row that absorbs it.

    Rows are visited by ``rank`` (0 first = the row most worth keeping). A row not yet absorbed
    becomes a kept centre and absorbs each of its direct neighbours (edges ``(i, j)``) that is
    still free; a centre is never absorbed later. So a dropped row's similarity to its kept
    row is the weight of a real edge between them, never a chain through third rows, which is
    what connected components gave (a -> b -> c merged a and c however different they were).
    With several edges between two rows the first of them in the input order wins, so pass
    edges ordered by preference (exact before near before semantic).

    ``accept(centre, row)``, if given, is asked before each absorption (the value guard): only
    edges that would absorb a free row are checked, never edges to rows already absorbed.

    Returns ``(centre, sim, kind)`` per row: the absorbing row (-1 for centres and rows without
    edges), and the weight and ``kind`` code of the absorbing edge (NaN / -1 otherwise).

    >>> centre, sim, _ = star_clusters(np.arange(3), np.array([0, 1]), np.array([1, 2]),
    ...                                np.array([0.7, 0.8]))
    >>> centre.tolist(), sim.tolist()[:2]
    ([-1, 0, -1], [nan, 0.7])
    """
    return _star_clusters(rank, i, j, sim, kind, accept)[:3]


def _star_clusters(
    rank: np.ndarray, i: np.ndarray, j: np.ndarray, sim: np.ndarray, kind: np.ndarray | None = None,
    accept: Callable[[int, int], bool] | None = None, verdict: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`star_clusters`, plus ``verdict`` (per edge PASS / BLOCK / ASK, the value guard's
    decisions taken beforehand: only ASK edges call ``accept``) and, as a fourth value, the
    ``(centre, row)`` pairs refused (one line per refused edge)."""
    n = len(rank)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    sim = np.asarray(sim, dtype=np.float64)
    kind = np.zeros(len(i), dtype=np.int64) if kind is None else np.asarray(kind, dtype=np.int64)
    centre = np.full(n, -1, dtype=np.int64)
    out_sim = np.full(n, np.nan)
    out_kind = np.full(n, -1, dtype=np.int64)
    refused = np.zeros((0, 2), dtype=np.int64)
    if not len(i):
        return centre, out_sim, out_kind, refused
    # adjacency lists (CSR), both directions, each list in the input order of the edges
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    pos = np.concatenate([np.arange(len(i))] * 2)
    order = np.lexsort((pos, src))
    dst_s, sim_s, kind_s = dst[order], np.concatenate([sim, sim])[order], np.concatenate([kind, kind])[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=ptr[1:])
    nodes = np.unique(src)
    nodes = nodes[np.argsort(rank[nodes], kind="stable")]
    absorbed = bytearray(n)
    ptr_l, dst_l, rank_l = ptr.tolist(), dst_s.tolist(), np.asarray(rank).tolist()
    if verdict is None:
        ver_l = [PASS if accept is None else ASK] * len(dst_l)
    else:
        ver_l = np.concatenate([verdict, verdict])[order].tolist()
    took_v: list[int] = []
    took_e: list[int] = []
    took_u: list[int] = []
    refused_u: list[int] = []
    refused_v: list[int] = []
    for u in nodes.tolist():  # Python loop over rows with edges only: O(rows + edges)
        if absorbed[u]:
            continue
        ru = rank_l[u]
        for e in range(ptr_l[u], ptr_l[u + 1]):
            v = dst_l[e]
            # a free neighbour ranks after u: one ranked before would have absorbed u already
            if absorbed[v] or rank_l[v] <= ru:
                continue
            ok = ver_l[e]
            if ok == ASK:
                ok = accept is None or accept(u, v)
            if ok:
                absorbed[v] = 1
                took_v.append(v)
                took_e.append(e)
                took_u.append(u)
            else:
                refused_u.append(u)
                refused_v.append(v)
    if took_v:
        tv, te = np.array(took_v), np.array(took_e)
        centre[tv] = took_u
        out_sim[tv] = sim_s[te]
        out_kind[tv] = kind_s[te]
    if refused_u:
        refused = np.stack([np.array(refused_u, dtype=np.int64),
                            np.array(refused_v, dtype=np.int64)], axis=1)
    return centre, out_sim, out_kind, refused
