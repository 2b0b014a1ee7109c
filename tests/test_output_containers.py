"""Issue 22, item 1: every output container holds the user's records as they were, plus
curator's columns (or the suffix is refused before any work). Through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curator.output import cell_text

from .cli_helpers import one_line_error, run

CONTAINERS = ("jsonl", "json", "parquet", "csv")




def write_input(path: Path, recs: list[dict[str, Any]], schema: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Write ``recs`` in the container ``path`` names; return the records as a reader sees them."""
    fmt = path.suffix.lstrip(".")
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), "utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(recs, ensure_ascii=False), "utf-8")
    elif fmt == "parquet":
        pl.DataFrame(recs, schema=schema).write_parquet(path)
        return pl.read_parquet(path).to_dicts()
    return recs


def read_output(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    fmt = path.suffix.lstrip(".")
    if fmt == "jsonl":
        return [json.loads(x) for x in path.read_text("utf-8").split("\n") if x.strip()]
    if fmt == "json":
        return json.loads(path.read_text("utf-8"))
    if fmt == "parquet":
        return pl.read_parquet(path).to_dicts()
    return pl.read_csv(path, infer_schema=False).to_dicts()


def _no_nulls(value: Any) -> Any:
    """A value with null-valued object keys left out: a table (Parquet) has every column in every
    row, so a key a record lacks reads back as null."""
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


def check_round_trip(inputs: list[dict[str, Any]], paths: list[Path]) -> None:
    """Every input record is in exactly one output, unchanged, with curator's columns added."""
    seen: dict[int, tuple[str, dict[str, Any]]] = {}
    for path in paths:
        fmt = path.suffix.lstrip(".")
        for rec in read_output(path):
            if fmt == "csv":
                row_id = int(rec["curator.row_id"])
                ours = {k for k in rec if k.startswith("curator.")}
                assert {"curator.row_id", "curator.line"} <= ours
            else:
                assert isinstance(rec["curator"], dict) and rec["curator"]["line"] >= 1
                row_id = rec["curator"]["row_id"]
            assert row_id not in seen, f"row {row_id} written twice"
            seen[row_id] = (fmt, rec)
    assert sorted(seen) == list(range(len(inputs))), "every input row is in one output"
    for i, original in enumerate(inputs):
        fmt, rec = seen[i]
        if fmt == "csv":
            # the user's columns, each cell the value's text (JSON for nested values)
            for k, v in original.items():
                assert rec[k] == cell_text(v), (k, rec[k], v)
            others = {k for k in rec if k not in original and not k.startswith("curator.")}
            assert all(rec[k] is None for k in others)  # fields of other records only
        else:
            back = {k: v for k, v in rec.items() if k != "curator"}
            if fmt == "parquet":
                assert _no_nulls(back) == _no_nulls(original)
            else:
                assert back == original


# -- a fixed, rich example through every pair of containers -------------------------------------------
RICH = [
    {"id": "a", "conversations": [{"from": "human", "value": "What is shown here?"}, {"from": "gpt", "value": "A cat."}],
     "image": {"path": "img/1.png", "bytes": None}, "category": "vision", "source_url": "http://x/1",
     "meta": {"n": 1, "tags": ["a", "b"], "score": 0.5}, "big": 9007199254740993},
    {"id": "b", "conversations": [{"from": "human", "value": "What is shown here?"}, {"from": "gpt", "value": "A cat."}],
     "image": {"path": "img/1.png", "bytes": None}, "category": None, "source_url": "http://x/2",
     "meta": {"n": 2, "tags": [], "score": None}, "big": -1},
    {"id": "c", "conversations": [{"from": "human", "value": "Name a red fruit."}, {"from": "gpt", "value": "Apple"}],
     "image": None, "category": "fruit", "source_url": None, "meta": None, "big": 0},
]


@pytest.mark.parametrize("src", ["jsonl", "json", "parquet"])
@pytest.mark.parametrize("kept", CONTAINERS)
def test_dedup_writes_the_users_records_in_every_container(tmp_path, src, kept):
    inputs = write_input(tmp_path / f"in.{src}", RICH)
    dropped = CONTAINERS[(CONTAINERS.index(kept) + 1) % 4]  # the dropped file in another container
    code, out = run("dedup", tmp_path / f"in.{src}", "--no-semantic", "-o", tmp_path / f"k.{kept}",
                    "--dropped", tmp_path / f"d.{dropped}")
    assert code == 0, out
    check_round_trip(inputs, [tmp_path / f"k.{kept}", tmp_path / f"d.{dropped}"])
    if kept == "parquet":
        schema = pl.read_parquet_schema(tmp_path / f"k.{kept}")
        assert schema["conversations"] == pl.List(pl.Struct({"from": pl.String, "value": pl.String}))
        assert isinstance(schema["curator"], pl.Struct)


def test_parquet_to_parquet_keeps_every_dtype(tmp_path):
    """Binary images, dates, small ints, categorical values: a Parquet input's rows come back
    with their own dtypes (not their JSON text)."""
    import datetime as dt

    src = tmp_path / "in.parquet"
    df = pl.DataFrame({
        "instruction": ["Describe the image.", "Describe the image.", "Count the dots."],
        "output": ["A dog.", "A dog.", "Three."],
        # the first two rows are true duplicates (same text, same image: rows whose images differ
        # are never duplicates), so one of them lands in the dropped file
        "image": [{"bytes": b"\x89PNG\x00\x01", "path": "a.png"}, {"bytes": b"\x89PNG\x00\x01", "path": "a.png"},
                  {"bytes": None, "path": None}],
        "day": [dt.date(2024, 1, 1), None, dt.date(2025, 2, 3)],
        "small": pl.Series([1, 2, 3], dtype=pl.Int8),
    })
    df.write_parquet(src)
    code, out = run("dedup", src, "--no-semantic", "-o", tmp_path / "k.parquet")
    assert code == 0, out
    back = pl.concat([pl.read_parquet(tmp_path / "k.parquet"), pl.read_parquet(tmp_path / "k.dropped.parquet")],
                     how="diagonal_relaxed").sort(pl.col("curator").struct.field("row_id"))
    assert back.drop("curator").equals(df)
    assert back.schema["small"] == pl.Int8 and back.schema["day"] == pl.Date


def test_chained_runs_in_parquet_merge_the_curator_column(tmp_path):
    src = tmp_path / "in.jsonl"
    inputs = write_input(src, RICH)
    assert run("dedup", src, "--no-semantic", "-o", tmp_path / "d.parquet")[0] == 0
    code, out = run("select", tmp_path / "d.parquet", "--budget", "1", "--method", "random",
                    "-o", tmp_path / "s.parquet", "--dropped", tmp_path / "s.csv")
    assert code == 0, out
    rows = read_output(tmp_path / "s.parquet")
    assert len(rows) == 1
    c = rows[0]["curator"]
    assert c["cluster_id"] is not None and c["select_rank"] == 0  # dedup's column stays, select's added
    original = inputs[c["row_id"]]  # row_id still names the ORIGINAL input row
    assert _no_nulls({k: v for k, v in rows[0].items() if k != "curator"}) == _no_nulls(original)


@pytest.mark.parametrize(("records", "field"), [
    ([{"instruction": "a", "output": "b", "x": 1}, {"instruction": "c", "output": "d", "x": "1"}], "'x'"),
    ([{"instruction": "a", "output": "b", "x": True}, {"instruction": "c", "output": "d", "x": 1}], "'x'"),
    ([{"instruction": "a", "output": "b", "m": {"k": [1]}}, {"instruction": "c", "output": "d", "m": {"k": ["s"]}}],
     "'m.k[]'"),
    ([{"instruction": "a", "output": "b", "n": 2**64}], "'n'"),
    ([{"instruction": "a", "output": "b", "meta": {}}], "'meta'"),
    ([{"instruction": "a", "output": "b", "l": [1, "x"]}], "'l[]'"),
])
def test_records_parquet_cannot_hold_are_refused_before_any_work(tmp_path, monkeypatch, records, field):
    import curator.pipeline

    monkeypatch.setattr(curator.pipeline.Pipeline, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    src = tmp_path / "in.jsonl"
    write_input(src, records)
    for args in (["dedup", src, "--no-semantic", "-o", tmp_path / "k.parquet"],
                 ["select", src, "--budget", "1", "-o", tmp_path / "k.jsonl", "--dropped", tmp_path / "d.parquet"]):
        err = one_line_error(*run(*args))
        assert field in err and ".jsonl" in err
    assert not list(tmp_path.glob("k.*")) and not list(tmp_path.glob("d.*"))
    # the same records go to .jsonl, .json and .csv as they are
    monkeypatch.undo()
    code, out = run("dedup", src, "--no-semantic", "-o", tmp_path / "k.json", "--dropped", tmp_path / "d.csv")
    assert code == 0, out
    check_round_trip(write_input(src, records), [tmp_path / "k.json", tmp_path / "d.csv"])


def test_a_field_named_curator_is_refused_not_overwritten(tmp_path):
    src = tmp_path / "in.jsonl"
    write_input(src, [{"instruction": "a", "output": "b", "ctx": "b", "curator": "Alice"}])
    err = one_line_error(*run("dedup", src, "--no-semantic", "-o", tmp_path / "k.jsonl"))
    assert "'curator'" in err and "line 1" in err
    err = one_line_error(*run("run", src, "--source-field", "ctx", "-o", tmp_path / "o"))
    assert "'curator'" in err
    # an object under that name (e.g. from someone else's tool) is kept, curator's keys added
    write_input(src, [{"instruction": "a", "output": "b", "curator": {"name": "Alice"}}])
    assert run("dedup", src, "--no-semantic", "-o", tmp_path / "k.jsonl")[0] == 0
    assert read_output(tmp_path / "k.jsonl")[0]["curator"]["name"] == "Alice"


def test_score_writes_every_row_in_a_csv_with_the_users_columns(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('instruction,output,context,note\n"Where is Lima?","In Peru.","Lima is in Peru.",""\n'
                   '"When?","1535.","Lima was founded in 1535.",\n', "utf-8")
    code, out = run("score", src, "--source-field", "context", "-o", tmp_path / "s.csv")
    assert code == 0, out
    rows = read_output(tmp_path / "s.csv")
    assert [r["note"] for r in rows] == ["", None]  # "" and an empty cell stay apart
    assert [r["instruction"] for r in rows] == ["Where is Lima?", "When?"]
    assert all(r["curator.grounding_verdict"] for r in rows)
    assert json.loads(rows[0]["curator.sentences"])  # nested curator values are JSON text


# -- the property: random records, every container, dedup and select --------------------------------
_names = st.sampled_from(["id", "image", "images", "audio", "meta", "tags", "score", "n", "note", "dialog"])
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_ints = st.integers(-(2**63), 2**63 - 1)


def _leaf(kind: str) -> st.SearchStrategy[Any]:
    return {"str": _text, "int": _ints | st.sampled_from([2**53 + 1, -(2**63), 2**63 - 1]), "bool": st.booleans(),
            "float": st.floats(allow_nan=False, width=64)}[kind]


@st.composite
def _typed(draw: Any, depth: int = 0) -> tuple[Any, st.SearchStrategy[Any]]:
    """A Parquet-compatible type (its polars dtype) and a strategy for values of it (nulls too)."""
    choices = ["str", "int", "bool", "float"] + (["list", "struct", "list_struct"] if depth < 2 else [])
    kind = draw(st.sampled_from(choices))
    if kind in ("str", "int", "bool", "float"):
        dtype = {"str": pl.String, "int": pl.Int64, "bool": pl.Boolean, "float": pl.Float64}[kind]
        return dtype, st.none() | _leaf(kind)
    if kind == "list":
        inner, values = draw(_typed(depth + 1))
        return pl.List(inner), st.none() | st.lists(values, max_size=3)
    keys = draw(st.lists(st.sampled_from(["path", "bytes", "url", "from", "value", "k"]), min_size=1, max_size=3,
                         unique=True))
    fields = {k: draw(_typed(depth + 1)) for k in keys}
    struct = st.fixed_dictionaries({k: v for k, (_, v) in fields.items()})
    dtype = pl.Struct({k: d for k, (d, _) in fields.items()})
    if kind == "list_struct":  # e.g. conversations: a list of structs
        return pl.List(dtype), st.none() | st.lists(struct, max_size=3)
    return dtype, st.none() | struct


@st.composite
def datasets(draw: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Records sharing one type per field (so Parquet can hold them), with nulls and absent fields."""
    names = draw(st.lists(_names, max_size=5, unique=True))
    typed = {n: draw(_typed()) for n in names}
    prompt = st.sampled_from(["Describe the image.", "What is shown?", "Translate: chat", "Sum 2 and 3."])
    recs = []
    for _ in range(draw(st.integers(1, 6))):
        rec = {"instruction": draw(prompt), "output": draw(st.sampled_from(["A cat.", "Five.", "chat = cat"]))}
        for n, (_, values) in typed.items():
            if draw(st.booleans()) or draw(st.booleans()):  # sometimes absent
                rec[n] = draw(values)
        recs.append(rec)
    schema = {"instruction": pl.String, "output": pl.String, **{n: d for n, (d, _) in typed.items()}}
    return recs, schema


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=datasets(), src=st.sampled_from(["jsonl", "json", "parquet"]),
       containers=st.tuples(*[st.sampled_from(CONTAINERS)] * 4))
def test_random_records_round_trip_through_every_container(tmp_path_factory, data, src, containers):
    recs, schema = data
    tmp = tmp_path_factory.mktemp("rt")
    inputs = write_input(tmp / f"in.{src}", recs, schema)
    k1, d1, k2, d2 = (tmp / f"{name}.{c}" for name, c in zip(("k1", "d1", "k2", "d2"), containers))
    code, out = run("dedup", tmp / f"in.{src}", "--no-semantic", "-o", k1, "--dropped", d1)
    assert code == 0, out
    check_round_trip(inputs, [k1, d1])
    code, out = run("select", tmp / f"in.{src}", "--budget", "2", "--method", "random", "-o", k2, "--dropped", d2)
    assert code == 0, out
    check_round_trip(inputs, [k2, d2])


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                     max_leaves=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(extra=st.lists(st.dictionaries(_names, _json, max_size=3), min_size=1, max_size=4),
       container=st.sampled_from(CONTAINERS))
def test_any_json_records_round_trip_or_are_refused_cleanly(tmp_path_factory, extra, container):
    """Arbitrary JSON values (mixed types, huge ints, empty objects): .jsonl, .json and .csv hold
    them; .parquet holds them or refuses with one line before writing anything."""
    tmp = tmp_path_factory.mktemp("any")
    recs = [{"instruction": f"Question {i}?", "output": "Answer.", **e} for i, e in enumerate(extra)]
    inputs = write_input(tmp / "in.jsonl", recs)
    k, d = tmp / f"k.{container}", tmp / f"d.{container}"
    code, out = run("dedup", tmp / "in.jsonl", "--no-semantic", "-o", k, "--dropped", d)
    if code != 0:
        assert container == "parquet", out
        assert "Parquet" in one_line_error(code, out)
        assert not k.exists() and not d.exists()
        return
    check_round_trip(inputs, [k, d])


def test_ints_and_floats_in_one_list_share_a_float_parquet_column(tmp_path):
    """[0, 0.0] and [1, 2]: one List(Float64) column, the values equal to the input's (found by the
    property test: polars built the column from the first value's type and raised)."""
    recs = [{"instruction": "a b c", "output": "d e f", "id": [0, 0.0]},
            {"instruction": "x y z", "output": "u v w", "id": [1, 2], "m": {"k": 1}},
            {"instruction": "p q r", "output": "s t u", "id": None, "m": {"k": 2.5}}]
    write_input(tmp_path / "in.jsonl", recs)
    code, out = run("dedup", tmp_path / "in.jsonl", "--no-semantic", "-o", tmp_path / "k.parquet")
    assert code == 0, out
    back = pl.read_parquet(tmp_path / "k.parquet").sort(pl.col("curator").struct.field("row_id"))
    assert back["id"].to_list() == [[0.0, 0.0], [1.0, 2.0], None]
    assert [m and m["k"] for m in back["m"].to_list()] == [None, 1.0, 2.5]
