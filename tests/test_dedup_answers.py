"""Two prompts in nearly the same words whose answers compute other things are other tasks: near
and semantic dedup never merge them (guard.answer_ids). Variants written for this rule; the
trial's repro (sum vs sum of squares, ls vs ls ~) is the first case."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curator.dedup import Deduplicator
from curator.dedup.guard import answer_ids

OTHER_TASKS = [
    (("Calculate the sum of the squares of the numbers from 1 to 10", "385"),
     ("Calculate the sum of the numbers 1 to 10.", "55")),
    (("Show the list of files in the current directory.", "ls"),
     ("Show the list of files in the home directory.", "ls ~")),
    (("What is the plural of the word mouse?", "mice"), ("What is the plural of the word house?", "houses")),
    (("Translate 'good morning' into french.", "Bonjour."), ("Translate 'good morning' into spanish.", "Buenos días.")),
    (("Print the current date in the terminal.", "date"), ("Print the current time in the terminal.", "date +%T")),
]

SAME_TASK = [
    (("What is the capital of France?", "Paris."), ("what's the capital of france", "paris")),
    # tool calls in other words: a long answer, however it calls the tool
    (("Give a summary of the history of the Eiffel Tower.",
      "The Eiffel Tower has a rich history, wikipedia('History of the Eiffel Tower')."),
     ("Give a brief summary of the history of the Eiffel Tower.", "The Eiffel Tower is wikipedia('Eiffel Tower history').")),
    # a sentence around a tool call, in other words
    (("Show the current working directory in the shell.", "The current working directory is shell('pwd')."),
     ("Show the current working directory in the shell!", "The present working directory is shell('pwd').")),
    # long answers in other words: the answer says nothing, the prompts decide
    (("Give me some tips for staying healthy.",
      "Eat plenty of vegetables, drink enough water, sleep for seven or eight hours a night and walk every day."),
     ("Give me some tips for staying healthy!",
      "Exercise regularly, avoid sugary drinks, get enough sleep and keep in touch with friends and family.")),
]


def _run(pairs, answers=True, **kw):
    texts = [p for p, _ in pairs]
    return Deduplicator(semantic=False, **kw).run(texts, answers=[a for _, a in pairs] if answers else None)


@pytest.mark.parametrize("a, b", OTHER_TASKS)
def test_near_prompts_with_answers_that_compute_other_things_are_not_merged(a, b):
    assert not _run([a, b], answers=False).keep.all()  # the prompts alone read as near copies
    res = _run([a, b])
    assert res.keep.all() and res.stats["pairs_blocked_by_value_guard"] == 1


@pytest.mark.parametrize("a, b", SAME_TASK)
def test_near_prompts_with_the_same_answer_or_long_answers_still_merge(a, b):
    res = _run([a, b])
    assert res.keep.tolist() == [True, False] and res.duplicate_of[1] == 0


def test_answer_ids_compare_short_answers_only():
    ids = answer_ids(["55", "55.", " 55 ", "385", None, "", "a b c d", "Paris", "paris!", "news('top headlines')"])
    assert ids[0] == ids[1] == ids[2] and ids[3] != ids[0] and ids[7] == ids[8]
    assert ids[4] == ids[5] == ids[6] == ids[9] == -1  # no answer, a sentence, a tool call


def test_the_semantic_stage_obeys_the_answers_too():
    texts = ["Show the list of files in the current directory.", "Show the list of files in the home directory."]
    emb = np.array([[1.0, 0.0], [0.999, 0.0447]], dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    dd = Deduplicator(near=False)
    assert not dd.run(texts, embeddings=emb).keep.all()
    assert dd.run(texts, embeddings=emb, answers=["ls", "ls ~"]).keep.all()
    assert not Deduplicator(near=False, allow_value_changes=True).run(
        texts, embeddings=emb, answers=["ls", "ls ~"]).keep.all()  # the user allowed value changes


def test_cli_dedup_keeps_both_rows_of_other_tasks(tmp_path):
    from click.testing import CliRunner

    from curator.cli import cli

    rows = [{"instruction": p, "output": r} for pair in OTHER_TASKS[:3] + SAME_TASK[:1] for p, r in pair]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(cli, ["--quiet", "dedup", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    dropped = [json.loads(x) for x in (tmp_path / "out.dropped.jsonl").read_text().splitlines()]
    assert [d["instruction"] for d in dropped] == ["what's the capital of france"]
    assert len(out.read_text().splitlines()) == len(rows) - 1


def test_a_short_answer_against_a_longer_one_that_does_not_hold_it():
    """A new-user trial's case: the long-answer row must not absorb the other task's short answer."""
    texts = ["Calculate the sum of the numbers from 1 to 10.", "Calculate the sum of the numbers from 1 to 10",
             "Calculate the sum of the squares of the numbers from 1 to 10."]
    answers = ["The sum of the numbers from 1 to 10 is 55, by Gauss's formula n(n+1)/2.", "55", "385"]
    res = Deduplicator(semantic=False).run(texts, answers=answers, scores=[3, 2, 1])
    assert res.keep.tolist() == [True, False, True]  # "55" is held by the long answer; "385" is not
    assert res.duplicate_of[1] == 0
    # an empty answer says nothing either way
    assert answer_ids(["", None, "   "]).tolist() == [-1, -1, -1]


@pytest.mark.parametrize("a, b", [("**Paris**", "Paris."), ("¡Gracias!", "Gracias"), ('"Merci"', "Merci.")])
def test_a_short_answer_is_compared_without_its_punctuation_and_emphasis(a, b):
    assert answer_ids([a, b]).tolist() == [0, 0]


ADDRESSES_APART = [  # a new-user trial's cases
    ("Get the prices from amazon.in for the new phone.", "Get the prices from amazon.ca for the new phone."),
    ("Get the text of https://en.wikipedia.org/wiki/Mercury_(element) for me.",
     "Get the text of https://en.wikipedia.org/wiki/Mercury_(planet) for me."),
    ("Summarise the landing page of example.xyz in one line.", "Summarise the landing page of example.app in one line."),
]
ADDRESSES_SAME = [
    ("Open https://www.wikipedia.org/ and https://www.wikipedia.org/ to read it.", "Open https://www.wikipedia.org/ to read it."),
    ("Read https://example.com，then summarise it.", "Read https://example.com, then summarise it."),
    ("Build a web API with ASP.NET Core and explain it.", "Build a web API with ASP .NET Core and explain it."),
    ("Write it to report.pdf and main.py, e.g. with Python 3.11.", "Write it to report.pdf and main.py, e.g. using Python 3.11."),
]


@pytest.mark.parametrize("a, b", ADDRESSES_APART)
def test_other_addresses_are_other_tasks(a, b):
    assert not Deduplicator(semantic=False, allow_value_changes=True).run([a, b]).keep.all()
    assert Deduplicator(semantic=False).run([a, b]).keep.all()


@pytest.mark.parametrize("a, b", ADDRESSES_SAME)
def test_one_address_written_otherwise_or_no_address_still_merges(a, b):
    assert not Deduplicator(semantic=False).run([a, b]).keep.all()


def test_a_run_that_drops_nothing_leaves_no_stale_dropped_file(tmp_path):
    """The dropped file is written when empty too: an earlier run's drops never read as this one's."""
    from click.testing import CliRunner

    from curator.cli import cli

    src, out = tmp_path / "rows.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps({"instruction": "What is 2+2?", "output": "4"}) + "\n"
                   + json.dumps({"instruction": "What is 2+2?", "output": "4"}) + "\n")
    assert CliRunner().invoke(cli, ["--quiet", "dedup", str(src), "-o", str(out)]).exit_code == 0
    assert len((tmp_path / "out.dropped.jsonl").read_text().splitlines()) == 1
    src.write_text(json.dumps({"instruction": "What is 2+2?", "output": "4"}) + "\n")
    assert CliRunner().invoke(cli, ["--quiet", "dedup", str(src), "-o", str(out)]).exit_code == 0
    assert (tmp_path / "out.dropped.jsonl").read_text() == ""


def test_of_copies_the_row_that_answers_is_kept(tmp_path):
    """A new-user trial's case: the exact stage kept the copy whose response is null."""
    from click.testing import CliRunner

    from curator.cli import cli

    src, out = tmp_path / "rows.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "b3", "instruction": "What is the boiling point of water in Celsius?", "output": None},
        {"id": "b4", "instruction": "What is the boiling point of water in Celsius?", "output": "100"},
        {"id": "b5", "instruction": "What is the boiling point of water in Celsius?", "output": "  "}]))
    assert CliRunner().invoke(cli, ["--quiet", "dedup", str(src), "-o", str(out)]).exit_code == 0
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["b4"]
