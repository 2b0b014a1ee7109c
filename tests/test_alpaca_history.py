"""Issue 22, item 3 (first bullet): LLaMA-Factory Alpaca `system` and `history` are the earlier
turns of a conversation, read as ShareGPT/OpenAI chats are: dedup, quality and grounding see them.
Through the real CLI on files the tests write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from curator.cli import cli

from .cli_helpers import one_line_error


def run(*args: Any) -> tuple[int, str]:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    return res.exit_code, res.output


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text("utf-8").split("\n") if x.strip()] if path.exists() else []


def alpaca(instruction: str, output: str, history: list[list[str]] | None = None, system: str | None = None,
           **extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"instruction": instruction, "input": "", "output": output}
    if system is not None:
        rec["system"] = system
    if history is not None:
        rec["history"] = history
    return {**rec, **extra}


SECOND = "What about the second one?"
THREE = [
    alpaca(SECOND, "It is Lyon.", [["Name two French cities.", "Paris and Lyon."]]),
    alpaca(SECOND, "It is Saturn.", [["Name the two largest planets.", "Jupiter and Saturn."]]),
    alpaca(SECOND, "It is the Amazon.", [["Name two long rivers.", "The Nile and the Amazon."]],
           system="You are a geography tutor."),
]


def write(path: Path, recs: list[dict[str, Any]]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in recs), "utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(recs), "utf-8")
    elif path.suffix == ".csv":  # a CSV cell holds the history as JSON text
        cols = list(dict.fromkeys(k for r in recs for k in r))
        pl.DataFrame([{k: (json.dumps(r[k]) if isinstance(r.get(k), list) else r.get(k)) for k in cols} for r in recs],
                     schema={c: pl.String for c in cols}).write_csv(path)
    else:
        pl.DataFrame(recs).write_parquet(path)
    return path


def dedup(tmp_path: Path, src: Path, *args: str) -> tuple[list[dict], list[dict]]:
    code, out = run("dedup", src, *args, "-o", tmp_path / "k.jsonl")
    assert code == 0, out
    return lines(tmp_path / "k.jsonl"), lines(tmp_path / "k.dropped.jsonl")


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_three_conversations_ending_alike_are_not_duplicates(tmp_path, suffix):
    src = write(tmp_path / f"p{suffix}", THREE)
    kept, dropped = dedup(tmp_path, src, "--no-semantic")
    assert len(kept) == 3 and not dropped


def test_not_even_semantic_duplicates(tmp_path):
    kept, dropped = dedup(tmp_path, write(tmp_path / "p.jsonl", THREE))
    assert len(kept) == 3 and not dropped


@pytest.mark.parametrize(("a", "b", "same"), [
    # positive control: the same conversation twice is still an exact duplicate
    (THREE[0], dict(THREE[0]), True),
    (THREE[2], dict(THREE[2], output="The Amazon."), True),
    # another system prompt is another conversation
    (alpaca(SECOND, "x", system="You are a chef who explains Italian pasta recipes."),
     alpaca(SECOND, "x", system="You are an airline pilot explaining cockpit instruments."), False),
    # the same history, another question
    (alpaca("And the first?", "Paris.", THREE[0]["history"]), THREE[0], False),
    # a longer history
    (alpaca(SECOND, "It is Lyon.", [["Tell me how Roman aqueducts carried water over valleys.", "On arches."],
                                   *THREE[0]["history"]]), THREE[0], False),
    # no earlier turns and no system prompt: a plain pair, as without the fields
    (alpaca("Name a prime.", "7", [], system=""), alpaca("Name a prime.", "11", None, system=None), True),
    (alpaca("Name a prime.", "7", [], system="   "), alpaca("Name a prime.", "13"), True),
])
def test_what_is_a_duplicate(tmp_path, a, b, same):
    other = alpaca("Describe the water cycle in two sentences.", "Water evaporates and falls as rain.")
    kept, dropped = dedup(tmp_path, write(tmp_path / "p.jsonl", [a, other, b]), "--no-semantic")
    assert (len(dropped) == 1) == same, (kept, dropped)
    if same:
        assert dropped[0]["curator"]["duplicate_of"] == 0


@pytest.mark.parametrize(("history", "why"), [
    ("not json", "not a JSON list"),
    ([["only one"]], "turn 0"),
    ([["q", "a"], "qa"], "turn 1"),
    (5, "must be a list"),
    ({"q": "a"}, "must be a list"),
])
def test_a_malformed_history_is_a_row_error(tmp_path, history, why):
    src = write(tmp_path / "p.jsonl", [THREE[0], alpaca("Next?", "Yes.", history), THREE[1]])
    err = one_line_error(*run("dedup", src, "--no-semantic", "-o", tmp_path / "k.jsonl"))
    assert "p.jsonl:2:" in err and "'history'" in err and why in err
    code, out = run("dedup", src, "--no-semantic", "--on-error", "skip", "-o", tmp_path / "k.jsonl")
    assert code == 0, out
    (d,) = lines(tmp_path / "k.dropped.jsonl")
    assert (d["curator"]["drop_reason"], d["curator"]["line"]) == ("bad_history", 2)
    assert d["history"] == history  # the record itself comes back
    assert len(lines(tmp_path / "k.jsonl")) == 2


def test_history_answers_are_grounded(tmp_path):
    """The trainer learns the history's answers too: a wrong one makes the row hallucinated."""
    ctx = "The Sydney Harbour Bridge is in Sydney. It opened in 1932."
    recs = [alpaca("And when did it open?", "It opened in 1932.", [["Where is the bridge?", "The bridge is in Berlin."]],
                   context=ctx),
            alpaca("And when did it open?", "It opened in 1932.", [["Where is the bridge?", "The bridge is in Sydney."]],
                   context=ctx)]
    code, out = run("score", write(tmp_path / "p.jsonl", recs), "--source-field", "context", "-o", tmp_path / "s.jsonl")
    assert code == 0, out
    wrong, right = (r["curator"] for r in lines(tmp_path / "s.jsonl"))
    assert wrong["n_sentences"] == right["n_sentences"] == 2  # both turns' sentences are checked
    assert wrong["worst_sentence"] == "The bridge is in Berlin."
    assert wrong["hallucination_prob"] > right["hallucination_prob"]
    assert wrong["grounding_verdict"] == "hallucinated" and right["grounding_verdict"] == "supported"


def test_outputs_keep_the_record_as_it_was(tmp_path):
    src = write(tmp_path / "p.jsonl", THREE)
    kept, _ = dedup(tmp_path, src, "--no-semantic")
    assert [{k: v for k, v in r.items() if k != "curator"} for r in kept] == THREE
