import json
import math

import numpy as np
import pytest

from curator.errors import ConfigError
from curator.grounding import FEATURES, GroundingParams, GroundingScorer, PairInput, stem

SOURCE = ("The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It was designed by "
          "the engineering company of Gustave Eiffel. The tower is 330 metres tall.")


@pytest.fixture(scope="module")
def scorer(embedder):
    return GroundingScorer(embedder=embedder)


def test_supported_vs_swapped_number_and_entity(scorer):
    res = scorer.score([
        PairInput("When was the Eiffel Tower completed?", "It was completed in 1889.", SOURCE),
        PairInput("When was the Eiffel Tower completed?", "It was completed in 1925.", SOURCE),
        PairInput("Who designed the Eiffel Tower?", "It was designed by the company of Gustave Eiffel.", SOURCE),
        PairInput("Who designed the Eiffel Tower?", "It was designed by Antoni Gaudi in Barcelona.", SOURCE),
    ])
    assert [r.hallucinated for r in res] == [False, True, False, True]
    assert res[1].hallucination_prob > res[0].hallucination_prob
    assert "1925" in res[1].sentences[0].unsupported_tokens
    assert res[0].sentences[0].citation == "s0" and res[0].evidence_mode == "source"
    a, b = res[0].sentences[0].citation_span
    assert "1889" in SOURCE[a:b]


def test_short_answers_work(scorer):
    src = "Arthur's Magazine (1844-1846) was an American literary periodical. First for Women started in 1989."
    q = "Which magazine was started first Arthur's Magazine or First for Women?"
    res = scorer.score([PairInput(q, "Arthur's Magazine", src), PairInput(q, "Vogue", src)])
    assert res[0].hallucination_prob < res[1].hallucination_prob
    assert res[1].hallucinated


def test_multi_sentence_response_flags_the_worst_sentence(scorer):
    resp = "The Eiffel Tower is 330 metres tall. It was painted gold by Napoleon."
    res = scorer.score([PairInput("Tell me about the Eiffel Tower.", resp, SOURCE)])[0]
    assert len(res.sentences) == 2
    assert res.worst_sentence == "It was painted gold by Napoleon."
    assert res.sentences[0].support > res.sentences[1].support


def test_retrieval_mode_on_demo(demo_index, embedder):
    s = GroundingScorer(embedder=embedder, index=demo_index)
    q = "Which magazine was started first Arthur's Magazine or First for Women?"
    res = s.score([PairInput(q, "Arthur's Magazine"), PairInput(q, "First for Women was started first.")])
    assert res[0].evidence_mode == "index"
    assert res[0].sentences[0].citation.startswith("p")
    assert res[0].hallucination_prob < res[1].hallucination_prob


def test_no_evidence_is_unverifiable_not_a_crash(embedder):
    res = GroundingScorer(embedder=embedder).score([PairInput("q", "an answer")])[0]
    assert res.evidence_mode == "none" and np.isnan(res.hallucination_prob)
    assert res.sentences[0].verdict == "unverifiable" and not res.hallucinated
    assert res.verdict == "unverifiable"


def test_long_source_is_chunked_not_truncated(scorer):
    filler = " ".join(f"Sentence {i} talks about nothing in particular." for i in range(200))
    src = filler + " The secret code of the vault is 4417."
    res = scorer.score([PairInput("What is the vault code?", "The secret code of the vault is 4417.", src)])[0]
    assert not res.hallucinated
    assert int(res.sentences[0].citation[1:]) > 0  # cited a later chunk


def test_shipped_params_load_and_validate(tmp_path):
    p = GroundingParams.load()
    assert set(p.features) <= set(FEATURES) and 0 < p.threshold < 1
    x = np.zeros((1, len(p.features)))
    assert 0.0 <= p.prob_unsupported(x)[0] <= 1.0
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"features": ["x"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0}))
    with pytest.raises(ConfigError, match="refit"):
        GroundingParams.load(bad)
    with pytest.raises(ConfigError, match="The 'threshold' parameter of GroundingScorer must be a float in"):
        GroundingScorer(threshold=1.5).score([])


def test_stemmer():
    assert stem("countries") == "country" and stem("played") == "play" and stem("Paris") == stem("paris")


def test_negation_is_a_feature_and_raises_the_probability(scorer):
    q = "How tall is the tower?"
    good, neg = scorer.score([PairInput(q, "The tower is 330 metres tall.", SOURCE),
                              PairInput(q, "The tower is not 330 metres tall.", SOURCE)])
    assert good.sentences[0].features["neg_mismatch"] == 0.0
    assert neg.sentences[0].features["neg_mismatch"] == 1.0
    assert neg.hallucination_prob > good.hallucination_prob


def test_empty_source_and_empty_response_are_unverifiable(scorer):
    empty_src, empty_resp = scorer.score([PairInput("q", "An answer.", "   "), PairInput("q", "", SOURCE)])
    assert empty_src.evidence_mode == "none" and np.isnan(empty_src.hallucination_prob)
    assert not empty_resp.sentences and np.isnan(empty_resp.hallucination_prob) and not empty_resp.hallucinated
    assert empty_src.confidence == empty_resp.confidence == "low"


def test_text_in_a_script_the_checks_do_not_read_is_unverifiable(scorer):
    # Names are found by their capitals (A-Z): a Cyrillic claim's swapped name would pass, so the
    # claim is unverifiable with low confidence, never supported (issue 22, item 10).
    src = "Эйфелева башня была построена в 1889 году. Её высота 330 метров."
    res = scorer.score([PairInput("Когда построили башню?", "Башня была построена в 1889 году.", src)])[0]
    assert res.confidence == "low" and res.verdict == "unverifiable" and math.isnan(res.hallucination_prob)


REFERENCE = [
    ("When was the Eiffel Tower completed?", "It was completed in 1889.", SOURCE),
    ("When was the Eiffel Tower completed?", "It was completed in 1925.", SOURCE),
    ("Who designed the Eiffel Tower?", "It was designed by Antoni Gaudi in Barcelona.", SOURCE),
    ("How tall is the tower?", "The tower is not 330 metres tall.", SOURCE),
    ("Tell me about the Eiffel Tower.", "The Eiffel Tower is 330 metres tall. It was painted gold by Napoleon.", SOURCE),
]


def test_shipped_params_reproduce_the_committed_scores(scorer):
    """tests/data/grounding_reference.json was written with the shipped parameters and the packaged
    model; a change to either (or to a feature) must be deliberate and regenerate it:
    python -c "from tests.test_grounding import write_reference; write_reference()"."""
    from pathlib import Path

    ref = json.loads((Path(__file__).parent / "data" / "grounding_reference.json").read_text("utf-8"))
    got = [g.hallucination_prob for g in scorer.score([PairInput(*r) for r in REFERENCE])]
    assert [r["response"] for r in ref] == [r[1] for r in REFERENCE]
    assert np.allclose(got, [r["hallucination_prob"] for r in ref], atol=1e-3), got


def write_reference() -> None:  # pragma: no cover - maintenance helper
    from pathlib import Path

    res = GroundingScorer().score([PairInput(*r) for r in REFERENCE])
    rows = [{"prompt": r[0], "response": r[1], "hallucination_prob": round(g.hallucination_prob, 5)}
            for r, g in zip(REFERENCE, res)]
    (Path(__file__).parent / "data" / "grounding_reference.json").write_text(json.dumps(rows, indent=1) + "\n")


def test_pair_query_reuses_the_prompt_and_response_vectors_of_a_long_response(demo_index, embedder, monkeypatch):
    """A long multi-sentence response is not embedded a third time as prompt+response: its pair
    query is made from the two vectors the quality step already has (each sentence also gets its
    own query). A short pair keeps the joined text: a bare answer finds its passage through its
    question ("Roger Christian" is supported with it, flagged without it)."""
    from curator.grounding import GroundingScorer, PairInput

    seen: list[str] = []
    real = type(embedder)._embed

    def spy(self, texts):  # type: ignore[no-untyped-def]
        seen.extend(texts)
        return real(self, texts)

    long_prompt = "Tell me about the magazines Arthur's Magazine and First for Women."
    long_resp = ("Arthur's Magazine was an American literary periodical published in Philadelphia in the "
                 "19th century. It was founded by Timothy Shay Arthur. First for Women is a woman's magazine "
                 "published by Bauer Media Group in the USA. The magazine was started in 1989 and it is based "
                 "in Englewood Cliffs, New Jersey. Both magazines had many readers over the years and they are "
                 "still remembered by historians of American publishing today.")
    short = PairInput("Jake David Shapiro was best know for being the screenwriter of a film directed by who?",
                      "Roger Christian")
    embedder.encode([long_prompt, long_resp])  # what the quality step embeds
    monkeypatch.setattr(type(embedder), "_embed", spy)
    scorer = GroundingScorer(embedder=embedder, index=demo_index)
    g_long, g_short = scorer.score([PairInput(long_prompt, long_resp), short])
    assert f"{long_prompt} {long_resp}" not in seen and long_resp not in seen and long_prompt not in seen
    assert f"{short.prompt} {short.response}" in seen
    assert g_short.verdict == "supported"
    assert g_long.verdict in ("supported", "unverifiable", "hallucinated") and g_long.sentences
    # the same evidence either way on the short pair; "concat" is the old behaviour, kept as an option
    monkeypatch.setattr(GroundingScorer, "PAIR_QUERY", "concat")
    assert GroundingScorer(embedder=embedder, index=demo_index).score([short])[0].verdict == "supported"
    monkeypatch.setattr(GroundingScorer, "PAIR_QUERY", "mean")
    # without its question the bare answer retrieves other passages: not supported (since issue 21
    # unverifiable: those passages are not about it)
    assert GroundingScorer(embedder=embedder, index=demo_index).score([short])[0].verdict in (
        "hallucinated", "unverifiable")
