"""Issue 22, item 8: a lone UTF-16 surrogate is a row error (file:line; dropped with a reason
under --on-error skip), never a traceback refusing the file; a response of invisible characters
only is an empty response. Through the real CLI on files the tests write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curator.quality import is_blank

from .cli_helpers import one_line_error, run


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text("utf-8").split("\n") if x.strip()] if path.exists() else []


GOOD = [{"instruction": "Name a planet.", "output": "Mars."}, {"instruction": "Name a colour.", "output": "Blue."}]

# (JSON text of the bad record, the field the error names); written escaped, as json.dumps does
SURROGATES = [
    ('{"instruction": "Say hi \\ud83d", "output": "Hi!"}', "'instruction'"),          # high half of 😀
    ('{"instruction": "Say hi", "output": "Hi \\ude00 there"}', "'output'"),           # low half
    ('{"instruction": "Say hi", "output": "Hi \\ude00\\ud83d"}', "'output'"),          # the halves swapped
    ('{"instruction": "Say hi", "output": "Hi", "meta": {"tags": ["x", "\\udfff"]}}', "'meta.tags[1]'"),
    ('{"instruction": "Say hi", "output": "Hi", "\\ud800key": 1}', "a key"),
    ('{"conversations": [{"from": "human", "value": "Hi \\ud83d"}, {"from": "gpt", "value": "Hello"}]}',
     "'conversations[0].value'"),
]


def _write(path: Path, bad: str, good: list[dict[str, Any]]) -> Path:
    rec = json.loads(bad)
    if "conversations" in rec:  # keep the file one format
        good = [{"conversations": [{"from": "human", "value": g["instruction"]}, {"from": "gpt", "value": g["output"]}]}
                for g in good]
    if path.suffix == ".json":
        path.write_text("[" + ",\n".join([json.dumps(good[0]), bad, *map(json.dumps, good[1:])]) + "]", "utf-8")
    else:
        path.write_text("\n".join([json.dumps(good[0]), bad, *map(json.dumps, good[1:])]) + "\n", "utf-8")
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
@pytest.mark.parametrize(("bad", "field"), SURROGATES)
def test_a_lone_surrogate_is_a_one_line_error_naming_file_and_line(tmp_path, suffix, bad, field):
    src = _write(tmp_path / f"p{suffix}", bad, GOOD)
    err = one_line_error(*run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl"))
    assert f"p{suffix}:2:" in err and "surrogate" in err and field in err and "--on-error skip" in err
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("out", ["o.jsonl", "o.parquet", "o.csv", "o.json"])
@pytest.mark.parametrize(("bad", "field"), SURROGATES)
def test_under_skip_the_row_is_dropped_with_a_reason_and_the_rest_kept(tmp_path, bad, field, out):
    src = _write(tmp_path / "p.jsonl", bad, GOOD)
    code, text = run("dedup", src, "--no-semantic", "--on-error", "skip", "-o", tmp_path / out,
                     "--dropped", tmp_path / "d.jsonl")
    assert code == 0, text
    assert "1 unreadable rows dropped" in text
    (dropped,) = lines(tmp_path / "d.jsonl")
    c = dropped["curator"]
    assert (c["drop_stage"], c["drop_reason"], c["line"]) == ("read", "lone_surrogate", 2)
    assert field in c["drop_detail"] and "--on-error" not in c["drop_detail"]
    assert json.loads(dropped["_raw"]) == json.loads(bad)  # the record itself, kept as text
    assert (tmp_path / out).exists()


def test_a_whole_emoji_is_fine(tmp_path):
    src = _write(tmp_path / "p.jsonl", '{"instruction": "Say hi \\ud83d\\ude00", "output": "Hi!"}', GOOD)
    code, out = run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    assert [r["instruction"] for r in lines(tmp_path / "o.jsonl")][1] == "Say hi 😀"


@pytest.mark.parametrize(("raw", "kind"), [(b"\xed\xa0\xbd", "surrogate"), (b"\xe9", "not UTF-8")])
def test_csv_with_a_lone_surrogate_byte_sequence(tmp_path, raw, kind):
    """CESU-8/WTF-8 writes a lone surrogate as ED A0..BF xx: not UTF-8. A CSV file is read whole,
    so without skip it is a one-line error with the line; with skip, the rows holding it go."""
    src = tmp_path / "p.csv"
    src.write_bytes(b'instruction,output\n"Name a planet.",Mars.\n"Say hi ' + raw + b'",Hi\n"Name a colour.",Blue.\n')
    err = one_line_error(*run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl"))
    assert "p.csv:3:" in err and kind in err and "--on-error skip" in err
    code, out = run("dedup", src, "--no-semantic", "--on-error", "skip", "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    assert [r["instruction"] for r in lines(tmp_path / "o.jsonl")] == ["Name a planet.", "Name a colour."]
    (d,) = lines(tmp_path / "o.dropped.jsonl")
    assert d["curator"]["drop_reason"] == "bad_encoding" and d["curator"]["line"] == 2


def test_jsonl_with_a_lone_surrogate_byte_sequence_is_a_row_error(tmp_path):
    src = tmp_path / "p.jsonl"
    src.write_bytes(json.dumps(GOOD[0]).encode() + b'\n{"instruction": "Say hi \xed\xa0\xbd", "output": "Hi"}\n'
                    + json.dumps(GOOD[1]).encode() + b"\n")
    assert "p.jsonl:2:" in one_line_error(*run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl"))
    code, out = run("dedup", src, "--no-semantic", "--on-error", "skip", "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    assert len(lines(tmp_path / "o.jsonl")) == 2


INVISIBLE = ["\u200b", "\u2060", "\u00ad", "\ufeff", "\u200b \u200d\n\u200c", "\u2061\u2062", "\u3164", "\u2800",
             "\u202e\u202c", "\u180e"]


def test_is_blank():
    assert all(is_blank(t) for t in INVISIBLE)
    assert not any(is_blank(t) for t in ("\u200bok", "0", ".", "\u00e9", "😀", "\u200b-"))


def test_an_invisible_response_is_an_empty_response(tmp_path):
    recs = [{"instruction": f"Question {i} about the river?", "output": t, "context": "The river is long."}
            for i, t in enumerate(INVISIBLE)]
    recs.append({"instruction": "\u200b\u2060", "output": "The river is long.", "context": "The river is long."})
    recs.append({"instruction": "How long is the river?", "output": "\u200bThe river is long.",
                 "context": "The river is long."})
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs), "utf-8")
    code, out = run("score", src, "--source-field", "context", "-o", tmp_path / "s.jsonl")
    assert code == 0, out
    reasons = [r["curator"].get("quality_reason") for r in lines(tmp_path / "s.jsonl")]
    assert reasons == ["empty_response"] * len(INVISIBLE) + ["empty_instruction", None]


@pytest.mark.parametrize("rec", ['{"id": "d1", "text": "Lima is in Peru \\ud83d."}',
                                 '{"id": "d\\udc00", "text": "Lima is in Peru."}'])
def test_a_lone_surrogate_in_an_index_source_is_a_one_line_error(tmp_path, rec):
    src = tmp_path / "src.jsonl"
    src.write_text('{"id": "d0", "text": "Paris is in France."}\n' + rec + "\n", "utf-8")
    err = one_line_error(*run("index", "build", src, "--out", tmp_path / "ix", "--id-field", "id"))
    assert "src.jsonl:2:" in err and "surrogate" in err
    assert not (tmp_path / "ix").exists()


# -- a CSV row with more or fewer fields than the header (a stray comma, a cut-off line): a
# one-line error naming the line, or with --on-error skip a row dropped with the reason -----------
RAGGED_CSV = ('instruction,output,context\n'
              '"Where is Lima?","In Peru.","Lima is the capital of Peru."\n'
              '"When was Lima founded?",In 1535, by Pizarro.,"Lima was founded in 1535."\n'
              '"Where is Quito?","In Ecuador."\n'
              '"Where is Cusco?","In Peru.","Cusco is a city in Peru."\n')


@pytest.mark.parametrize("command", ["run", "score"])
def test_ragged_csv_rows_through_the_cli(tmp_path, command):
    src = tmp_path / "p.csv"
    src.write_text(RAGGED_CSV, "utf-8")
    out = tmp_path / ("out" if command == "run" else "s.jsonl")
    err = one_line_error(*run(command, src, "--source-field", "context", "-o", out))
    assert "p.csv:3: 4 fields where the header has 3" in err and "--on-error skip" in err
    code, text = run(command, src, "--source-field", "context", "--on-error", "skip", "-o", out)
    assert code == 0, text
    if command == "run":
        kept, dropped = lines(out / "kept.jsonl"), lines(out / "dropped.jsonl")
        assert [r["instruction"] for r in kept] == ["Where is Lima?", "Where is Cusco?"]
        reasons = {d["curator"]["line"]: (d["curator"]["drop_reason"], d["curator"]["drop_detail"]) for d in dropped}
    else:  # score writes every row, the dropped ones with their reason
        reasons = {r["curator"]["line"]: (r["curator"]["drop_reason"], r["curator"]["drop_detail"])
                   for r in lines(out) if r["curator"].get("drop_reason")}
    assert sorted(reasons) == [2, 3]
    assert reasons[2][0] == reasons[3][0] == "wrong_field_count"
    assert "p.csv:3: 4 fields" in reasons[2][1] and "p.csv:4: 2 fields" in reasons[3][1]
