"""An acronym and its expansion are the same words to the grounding checks, in either direction
(new-user trial of 2026-12-08: "The Food and Drug Administration approved the drug …" against "…
approved by the FDA …" was dropped as hallucinated; "Dana Whitfield is Acme's CEO." against "its
chief executive officer, Dana Whitfield" was doubtful). Rows written for the test."""

import pytest

from curator.grounding import GroundingScorer, PairInput
from curator.grounding.names import spelled as _spelled


@pytest.mark.parametrize("acronym, text, want", [
    ("CEO", "its chief executive officer, Dana Whitfield", ["chief", "executive", "officer"]),
    ("FDA", "The Food and Drug Administration approved it", ["Food", "Drug", "Administration"]),
    ("NASA", "the National Aeronautics and Space Administration", ["National", "Aeronautics", "Space", "Administration"]),
    # coincidences are not expansions; two letters spell too many names (a demo row: "SS" of a
    # steamboat read as "Steven Spielberg")
    ("SS", "Steven Spielberg", None), ("EU", "members of the European Union", None),
    ("CEO", "you can each offer one", None), ("FDA", "food is good", None),
])
def test_spelled(acronym, text, want):
    assert _spelled(acronym, text) == want


@pytest.fixture(scope="module")
def scorer(embedder):
    return GroundingScorer(embedder=embedder)


@pytest.mark.parametrize("instruction, source, response", [
    ("Rewrite the sentence in plain language.",
     "The drug was approved by the FDA in March 2021 after trials showed it reduced symptoms in 68% of patients.",
     "The Food and Drug Administration approved the drug in March 2021 because it helped 68% of patients."),
    ("Who is the CEO of Acme?",
     "Acme Corp announced on Monday that its chief executive officer, Dana Whitfield, will step down in June.",
     "Dana Whitfield is Acme's CEO."),
    ("Summarize the passage.",
     "The World Health Organization declared the outbreak over in May 2023.",
     "The WHO declared the outbreak over in May 2023."),
])
def test_an_acronym_for_its_expansion_is_supported(scorer, instruction, source, response):
    (g,) = scorer.score([PairInput(instruction, response, source)])
    assert g.verdict == "supported", (g.reason, [(s.verdict, s.support, s.unsupported_tokens) for s in g.sentences])


def test_an_acronym_does_not_hide_a_changed_number(scorer):
    source = "The drug was approved by the FDA in March 2021 after trials showed it reduced symptoms in 68% of patients."
    (g,) = scorer.score([PairInput("Rewrite the sentence in plain language.",
                                   "The Food and Drug Administration approved the drug in March 2019.", source)])
    assert g.verdict == "hallucinated"
