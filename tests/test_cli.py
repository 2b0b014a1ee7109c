"""CLI through the real entry point: help, examples, bad input as one-line errors."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from curator.cli import cli

from .conftest import DEMO, ROOT

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "curator", *args], capture_output=True, text=True, env=ENV, cwd=cwd)


def all_commands(group, prefix=()):
    import click

    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):  # the group's own help too (curator index --help)
            yield prefix + (name,)
            yield from all_commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,)


@pytest.mark.parametrize("command", list(all_commands(cli)), ids=" ".join)
def test_every_command_has_help_with_an_example(command):
    res = CliRunner().invoke(cli, [*command, "--help"])
    assert res.exit_code == 0
    assert "Example:" in res.output, f"{' '.join(command)} --help has no example"


def test_help_is_fast_and_does_not_import_torch():
    code = "import sys; from curator.cli import cli; assert 'torch' not in sys.modules and 'faiss' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)


def test_end_to_end_through_the_entry_point(tmp_path):
    env_dir = tmp_path / "indexes"
    os.environ["CURATOR_INDEX_DIR"] = str(env_dir)
    try:
        r = subprocess.run([sys.executable, "-m", "curator", "index", "build", str(DEMO / "sources.jsonl"), "--name", "demo",
                            "--id-field", "id"], capture_output=True, text=True, env={**ENV, "CURATOR_INDEX_DIR": str(env_dir)})
        assert r.returncode == 0, r.stderr
        out = tmp_path / "out"
        r = subprocess.run([sys.executable, "-m", "curator", "run", str(DEMO / "pairs.jsonl"), "--index", "demo",
                            "--budget", "50", "-o", str(out)], capture_output=True, text=True,
                           env={**ENV, "CURATOR_INDEX_DIR": str(env_dir)})
        assert r.returncode == 0, r.stderr
        assert "kept" in r.stderr
        summary = json.loads((out / "summary.json").read_text())
        n_kept = sum(1 for _ in open(out / "kept.jsonl"))
        n_dropped = sum(1 for _ in open(out / "dropped.jsonl"))
        assert n_kept + n_dropped == summary["rows_in"] == 357
        assert n_kept <= 50
    finally:
        os.environ.pop("CURATOR_INDEX_DIR", None)


@pytest.mark.parametrize("args, message", [
    (["score", "missing.jsonl", "--source-field", "s", "-o", "x.jsonl"], "missing.jsonl: no such file"),
    (["score", "bad.jsonl", "--source-field", "src", "-o", "x.jsonl"], "bad.jsonl:2: malformed JSON"),
    (["score", "good.jsonl", "--source-field", "nosuch", "-o", "x.jsonl"], "field 'nosuch' (source) not found"),
    # the response as its own source: every answer would be supported (a trial, 2026-12-08)
    (["score", "good.jsonl", "--source-field", "response", "-o", "x.jsonl"], "is the response field"),
    (["score", "good.jsonl", "--index", "../etc", "-o", "x.jsonl"], "no index at ../etc"),
    (["score", "good.jsonl", "--index", "bad name", "-o", "x.jsonl"], "not a valid index name"),
    (["score", "latin.jsonl", "--source-field", "src", "-o", "x.jsonl"], "not UTF-8"),
    (["dedup", "empty.jsonl", "-o", "x.jsonl"], "no records found"),
    (["index", "info", "nothere"], "curator index build"),
])
def test_bad_input_is_one_line_no_traceback(tmp_path, args, message):
    (tmp_path / "bad.jsonl").write_text('{"prompt": "a", "response": "b", "src": "a b"}\n{"prompt": \n')
    (tmp_path / "good.jsonl").write_text('{"prompt": "a", "response": "b", "src": "a b"}\n')
    (tmp_path / "latin.jsonl").write_bytes('{"prompt": "caf\xe9", "response": "b", "src": "x"}\n'.encode("latin-1"))
    (tmp_path / "empty.jsonl").write_text("")
    res = run(*args, cwd=tmp_path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert message in lines[0]


def test_skip_bad_lines_keeps_them_as_dropped_rows(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"prompt": "What is 2+2?", "response": "4", "src": "2+2 is 4"}\n{"prompt": \n')
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(cli, ["dedup", str(src), "--on-error", "skip", "-o", str(out)])
    assert res.exit_code == 0, res.output
    dropped = [json.loads(x) for x in open(tmp_path / "o.dropped.jsonl")]
    assert dropped[0]["curator"]["drop_reason"] == "malformed_json"
    assert dropped[0]["curator"]["line"] == 2


def test_budget_larger_than_data_selects_all(tmp_path):
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"Question {i} about topic {i}?", "response": f"Answer {i}."}) + "\n" for i in range(5)))
    res = CliRunner().invoke(cli, ["select", str(src), "--budget", "50", "-o", str(tmp_path / "s.jsonl")])
    assert res.exit_code == 0, res.output
    assert sum(1 for _ in open(tmp_path / "s.jsonl")) == 5
    assert "selecting them all" in res.output


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


def test_pipeline_file_with_an_index_grounds_in_it_like_the_cli(tmp_path, demo_index_dir, monkeypatch):
    """Dolly-style rows carry a `context` field. `run --index` grounds in the index (an explicit
    choice beats detection); a pipeline file whose grounding step names an index must do the
    same, and say so in the same summary, while [input] source_field still picks the context."""
    import json

    from click.testing import CliRunner

    from curator.cli import cli

    monkeypatch.setenv("CURATOR_CACHE_DIR", "off")
    rows = [{"instruction": "Who directed Return of the Jedi?", "context": "A short note about films.",
             "response": "Richard Marquand directed it."},
            {"instruction": "What is the capital of France?", "context": "Paris is the capital of France.",
             "response": "The capital of France is Paris."}]
    pairs = tmp_path / "dolly.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    modes = {}
    for name, extra in (("index", ""), ("source", 'source_field = "context"\n')):
        toml = tmp_path / f"{name}.toml"
        toml.write_text(f'[input]\npath = "{pairs}"\n{extra}[output]\ndir = "{tmp_path / name}"\nreport = false\n'
                        f'[[steps]]\ntype = "grounding"\nindex = "{demo_index_dir}"\n')
        r = CliRunner().invoke(cli, ["--quiet", "run", str(toml)])
        assert r.exit_code == 0, r.output
        out = [json.loads(x) for f in ("kept.jsonl", "dropped.jsonl") for x in (tmp_path / name / f).read_text().splitlines()]
        modes[name] = {x["curator"]["evidence_mode"] for x in out}
        fields = json.loads((tmp_path / name / "summary.json").read_text())["input"]["fields"]
        assert ("source" in fields) == (name == "source") and "detect_source" not in fields
    assert modes == {"index": {"index"}, "source": {"source"}}
