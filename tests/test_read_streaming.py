"""The pairs table is built from the input in chunks of rows (memory: a million-row file is
never held whole): the table, the detected fields, the errors and their order must be exactly
what reading the whole file first gave."""
import gzip
import json

import pytest
from polars.testing import assert_frame_equal

from curator import records as R
from curator.errors import InputError
from curator.io import iter_table, read_table
from curator.records import FieldMap, pairs_from_records, pairs_from_stream, read_pairs

BIG = 10**9  # one chunk: the table built from the whole file at once, as before


def whole(path, on_error="skip", fields=None):
    """The reference: every record read first (read_table), then one table from all of them."""
    return pairs_from_records(read_table(path, on_error=on_error), fields, on_error, path=str(path),
                              chunk_rows=BIG)


def streamed(path, chunk_rows, on_error="skip", fields=None):
    return pairs_from_stream(iter_table(path, on_error=on_error), fields, on_error, path=str(path),
                             chunk_rows=chunk_rows)


def same(a, b):
    assert_frame_equal(a.table, b.table)
    assert (a.fields, a.format, a.n_bad, a.notes, a.duplicate_ids) == (b.fields, b.format, b.n_bad, b.notes,
                                                                        b.duplicate_ids)


MESSY = [
    "\ufeff" + json.dumps({"instruction": "Add 2 and 2.", "output": "4", "id": "a"}),  # BOM on line 1
    "",
    "   ",
    '{"instruction": "broken", "output": ',                       # malformed JSON
    "[1, 2]",                                                     # not an object
    json.dumps({"instruction": "Name a colour.", "input": "warm", "output": "Red.", "id": "b"}),
    json.dumps({"instruction": "No output here", "id": "c"}),     # missing field
    json.dumps({"instruction": "Say hi.", "input": None, "output": None, "id": "a"}),  # repeated id
    json.dumps({"instruction": "Ünïcödé ✓", "output": "ok\r", "id": "d"}),
]


def write_lines(path, lines, newline="\n"):
    path.write_bytes(newline.join(lines).encode("utf-8") + b"\n")
    return path


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 5])
def test_messy_file_same_table_in_any_chunking(tmp_path, chunk_rows):
    p = write_lines(tmp_path / "messy.jsonl", MESSY)
    with p.open("ab") as fh:
        fh.write(b'{"instruction": "latin1 \xe9", "output": "x"}\n')  # not UTF-8
    ref = whole(p)
    got = streamed(p, chunk_rows)
    same(got, ref)
    t = got.table
    assert t.height == 8 and t[R.ROW_ID].to_list() == list(range(8))
    assert t[R.LINE].to_list() == [1, 4, 5, 6, 7, 8, 9, 10]  # blank lines 2-3 skipped, numbers kept
    assert t[R.DROP_REASON].to_list() == [None, "malformed_json", "not_an_object", None, "missing_response",
                                          None, None, "bad_encoding"]
    assert t[R.INSTRUCTION][0] == "Add 2 and 2."  # the BOM is gone
    assert got.fields.input == "input"  # detected from record 4, not the first one
    assert got.n_bad == 4 and got.duplicate_ids == 1 and "repeat an id" in got.notes[0]


def test_crlf_lines(tmp_path):
    p = write_lines(tmp_path / "crlf.jsonl", [json.dumps({"prompt": f"p{i}", "response": f"r{i}"})
                                              for i in range(5)], newline="\r\n")
    same(streamed(p, 2), whole(p))
    assert streamed(p, 2).table[R.RESPONSE].to_list() == [f"r{i}" for i in range(5)]


def test_fields_detected_beyond_the_first_chunk(tmp_path, monkeypatch):
    """The fields come from the first FIELD_SAMPLE *good* records, however many chunks and bad
    lines come before them; a key first seen after them is not a field."""
    lines = ["{bad"] * 4 + [json.dumps({"instruction": f"i{k}", "output": f"o{k}"}) for k in range(3)]
    lines += [json.dumps({"instruction": "i3", "output": "o3", "input": "x", "context": "c"})]
    p = write_lines(tmp_path / "late.jsonl", lines)
    monkeypatch.setattr(R, "FIELD_SAMPLE", 4)
    got = streamed(p, 2)
    same(got, whole(p))
    assert got.fields.input == "input" and got.table[R.INPUT].to_list()[-1] == "x"
    monkeypatch.setattr(R, "FIELD_SAMPLE", 3)  # record 4 is past the sample: "input" is no field
    got = streamed(p, 2)
    same(got, whole(p))
    assert got.fields.input is None and got.table[R.INPUT].to_list()[-1] == ""


def test_all_bad_and_empty_inputs(tmp_path):
    p = write_lines(tmp_path / "bad.jsonl", ["{x", "[1]", "{y"])
    with pytest.raises(InputError, match=r"no readable records \(all 3 lines are malformed\)"):
        streamed(p, 1)
    e = tmp_path / "empty.jsonl"
    e.write_bytes(b"\n \n")
    with pytest.raises(InputError, match="no records found"):
        streamed(e, 1)


def test_raise_mode_reports_the_unreadable_line_first(tmp_path, monkeypatch):
    """on_error=raise: as when the whole file was read before any row was made, a malformed
    line anywhere wins over a missing field or a field mapping error before it."""
    monkeypatch.setattr(R, "FIELD_SAMPLE", 2)  # fields decided (and rows made) before line 9
    lines = [json.dumps({"instruction": "a", "output": "b"}), json.dumps({"instruction": "no output"})]
    lines += [json.dumps({"instruction": f"i{k}", "output": "o"}) for k in range(6)] + ['{"broken": ']
    p = write_lines(tmp_path / "order.jsonl", lines)
    with pytest.raises(InputError, match=r"order.jsonl:9: malformed JSON"):
        streamed(p, 2, on_error="raise")
    with pytest.raises(InputError, match=r"order.jsonl:9: malformed JSON"):
        streamed(p, 2, on_error="raise", fields=FieldMap(instruction="nope"))
    p2 = write_lines(tmp_path / "ok.jsonl", lines[:-1])
    with pytest.raises(InputError, match=r"ok.jsonl:2: missing field 'output'"):
        streamed(p2, 2, on_error="raise")
    with pytest.raises(InputError, match="field 'nope'"):
        streamed(p2, 2, on_error="raise", fields=FieldMap(instruction="nope"))


def test_gzip_and_conversations(tmp_path):
    convs = [json.dumps({"messages": [{"role": "user", "content": f"q{k}"},
                                      {"role": "assistant", "content": f"a{k}"}]}) for k in range(5)]
    convs.insert(2, json.dumps({"messages": [{"role": "assistant", "content": "first?"}]}))  # out of order
    p = write_lines(tmp_path / "c.jsonl", convs)
    gz = tmp_path / "c.jsonl.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    ref = whole(p)
    for path in (p, gz):
        got = streamed(path, 2)
        assert_frame_equal(got.table.drop(R.DROP_DETAIL), ref.table.drop(R.DROP_DETAIL))
        assert got.format == "openai_messages" and got.n_bad == 1
    assert_frame_equal(streamed(gz, 2).table, whole(gz).table)
    assert streamed(gz, 2).table[R.DROP_REASON].to_list()[2] == "roles_out_of_order"


def test_damaged_gzip_is_one_error(tmp_path):
    gz = tmp_path / "cut.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"prompt": "a", "response": "b"}\n' * 50)[:-12])
    with pytest.raises(InputError, match="not a valid gzip file"):
        streamed(gz, 2)


def test_shards_same_as_before(tmp_path, monkeypatch):
    d = tmp_path / "shards"
    d.mkdir()
    write_lines(d / "a.jsonl", [json.dumps({"prompt": f"a{k}", "response": "r"}) for k in range(5)] + ["{bad"])
    (d / "b.jsonl.gz").write_bytes(gzip.compress("\n".join(
        json.dumps({"question": f"b{k}", "answer": "r", "id": f"x{k % 2}"}) for k in range(4)).encode()))
    ref = read_pairs(str(d), on_error="skip")
    monkeypatch.setattr(R, "READ_CHUNK", 2)
    got = read_pairs(str(d), on_error="skip")
    assert_frame_equal(got.table, ref.table)
    assert got.table.height == 10 and got.table[R.ROW_ID].to_list() == list(range(10))
    assert got.table[R.FILE].n_unique() == 2 and got.n_bad == 1
    assert (got.duplicate_ids, got.notes, got.format) == (ref.duplicate_ids, ref.notes, ref.format)


def test_sequence_input_unchanged():
    recs = [{"instruction": f"i{k}", "output": f"o{k}"} for k in range(7)]
    a = pairs_from_records(recs, chunk_rows=3)
    b = pairs_from_records(recs, chunk_rows=BIG)
    assert_frame_equal(a.table, b.table)
    assert a.table[R.LINE].to_list() == list(range(1, 8))


def test_iter_table_is_lazy_for_plain_jsonl(tmp_path):
    p = write_lines(tmp_path / "lazy.jsonl", [json.dumps({"prompt": "a", "response": "b"}), "{broken"])
    it = iter_table(p)  # on_error=raise: the broken line 2 raises only when reached
    assert next(it) == (1, {"prompt": "a", "response": "b"})
    with pytest.raises(InputError, match="lazy.jsonl:2"):
        next(it)
