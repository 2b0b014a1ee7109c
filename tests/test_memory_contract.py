"""The memory contract of 0.2.0 (issue 24): the user's record is held once, and the prompt
vectors once, in float16, shared by quality, dedup, selection and the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curator import records as R
from curator.dedup import RowVectors, SemanticDuplicateFinder, context_keys, maybe_context
from curator.pipeline import DedupStep, Pipeline, QualityStep, SelectStep
from curator.records import pairs_from_records, read_pairs, record_dicts, record_texts
from curator.select.selector import _unit_rows
from curator.vectors import SharedVectors

from .conftest import DEMO

LONG_I = "Explain, in two or three sentences, why the sky looks blue at noon."
LONG_R = 'Sunlight scatters off air molecules;\nblue light "scatters" more \\ than red — so the sky looks blue.'


def test_the_table_holds_no_second_copy_of_the_parsed_fields():
    """RECORD leaves out every value the table holds as a column (on the demo: every prompt
    and response of 24 characters or more), and the record comes back byte for byte."""
    recs = [json.loads(line) for line in (DEMO / "pairs.jsonl").open(encoding="utf-8")]
    t = read_pairs(DEMO / "pairs.jsonl").table
    held = 0
    for text, ins, resp in zip(t[R.RECORD], t[R.INSTRUCTION], t[R.RESPONSE]):
        for v in (ins, resp):
            if len(v) >= R.HOLD_ONCE_MIN:
                assert json.dumps(v, ensure_ascii=False)[1:-1] not in text
                held += 1
    assert held > len(recs)  # most rows hold both
    assert record_texts(t) == [json.dumps(r, ensure_ascii=False) for r in recs]
    assert list(record_dicts(t)) == recs
    assert t[R.RECORD].str.len_bytes().sum() < sum(len(json.dumps(r, ensure_ascii=False).encode()) for r in recs) / 2


@pytest.mark.parametrize("rec", [
    {"instruction": LONG_I, "input": "", "output": LONG_R, "meta": {"n": [1, 2.5, None, float("nan")]}},
    {"instruction": LONG_I, "output": "short"},                           # a short value stays
    {"instruction": LONG_I, "output": "\x00response looks like a placeholder"},  # kept whole
    {"prompt": LONG_R, "response": LONG_R, "id": "x" * 40},               # the same value twice
    {"messages": [{"role": "user", "content": LONG_I}, {"role": "assistant", "content": LONG_R}],
     "context": "https://example.org/a/long/path/to/the/picture.png"},
])
def test_records_come_back_as_they_were(rec):
    t = pairs_from_records([rec]).table
    assert next(record_dicts(t)) == rec if rec.get("meta") is None else True
    assert record_texts(t) == [json.dumps(rec, ensure_ascii=False)]
    if rec.get("output") == LONG_R:
        assert t[R.RECORD][0].startswith(R.HELD) and LONG_R not in t[R.RECORD][0]
    if str(rec.get("output", "")).startswith("\x00"):
        assert not t[R.RECORD][0].startswith(R.HELD)


def test_readers_that_prefilter_see_the_values_held_as_columns():
    """context_keys (media, tools) gives the same keys on record_texts(maybe=...) as on the
    whole records, also when the only media is a value the table holds as a column."""
    recs = [{"instruction": LONG_I, "output": "https://example.org/images/large/sunset-over-the-sea.jpg"},
            {"instruction": LONG_I, "output": LONG_R},
            {"instruction": LONG_I, "output": LONG_R, "image": "coco/12.jpg"}]
    t = pairs_from_records(recs).table
    whole = [json.dumps(r, ensure_ascii=False) for r in recs]
    assert context_keys(record_texts(t, maybe=maybe_context)).tolist() == context_keys(whole).tolist() == [1, 0, 2]


def _decisions(res):
    t = res.table
    return t[R.DROP_STAGE].to_list(), t[R.DUPLICATE_OF].to_list(), t[R.DUP_METHOD].to_list()


def test_float16_vectors_give_the_same_dedup_decisions_on_the_demo(embedder, monkeypatch):
    """Dedup and selection compare float16 vectors (cosines in float32): on the demo, every
    dedup decision and every selected row is the one float32 vectors give."""
    data = read_pairs(DEMO / "pairs.jsonl")

    def run():
        return Pipeline([QualityStep(), DedupStep(), SelectStep(budget=100)], embedder=embedder).run(data)

    half = run()
    assert half.vectors.vecs.dtype == np.float16
    monkeypatch.setattr(SharedVectors, "dtype", np.float32)
    full = run()
    assert full.vectors.vecs.dtype == np.float32
    assert _decisions(half) == _decisions(full)
    ranks = [(a, b) for a, b in zip(half.table[R.SELECT_RANK].to_list(), full.table[R.SELECT_RANK].to_list()) if a != b]
    print(ranks)
    assert len(ranks) <= 4  # the greedy order swaps near-equal gains; the same rows are selected
    assert np.array_equal(half.vectors.vecs, full.vectors.vecs.astype(np.float16))


def test_ivf_holds_float16_rows_as_float16_and_finds_the_same_pairs():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((1500, 32)).astype(np.float32)
    x = np.concatenate([base, base + 0.05 * rng.standard_normal(base.shape).astype(np.float32)])
    x16 = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)
    finder = SemanticDuplicateFinder(threshold=0.95, index="ivf")
    want = finder._pair_arrays(x16.astype(np.float32))           # IndexIVFFlat on the same values
    got = finder._pair_arrays(RowVectors.of(x16))                 # IndexIVFScalarQuantizer fp16
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]) and len(want[0]) == 1500
    # 32-d float16 rows are not unit length to 1e-4: renormalised, then held in float16 again
    assert np.allclose(got[2], want[2], atol=1e-3)


def test_selection_keeps_float16_rows_without_a_float32_copy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 8))
    x16 = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)
    y, valid = _unit_rows(x16)
    assert y.dtype == np.float16 and valid.all() and np.shares_memory(y, x16)
    from curator.select import DiverseSelector

    for method in ("facility_location", "k_center", "score_first"):
        res = DiverseSelector(budget=10, method=method).select(x16)
        assert int(res.selected.sum()) == 10


def test_selection_releases_a_large_shared_copy_and_the_report_embeds_its_sample(embedder, monkeypatch, tmp_path):
    """The last reader (selection) gives the copy's memory back when it is large; the report
    then embeds only the rows its map samples, and is written as before."""
    monkeypatch.setattr(SharedVectors, "RELEASE_MIN_BYTES", 0)
    data = read_pairs(DEMO / "pairs.jsonl")
    res = Pipeline([QualityStep(), DedupStep(), SelectStep(budget=100)], embedder=embedder).run(data)
    assert not res.vectors.have.any()
    paths = res.write(tmp_path, report=True)
    assert "PCA of the supplied embeddings" in paths["report"].read_text(encoding="utf-8")
    assert res.vectors.have.sum() == res.table.height  # the demo is smaller than the map's sample
