"""Issue 24: what grounding embeds for a claim. A short answer ("Ridley Scott.") or one opening
with a pronoun gets its question in front, in an open-ended task too: "It was not a gift from
France." in a paragraph asked about the Statue of Liberty is about nothing without its prompt (a
first version queried open-task claims alone, for speed; a new-user trial found it unjudged
four such false claims against an index that covered them). In index mode an open task's pair
query is the mean of the prompt's and the response's vectors, never the two embedded again as
one text (benchmarks/RESULTS.md, "Scale")."""

import pytest

from curator.embed import Embedder
from curator.grounding import GroundingScorer, PairInput
from curator.grounding.claims import _claim_query
from curator.grounding.tasks import open_ended
from curator.index import Document, PassageIndex

QUESTION = "Who directed the 1979 film Alien?"
TASKS = [
    ("Write a Python function that returns the sum of a list.",
     "Here is the function. It loops over the list. It returns the total."),
    ("Write a short story about a lighthouse keeper.",
     "The keeper lit the lamp. He waited. The storm came at dawn."),
    ("Natalia sold clips to 48 friends in April and half as many in May. How many did she sell?",
     "In May she sold 48 / 2 = 24 clips. She sold 48 + 24 = 72 clips. The answer is 72."),
]
# Written for this test: a small corpus and open tasks whose one false claim opens with a pronoun.
CORPUS = {
    "liberty": "The Statue of Liberty stands on Liberty Island in New York Harbor. The statue was a gift "
               "from the people of France to the United States and was dedicated in 1886. It is made of "
               "copper, not bronze.",
    "python": "Python is a high-level programming language created by Guido van Rossum and first released "
              "in 1991. Python is dynamically typed and garbage-collected.",
    "penicillin": "Penicillin was discovered in London in 1928 by the Scottish physician Alexander Fleming. "
                  "Penicillin acts against bacteria; it does not work against viruses.",
}
OPEN = [
    ("Write a short paragraph about the Statue of Liberty for children.",
     "The Statue of Liberty stands on Liberty Island in New York Harbor. It was not a gift from France."),
    ("Write a short introduction to Python for beginners.",
     "Python is a high-level language created by Guido van Rossum. It is not dynamically typed."),
    ("Write a paragraph about penicillin.",
     "Penicillin was discovered by Alexander Fleming in 1928. It works well against viruses."),
    ("Write two sentences about the discovery of penicillin.",
     "Alexander Fleming discovered penicillin in 1928. It was not discovered in London."),
]


@pytest.mark.parametrize("claim", ["Ridley Scott.", "It was released in 1979.", "They filmed it in England."])
def test_a_short_or_referring_claim_gets_its_question(claim):
    assert _claim_query(QUESTION, claim) == f"{QUESTION} {claim}"


def test_a_long_claim_goes_alone():
    claim = "The film was directed by Ridley Scott and released by 20th Century Fox in May 1979."
    assert _claim_query(QUESTION, claim) == claim


class _Spy:
    """An embedder that records every text it is asked for."""

    def __init__(self, embedder):
        self.inner, self.texts = embedder, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode(self, texts, *a, **k):
        self.texts.extend(texts)
        return self.inner.encode(texts, *a, **k)


@pytest.mark.parametrize("prompt,response", TASKS)
def test_an_open_tasks_pair_query_is_the_mean(embedder, demo_index, prompt, response):
    assert open_ended(prompt, None, response) is not None
    spy = _Spy(embedder)
    GroundingScorer(embedder=spy, index=demo_index).score([PairInput(prompt, response)])
    assert prompt in spy.texts and response in spy.texts
    assert f"{prompt} {response}" not in spy.texts
    # its short and pronoun-led claims still carry the prompt
    assert f"{prompt} It loops over the list." in spy.texts or "It loops" not in response


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


@pytest.fixture(scope="module")
def corpus_index(embedder):
    return PassageIndex.build([Document(k, v) for k, v in CORPUS.items()], embedder)


@pytest.mark.parametrize("use_index", [False, True])
@pytest.mark.parametrize("prompt,response", OPEN)
def test_an_open_tasks_false_pronoun_claim_is_still_flagged(request, embedder: Embedder, corpus_index, use_index,
                                                           prompt, response):
    assert open_ended(prompt, None, response) is not None
    if use_index and "Python" in prompt:
        # a recall gap before issue 24 as well (9bc3d76: unverifiable); the version that queried
        # open-task claims alone missed all four in index mode
        request.applymarker(pytest.mark.xfail(strict=True, reason="known miss: unverifiable in index mode"))
    topic = next(k for k in CORPUS if k in prompt.lower() or k in response.lower())
    scorer = GroundingScorer(embedder=embedder, index=corpus_index if use_index else None)
    [res] = scorer.score([PairInput(prompt, response, None if use_index else CORPUS[topic])])
    assert res.verdict == "hallucinated", [(v.text, v.verdict) for v in res.sentences]
    assert res.worst_sentence == response.split(". ")[-1]
