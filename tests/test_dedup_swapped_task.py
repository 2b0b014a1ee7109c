"""Under one shared preamble (a tool description, a system prompt) a short body is the task: two
bodies in nearly the same words whose content words were swapped for unrelated ones are other
tasks, and near dedup keeps both (guard.swapped_task). The new-user trial's repro (stock market
/ environment, toolformer news rows) is the first case; the others are written for the rule from
the kinds read on the real file."""

from __future__ import annotations

import pytest

from curator.dedup import Deduplicator
from curator.dedup.guard import swapped_task

PREAMBLE = ("toolformer: enabled\ntoolformer access: news\nUse this when you want to get information about the top "
            "headlines of current news stories. The input should be a question in natural language that this API "
            "can answer.\nnews(query)\n")
FILLER = ["Find the latest news about the Olympic Games.", "What happened in the election in Brazil today?",
          "Give me the headlines about the space station."]

OTHER = [
    ("Find the top news stories related to the stock market.", "Find the top news stories related to the environment."),
    ("How many calories are in a banana?", "How many calories are in an apple?"),
    ("Find information about the latest Mars mission.", "Find information about the latest iPhone."),
    ("What is the scientific name of the common house cat?", "What is the scientific name of the common chimpanzee?"),
]
SAME = [
    ("Find the latest news about cryptocurrency.", "Find the latest news about cryptocurrency regulations."),  # added
    ("Find the top news stories related to the environment.", "Find the top news stories related to the enviroment."),
    ("Show the weather forecast for San Francisco.", "Find the weather forecast for San Francisco."),
]


def _run(a: str, b: str, preamble: str = PREAMBLE):
    texts = [preamble + t for t in FILLER + [a, b]]
    return Deduplicator(semantic=False).run(texts)


@pytest.mark.parametrize("a, b", OTHER)
def test_a_swapped_task_under_a_shared_preamble_is_kept(a, b):
    assert swapped_task(a, b)
    res = _run(a, b)
    assert res.keep.all() and res.stats["near_pairs_with_a_swapped_task"] >= 1


@pytest.mark.parametrize("a, b", SAME)
def test_an_added_word_a_misspelling_or_another_asking_verb_still_merge(a, b):
    assert not swapped_task(a, b)
    res = _run(a, b)
    assert res.keep.tolist() == [True] * 4 + [False] and res.duplicate_of[4] == 3


def test_without_a_shared_preamble_the_rule_does_not_apply():
    a, b = OTHER[0]
    res = Deduplicator(semantic=False).run([a, b])
    assert res.keep.tolist() == [True, False]  # whole texts: the value guard and the threshold decide


def test_long_bodies_are_not_read():
    a = "Find the top news stories related to the stock market. " * 3
    b = "Find the top news stories related to the environment. " * 3
    assert not swapped_task(a, b)
