"""A name of the claim the evidence never writes, where the aligned evidence sentence has another
name in its slot, is that fact with the name changed (`name_mismatch`, a rule at 0.99 like
`num_mismatch`). A third new-user trial (2026-12-08) found "Penicillin was discovered by Louis
Pasteur in 1928." against "… by Alexander Fleming in 1928 …" supported (p 0.57), and a rewrite
that moved a meeting from Thursday to Friday supported. Rows written for the test."""

import pytest

from curator.grounding import GroundingScorer, PairInput
from curator.grounding.names import name_mismatch
from curator.text import stem, words


def _fires(claim: str, evidence: str) -> bool:
    return name_mismatch(claim, {stem(w) for w in words(evidence)}, [evidence], set()) >= 0.5


@pytest.mark.parametrize("claim, evidence", [
    ("Penicillin was discovered by Louis Pasteur in 1928.", "Penicillin was discovered by Alexander Fleming in 1928."),
    ("The telephone was patented by Thomas Edison in 1876.", "The telephone was patented by Alexander Graham Bell in 1876."),
    ("The meeting is on Friday at 2 pm.", "The meeting is scheduled for Thursday at 2 pm."),
    ("The novel is set in Paris during the war.", "The novel is set in London during the war."),
])
def test_a_name_replaced_in_its_slot_fires(claim, evidence):
    assert _fires(claim, evidence)


@pytest.mark.parametrize("claim, evidence", [
    ("Barack Obama was elected in 2008.", "President Obama was elected in 2008."),            # a variant
    ("Microsoft was founded in Albuquerque, New Mexico.",                                      # a true addition
     "Microsoft was founded by Bill Gates and Paul Allen in 1975 in Albuquerque."),
    ("Indian medicines were recalled.", "Medicines made in India were recalled."),             # a demonym
    ("The BJP won seats in the MLA elections.", "The party won seats in the assembly elections."),  # acronyms
    ("Penicillin was discovered by Alexander Fleming in 1928.", "Penicillin was discovered by Alexander Fleming in 1928."),
])
def test_a_variant_an_addition_or_an_acronym_does_not(claim, evidence):
    assert not _fires(claim, evidence)


@pytest.fixture(scope="module")
def scorer(embedder):
    return GroundingScorer(embedder=embedder)


@pytest.mark.parametrize("instruction, source, response", [
    ("Who discovered penicillin?", "Penicillin was discovered by Alexander Fleming in 1928 at St Mary's Hospital in London.",
     "Penicillin was discovered by Louis Pasteur in 1928."),
    ("Rewrite this announcement in a friendlier tone.", "The meeting is scheduled for Thursday, 9 May, at 2 pm in Room B.",
     "Hi everyone! Just a reminder that our meeting is on Friday, 9 May, at 2 pm in Room B. See you there!"),
])
def test_a_changed_name_is_flagged(scorer, instruction, source, response):
    (g,) = scorer.score([PairInput(instruction, response, source)])
    assert g.verdict == "hallucinated", (g.reason, [(s.verdict, s.support) for s in g.sentences])


@pytest.mark.parametrize("instruction, source, response", [
    ("Who discovered penicillin?", "Penicillin was discovered by Alexander Fleming in 1928 at St Mary's Hospital in London.",
     "Alexander Fleming discovered penicillin in 1928, in London."),
    ("Rewrite this announcement in a friendlier tone.", "The meeting is scheduled for Thursday, 9 May, at 2 pm in Room B.",
     "Hi everyone! Our meeting is on Thursday, 9 May, at 2 pm in Room B. See you there!"),
])
def test_the_same_facts_are_not(scorer, instruction, source, response):
    (g,) = scorer.score([PairInput(instruction, response, source)])
    assert g.verdict != "hallucinated", (g.reason, [(s.verdict, s.support) for s in g.sentences])


@pytest.mark.parametrize("source, response", [
    # a final trial's (2026-12-08): the swap rule read "French" as a replacement of "France"
    ("The treaty was signed in Versailles by delegates from Germany and France.",
     "German and French delegates signed the treaty in Versailles."),
    ("Leaders from Japan and Brazil met in Geneva on Monday.", "Japanese and Brazilian leaders met in Geneva on Monday."),
    ("The delegation from the Netherlands arrived in Oslo.", "The Dutch delegation arrived in Oslo."),
])
def test_a_demonym_for_its_country_is_not_a_changed_name(scorer, source, response):
    (g,) = scorer.score([PairInput("Summarize the passage.", response, source)])
    assert g.verdict != "hallucinated", (g.reason, [(s.verdict, s.support, s.unsupported_tokens) for s in g.sentences])


@pytest.mark.parametrize("a, b, same", [
    ("franc", "french", True), ("germany", "german", True), ("japan", "japanes", True), ("italy", "italian", True),
    ("netherland", "dutch", True), ("lima", "limb", False), ("paris", "pakistan", False), ("franc", "finnish", False),
])
def test_same_family(a, b, same):
    from curator.grounding.names import same_family

    assert same_family(a, b) is same
