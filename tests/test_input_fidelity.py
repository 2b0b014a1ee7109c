"""Issue 12: nothing lost between the user's file and curator's outputs.

Every test goes through the real CLI on small files it writes."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from curator.cli import cli

from .cli_helpers import one_line_error


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    return res.exit_code, res.output


def lines(path: Path) -> list[dict]:
    # split on "\n" only: str.splitlines() would also split inside a record at U+0085, U+2028 ...
    return [json.loads(x) for x in path.read_text("utf-8").split("\n") if x.strip()] if path.exists() else []


def outputs(out: Path) -> list[dict]:
    """kept + dropped records of a single-file command, in input order."""
    recs = lines(out) + lines(out.with_name(out.name.replace(".jsonl", ".dropped.jsonl")))
    return sorted(recs, key=lambda r: r["curator"]["row_id"])


def write_jsonl(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), "utf-8")
    return path


_TOPICS = ("volcanoes erupting", "bread baking", "tax law", "jazz history", "tide pools", "chess openings",
           "roman roads", "bee colonies", "glacier melt", "origami cranes")


def pairs(n: int, start: int = 0) -> list[dict]:
    """Rows no dedup method merges (distinct topics, not just distinct numbers)."""
    return [{"id": f"r{i}", "instruction": f"Explain {_TOPICS[i % 10]} to a child, part {'ABCDEFGHIJKLMNOP'[i // 10 % 16]}{i}.",
             "output": f"Answer {i}."} for i in range(start, start + n)]


# -- 1, 2: compressed files ---------------------------------------------------------------------
def _zst(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


def _jsonl_bytes(recs: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in recs).encode()


@pytest.mark.parametrize("variant", ["two_frames", "three_frames_and_empty", "skippable_frame", "gzip_members"])
def test_every_frame_of_a_compressed_file_is_read(tmp_path, variant):
    a, b, c = pairs(40), pairs(40, 40), pairs(20, 80)
    if variant == "two_frames":  # cat a.zst b.zst
        data, name = _zst(_jsonl_bytes(a)) + _zst(_jsonl_bytes(b + c)), "x.jsonl.zst"
    elif variant == "three_frames_and_empty":
        data, name = _zst(_jsonl_bytes(a)) + _zst(b"") + _zst(_jsonl_bytes(b)) + _zst(_jsonl_bytes(c)), "x.jsonl.zst"
    elif variant == "skippable_frame":  # pzstd starts with a skippable frame
        import struct

        data = struct.pack("<II", 0x184D2A50, 4) + b"\0\0\0\0" + _zst(_jsonl_bytes(a + b)) + _zst(_jsonl_bytes(c))
        name = "x.jsonl.zst"
    else:
        data, name = gzip.compress(_jsonl_bytes(a)) + gzip.compress(_jsonl_bytes(b + c)), "x.jsonl.gz"
    src = tmp_path / name
    src.write_bytes(data)
    code, out = run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    assert "100 rows in" in out
    assert [r["id"] for r in outputs(tmp_path / "o.jsonl")] == [r["id"] for r in a + b + c]


@pytest.mark.parametrize("cut", ["first_frame_small", "first_frame_large", "second_frame", "gzip"])
@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_a_truncated_compressed_file_is_a_one_line_error(tmp_path, cut, on_error):
    import random

    rng = random.Random(0)
    big = [{"instruction": f"q{i} " + " ".join(str(rng.random()) for _ in range(30)), "output": "a"} for i in range(3000)]
    if cut == "first_frame_small":
        data, name = _zst(_jsonl_bytes(pairs(50)))[:-40], "t.jsonl.zst"
    elif cut == "first_frame_large":
        whole = _zst(_jsonl_bytes(big))
        data, name = whole[: int(len(whole) * 0.8)], "t.jsonl.zst"
    elif cut == "second_frame":
        second = _zst(_jsonl_bytes(pairs(50, 50)))
        data, name = _zst(_jsonl_bytes(pairs(50))) + second[: len(second) // 2], "t.jsonl.zst"
    else:
        data, name = gzip.compress(_jsonl_bytes(pairs(50)))[:-30], "t.jsonl.gz"
    src = tmp_path / name
    src.write_bytes(data)
    code, out = run("dedup", src, "--no-semantic", "--on-error", on_error, "-o", tmp_path / "o.jsonl")
    err = one_line_error(code, out)
    assert str(src) in err
    assert "truncated" in err or "not a valid" in err
    assert not (tmp_path / "o.jsonl").exists()


def test_a_truncated_shard_among_several_is_named(tmp_path):
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "a.jsonl.zst").write_bytes(_zst(_jsonl_bytes(pairs(10))))
    bad = tmp_path / "shards" / "b.jsonl.zst"
    bad.write_bytes(_zst(_jsonl_bytes(pairs(10, 10)))[:-20])
    err = one_line_error(*run("dedup", tmp_path / "shards", "--no-semantic", "-o", tmp_path / "o.jsonl"))
    assert str(bad) in err and "truncated" in err
    code, out = run("dedup", tmp_path / "shards", "--no-semantic", "--on-error", "skip", "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    warn = [x for x in out.splitlines() if x.startswith("warning:") and str(bad) in x]
    assert len(warn) == 1 and "truncated" in warn[0]
    assert "10 rows in" in out


def test_truncated_zst_is_refused_for_index_sources_too(tmp_path):
    src = tmp_path / "docs.jsonl.zst"
    src.write_bytes(_zst(_jsonl_bytes([{"id": "d1", "text": "Lima is the capital of Peru."}]))[:-10])
    err = one_line_error(*run("index", "build", src, "--id-field", "id", "--out", tmp_path / "idx"))
    assert str(src) in err and "truncated" in err


def test_multi_frame_index_sources_are_read_whole(tmp_path):
    from curator.index import load_documents

    src = tmp_path / "docs.jsonl.zst"
    src.write_bytes(_zst(_jsonl_bytes([{"id": "d1", "text": "Lima is in Peru."}]))
                    + _zst(_jsonl_bytes([{"id": "d2", "text": "Quito is in Ecuador."}])))
    md = tmp_path / "notes.md.zst"
    md.write_bytes(_zst(b"Paris is in France.\n") + _zst(b"Rome is in Italy.\n"))
    docs = load_documents([src, md], id_field="id")
    assert [d.id for d in docs] == ["d1", "d2", "notes.md.zst"]
    assert docs[2].text == "Paris is in France.\nRome is in Italy.\n"


def test_compressed_csv_is_read(tmp_path):
    src = tmp_path / "p.csv.zst"
    src.write_bytes(_zst(b"instruction,output\nq1,a1\n") + _zst(b""))
    code, out = run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    assert [r["instruction"] for r in lines(tmp_path / "o.jsonl")] == ["q1"]


# -- 3: NaN / Infinity --------------------------------------------------------------------------
NONFINITE = [
    '{"id": "r1", "instruction": "Q1?", "output": "A1.", "score": NaN}',
    '{"id": "r2", "instruction": "Q2?", "output": "A2.", "score": Infinity, "nested": {"x": [-Infinity, 1.5, NaN]}}',
    '{"id": "r3", "instruction": "Q3?", "output": "A3.", "score": -Infinity}',
    '{"id": "r4", "instruction": "Q4?", "output": "A4.", "score": 0.5}',
]


@pytest.mark.parametrize("command", ["dedup", "select"])
def test_nan_and_infinity_are_written_back_as_they_were(tmp_path, command):
    src = tmp_path / "p.jsonl"
    src.write_text("\n".join(NONFINITE) + "\n", "utf-8")
    extra = ["--no-semantic"] if command == "dedup" else ["--budget", "2", "--method", "random"]
    code, out = run(command, src, *extra, "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    written = (tmp_path / "o.jsonl").read_text("utf-8")
    dropped = tmp_path / "o.dropped.jsonl"
    written += dropped.read_text("utf-8") if dropped.exists() else ""
    got = {}
    for line in written.splitlines():
        rec = json.loads(line)
        del rec["curator"]
        got[rec["id"]] = json.dumps(rec)  # Python's json writes NaN/Infinity back as tokens
    assert sorted(got.values()) == sorted(json.dumps(json.loads(x)) for x in NONFINITE)
    assert "NaN" in written and "-Infinity" in written and "null" not in written


def test_nan_in_a_run_folder(tmp_path):
    src = tmp_path / "p.jsonl"
    src.write_text("\n".join(x.replace('"output"', '"context": "Q. A1 A2 A3 A4.", "output"') for x in NONFINITE) + "\n")
    code, out = run("run", src, "--source-field", "context", "--no-report", "-o", tmp_path / "out")
    assert code == 0, out
    text = (tmp_path / "out" / "kept.jsonl").read_text() + (tmp_path / "out" / "dropped.jsonl").read_text()
    assert text.count("NaN") == 2 and text.count("Infinity") == 3  # the user's, none of ours
    assert len(text.splitlines()) == 4


# -- 4: empty values ------------------------------------------------------------------------------
def _quality_only(tmp_path: Path, src: Path) -> tuple[int, str, Path]:
    toml = tmp_path / "p.toml"
    toml.write_text(f'[input]\npath = "{src}"\n[output]\ndir = "{tmp_path / "out"}"\nreport = false\n'
                    '[[steps]]\ntype = "quality"\n', "utf-8")
    code, out = run("run", toml)
    return code, out, tmp_path / "out"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json", "parquet", "messages", "jsonl_nan"])
def test_empty_null_and_blank_responses_are_all_empty_response(tmp_path, fmt):
    import polars as pl

    rows = [("q1", "What is the capital of Peru?", "Lima."), ("q2", "Say nothing.", None),
            ("q3", "Name a colour.", ""), ("q4", "Name a fruit.", "   ")]
    if fmt == "csv":
        src = tmp_path / "p.csv"
        src.write_text('id,instruction,output\nq1,What is the capital of Peru?,Lima.\nq2,Say nothing.,\n'
                       'q3,Name a colour.,""\nq4,Name a fruit.,   \n', "utf-8")
    elif fmt == "jsonl_nan":
        src = tmp_path / "p.jsonl"
        src.write_text('{"id": "q1", "instruction": "What is the capital of Peru?", "output": "Lima."}\n'
                       '{"id": "q2", "instruction": "Say nothing.", "output": NaN}\n'
                       '{"id": "q3", "instruction": "Name a colour.", "output": ""}\n'
                       '{"id": "q4", "instruction": "Name a fruit.", "output": null}\n', "utf-8")
    elif fmt == "messages":
        src = write_jsonl(tmp_path / "p.jsonl", [
            {"id": i, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for i, q, a in rows])
    else:
        recs = [{"id": i, "instruction": q, "output": a} for i, q, a in rows]
        src = tmp_path / f"p.{fmt}"
        if fmt == "jsonl":
            write_jsonl(src, recs)
        elif fmt == "json":
            src.write_text(json.dumps(recs), "utf-8")
        else:
            pl.DataFrame(recs).write_parquet(src)
    code, out, folder = _quality_only(tmp_path, src)
    assert code == 0, out
    assert [r["id"] for r in lines(folder / "kept.jsonl")] == ["q1"]
    dropped = lines(folder / "dropped.jsonl")
    assert [(r["id"], r["curator"]["drop_reason"]) for r in dropped] == [
        ("q2", "empty_response"), ("q3", "empty_response"), ("q4", "empty_response")]


def test_a_really_missing_field_is_still_an_error(tmp_path):
    src = write_jsonl(tmp_path / "p.jsonl", [{"instruction": "Q?", "output": "A."}, {"instruction": "Q2?"}])
    err = one_line_error(*run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl"))
    assert "p.jsonl:2: missing field 'output'" in err and "--on-error skip" in err
    code, out = run("dedup", src, "--no-semantic", "--on-error", "skip", "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    d = lines(tmp_path / "o.dropped.jsonl")[0]["curator"]
    assert d["drop_reason"] == "missing_response"
    assert "--on-error skip" not in d["drop_detail"]  # 8: no advice to pass what was passed


@pytest.mark.parametrize("bad", ['{"instruction": "Q", "output": ', "[1, 2]", b"\xff\xfe{}"])
def test_drop_detail_does_not_advise_on_error_skip_when_given(tmp_path, bad):
    src = tmp_path / "p.jsonl"
    src.write_bytes(b'{"instruction": "Q?", "output": "A."}\n' + (bad if isinstance(bad, bytes) else bad.encode()) + b"\n")
    err = one_line_error(*run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl"))
    assert "--on-error skip" in err
    code, out = run("dedup", src, "--no-semantic", "--on-error", "skip", "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    (d,) = lines(tmp_path / "o.dropped.jsonl")
    assert d["curator"]["drop_stage"] == "read" and "--on-error skip" not in d["curator"]["drop_detail"]


# -- 5, 6: content parts and tool calling ---------------------------------------------------------
def _read_table(src: Path):
    from curator.records import read_pairs

    return read_pairs(src).table


@pytest.mark.parametrize("part_key", ["value", "text"])
def test_content_parts_are_read(tmp_path, part_key):
    recs = [{"messages": [{"role": "system", "content": [{"type": "text", part_key: "Be brief."}]},
                          {"role": "user", "content": [{"type": "text", part_key: "Capital of France?"},
                                                       {"type": "image_url", "image_url": {"url": "x"}}]},
                          {"role": "assistant", "content": [{"type": "text", part_key: "Paris."}]}]},
            {"messages": [{"role": "user", "content": [{"type": "text", part_key: "How do volcanoes form?"}]},
                          {"role": "assistant", "content": [{"type": "text", part_key: "Magma rises"},
                                                            {"type": "text", part_key: "through the crust."}]}]}]
    src = write_jsonl(tmp_path / "v1.jsonl", recs)
    t = _read_table(src)
    assert t["instruction"].to_list() == ["Be brief.\n\nCapital of France?", "How do volcanoes form?"]
    assert t["response"].to_list() == ["Paris.", "Magma rises through the crust."]
    code, out = run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl")
    assert code == 0 and "2 kept" in out, out


OPENAI_TOOLS = {"id": "oa", "tools": [{"type": "function", "function": {"name": "get_weather"}}], "messages": [
    {"role": "system", "content": "Use tools when needed."},
    {"role": "user", "content": "What's the weather in Lima?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Lima\"}"}},
        {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": "{\"city\": \"Lima\"}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "Lima: 19 degrees Celsius, cloudy."},
    {"role": "tool", "tool_call_id": "c2", "content": "Lima: 14:05 local time."},
    {"role": "assistant", "content": "It is 19 degrees Celsius and cloudy in Lima."}]}
OPENAI_CONTENT_AND_CALL = {"id": "oa2", "messages": [
    {"role": "user", "content": "Weather in Quito?"},
    {"role": "assistant", "content": "Let me check.", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Quito"}}}]},
    {"role": "tool", "content": "Quito: 12 degrees Celsius, rain."},
    {"role": "assistant", "content": "It is 12 degrees Celsius and raining in Quito."},
    {"role": "user", "content": "Thanks!"},
    {"role": "assistant", "content": "You're welcome."}]}
OPENAI_LEGACY = {"id": "oa3", "messages": [
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}},
    {"role": "function", "name": "get_weather", "content": "Oslo: -3 degrees Celsius, snow."},
    {"role": "assistant", "content": "It is -3 degrees Celsius and snowing in Oslo."}]}
SHAREGPT_TOOLS = {"id": "sg", "tools": "[{\"name\": \"get_weather\"}]", "conversations": [
    {"from": "human", "value": "What's the weather in Paris?"},
    {"from": "function_call", "value": "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}"},
    {"from": "observation", "value": "Paris: 18 degrees Celsius, sunny."},
    {"from": "gpt", "value": "It is 18 degrees Celsius and sunny in Paris."}]}
V1_PARTS_TOOLS = {"id": "v1", "messages": [
    {"role": "user", "content": [{"type": "text", "value": "Weather in Rome?"}]},
    {"role": "assistant", "content": [{"type": "tool_call", "value": "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}"}]},
    {"role": "tool", "content": [{"type": "text", "value": "Rome: 22 degrees Celsius, clear."}]},
    {"role": "assistant", "content": [{"type": "text", "value": "It is 22 degrees Celsius and clear in Rome."}]}]}
SHAREGPT_CALL_ONLY = {"id": "sg2", "tools": "[]", "conversations": [
    {"from": "human", "value": "Book a table for two."},
    {"from": "function_call", "value": "{\"name\": \"book\", \"arguments\": {\"people\": 2}}"}]}


@pytest.mark.parametrize("rec", [OPENAI_TOOLS, OPENAI_CONTENT_AND_CALL, OPENAI_LEGACY, V1_PARTS_TOOLS, SHAREGPT_TOOLS,
                                 SHAREGPT_CALL_ONLY],
                         ids=lambda r: r["id"])
def test_tool_calling_conversations_are_read(tmp_path, rec):
    src = write_jsonl(tmp_path / "t.jsonl", [rec])
    t = _read_table(src)
    turns = json.loads(t["turns"][0])
    calls = [x for x in turns if x.get("tool_call")]
    prose = [x for x in turns if not x.get("tool_call")]
    assert calls, turns
    assert all("[tool call]" not in x["response"] for x in turns)
    if rec["id"] == "sg2":
        assert not prose and '"book"' in calls[0]["response"]
    else:
        answer = next(x for x in prose if "degrees" in x["response"])
        assert "degrees Celsius" in answer["context"]  # the tool result is the answer's evidence
        assert "[tool result]" in answer["prompt"] and "[tool call]" in answer["prompt"]
    # every request is the instruction; tool results are not requests
    assert "degrees" not in t["instruction"][0]
    code, out = run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    (back,) = lines(tmp_path / "o.jsonl")
    back.pop("curator")
    assert back == rec  # the tools schema and every message come back untouched


OPENAI_CALL_ONLY = {"id": "oa4", "messages": [
    {"role": "user", "content": "Book a table for two."},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "book", "arguments": "{}"}}]}]}


@pytest.mark.parametrize("good, call_only", [(OPENAI_TOOLS, OPENAI_CALL_ONLY), (SHAREGPT_TOOLS, SHAREGPT_CALL_ONLY)],
                         ids=["openai", "sharegpt"])
def test_tool_results_ground_the_answer_and_calls_are_not_claims(tmp_path, good, call_only):
    bad = json.loads(json.dumps(good))
    bad["id"] = "bad"
    key, text = ("messages", "content") if "messages" in good else ("conversations", "value")
    # a wrong value read from the tool's result (an answer about something else, "The Louvre was
    # founded by Napoleon in 1850.", is unverifiable since issue 21: the result is not about it)
    answer = bad[key][-1][text]
    answer = answer[0]["value"] if isinstance(answer, list) else answer
    bad[key][-1][text] = re.sub(r"\d+", "35", answer)
    src = write_jsonl(tmp_path / "t.jsonl", [good, bad, call_only])
    code, out = run("score", src, "--source-field", "context", "-o", tmp_path / "s.jsonl")
    assert code == 0, out
    rows = {r["id"]: r["curator"] for r in lines(tmp_path / "s.jsonl")}
    for rid in (good["id"], "bad"):
        assert rows[rid]["evidence_mode"] == "source"
        sent = [s["text"] for s in rows[rid]["sentences"]]
        assert not any("get_weather" in s or "{" in s for s in sent), sent  # calls are not scored
    assert rows["bad"]["hallucinated"] and not rows[good["id"]]["hallucinated"]
    assert rows[call_only["id"]]["n_sentences"] == 0 and not rows[call_only["id"]]["hallucinated"]


@pytest.mark.parametrize("conv, reason", [
    ([{"role": "user", "content": "Hi"}, {"role": "tool", "content": "x"}, {"role": "assistant", "content": "Hi"}],
     "roles_out_of_order"),
    ([{"role": "user", "content": "Hi"}, {"role": "critic", "content": "x"}], "unknown_role"),
    ([{"role": "user", "content": "Hi"}], "no_assistant_turn"),
])
def test_malformed_tool_conversations_are_read_drops(tmp_path, conv, reason):
    src = write_jsonl(tmp_path / "t.jsonl", [{"messages": conv}, OPENAI_TOOLS])
    one_line_error(*run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl"))
    code, out = run("dedup", src, "--no-semantic", "--on-error", "skip", "-o", tmp_path / "o.jsonl")
    assert code == 0, out
    (d,) = lines(tmp_path / "o.dropped.jsonl")
    assert d["curator"]["drop_reason"] == reason and d["messages"] == conv


# -- 7: ids -----------------------------------------------------------------------------------------
def test_index_build_refuses_two_documents_under_one_id(tmp_path):
    src = write_jsonl(tmp_path / "s.jsonl", [{"id": "d1", "text": "Lima is the capital of Peru."},
                                              {"id": "d1", "text": "Quito is the capital of Ecuador."}])
    err = one_line_error(*run("index", "build", src, "--id-field", "id", "--out", tmp_path / "idx"))
    assert "'d1'" in err and "s.jsonl:1" in err and "s.jsonl:2" in err
    # the same across files
    other = write_jsonl(tmp_path / "t.jsonl", [{"id": "d1", "text": "Quito is the capital of Ecuador."}])
    (tmp_path / "u.jsonl").write_text(src.read_text().splitlines()[0] + "\n")
    err = one_line_error(*run("index", "build", tmp_path / "u.jsonl", other, "--id-field", "id", "--out", tmp_path / "i2"))
    assert "u.jsonl:1" in err and "t.jsonl:1" in err


def test_identical_duplicate_documents_are_indexed_once(tmp_path):
    from curator.index import load_documents

    src = write_jsonl(tmp_path / "s.jsonl", [{"id": "d1", "text": "Lima is the capital of Peru."}] * 2)
    assert len(load_documents([src], id_field="id")) == 1


def test_same_file_names_in_different_folders_get_distinct_ids(tmp_path):
    from curator.index import load_documents

    for sub, text in (("a", "The Eiffel Tower is in Paris."), ("b", "Mount Fuji is in Japan.")):
        (tmp_path / "docs" / sub).mkdir(parents=True)
        (tmp_path / "docs" / sub / "intro.md").write_text(text)
    (tmp_path / "t1").mkdir()
    (tmp_path / "t2").mkdir()
    write_jsonl(tmp_path / "t1" / "s.jsonl", [{"text": "Rome is in Italy."}])
    write_jsonl(tmp_path / "t2" / "s.jsonl", [{"text": "Oslo is in Norway."}])
    docs = load_documents([tmp_path / "docs" / "a", tmp_path / "docs" / "b"])
    assert [d.id for d in docs] == ["a/intro.md", "b/intro.md"]
    assert [d.id for d in load_documents([tmp_path / "docs" / "a"])] == ["intro.md"]  # one folder: as before
    docs = load_documents([tmp_path / "t1" / "s.jsonl", tmp_path / "t2" / "s.jsonl"])
    assert [d.id for d in docs] == ["t1/s.jsonl:1", "t2/s.jsonl:1"]


def test_duplicate_pair_ids_are_warned_and_counted(tmp_path):
    src = write_jsonl(tmp_path / "p.jsonl", [{"id": "x", "instruction": "Capital of Peru?", "output": "Lima."},
                                              {"id": "x", "instruction": "A primary colour?", "output": "Red."},
                                              {"id": "y", "instruction": "2+2?", "output": "4"}])
    code, out = run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl")
    assert code == 0
    warn = [x for x in out.splitlines() if x.startswith("warning:")]
    assert len(warn) == 1 and "'x'" in warn[0]
    assert len(lines(tmp_path / "o.jsonl")) == 3
    code, out, folder = _quality_only(tmp_path, src)
    assert code == 0, out
    assert json.loads((folder / "summary.json").read_text())["input"]["duplicate_ids"] == 1


# -- 8: fail fast --------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["dedup", "--no-semantic"], ["select", "--budget", "1"],
                                     ["score", "--source-field", "context"]])
@pytest.mark.parametrize("bad", ["out/deduped", "sel.txt", "o.jsonl.gz", "FOLDER", "FILE/x.jsonl"])
def test_bad_output_paths_fail_before_any_work(tmp_path, monkeypatch, command, bad):
    import curator.records

    def boom(*a, **k):
        raise AssertionError("the input was read before the output was checked")

    monkeypatch.setattr(curator.records, "read_pairs", boom)
    (tmp_path / "FOLDER").mkdir()
    (tmp_path / "FILE").write_text("x")
    src = write_jsonl(tmp_path / "p.jsonl", pairs(3))
    err = one_line_error(*run(command[0], src, *command[1:], "-o", tmp_path / bad))
    assert bad.split("/")[0] in err


@pytest.mark.parametrize("bad", ["x.jsonl", "x.parquet", "FILE"])
def test_run_wants_a_folder(tmp_path, monkeypatch, bad):
    import curator.records

    monkeypatch.setattr(curator.records, "read_pairs", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    (tmp_path / "FILE").write_text("x")
    src = write_jsonl(tmp_path / "p.jsonl", pairs(3))
    err = one_line_error(*run("run", src, "--source-field", "instruction", "-o", tmp_path / bad))
    assert "folder" in err
    assert not (tmp_path / bad).is_dir()


def test_dropped_file_in_another_format(tmp_path):
    import polars as pl

    src = write_jsonl(tmp_path / "p.jsonl", pairs(3) + pairs(1))
    code, out = run("dedup", src, "--no-semantic", "-o", tmp_path / "o.jsonl", "--dropped", tmp_path / "d.parquet")
    assert code == 0, out
    assert pl.read_parquet(tmp_path / "d.parquet").height == 1


# -- 9: chaining --------------------------------------------------------------------------------------
def test_select_after_dedup_merges_annotations_and_keeps_provenance(tmp_path):
    recs = pairs(6) + [dict(pairs(1)[0], id="dup")]  # the last row duplicates row 0
    src = write_jsonl(tmp_path / "p.jsonl", recs)
    code, out = run("dedup", src, "--no-semantic", "-o", tmp_path / "d.jsonl")
    assert code == 0, out
    first = {r["id"]: r["curator"] for r in lines(tmp_path / "d.jsonl")}
    assert len(first) == 6
    code, out = run("select", tmp_path / "d.jsonl", "--budget", "3", "-o", tmp_path / "s.jsonl")
    assert code == 0, out
    both = lines(tmp_path / "s.jsonl") + lines(tmp_path / "s.dropped.jsonl")
    assert len(both) == 6
    for r in both:
        c, before = r["curator"], first[r["id"]]
        assert c["cluster_id"] == before["cluster_id"] and c["cluster_size"] == before["cluster_size"]
        assert c["line"] == before["line"] == int(r["id"][1:]) + 1  # the line of the ORIGINAL file
        assert c["row_id"] == before["row_id"]
        assert "select_rank" in c or c.get("drop_stage") == "select"
        assert "curator" not in {k for k in c}  # merged, not nested
    row_ids = {r["curator"]["row_id"] for r in lines(tmp_path / "s.jsonl")}
    for r in lines(tmp_path / "s.dropped.jsonl"):
        if r["curator"].get("redundant_with") is not None:
            assert r["curator"]["redundant_with"] in row_ids  # translated to the original row ids


# -- 10: structured answers, details ----------------------------------------------------------------
SCHEDULE = [{"week": [33], "study_activity": "Laboratory", "no_students": n, "duration": 4, "priority": 5,
             "pref_rooms": ["U165", "U168", "U67", "U149B"], "equipment": ["Projector", "Microphone", "Blinds"]}
            for n in (115, 191, 27, 10, 64, 33)]


@pytest.mark.parametrize("shape", ["json", "python_repr", "fenced_json", "jsonl", "prose_then_fence"])
def test_structured_answers_are_not_repetitive(tmp_path, shape):
    body = {"json": json.dumps(SCHEDULE), "python_repr": str(SCHEDULE),
            "fenced_json": "```json\n" + json.dumps(SCHEDULE, indent=2) + "\n```",
            "jsonl": "\n".join(json.dumps(x) for x in SCHEDULE),
            "prose_then_fence": "Here is the schedule:\n```json\n" + json.dumps(SCHEDULE, indent=2) + "\n```"}[shape]
    loop = json.dumps([SCHEDULE[0]] * 12)  # a model looping one object IS repetitive
    prose_loop = "I love you. " * 30
    src = write_jsonl(tmp_path / "p.jsonl", [{"id": "ok", "instruction": "Plan 6 lab sessions as JSON.", "output": body},
                                              {"id": "loop", "instruction": "Plan 12 sessions as JSON.", "output": loop},
                                              {"id": "prose", "instruction": "Say it.", "output": prose_loop}])
    code, out, folder = _quality_only(tmp_path, src)
    assert code == 0, out
    assert [r["id"] for r in lines(folder / "kept.jsonl")] == ["ok"]
    dropped = {r["id"]: r["curator"] for r in lines(folder / "dropped.jsonl")}
    assert {k: v["drop_reason"] for k, v in dropped.items()} == {"loop": "repetitive", "prose": "repetitive"}
    assert dropped["loop"]["drop_detail"].startswith("repetition=0.9") and "max_repetition=0.5" in dropped["loop"]["drop_detail"]


def test_too_long_says_the_measured_value_and_the_limit(tmp_path):
    src = write_jsonl(tmp_path / "p.jsonl", [{"instruction": "Write a lot.", "output": " ".join(f"w{i}" for i in range(30))}])
    toml = tmp_path / "p.toml"
    toml.write_text(f'[input]\npath = "{src}"\n[output]\ndir = "{tmp_path / "out"}"\nreport = false\n'
                    '[[steps]]\ntype = "quality"\nmax_response_words = 20\n', "utf-8")
    code, out = run("run", toml)
    assert code == 0, out
    (d,) = lines(tmp_path / "out" / "dropped.jsonl")
    assert d["curator"]["drop_reason"] == "too_long"
    assert d["curator"]["drop_detail"] == "response_words=30 > max_response_words=20"


# -- the general kind: a round trip ---------------------------------------------------------------------
_scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
def _nest(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)


_value = st.recursive(_scalar, _nest, max_leaves=8)
_record = st.fixed_dictionaries(
    {"instruction": st.one_of(st.text(min_size=0, max_size=30), st.none(), st.integers())},
    optional={"output": st.one_of(st.text(max_size=30), st.none(), st.floats(allow_nan=True), _value),
              "id": st.one_of(st.text(max_size=5), st.integers()), "input": st.text(max_size=10),
              "meta": _value, "extra \u00e9\u4e2d\U0001f600": _value},
)


def _canonical(rec: dict) -> str:
    # NaN != NaN: compare the JSON text (Python writes NaN/Infinity as tokens, sorted keys)
    return json.dumps(rec, sort_keys=True, ensure_ascii=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_record, min_size=1, max_size=8))
def test_round_trip_every_record_comes_back_unchanged(tmp_path_factory, recs):
    """Arbitrary Unicode (line separators, emoji, NUL), big and small numbers, NaN/Infinity, nulls,
    nested values, missing fields (read drops under --on-error skip), duplicates (dedup drops):
    kept + dropped hold every input record, unchanged, in order."""
    assume(any("output" in r for r in recs))
    tmp = tmp_path_factory.mktemp("rt")
    src = tmp / "p.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), "utf-8")
    code, out = run("dedup", src, "--no-semantic", "--on-error", "skip", "-o", tmp / "o.jsonl")
    assert code == 0, out
    back = outputs(tmp / "o.jsonl")
    assert len(back) == len(recs)
    for rec, b in zip(recs, back):
        b.pop("curator")
        assert _canonical(b) == _canonical(json.loads(json.dumps(rec)))


@pytest.mark.parametrize("first_has_ids", [False, True])
def test_repeated_ids_across_shards_are_counted_whichever_shard_names_them(tmp_path, first_has_ids):
    """A later shard's repeated ids were not counted when the first shard had no id field."""
    from curator.records import read_pairs

    plain = [{"instruction": "Capital of Peru?", "output": "Lima."}]
    named = [{"id": "x", "instruction": "A primary colour?", "output": "Red."},
             {"id": "x", "instruction": "2+2?", "output": "4"}]
    (tmp_path / "shards").mkdir()
    write_jsonl(tmp_path / "shards" / "a.jsonl", named if first_has_ids else plain)
    write_jsonl(tmp_path / "shards" / "b.jsonl", plain if first_has_ids else named)
    data = read_pairs(tmp_path / "shards")
    assert data.table.height == 3 and data.duplicate_ids == 1
    assert any("'x'" in n for n in data.notes)
