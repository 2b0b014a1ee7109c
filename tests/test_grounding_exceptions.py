"""Exceptions in the evidence: "open every day except Monday" says the opposite for Monday
(curator/grounding/scope.py). A third new-user trial (2026-12-08) had "No, it is closed on
Mondays." dropped as hallucinated and "Yes, the museum is open on Mondays." supported. Rows
written for the test."""

import pytest

from curator.grounding import GroundingScorer, PairInput

MUSEUM = "The museum is open every day except Monday. Admission is free for children under 12."
STATES = "The program is available in every state except Alaska and Hawaii."
VOTE = "All the members voted for the bill except Smith, who abstained."
# a final trial's (2026-12-08): "all but", and the statement split around the exception
SHIP = "Free shipping is available in all states but Hawaii."
GLUTEN = "All ingredients other than the barley are gluten-free."
WIFI = "Every room apart from the basement has wifi."


@pytest.fixture(scope="module")
def scorer(embedder):
    return GroundingScorer(embedder=embedder)


def _verdict(scorer, instruction, source, response):
    (g,) = scorer.score([PairInput(instruction, response, source)])
    return g


@pytest.mark.parametrize("instruction, source, response", [
    ("Is the museum open on Monday?", MUSEUM, "Yes, the museum is open on Mondays."),   # the trial's
    ("Where is the program available?", STATES, "The program is available in Alaska."),
    ("Who voted for the bill?", VOTE, "Smith voted for the bill."),
    ("Which states get free shipping?", SHIP, "Free shipping is available in Hawaii."),
    ("Which ingredients are gluten-free?", GLUTEN, "The barley is gluten-free."),
    ("Where is there wifi?", WIFI, "The basement has wifi."),
])
def test_the_general_fact_restated_for_the_excepted_item_is_flagged(scorer, instruction, source, response):
    g = _verdict(scorer, instruction, source, response)
    assert g.verdict == "hallucinated", [(s.verdict, s.support) for s in g.sentences]


@pytest.mark.parametrize("instruction, source, response", [
    ("Is the museum open on Monday?", MUSEUM, "No, it is closed on Mondays."),          # the trial's
    ("Is the program available in Alaska?", STATES, "No, it is not available in Alaska."),
    ("Is the program available in Alaska?", STATES, "No, Alaska is left out."),
    ("Did Smith vote for the bill?", VOTE, "No, Smith abstained."),
    ("When is the museum open?", MUSEUM, "It is open every day but Monday."),
    ("Is the museum open on Tuesday?", MUSEUM, "Yes, it is open on Tuesdays."),
    ("Which states get free shipping?", SHIP, "Shipping to Hawaii is not free."),
    ("Which states get free shipping?", SHIP, "Hawaii does not get free shipping."),
    ("Which ingredients are gluten-free?", GLUTEN, "Everything but the barley is gluten-free."),
    ("Where is there wifi?", WIFI, "The basement has no wifi."),
])
def test_the_exception_in_other_words_is_not_condemned(scorer, instruction, source, response):
    g = _verdict(scorer, instruction, source, response)
    assert g.verdict != "hallucinated", [(s.verdict, s.support) for s in g.sentences]
