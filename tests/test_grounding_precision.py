"""Issue 21: the contradiction rules fire only on a contradiction (precision of `hallucinated`).

A rule's floor puts a claim above every threshold, so a rule that fires where the evidence only
words the same fact differently is a wrong drop. Each kind below was a wrong flag on the
leave-one-genre-out sets (benchmarks/grounding_logo.py); the variants are written here.
"""

import unicodedata

import pytest

from curator.grounding import GroundingScorer, PairInput


@pytest.fixture(scope="module")
def scorer(embedder):
    return GroundingScorer(embedder=embedder)


def claim_features(scorer, prompt, response, source):
    (g,) = scorer.score([PairInput(prompt, response, source)])
    (v,) = [v for v in g.sentences if v.features]
    return g, v.features


# -- negation flips: the negation must bear on the claim's words ---------------------------------
@pytest.mark.parametrize("claim,source", [
    # the evidence's negation bears on other words of its clause
    ("They are called house cats when kept as indoor pets.",
     "They are often called house cats when kept as indoor pets or simply cats when there is no need to "
     "distinguish them from other felids."),
    ("The bridge is used by cyclists every morning.",
     "The bridge is used by cyclists every morning, when there is no traffic on the main road."),
    # both negate the same words, clauses cut differently ("that" vs "who")
    ("The show has a cast of people that are typically not professional actors.",
     "The show features a cast of people who are typically not professional actors, although some are famous."),
    # a capitalised "Not" / "Never" is part of a title or a name, not a negation
    ("He was a member of the cast of Saturday Night Live.",
     "He was a member of the Not Ready for Prime Time Players, the cast of Saturday Night Live."),
    ("The band toured with Hey Monday.",
     "The band toured with Never Shout Never and Hey Monday."),
    # a later negated predicate that names the claim's subject again is about something else
    ("Python 3.0 was released in 2008.",
     "Python 3.0 was released in 2008 and is not backward compatible with Python 2."),
    ("Python 3.0: 2008.", "Python 3.0 was released in 2008 and is not backward compatible with Python 2."),
    ("The Rhine flows through Basel.", "The Rhine flows through Basel and is not navigable above the Rhine Falls."),
    ("The Amazon River flows into the Atlantic Ocean.",
     "The Amazon River flows into the Atlantic Ocean and is not crossed by any bridge along the Amazon."),
    ("Windows 95 was released in 1995.",
     "Windows 95 was released in 1995 and is no longer supported by Windows Update."),
    # the negation's head is another verb, the claim's comes after it (a new-user trial's Tokyo case)
    ("Tokyo hosted the Summer Olympics in 1964.",
     "Tokyo hosted the Summer Olympics in 1964 and was not chosen to host them again until 2020."),
    ("Sweden joined the European Union in 1995.",
     "Sweden joined the European Union in 1995 but was not allowed to join the euro."),
])
def test_a_negation_that_does_not_bear_on_the_claim_is_not_a_flip(scorer, claim, source):
    g, f = claim_features(scorer, "Tell me about it.", claim, source)
    assert f["neg_flip"] == 0.0 and g.verdict != "hallucinated"


@pytest.mark.parametrize("claim,source", [
    ("Winter isn't associated with freezing temperatures.",
     "In many regions, winter is associated with snow and freezing temperatures."),
    ("There is no sister school.", "It has a sister school in Carle Place, New York."),
    ("The bridge is not used by cyclists every morning.",
     "The bridge is used by cyclists every morning, when there is no traffic on the main road."),
    # the negation's next word is the claim's own (a name), or it bears on the claim's predicate
    ("The capital of Australia is Canberra.", "The capital of Australia is not Canberra."),
    ("Windows 95 was not released in 1995.", "Windows 95 was released in 1995."),
    ("Python 3.0 is not backward compatible with Python 2.", "Python 3.0 is backward compatible with Python 2."),
    # a linking verb between the negation and its head (FEVER's "did not become a folk hero")
    ("The painter was a celebrity in his lifetime.",
     "The painter, despite two exhibitions in Paris, did not become a celebrity in his lifetime."),
])
def test_a_negation_that_bears_on_the_claim_is_still_a_flip(scorer, claim, source):
    g, f = claim_features(scorer, "Tell me about it.", claim, source)
    assert f["neg_flip"] == 1.0 and g.verdict == "hallucinated"


# -- swaps: the claim's subject referred back to, one family of words, composed Unicode ---------
@pytest.mark.parametrize("claim,source", [
    # the evidence names its subject by a pronoun or "the <noun>": "June" is no replacement for it
    ("Ingushetia was established in 1992.",
     "It was established on June 4, 1992 after the Chechen-Ingush Republic was split in two."),
    ("Reign Over Me was released in 2007.",
     "Distributed by Columbia Pictures, the film was released on March 23, 2007."),
    ("Lemmy had a gravelly voice that made him known.",
     "He was known for his appearance, his gravelly voice and his bass playing style."),
    ("Tangled was nominated for an award.",
     "The film was nominated for a number of awards, including the Academy Award for Best Animated Feature."),
    # a demonym and its country are one family of words
    ("The festival is popular in Italy.", "The festival is popular with Italian families."),
    ("The university is in China.", "It is a major Chinese university."),
])
def test_a_fact_worded_differently_is_not_a_swap(scorer, claim, source):
    g, f = claim_features(scorer, "Tell me about it.", claim, source)
    assert f["swap"] == 0.0 and g.verdict != "hallucinated"


def test_decomposed_unicode_is_the_same_name():
    """"L'Ore\u0301al" (e + combining accent) and "L'Oréal" are one name: Unicode is composed (NFC)
    before the lexical comparison."""
    from curator.grounding.features import _lexical

    nfd = unicodedata.normalize("NFD", "Penélope Cruz modelled for L'Oréal.")
    assert _lexical(nfd) == _lexical("Penélope Cruz modelled for L'Oréal.")


def test_decomposed_unicode_in_the_source_supports_the_claim(scorer):
    src = unicodedata.normalize("NFD", "Cruz has modelled for Mango, Ralph Lauren and L'Oréal.")
    g, f = claim_features(scorer, "Tell me about it.", "Penélope Cruz modelled for L'Oréal.", src)
    assert f["swap"] == 0.0 and f["ent_novel"] == 0.0 and g.verdict != "hallucinated"


@pytest.mark.parametrize("claim,source", [
    # a pronoun elsewhere in the sentence is not its subject: the swap is still caught
    ("The Euphrates flows through Cairo.", "The Nile flows through Cairo and the city lies on its banks."),
    # the subject named, another name in its slot
    ("Quito is the capital of Peru.", "Lima is the capital of Peru. It lies on the coast."),
    # a number is never referred back to by a pronoun
    ("It was established on June 4, 1993.", "It was established on June 4, 1992 after the republic was split."),
])
def test_swaps_next_to_pronouns_are_still_caught(scorer, claim, source):
    g, _ = claim_features(scorer, "Tell me about it.", claim, source)
    assert g.verdict == "hallucinated"


# -- an abbreviation introduced after a known name is that name ----------------------------------
@pytest.mark.parametrize("prompt,claim,source", [
    ("What is the current stock price of Microsoft?", "The current price of Microsoft's stock (MSFT) is $216.54.",
     '{"stock_price": "216.54"}'),
    ("When was it founded?", "The World Health Organization (WHO) was founded in 1948.",
     "The World Health Organization was founded in 1948 in Geneva."),
    ("Who makes it?", "It is made by International Business Machines (IBM).",
     "The machine is made by International Business Machines."),
])
def test_an_abbreviation_of_a_known_name_is_not_a_new_name(scorer, prompt, claim, source):
    g, f = claim_features(scorer, prompt, claim, source)
    assert f["ent_novel"] == 0.0 and f["nov_pair"] == 0.0 and g.verdict == "supported"


def test_an_abbreviation_that_does_not_abbreviate_the_name_is_still_new(scorer):
    _, f = claim_features(scorer, "When was it founded?", "The World Health Organization (UNICEF) was founded in 1948.",
                          "The World Health Organization was founded in 1948 in Geneva.")
    assert f["ent_novel"] > 0.0 and f["nov_pair"] > 0.0
