"""The k-NN search and the similarity graph behind selection (see :mod:`curator.select`).

``_knn`` finds the top-k inner products of unit rows, exactly (FAISS brute force) or
approximately (a k-means partitioned search, one BLAS product per list); ``_similarity_graph``
turns the k-NN lists into the sparse, symmetric similarity graph facility location greedily
covers. Nothing here knows about budgets or utilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Approximate k-NN: rows per k-means list. Each query group is scanned against n_probe lists,
# i.e. ~n_probe * _LIST_SIZE rows, with one BLAS matrix product per list; ~1000 rows per list
# keeps those products large enough to run near peak speed.
_LIST_SIZE = 1000


def _similarity_graph(x: np.ndarray, n_neighbors: int, knn: str, exact_knn_max: int, n_probe: int,
                      random_state: int) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Sparse symmetric similarity graph on unit rows ``x``, with s(i, i) = 1.

    Also returns the forward k-NN lists (row -> neighbours by decreasing cosine).

    Entries are ``max(0, (cos - floor) / (1 - floor))`` where ``floor`` is the median cosine
    of random row pairs (>= 0): pairs no more alike than two random rows count as
    unrelated, which is what the graph implies for the pairs it does not store. The
    k-NN lists are symmetrised (union), so every stored similarity is exact and only pairs
    outside both lists are treated as 0.
    """
    from scipy import sparse

    m = x.shape[0]
    # A fixed seed: the floor estimates a property of the data, and a user changing
    # random_state should not get a (slightly) different graph for it.
    floor = _similarity_floor(x, np.random.default_rng(0))
    k = min(n_neighbors + 1, m)  # +1: each row finds itself
    exact = knn == "exact" or (knn == "auto" and m <= exact_knn_max)
    dist, nbr64 = _knn(x, k, exact=exact, n_probe=n_probe, seed=random_state)
    nbr = nbr64.astype(np.int32)  # half the memory of int64 while the graph is built (and kept)
    del nbr64
    # CSR built directly from the fixed-width k-NN lists plus the diagonal as last column
    # (no COO detour: at 500k rows every temporary copy of the edge list is ~200 MB).
    sims = np.empty((m, k + 1), dtype=np.float32)
    np.subtract(dist, floor, out=sims[:, :k])
    sims[:, :k] /= 1.0 - floor
    sims[:, k] = 1.0
    cols = np.empty((m, k + 1), dtype=np.int32)
    cols[:, :k] = nbr
    cols[:, k] = np.arange(m, dtype=np.int32)
    del dist
    keep = sims > 0
    keep[:, :k] &= (nbr >= 0) & (nbr != np.arange(m)[:, None])  # self comes from column k
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=indptr[1:])
    a = sparse.csr_matrix((sims[keep], cols[keep], indptr), shape=(m, m))
    del sims, cols, keep
    a.sort_indices()
    # Union of both directions; duplicates (i in N(j) and j in N(i)) carry the same value.
    a = a.maximum(a.T.tocsr()).tocsr()
    a.sort_indices()
    info = {
        "knn": "exact" if exact else "approx",
        "n_neighbors": k - 1,
        "n_edges": int(a.nnz),
        "similarity_floor": round(float(floor), 4),
    }
    return a, nbr, info


def _knn(x: np.ndarray, k: int, *, exact: bool, n_probe: int, seed: int,
         q_rows: np.ndarray | None = None,
         b_rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k inner products of query rows against base rows of ``x``: (sims, base positions).

    ``q_rows`` / ``b_rows`` select rows of ``x`` (None = all); returned indices are positions
    in ``b_rows``, -1 where fewer than k exist. Query rows are gathered block by block, so a
    large query set is never copied whole.

    Exact search is FAISS brute force. Approximate search is an inverted file searched per
    list instead of per query: FAISS spherical k-means splits the base into lists of ~1000
    rows, queries are grouped by their nearest centroid, and each group is scored with one
    dense BLAS product against the ``n_probe`` lists nearest to that centroid.

    Why not a FAISS index: on 2 cores ``IndexIVFFlat`` (nlist 1024, nprobe 8) took ~290 s just
    to search 500k x 384 rows against themselves, and ``IndexHNSWFlat`` (M 16) ~35 s to build
    and search 100k; this search builds the whole 500k graph in ~60 s at n_probe 4. Its
    recall@32 on 34k real MiniLM embeddings is 0.74 (n_probe 4) / 0.84 (n_probe 8), which
    moved facility-location mean coverage distance by at most 1.5% (benchmarks/RESULTS).
    """
    import faiss

    xb = x if b_rows is None else x[b_rows]  # the base is small (selected rows) or all of x
    nq = x.shape[0] if q_rows is None else q_rows.size
    nb = xb.shape[0]
    k = min(k, nb)

    def queries(s: int, e: int) -> np.ndarray:  # float32 (rows held in float16 too)
        return _f32(x[s:e] if q_rows is None else x[q_rows[s:e]])

    nlist = int(round(nb / _LIST_SIZE))
    block = 1 << 15
    if exact or nlist <= n_probe:
        # faiss's brute force selects the top k with threaded heaps: 29 s against 35 s for a
        # numpy product + argpartition at 34k x 34k on 2 cores.
        dist = np.empty((nq, k), dtype=np.float32)
        nbr = np.empty((nq, k), dtype=np.int64)
        xb32 = _f32(xb)  # exact search: a base of at most exact_knn_max rows (or selected ones)
        for s in range(0, nq, block):
            dist[s:s + block], nbr[s:s + block] = faiss.knn(
                queries(s, s + block), xb32, k, metric=faiss.METRIC_INNER_PRODUCT)
        return dist, nbr

    km = faiss.Kmeans(xb.shape[1], nlist, niter=20, seed=seed, spherical=True,
                      max_points_per_centroid=64, verbose=False)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(nb, min(nb, 64 * nlist), replace=False))
    km.train(_f32(xb[sample]))  # what faiss would subsample anyway, without handing it all of x
    centroids = km.centroids
    assert centroids is not None  # set by train()
    b_assign = np.concatenate([km.index.search(_f32(xb[s:s + block]), 1)[1][:, 0] for s in range(0, nb, block)])
    q_assign = np.concatenate([km.index.search(queries(s, s + block), 1)[1][:, 0]
                               for s in range(0, nq, block)])
    _, probe = km.index.search(centroids, n_probe)
    b_order = np.argsort(b_assign, kind="stable")
    b_start = np.searchsorted(b_assign[b_order], np.arange(nlist + 1))
    q_order = np.argsort(q_assign, kind="stable")
    q_start = np.searchsorted(q_assign[q_order], np.arange(nlist + 1))
    dist = np.full((nq, k), -np.inf, dtype=np.float32)
    nbr = np.full((nq, k), -1, dtype=np.int64)

    def search_list(lst: int) -> None:
        q = q_order[q_start[lst]:q_start[lst + 1]]
        if q.size == 0:
            return
        cand = np.concatenate([b_order[b_start[p]:b_start[p + 1]] for p in probe[lst] if p >= 0])
        if cand.size == 0:
            return
        xq = _f32(x[q] if q_rows is None else x[q_rows[q]])
        d, i = _topk(xq, _f32(xb[cand]), min(k, cand.size))
        dist[q, :d.shape[1]] = d  # lists own disjoint query rows: no write conflicts
        nbr[q, :d.shape[1]] = cand[i]

    # One list per thread with single-threaded BLAS: the top-k step (argpartition) is serial,
    # so this keeps every core busy; measured 1.5x faster than threaded BLAS, one list at a time.
    _run_parallel(search_list, range(nlist))
    return dist, nbr


def _f32(a: np.ndarray) -> np.ndarray:
    """``a`` as float32: itself when it is, a converted copy of float16 rows."""
    return np.asarray(a, dtype=np.float32)


def _run_parallel(fn: Any, items: Any) -> None:
    """Call ``fn`` on every item, one item per core, each with single-threaded BLAS."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - ships with scikit-learn
        for it in items:
            fn(it)
        return
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max(1, cores)) as ex:
        for _ in ex.map(fn, items):
            pass  # re-raise worker exceptions here


def _topk(xq: np.ndarray, xb: np.ndarray, k: int,
          block_elems: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k inner products, sorted by decreasing similarity (ties by index).

    Queries go in blocks of ``block_elems`` similarities (16 MB, plus 32 MB of argpartition
    indices): large enough for BLAS to run at speed, small enough for one block per core.
    """
    nq, nb = xq.shape[0], xb.shape[0]
    k = min(k, nb)
    dist = np.empty((nq, k), dtype=np.float32)
    nbr = np.empty((nq, k), dtype=np.int64)
    step = max(1, block_elems // max(nb, 1))
    for s in range(0, nq, step):
        sims = xq[s:s + step] @ xb.T
        if k == 1:  # nearest only: argmax, no index matrix
            best = sims.argmax(axis=1)
            nbr[s:s + step, 0] = best
            dist[s:s + step, 0] = sims[np.arange(sims.shape[0]), best]
            continue
        if k < nb:
            part = np.argpartition(sims, nb - k, axis=1)[:, nb - k:]
        else:
            part = np.broadcast_to(np.arange(nb), sims.shape)
        top = np.take_along_axis(sims, part, axis=1)
        o = np.lexsort((part, -top), axis=1)
        nbr[s:s + step] = np.take_along_axis(part, o, axis=1)
        dist[s:s + step] = np.take_along_axis(top, o, axis=1)
    return dist, nbr


def _similarity_floor(x: np.ndarray, rng: np.random.Generator, n_pairs: int = 20_000) -> float:
    """Median cosine of random distinct row pairs, clipped to [0, 0.99]."""
    m = x.shape[0]
    if m < 2:
        return 0.0
    a = rng.integers(0, m, n_pairs)
    b = (a + rng.integers(1, m, n_pairs)) % m
    cos = np.einsum("ij,ij->i", _f32(x[a]), _f32(x[b]))
    return float(min(max(np.median(cos), 0.0), 0.99))

