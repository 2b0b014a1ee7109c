"""Outputs never overwrite the input, and an output folder that cannot be made fails before any
work with one line (found by trying curator as a new user)."""

import json

import pytest
from click.testing import CliRunner

from curator.cli import cli
from curator.records import pairs_from_records

ROWS = [{"instruction": f"Question {i}?", "output": f"Answer {i}."} for i in range(3)]


def _write(path):
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path.read_bytes()


@pytest.mark.parametrize("args", [
    ["dedup", "{p}", "--no-semantic", "-o", "{p}"],                         # -o is the input
    ["dedup", "{p}", "--no-semantic", "-o", "{d}/out.jsonl", "--dropped", "{p}"],  # --dropped is
    ["select", "{p}", "--budget", "1", "-o", "{p}"],
    ["score", "{p}", "--source-field", "output", "-o", "{p}"],
])
def test_an_output_that_is_the_input_is_refused_before_any_work(tmp_path, args):
    p = tmp_path / "pairs.jsonl"
    before = _write(p)
    res = CliRunner().invoke(cli, [a.format(p=p, d=tmp_path) for a in args])
    assert res.exit_code == 1
    assert "is an input file" in res.output and "Traceback" not in res.output
    assert p.read_bytes() == before  # the input is untouched


def test_run_into_the_folder_holding_the_input_as_kept_jsonl_is_refused(tmp_path):
    p = tmp_path / "kept.jsonl"
    before = _write(p)
    res = CliRunner().invoke(cli, ["run", str(p), "--source-field", "output", "-o", str(tmp_path)])
    assert res.exit_code == 1 and "is an input file" in res.output
    assert p.read_bytes() == before


def test_the_same_name_in_another_folder_is_fine(tmp_path):
    p = tmp_path / "pairs.jsonl"
    _write(p)
    (tmp_path / "out").mkdir()
    res = CliRunner().invoke(cli, ["dedup", str(p), "--no-semantic", "-o", str(tmp_path / "out" / "pairs.jsonl")])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("outdir", ["/proc/curator-cannot-make-this", "/proc/1/nope/deeper"])
def test_an_output_folder_that_cannot_be_made_is_one_line_before_the_work(tmp_path, outdir):
    p = tmp_path / "pairs.jsonl"
    _write(p)
    res = CliRunner().invoke(cli, ["run", str(p), "--source-field", "output", "-o", outdir])
    assert res.exit_code == 1
    assert res.output.startswith("Error: ") and len(res.output.strip().splitlines()) == 1
    assert "Traceback" not in res.output


@pytest.mark.parametrize("role", ["system", "developer"])
def test_openai_developer_role_is_a_system_turn(role):
    rec = {"messages": [{"role": role, "content": "Be brief."}, {"role": "user", "content": "Capital of Peru?"},
                        {"role": "assistant", "content": "Lima."}]}
    row = pairs_from_records([rec]).table.row(0, named=True)
    assert row["drop_reason"] is None
    assert row["instruction"] == "Be brief.\n\nCapital of Peru?" and row["response"] == "Lima."
