"""The near stage's verification: exact Jaccard from shingle sets built once per row, in blocks,
with the size-ratio prefilter, gives the same values and the same pairs as a pair-at-a-time
check (on the real texts of examples/)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import curator.dedup.near as near
from curator.dedup import NearDuplicateFinder
from curator.dedup.minhash import _sorted_unique

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "halueval_demo"


def _texts() -> list[str]:
    """Questions, answers and source passages of the demo, and light edits of some of them
    (a word dropped, one replaced), so that many pairs are near duplicates."""
    out: list[str] = []
    for line in (EXAMPLES / "pairs.jsonl").read_text(encoding="utf-8").splitlines()[:120]:
        row = json.loads(line)
        out += [row["question"], row["answer"]]
    for line in (EXAMPLES / "sources.jsonl").read_text(encoding="utf-8").splitlines()[:30]:
        out.append(json.loads(line)["text"])
    edits = []
    for t in out[::3]:
        words = t.split()
        if len(words) > 4:
            edits.append(" ".join(words[:2] + words[3:]))
            edits.append(" ".join(words[:-1] + ["changed"]))
    return out + edits + ["", "?"]


@pytest.fixture(scope="module")
def pairs() -> tuple[list[str], np.ndarray, np.ndarray]:
    texts = _texts()
    rng = np.random.default_rng(0)
    n = len(texts)
    i = rng.integers(0, n, 3000)
    j = rng.integers(0, n, 3000)
    # every text with its edits (appended in order) and its neighbours: high similarities
    k = np.arange(n - 1)
    return texts, np.concatenate([i, k, k[:-1]]), np.concatenate([j, k + 1, k[:-1] + 2])


def test_exact_jaccard_equals_pair_at_a_time(pairs):
    texts, i, j = pairs
    finder = NearDuplicateFinder()
    got = finder._exact_jaccard(texts, i, j)
    want = np.array([finder.similarity(texts[a], texts[b]) for a, b in zip(i.tolist(), j.tolist())])
    assert np.array_equal(got, want)
    assert (got >= finder.threshold).sum() > 50  # the check covers near duplicates too


def test_exact_jaccard_in_blocks_equals_at_once(pairs, monkeypatch):
    texts, i, j = pairs
    whole = NearDuplicateFinder()._exact_jaccard(texts, i, j)
    monkeypatch.setattr(near, "_SET_CHARS", 2000)  # many blocks of rows, and block pairs
    assert np.array_equal(NearDuplicateFinder()._exact_jaccard(texts, i, j), whole)


def test_size_ratio_prefilter_keeps_every_pair_over_the_threshold(pairs):
    texts, i, j = pairs
    finder = NearDuplicateFinder()
    full = finder._exact_jaccard(texts, i, j)
    for t in (0.3, 0.6, 0.9, 1.0):
        pre = finder._exact_jaccard(texts, i, j, at_least=t)
        assert np.array_equal(pre >= t, full >= t)
        assert np.array_equal(pre[pre >= t], full[full >= t])
        assert (pre[full < t] <= full[full < t]).all()  # skipped pairs read 0.0


def test_find_pairs_same_with_and_without_prefilter(monkeypatch):
    texts = _texts()
    finder = NearDuplicateFinder()
    with_prefilter = finder.find_pairs(texts)
    candidates = finder.n_candidates_
    real = NearDuplicateFinder._exact_jaccard
    monkeypatch.setattr(NearDuplicateFinder, "_exact_jaccard",
                        lambda self, t, a, b, at_least=0.0: real(self, t, a, b))
    assert finder.find_pairs(texts) == with_prefilter
    assert finder.n_candidates_ == candidates and len(with_prefilter) > 20


def test_merge_unique_is_the_sorted_union():
    rng = np.random.default_rng(1)
    for size_a, size_b in ((0, 5), (5, 0), (1000, 300), (10, 10)):
        a = _sorted_unique(rng.integers(0, 500, size_a).astype(np.uint64))
        b = _sorted_unique(rng.integers(0, 500, size_b).astype(np.uint64))
        assert np.array_equal(near._merge_unique(a, b), np.union1d(a, b))


def test_char_classes_read_only_where_classes_live():
    """The normaliser's table, built from the planes that hold classed characters, equals the
    one built from every code point (for this Python's Unicode version)."""
    import sys

    from curator.dedup.normalize import _char_classes, _classify

    assert np.array_equal(_char_classes(), _classify((range(sys.maxunicode + 1),)))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ09 \t\n.,;:!?'\"()[]{}_-/*+=<>%#@&$€’`^~|\\é\u00a0")),
               max_size=30),
       st.sampled_from(["", "1", "a", "("]), st.sampled_from(["", "2", "b", ")"]))
def test_symbol_runs_fast_path_changes_nothing(chunk, left, right):
    import re

    import curator.dedup.guard as guard

    fast = guard._symbol_runs(chunk, left, right)
    real = guard._PLAIN_CHUNK_RE
    try:
        guard._PLAIN_CHUNK_RE = re.compile(r"(?!)")  # never matches: every chunk read in full
        assert guard._symbol_runs(chunk, left, right) == fast
    finally:
        guard._PLAIN_CHUNK_RE = real
