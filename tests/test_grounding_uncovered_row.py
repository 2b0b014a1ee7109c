"""One row the index is about at most a fifth of: a claim the index lacks is listed as doubtful,
not condemned (new-user trial of 2026-12-07: a one-row file against a Wikipedia index dropped the
true "Version 1 started out with 65536 code points" for a passage about ASCII's 128; the file-level
rule of tests/test_grounding_uncovered_index.py needs 5 rows judged). Rows written for the test,
against the demo index (doc000: "Arthur's Magazine (1844–1846) was an American literary periodical
published in Philadelphia in the 19th century. First for Women is a woman's magazine published by
Bauer Media Group in the USA.")."""

import json

import pytest

from curator.grounding import GroundingScorer, PairInput

from .cli_helpers import run

SILENT = "Arthur's Magazine was edited by Timothy Shay Arthur."  # true; doc000 says nothing of it
WRONG_YEAR = "Arthur's Magazine was started in 1852."  # doc000: 1844-1846
TOWN = ["Arlen is a small market town with a stone bridge.", "Its weekly fair sells cheese and wool.",
        "About 1,200 people live there, mostly farmers.", "The town hall was rebuilt after a fire.",
        "A bus runs to the coast twice a day."]
ABOUT = ["Arthur's Magazine was an American literary periodical.", "It was published in Philadelphia.",
         "First for Women is a woman's magazine.", "First for Women is published by Bauer Media Group in the USA."]


@pytest.fixture(scope="module")
def scorer(embedder, demo_index):
    return GroundingScorer(embedder=embedder, index=demo_index)


def _judge(scorer, question, sentences):
    return scorer.score([PairInput(question, " ".join(sentences), None, None)])[0]


@pytest.mark.parametrize("name,question,sentences", [
    ("one claim, the index is about it", "Tell me about Arthur's Magazine.", [SILENT]),
    ("three of four claims off the index (75 %)", "Tell me about Arthur's Magazine and the town of Arlen.",
     [SILENT] + TOWN[:3]),
    ("a wrong year among claims the index is about", "Tell me about Arthur's Magazine and First for Women.",
     [WRONG_YEAR] + ABOUT),
])
def test_an_index_about_the_row_still_condemns_a_claim_it_fails(scorer, name, question, sentences):
    g = _judge(scorer, question, sentences)
    assert g.verdict == "hallucinated", (name, [v.verdict for v in g.sentences])
    assert g.sentences[0].verdict == "unsupported"


@pytest.mark.parametrize("n_town", [4, 5])
def test_a_claim_the_index_lacks_in_a_row_it_is_mostly_not_about_is_doubtful(scorer, n_town):
    g = _judge(scorer, "Tell me about Arthur's Magazine and the town of Arlen.", [SILENT] + TOWN[:n_town])
    assert g.verdict == "unverifiable" and not g.hallucinated and g.confidence == "low"
    assert g.sentences[0].verdict == "doubtful"
    assert all(v.verdict == "unverifiable" for v in g.sentences[1:])
    assert g.reason is not None and f"about 1 of its {n_town + 1} claims" in g.reason
    assert "not this row's source" in g.reason


def test_a_one_row_file_keeps_the_row_and_lists_it(tmp_path, demo_index_dir):
    src = tmp_path / "one.jsonl"
    src.write_text(json.dumps({"id": "r1", "question": "Tell me about Arthur's Magazine and the town of Arlen.",
                               "answer": " ".join([SILENT] + TOWN)}) + "\n")
    code, output = run("run", src, "--index", demo_index_dir, "-o", tmp_path / "out", "--no-report")
    assert code == 0, output
    assert not (tmp_path / "out" / "dropped.jsonl").read_text().strip(), output
    c = json.loads((tmp_path / "out" / "kept.jsonl").read_text())["curator"]
    assert c["grounding_verdict"] == "unverifiable" and "not this row's source" in c["unverifiable_reason"]
