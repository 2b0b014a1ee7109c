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


# -- a CSV row with more or fewer fields than the header: the JSONL contract (file:line error,
# or under skip a row dropped with a reason), never a row read with an empty response ----------
RAGGED = [
    # (the bad line as written, the file line the error names, what the message says)
    ('"Name a planet.",Mars.,extra', 3, "3 fields where the header has 2"),       # a comma too many
    ('"Name a planet.", Mars, or Venus.', 3, "3 fields where the header has 2"),  # an unquoted comma
    ('"Name a planet."', 3, "1 field where the header has 2"),                    # a cut-off line
    ('Name a planet. Mars.', 3, "1 field where the header has 2"),                # a lost comma
    ('"Name a\nplanet.",Mars.,x', 3, "3 fields"),                                  # quoted line break
]


@pytest.mark.parametrize(("bad", "line", "says"), RAGGED)
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_ragged_csv_row_is_an_error_naming_the_line_or_a_dropped_row(tmp_path, bad, line, says, newline):
    text = newline.join(["instruction,output", '"Name a colour.",Blue.', bad, '"Name a fruit.","Pear."', ""])
    p = tmp_path / "r.csv"
    p.write_bytes(text.encode())
    with pytest.raises(InputError, match=rf"r.csv:{line}: {says}.*--on-error skip"):
        read_table(p)
    with pytest.raises(InputError, match=rf"r.csv:{line}: "):
        read_pairs(str(p))
    items = read_table(p, on_error="skip").items
    assert [getattr(x, "reason", None) for x in items] == [None, "wrong_field_count", None]
    assert items[1].raw == bad and "--on-error" not in items[1].message
    d = read_pairs(str(p), on_error="skip")
    assert d.n_bad == 1
    assert d.table[R.RESPONSE].to_list()[::2] == ["Blue.", "Pear."]
    assert d.table[R.DROP_REASON].to_list() == [None, "wrong_field_count", None]
    assert d.table[R.DROP_STAGE].to_list() == [None, "read", None]


def test_ragged_csv_rows_every_one_reported_first_one_raised(tmp_path):
    p = tmp_path / "r.csv.gz"
    import gzip

    p.write_bytes(gzip.compress(b"a,b,c\n1,2,3\n1,2\n1,2,3\n1,2,3,4\n,,\n"))
    with pytest.raises(InputError, match=r"r.csv.gz:3: 2 fields where the header has 3"):
        read_table(p)
    items = read_table(p, on_error="skip").items
    bad = [(x.line, x.raw) for x in items if not isinstance(x, dict)]
    assert bad == [(2, "1,2"), (4, "1,2,3,4")]
    assert items[4] == {"a": None, "b": None, "c": None}  # empty cells are a full row of empty values


def test_well_formed_csv_reads_as_before(tmp_path):
    """Quoted commas, quoted line breaks, a long field and a blank line are not ragged rows."""
    p = tmp_path / "ok.csv"
    long = "word " * 40000  # over the csv module's default field size limit (131072)
    p.write_text(f'q,r\n"a, b","c\nd"\n"{long}",x\n\n"e",""\n', "utf-8")
    rows = read_table(p).items
    assert rows == [{"q": "a, b", "r": "c\nd"}, {"q": long, "r": "x"}, {"q": None, "r": None},
                    {"q": "e", "r": ""}]


def test_a_lone_carriage_return_is_text_not_a_row_end(tmp_path):
    """Polars ends rows at "\\n" only: a stray "\\r" inside a field must not split it into two
    ragged rows."""
    p = tmp_path / "cr.csv"
    p.write_bytes(b"q,r\nline one\rstill one,x\ny,z\r\n")
    assert read_table(p).items == [{"q": "line one\rstill one", "r": "x"}, {"q": "y", "r": "z"}]
    p.write_bytes(b"q,r\nline one\rstill one\ny,z\r\n")
    with pytest.raises(InputError, match=r"cr.csv:2: 1 field where"):
        read_table(p)
    assert read_table(p, on_error="skip").items[0].raw == "line one\rstill one"


# -- an Alpaca input that says "no input" is no source (--source-field input) ---------------------
NO_INPUTS = ["<noinput>", "noinput", "No input.", "NO INPUT", "N/A", "n/a", "NA", "none", "None.", "null",
             " <No Input> ", "[no input]", "", "  ", "-"]
REAL_INPUTS = ["No.", "Nonetheless, Lima is in Peru.", "Input: 3, 4", "Nairobi", "0", "🙂", "ninput",
               "no input field is given here, but Lima is the capital of Peru"]


@pytest.mark.parametrize("text", NO_INPUTS)
def test_no_input_placeholders(text):
    assert R.is_no_input(text)


@pytest.mark.parametrize("text", REAL_INPUTS)
def test_real_inputs_are_not_placeholders(text):
    assert not R.is_no_input(text)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_placeholder_source_is_read_as_no_source(tmp_path, suffix):
    import polars as pl

    recs = [{"instruction": "Where is Lima?", "input": x, "output": "In Peru."} for x in [*NO_INPUTS, "Lima is in Peru."]]
    p = tmp_path / f"a{suffix}"
    if suffix == ".csv":
        pl.DataFrame(recs).write_csv(p)
    else:
        write(p, [json.dumps(r) for r in recs])
    d = read_pairs(str(p), FieldMap(source="input"))
    assert d.table[R.SOURCE].to_list() == [""] * len(NO_INPUTS) + ["Lima is in Peru."]
    # the user's record is not changed: the input is written back as it was
    assert [json.loads(x)["input"] for x in R.record_texts(d.table)][:3] == ["<noinput>", "noinput", "No input."]


def test_a_placeholder_source_in_a_conversation_is_no_source(tmp_path):
    recs = [{"messages": [{"role": "user", "content": "Where is Lima?"}, {"role": "assistant", "content": "In Peru."}],
             "context": c} for c in ("N/A", "Lima is in Peru.")]
    p = write(tmp_path / "m.jsonl", [json.dumps(r) for r in recs])
    assert read_pairs(str(p)).table[R.SOURCE].to_list() == ["", "Lima is in Peru."]


def test_ragged_rows_polars_splits_otherwise_is_still_an_error(tmp_path, monkeypatch):
    """Should polars and the csv module ever split a file into different rows, a ragged row is
    an error even under skip: never a row dropped in another's place."""
    from curator import io

    p = tmp_path / "r.csv"
    p.write_text("q,r\na,b\nc\n", "utf-8")
    real = io._ragged_rows
    monkeypatch.setattr(io, "_ragged_rows", lambda *a: io._Ragged(real(*a).bad, 5))
    with pytest.raises(InputError, match=r"r.csv:3: 1 field where the header has 2 .*could not be told apart"):
        read_table(p, on_error="skip")
