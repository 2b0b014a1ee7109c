"""Each input format on a tiny fixture: one record in, one pairs row out."""

import gzip
import json

import polars as pl
import pytest
import zstandard

from curator import records as R
from curator.errors import InputError
from curator.records import conversation_turns, read_pairs

ALPACA = {"instruction": "Name a primary colour.", "input": "", "output": "Red."}
DOLLY = {"instruction": "When was it built?", "context": "The bridge was built in 1932.",
         "response": "In 1932.", "category": "closed_qa"}
SHAREGPT = {"conversations": [{"from": "human", "value": "Hi!"}, {"from": "gpt", "value": "Hello."},
                              {"from": "human", "value": "Capital of Peru?"}, {"from": "gpt", "value": "Lima."}]}
OPENAI = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                       {"role": "assistant", "content": "4"}]}


def write(path, recs):
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


@pytest.mark.parametrize("rec, fmt, instruction, response, source", [
    (ALPACA, "alpaca", "Name a primary colour.", "Red.", None),
    (DOLLY, "dolly", "When was it built?", "In 1932.", "The bridge was built in 1932."),
    (SHAREGPT, "sharegpt", "Hi!\n\nCapital of Peru?", "Hello.\n\nLima.", None),
    (OPENAI, "openai_messages", "Be brief.\n\n2+2?", "4", None),
])
def test_format_detection(tmp_path, rec, fmt, instruction, response, source):
    d = read_pairs(write(tmp_path / "x.jsonl", [rec]))
    row = d.table.row(0, named=True)
    assert d.format == fmt
    assert (row[R.INSTRUCTION], row[R.RESPONSE], row[R.SOURCE]) == (instruction, response, source)
    assert next(R.record_dicts(d.table)) == rec  # the original record, untouched
    assert R.record_texts(d.table) == [json.dumps(rec, ensure_ascii=False)]
    if fmt == "sharegpt":  # every request identifies a conversation; the first one is kept too
        assert row[R.FIRST_REQUEST] == "Hi!"


def test_multi_turn_pairs_each_assistant_turn_with_its_history():
    turns = conversation_turns(SHAREGPT["conversations"])
    assert turns == [{"prompt": "Hi!", "response": "Hello."},
                     {"prompt": "Hi!\n\nHello.\n\nCapital of Peru?", "response": "Lima."}]


@pytest.mark.parametrize("conv, reason", [
    ([{"role": "user", "content": "hi"}], "no_assistant_turn"),
    ([{"role": "assistant", "content": "hi"}], "roles_out_of_order"),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}], "roles_out_of_order"),
    ([], "empty_conversation"),
])
def test_bad_conversations_are_errors_or_counted_skips(tmp_path, conv, reason):
    p = write(tmp_path / "c.jsonl", [OPENAI, {"messages": conv}])
    with pytest.raises(InputError, match="c.jsonl:2"):
        read_pairs(p)
    d = read_pairs(p, on_error="skip")
    assert d.table[R.DROP_REASON].to_list() == [None, reason]


def test_compressed_and_sharded_inputs(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.jsonl.gz").write_bytes(gzip.compress(json.dumps(ALPACA).encode() + b"\n"))
    (shards / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(json.dumps(ALPACA).encode() + b"\n"))
    pl.DataFrame([ALPACA]).write_parquet(shards / "c.parquet")
    d = read_pairs(shards)
    assert d.table.height == 3 and d.table[R.ROW_ID].to_list() == [0, 1, 2]
    assert d.table[R.FILE].str.contains("b.jsonl.zst").sum() == 1
    assert read_pairs(str(shards / "*.parquet")).table.height == 1
    (shards / "d.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="d.parquet"):
        read_pairs(shards)
    d = read_pairs(shards, on_error="skip")
    assert d.table.height == 3 and "d.parquet" in d.skipped_shards[0]["file"]
