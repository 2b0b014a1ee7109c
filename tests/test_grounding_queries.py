"""Issue 24: what grounding embeds for a claim. A short answer ("Ridley Scott.") or one opening
with a pronoun gets its question in front; in an open-ended task (code, a story, a calculation)
the prompt asks for a piece of work, so the claim goes alone, in both the retrieval query and the
claim/evidence comparison (the repeated prompt was ~17 % of the word pieces embedded on a real
file: benchmarks/RESULTS.md, "Scale"), and in index mode the pair's own query is the mean of the
prompt's and the response's vectors, never the two embedded again as one text."""

import pytest

from curator.grounding import GroundingScorer, PairInput
from curator.grounding.claims import _claim_query
from curator.grounding.tasks import open_ended

QUESTION = "Who directed the 1979 film Alien?"
TASKS = [
    ("Write a Python function that returns the sum of a list.",
     "Here is the function. It loops over the list. It returns the total."),
    ("Write a short story about a lighthouse keeper.",
     "The keeper lit the lamp. He waited. The storm came at dawn."),
    ("Natalia sold clips to 48 friends in April and half as many in May. How many did she sell?",
     "In May she sold 48 / 2 = 24 clips. She sold 48 + 24 = 72 clips. The answer is 72."),
]


@pytest.mark.parametrize("claim", ["Ridley Scott.", "It was released in 1979.", "They filmed it in England."])
def test_a_short_or_referring_claim_gets_its_question(claim):
    assert _claim_query(QUESTION, claim) == f"{QUESTION} {claim}"


@pytest.mark.parametrize("claim", ["Ridley Scott.", "It was released in 1979.", "They filmed it in England."])
def test_in_an_open_task_the_claim_goes_alone(claim):
    assert _claim_query(QUESTION, claim, open_task=True) == claim


def test_a_long_claim_goes_alone_either_way():
    claim = "The film was directed by Ridley Scott and released by 20th Century Fox in May 1979."
    assert _claim_query(QUESTION, claim) == claim == _claim_query(QUESTION, claim, open_task=True)


class _Spy:
    """An embedder that records every text it is asked for."""

    def __init__(self, embedder):
        self.inner, self.texts = embedder, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode(self, texts, *a, **k):
        self.texts.extend(texts)
        return self.inner.encode(texts, *a, **k)


@pytest.mark.parametrize("use_index", [False, True])
@pytest.mark.parametrize("prompt,response", TASKS)
def test_open_task_claims_are_embedded_without_the_prompt(embedder, demo_index, use_index, prompt, response):
    assert open_ended(prompt, None, response) is not None
    spy = _Spy(embedder)
    source = None if use_index else "A lighthouse keeper tends the lamp. Clips were sold in April and May."
    scorer = GroundingScorer(embedder=spy, index=demo_index if use_index else None)
    scorer.score([PairInput(prompt, response, source)])
    assert spy.texts
    # the only text holding the prompt is the prompt itself: in index mode the pair's own query is
    # the mean of the prompt's and the response's vectors (the quality step's, in a run)
    assert [t for t in spy.texts if prompt in t] == ([prompt] if use_index else [])
    assert response in spy.texts or not use_index


@pytest.mark.parametrize("use_index", [False, True])
def test_a_short_answer_is_still_embedded_with_its_question(embedder, demo_index, use_index):
    response = "Ridley Scott. He also directed Blade Runner."
    assert open_ended(QUESTION, None, response) is None
    spy = _Spy(embedder)
    source = None if use_index else "Alien is a 1979 science fiction horror film directed by Ridley Scott."
    scorer = GroundingScorer(embedder=spy, index=demo_index if use_index else None)
    scorer.score([PairInput(QUESTION, response, source)])
    assert f"{QUESTION} Ridley Scott." in spy.texts
    assert f"{QUESTION} He also directed Blade Runner." in spy.texts
