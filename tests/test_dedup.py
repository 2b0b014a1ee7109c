"""Tests of curator.dedup: the three finders, clustering, selection and their invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curator.dedup import (
    DEFAULT_NEAR_THRESHOLD,
    DEFAULT_SEMANTIC_THRESHOLD,
    Deduplicator,
    ExactDuplicateFinder,
    NearDuplicateFinder,
    SemanticDuplicateFinder,
    _normalize_codepoints,
    connected_components,
    optimal_lsh_params,
)
from curator.errors import ConfigError, InputError
from curator.text import normalize_text

BASE = (
    "Photosynthesis is the process by which green plants and some other organisms use "
    "sunlight to synthesize foods from carbon dioxide and water while releasing oxygen "
    "as a byproduct of the reaction"
)  # 30 words
OTHER = (
    "The French Revolution began in 1789 and ended in the late 1790s with the ascent of "
    "Napoleon Bonaparte, reshaping politics across Europe for the following century."
)


def one_word_changed(text: str, index: int, word: str) -> str:
    w = text.split()
    w[index] = word
    return " ".join(w)


def check_invariants(res, n: int) -> None:
    """Structural guarantees of every DedupResult."""
    assert len(res) == n
    for arr in (res.cluster_id, res.cluster_size, res.duplicate_of):
        assert arr.dtype == np.int64 and arr.shape == (n,)
    assert res.keep.dtype == bool and len(res.method) == n and res.similarity.shape == (n,)
    # exactly one kept row per cluster, cluster id = smallest member
    kept_clusters = res.cluster_id[res.keep]
    assert len(np.unique(kept_clusters)) == len(kept_clusters) == len(np.unique(res.cluster_id))
    for c in np.unique(res.cluster_id):
        members = np.flatnonzero(res.cluster_id == c)
        assert c == members.min()
        assert (res.cluster_size[members] == len(members)).all()
    for r in range(n):
        if res.keep[r]:
            assert res.duplicate_of[r] == -1 and res.method[r] is None
            assert np.isnan(res.similarity[r])
        else:
            k = res.duplicate_of[r]
            assert res.keep[k] and res.cluster_id[k] == res.cluster_id[r]
            assert res.method[r] in ("exact", "near", "semantic")
            assert 0.0 <= res.similarity[r] <= 1.0
    assert sum(res.stats["cluster_size_histogram"].values()) == res.stats["n_clusters"]
    assert res.stats["n_kept"] + res.stats["n_dropped"] == n


# -- normalisation --------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=6), st.booleans(), st.booleans(), st.booleans())
def test_vectorised_normalisation_equals_normalize_text(texts, lower, collapse, strip):
    cps, offsets = _normalize_codepoints(texts, lower, collapse, strip)
    joined = cps.tobytes().decode("utf-32-le", "surrogatepass")
    got = [joined[offsets[i]:offsets[i + 1]] for i in range(len(texts))]
    assert got == [normalize_text(t, lower, collapse, strip) for t in texts]


def test_normalisation_keeps_lone_surrogates():
    texts = ["a\ud800 b", "x"]
    cps, offsets = _normalize_codepoints(texts)
    assert cps.tobytes().decode("utf-32-le", "surrogatepass")[:offsets[1]] == normalize_text(
        texts[0], True, True, True)
    assert NearDuplicateFinder().find_pairs(texts + ["A\ud800  b!"]) == [(0, 2, 1.0)]


# -- exact ----------------------------------------------------------------------------------
def test_exact_duplicates_ignore_case_whitespace_punctuation():
    texts = ["What is the capital of France?", "what   is the capital of france",
             "WHAT IS THE CAPITAL OF FRANCE ?!", "What is the capital of Spain?"]
    assert ExactDuplicateFinder().find_pairs(texts) == [(0, 1, 1.0), (0, 2, 1.0)]
    strict = ExactDuplicateFinder(lowercase=False, strip_punctuation=False)
    assert strict.find_pairs(texts) == []


def test_empty_and_whitespace_rows_are_never_merged():
    texts = ["", "   ", "\n\t", "", "?!", "real text here", "real text here"]
    assert ExactDuplicateFinder().find_pairs(texts) == [(5, 6, 1.0)]
    assert NearDuplicateFinder().find_pairs(texts) == [(5, 6, 1.0)]
    # identical embeddings for the empty rows must not merge them either
    emb = np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (len(texts), 1))
    res = Deduplicator().run(texts, embeddings=emb)
    assert res.keep.tolist() == [True, True, True, True, True, True, False]
    assert res.stats["n_empty"] == 5
    check_invariants(res, len(texts))


# -- near -----------------------------------------------------------------------------------
def test_near_duplicate_one_word_changed_found_and_other_text_not():
    near = one_word_changed(BASE, 12, "build")
    pairs = NearDuplicateFinder().find_pairs([BASE, OTHER, near])
    assert [(i, j) for i, j, _ in pairs] == [(0, 2)]
    assert DEFAULT_NEAR_THRESHOLD <= pairs[0][2] < 1.0


def test_near_similarity_is_exact_jaccard_of_shingle_sets():
    finder = NearDuplicateFinder(ngram=3)
    a, b = "abcde fgh", "abcdX fgh"
    sa = {normalize_text(a, True, True, True)[k:k + 3] for k in range(7)}
    sb = {normalize_text(b, True, True, True)[k:k + 3] for k in range(7)}
    assert finder.similarity(a, b) == pytest.approx(len(sa & sb) / len(sa | sb))
    assert finder.similarity("", "abc") == 0.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet="abcde ", min_size=1, max_size=25), min_size=2, max_size=6))
def test_verified_pairs_match_brute_force_jaccard(texts):
    finder = NearDuplicateFinder(threshold=0.5, ngram=3)
    expected = {}
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            s = finder.similarity(texts[i], texts[j])
            if s >= 0.5:
                expected[(i, j)] = s
    found = {(i, j): s for i, j, s in finder.find_pairs(texts)}
    # LSH may miss a pair (probability ~1-P(s)) but never reports a wrong one or a wrong value
    assert set(found) <= set(expected)
    for key, s in found.items():
        assert s == pytest.approx(expected[key])
    # pairs at similarity >= 0.9 share a band with probability > 0.99999
    assert {k for k, s in expected.items() if s >= 0.9} <= set(found)


def test_cjk_near_duplicate():
    a = "天气很好，我们去公园散步吧，然后一起吃午饭，再去图书馆看书。"
    b = "天气很好，我们去公园散步吧，然后一起吃晚饭，再去图书馆看书。"
    c = "这是一个完全不同的句子，讲的是计算机科学的历史。"
    pairs = NearDuplicateFinder().find_pairs([a, b, c])
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]


def test_very_long_text_and_short_texts():
    long_a = " ".join(f"word{i}" for i in range(40_000))
    long_b = long_a.replace("word123 ", "changed ")
    texts = [long_a, "hi", long_b, "hi!", "x"]
    finder = NearDuplicateFinder()
    pairs = finder.find_pairs(texts)
    assert [(i, j) for i, j, _ in pairs] == [(0, 2), (1, 3)]
    sigs = finder.signatures(texts)
    assert sigs.shape == (5, 128) and sigs.dtype == np.uint32


def test_near_verify_false_uses_estimate():
    near = one_word_changed(BASE, 3, "swap")
    pairs = NearDuplicateFinder(verify=False).find_pairs([BASE, near])
    assert len(pairs) == 1 and pairs[0][2] == pytest.approx(
        NearDuplicateFinder().similarity(BASE, near), abs=0.15)


def test_lsh_params_match_datasketch_with_its_weights():
    from datasketch.lsh import _optimal_param

    assert optimal_lsh_params(0.7, 128, 0.5, 0.5) == _optimal_param(0.7, 128, 0.5, 0.5)
    assert optimal_lsh_params(0.85, 64, 0.5, 0.5) == _optimal_param(0.85, 64, 0.5, 0.5)
    b, r = optimal_lsh_params(0.7, 128)
    assert b * r <= 128


# -- semantic -------------------------------------------------------------------------------
def test_semantic_finder_threshold_k_and_ivf():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(20, 16)).astype(np.float32)
    noisy = base + 0.01 * rng.normal(size=base.shape).astype(np.float32)
    emb = np.concatenate([base, noisy])  # row r and r + 20 are near copies
    expected = [(r, r + 20) for r in range(20)]
    pairs = SemanticDuplicateFinder().find_pairs(emb)
    assert [(i, j) for i, j, _ in pairs] == expected
    assert all(DEFAULT_SEMANTIC_THRESHOLD <= s <= 1.0 for _, _, s in pairs)
    ivf = SemanticDuplicateFinder(index="ivf", nprobe=64).find_pairs(emb)
    assert [(i, j) for i, j, _ in ivf] == expected
    assert SemanticDuplicateFinder().find_pairs(np.zeros((3, 4), np.float32)) == []


def test_semantic_input_errors():
    with pytest.raises(InputError):
        SemanticDuplicateFinder().find_pairs(np.ones(4))
    with pytest.raises(InputError):
        SemanticDuplicateFinder().find_pairs(np.array([[np.nan, 1.0], [1.0, 0.0]]))


def test_semantic_paraphrase_with_real_embedder(embedder):  # session fixture: tests/conftest.py
    texts = [
        "How can I reset my password?",
        "How do I reset my password?",
        "What is the boiling point of water at sea level?",
        "Name three primary colors.",
        "Name three secondary colors.",  # cosine ~0.94: related, not a duplicate
    ]
    emb = embedder.encode(texts)
    res = Deduplicator(near=False).run(texts, embeddings=emb)
    assert res.keep.tolist() == [True, False, True, True, True]
    assert res.method[1] == "semantic" and res.similarity[1] >= DEFAULT_SEMANTIC_THRESHOLD
    check_invariants(res, len(texts))


# -- clustering and selection ----------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))))
def test_connected_components_match_reference(case):
    n, edges = case
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    i = np.array([a for a, _ in edges], dtype=np.int64)
    j = np.array([b for _, b in edges], dtype=np.int64)
    labels = connected_components(n, i, j)
    assert labels.tolist() == [min(k for k in range(n) if find(k) == find(x)) for x in range(n)]


def test_keep_highest_score_and_deterministic_ties():
    texts = ["Tell me a joke.", "tell me a joke", "TELL ME A JOKE!", "Something unrelated."]
    res = Deduplicator(semantic=False).run(texts, scores=[0.2, 0.9, 0.5, 0.1])
    assert res.keep.tolist() == [False, True, False, True]
    assert res.duplicate_of.tolist() == [1, -1, 1, -1]
    assert res.cluster_id.tolist() == [0, 0, 0, 3]
    assert res.cluster_size.tolist() == [3, 3, 3, 1]
    assert res.method == ["exact", None, "exact", None]
    tie = Deduplicator(semantic=False).run(texts, scores=[0.5, 0.9, 0.9, 0.0])
    assert tie.keep.tolist() == [False, True, False, True]  # tie 1 vs 2: lowest index
    plain = Deduplicator(semantic=False).run(texts)
    assert plain.keep.tolist() == [True, False, False, True]
    nan = Deduplicator(semantic=False).run(texts, scores=[np.nan, 0.0, np.nan, 0.0])
    assert nan.keep.tolist() == [False, True, False, True]
    check_invariants(res, 4)


def test_method_attribution_and_stats():
    near = one_word_changed(BASE, 20, "making")
    texts = [BASE, BASE.upper(), near, OTHER, ""]
    res = Deduplicator(semantic=False).run(texts, scores=[0, 0, 1, 0, 0])
    # the kept row is the near copy; the exact group of rows 0 and 1 hangs off it by a near edge
    assert res.keep.tolist() == [False, False, True, True, True]
    assert res.method[:2] == ["near", "near"]
    assert res.similarity[0] == res.similarity[1] == pytest.approx(
        NearDuplicateFinder().similarity(BASE, near))
    s = res.stats
    assert s["dropped_by_method"] == {"exact": 0, "near": 2, "semantic": 0}
    assert s["pairs_by_method"] == {"exact": 1, "near": 1}
    assert s["cluster_size_histogram"] == {1: 2, 3: 1}
    assert s["skipped"] == {"semantic": "disabled"}
    assert set(s["timings_s"]) == {"exact", "near", "cluster"}
    assert Deduplicator().run(texts).stats["skipped"] == {"semantic": "no embeddings given"}
    check_invariants(res, len(texts))


def test_results_are_deterministic():
    texts = [one_word_changed(BASE, k % 30, f"w{k}") for k in range(40)] + [OTHER] * 3
    a = Deduplicator(semantic=False).run(texts)
    b = Deduplicator(semantic=False).run(texts)
    for field in ("cluster_id", "keep", "duplicate_of", "similarity"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.method == b.method


def test_empty_input():
    res = Deduplicator().run([], embeddings=np.zeros((0, 3), np.float32))
    assert len(res) == 0 and res.stats["n_clusters"] == 0
    assert ExactDuplicateFinder().find_pairs([]) == []
    assert NearDuplicateFinder().find_pairs([]) == []


# -- property tests ---------------------------------------------------------------------------
WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]
sentence = st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join)


@st.composite
def corpora(draw):
    """Rows with planted copies: exact (case/punctuation), one-word edits, and fresh rows."""
    rows = draw(st.lists(sentence, min_size=1, max_size=12))
    for _ in range(draw(st.integers(0, 6))):
        src = draw(st.sampled_from(rows))
        kind = draw(st.sampled_from(["upper", "punct", "edit", "same"]))
        if kind == "upper":
            rows.append(src.upper())
        elif kind == "punct":
            rows.append(src + "!")
        elif kind == "edit" and src:
            w = src.split()
            w[draw(st.integers(0, len(w) - 1))] = draw(st.sampled_from(WORDS))
            rows.append(" ".join(w))
        else:
            rows.append(src)
    scores = draw(st.one_of(st.none(), st.lists(st.floats(0, 1), min_size=len(rows),
                                                  max_size=len(rows))))
    return rows, scores


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora())
def test_dedup_properties(case):
    texts, scores = case
    dd = Deduplicator(semantic=False, near_threshold=0.6)
    res = dd.run(texts, scores=scores)
    check_invariants(res, len(texts))
    kept = [texts[k] for k in res.kept_indices]
    # output is a subset of the input, in input order
    assert all(t in texts for t in kept) and res.kept_indices.tolist() == sorted(
        res.kept_indices.tolist())
    # idempotent: deduplicating the kept rows drops nothing more
    again = dd.run(kept)
    assert again.keep.all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora(), st.integers(0, 2**31))
def test_dedup_properties_with_embeddings(case, seed):
    texts, scores = case
    rng = np.random.default_rng(seed)
    # rows with the same words get the same direction, others random ones
    vec = {}
    emb = np.stack([vec.setdefault(" ".join(sorted(t.lower().strip("!").split())),
                                   rng.normal(size=8)) for t in texts]).astype(np.float32)
    dd = Deduplicator()
    res = dd.run(texts, embeddings=emb, scores=scores)
    check_invariants(res, len(texts))
    again = dd.run([texts[k] for k in res.kept_indices], embeddings=emb[res.keep])
    assert again.keep.all()


# -- parameter and input validation ------------------------------------------------------------
def test_param_validation_messages():
    with pytest.raises(ConfigError, match=r"^The 'threshold' parameter of NearDuplicateFinder "
                                          r"must be a float in \(0, 1\]\. Got 1\.5\.$"):
        NearDuplicateFinder(threshold=1.5).find_pairs(["a", "b"])
    with pytest.raises(ConfigError, match="'num_perm' parameter of Deduplicator"):
        Deduplicator(num_perm=1).run(["a"])
    with pytest.raises(ConfigError, match="'k' parameter of SemanticDuplicateFinder"):
        SemanticDuplicateFinder(k=0).find_pairs(np.eye(3))
    with pytest.raises(ConfigError, match="'lowercase' parameter of ExactDuplicateFinder"):
        ExactDuplicateFinder(lowercase="yes").find_pairs(["a"])  # type: ignore[arg-type]
    # constructors only store their arguments
    assert NearDuplicateFinder(threshold=7).threshold == 7


def test_input_validation():
    with pytest.raises(InputError, match="not one string"):
        Deduplicator().run("abc")
    with pytest.raises(InputError, match="Row 1"):
        Deduplicator().run(["a", None])  # type: ignore[list-item]
    with pytest.raises(InputError, match="scores has 1 values for 2 texts"):
        Deduplicator().run(["a", "b"], scores=[1.0])
    with pytest.raises(InputError, match="embeddings must have shape"):
        Deduplicator().run(["a", "b"], embeddings=np.zeros((3, 2)))


def test_run_reports_each_stage_to_progress():
    seen: list[str] = []
    texts = ["Write a poem about the sea.", "write a poem about the sea!", "Name three colours."]
    Deduplicator(semantic=False).run(texts, progress=seen.append)
    assert seen == ["exact", "near", "cluster"]
    seen.clear()
    Deduplicator().run(texts, embeddings=np.eye(3, dtype=np.float32), progress=seen.append)
    assert seen == ["exact", "near", "semantic", "cluster"]
