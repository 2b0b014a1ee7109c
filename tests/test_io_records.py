import json

import pytest

from curator import records as R
from curator.errors import InputError
from curator.io import read_table
from curator.records import FieldMap, read_pairs


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_alpaca_and_plain_formats(tmp_path):
    p = write(tmp_path / "a.jsonl", [json.dumps({"instruction": "Sum", "input": "2 2", "output": "4"})])
    d = read_pairs(str(p))
    assert d.format == "alpaca" and d.table.row(0, named=True)[R.INPUT] == "2 2"
    p = write(tmp_path / "b.jsonl", [json.dumps({"prompt": "Hi?", "response": "Hello.", "id": 7})])
    d = read_pairs(str(p))
    assert d.format == "plain" and d.table[R.ID][0] == "7"


def test_json_parquet_csv(tmp_path):
    import polars as pl

    recs = [{"question": "Q1?", "answer": "A1"}, {"question": "Q2?", "answer": "A2"}]
    (tmp_path / "x.json").write_text(json.dumps(recs))
    pl.DataFrame(recs).write_parquet(tmp_path / "x.parquet")
    pl.DataFrame(recs).write_csv(tmp_path / "x.csv")
    for name in ("x.json", "x.parquet", "x.csv"):
        t = read_pairs(str(tmp_path / name)).table
        assert t[R.RESPONSE].to_list() == ["A1", "A2"], name


def test_malformed_line_names_file_and_line(tmp_path):
    p = write(tmp_path / "bad.jsonl", ['{"prompt": "a", "response": "b"}', '{"prompt": "c", "response":'])
    with pytest.raises(InputError, match=r"bad.jsonl:2: malformed JSON"):
        read_pairs(str(p))
    d = read_pairs(str(p), on_error="skip")
    assert d.table.height == 2 and d.n_bad == 1
    assert d.table[R.DROP_REASON].to_list() == [None, "malformed_json"]


def test_missing_field_and_wrong_field_name(tmp_path):
    p = write(tmp_path / "m.jsonl", ['{"prompt": "a", "response": "b"}', '{"prompt": "c"}'])
    with pytest.raises(InputError, match=r"m.jsonl:2: missing field 'response'"):
        read_pairs(str(p))
    assert read_pairs(str(p), on_error="skip").table[R.DROP_REASON][1] == "missing_response"
    with pytest.raises(InputError, match="field 'text' .* not found.*--response-field"):
        read_pairs(str(p), FieldMap(response="text"))
    q = write(tmp_path / "q.jsonl", ['{"foo": 1}'])
    with pytest.raises(InputError, match="no instruction field found"):
        read_pairs(str(q))


def test_encoding_empty_and_missing_files(tmp_path):
    p = tmp_path / "latin.jsonl"
    p.write_bytes('{"prompt": "caf\xe9", "response": "x"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_pairs(str(p))
    e = tmp_path / "empty.jsonl"
    e.write_text("")
    with pytest.raises(InputError, match="no records"):
        read_pairs(str(e))
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="unknown table format"):
        read_table(write(tmp_path / "x.txt", ["hi"]))
