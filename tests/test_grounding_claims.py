"""Issue 11: what counts as a claim, relation-level support, three-way verdicts.

Every file under tests/data/grounding_cases/ is a synthetic repro from /work/shared/repros (each
row has the verdict a person gives it); the variants below write more of each kind.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from curator.grounding import GroundingParams, GroundingScorer, PairInput

CASES = Path(__file__).parent / "data" / "grounding_cases"
SORTED_SRC = ("The Python function sorted() returns a new sorted list from the items in an iterable. It accepts "
              "a key argument, a function of one argument used to extract a comparison key from each element. "
              "The reverse argument, when set to True, sorts in descending order. The sort is guaranteed to be stable.")
GEO = "Lima is the capital of Peru. Quito is the capital of Ecuador. Bogota is the capital of Colombia."
ACME = ("Acme Widgets is a manufacturing company based in the U.S. state of Ohio. It was founded in 1990 by "
        "Maria Lopez. The company makes industrial fasteners and employs about 400 people.")


@pytest.fixture(scope="module")
def scorer(embedder):
    return GroundingScorer(embedder=embedder)


def rows(name):
    return [json.loads(line) for line in (CASES / name).read_text("utf-8").splitlines() if line.strip()]


def verdicts(scorer, pairs):
    return [g.verdict for g in scorer.score([PairInput(*p) for p in pairs])]


# -- 1. claims: code, tables, list markers, non-answers ------------------------------------------
REPRO_11 = {"code_block": "supported", "code_only": "unverifiable", "bullets": "supported", "idk": "unverifiable",
            "ok_only": "unverifiable", "table": "unverifiable"}


def test_repro_code_lists_tables_non_answers(scorer):
    rs = rows("11_code_lists_nostatements.jsonl")
    res = scorer.score([PairInput(r["instruction"], r["response"], r["context"]) for r in rs])
    assert {r["id"]: g.verdict for r, g in zip(rs, res)} == REPRO_11
    code = res[0]
    assert [s.verdict for s in code.sentences] == ["supported", "not_checked", "supported"]
    assert code.sentences[1].text.startswith("```python") and code.sentences[1].text.endswith("```")
    assert all(s.verdict == "not_checked" for g in res[1:] for s in g.sentences if g.verdict == "unverifiable")
    assert not any(g.hallucinated for g in res)
    assert all(np.isnan(g.hallucination_prob) for g, r in zip(res, rs) if REPRO_11[r["id"]] == "unverifiable")


def test_repro_numbered_list(scorer):
    (r,) = rows("numbered_list.jsonl")
    (g,) = scorer.score([PairInput(r["instruction"], r["output"], r["source"])])
    assert g.verdict == "supported"
    assert [s.text for s in g.sentences] == ["1. Know your audience.", "2. Set clear learning objectives.",
                                            "3. Use videos and interactive games."]


def test_not_checked_parts_never_raise_the_probability(scorer):
    prose = "The sort is stable."
    extras = ["\n\n```python\nx = sorted(y)\nprint(x)\n```", "\n\n| a | b |\n|---|---|\n| 1 | 2 |",
              "\n\n## Heading nowhere in the source", "\n\nSee https://example.org/zebra.", " [12]", "\n\n7.",
              "\n\n`zebra_quux()`"]
    res = scorer.score([PairInput("Is sorted stable?", prose, SORTED_SRC)]
                       + [PairInput("Is sorted stable?", prose + e, SORTED_SRC) for e in extras])
    base = res[0].hallucination_prob
    for e, g in zip(extras, res[1:]):
        assert g.hallucination_prob == pytest.approx(base, abs=1e-9), e
        assert g.verdict == "supported" and len(g.sentences) == 2 and g.sentences[1].verdict == "not_checked", e


def test_list_variants_keep_their_marker_and_are_supported(scorer):
    src = "Drink water every day. Sleep eight hours a night. Walk for thirty minutes."
    for resp in ("- Drink water every day.\n- Sleep eight hours a night.\n- Walk for thirty minutes.",
                 "1) Drink water every day.\n2) Sleep eight hours a night.\n3) Walk for thirty minutes.",
                 "a. Drink water every day.\nb. Sleep eight hours a night.\nc. Walk for thirty minutes.",
                 "* Drink water every day.\n\n* Sleep eight hours a night.\n\n* Walk for thirty minutes."):
        (g,) = scorer.score([PairInput("Give three health tips.", resp, src)])
        assert g.verdict == "supported", resp
        assert len(g.sentences) == 3 and all(s.text[0] in "-1abc*23" for s in g.sentences)


def test_a_wrong_list_item_is_still_caught(scorer):
    src = "Drink water every day. Sleep eight hours a night. Walk for thirty minutes."
    (g,) = scorer.score([PairInput("Give three health tips.",
                                   "1. Drink water every day.\n2. Sleep eight hours a night.\n3. Smoke 20 cigars in Havana.", src)])
    assert g.verdict == "hallucinated" and g.worst_sentence == "3. Smoke 20 cigars in Havana."


# -- 2. relation-level support ---------------------------------------------------------------
def test_repro_recombination_swaps(scorer):
    expected = {"swap1": "hallucinated", "swap2": "hallucinated", "correct": "supported", "neg": "hallucinated",
                "unrelated": "hallucinated"}
    rs = rows("18_recombination_pairs.jsonl")
    res = scorer.score([PairInput(r["instruction"], r["response"], r["context"]) for r in rs])
    assert {r["id"]: g.verdict for r, g in zip(rs, res)} == expected
    by_id = {r["id"]: g for r, g in zip(rs, res)}
    assert by_id["swap1"].hallucination_prob > by_id["correct"].hallucination_prob


def test_repro_recombination_in_index_mode(embedder, tmp_path):
    from curator.index import Document, PassageIndex

    (doc,) = rows("18_recombination_source.jsonl")
    index = PassageIndex.build([Document(doc["id"], doc["text"])], embedder)
    s = GroundingScorer(embedder=embedder, index=index)
    res = s.score([PairInput("What is the capital of Peru?", "Quito is the capital of Peru.", source_id="geo"),
                   PairInput("What is the capital of Peru?", "Lima is the capital of Peru.", source_id="geo"),
                   PairInput("What is the capital of Peru?", "Quito is the capital of Peru."),
                   PairInput("What is the capital of Peru?", "Lima is the capital of Peru.")])
    assert [g.verdict for g in res] == ["hallucinated", "supported", "hallucinated", "supported"]


@pytest.mark.parametrize("source,good,bad", [
    (GEO, "Bogota is the capital of Colombia.", "Bogota is the capital of Ecuador."),
    ("Marie Curie won the Nobel Prize in Physics in 1903. She won the Nobel Prize in Chemistry in 1911.",
     "Marie Curie won the Nobel Prize in Chemistry in 1911.", "Marie Curie won the Nobel Prize in Chemistry in 1903."),
    ("The Amazon flows through Brazil. The Danube flows through Austria. The Nile flows through Egypt.",
     "The Danube flows through Austria.", "The Danube flows through Egypt."),
    ("Tokyo has 14 million residents. Osaka has 2.7 million residents.",
     "Osaka has 2.7 million residents.", "Osaka has 14 million residents."),
])
def test_swap_variants_inside_the_source_are_flagged(scorer, source, good, bad):
    g, b = scorer.score([PairInput("Tell me a fact.", good, source), PairInput("Tell me a fact.", bad, source)])
    assert (g.verdict, b.verdict) == ("supported", "hallucinated")


def test_repro_word_presence_is_not_support(scorer):
    """A word of the claim in the evidence is not support. Since issue 21 a source that never
    speaks of what the claim says ("I had a great day in Paris" for the capital of France, a
    pizza in Rome for Italy's capital) is not *about* it: the claim is unverifiable (kept, not
    judged), no longer hallucinated; never supported."""
    rs = {r["id"]: r for r in rows("18b_llamaindex_presence_not_entailment.jsonl")}
    res = scorer.score([PairInput(rs[i]["instruction"], rs[i]["response"], rs[i]["context"])
                        for i in ("li_paris_full", "li_berlin")])
    assert [g.verdict for g in res] == ["unverifiable"] * 2
    v = verdicts(scorer, [("What is the capital of Italy?", "The capital of Italy is Rome.", "We ate pizza in Rome."),
                          ("What is the capital of Italy?", "Rome.", "Rome is the capital of Italy."),
                          ("Where is the Louvre?", "The Louvre is in Berlin.", "We visited the Louvre last year.")])
    # The Louvre's visit names the Louvre: the claim is judged, and is flagged or at least doubtful.
    assert v[:2] == ["unverifiable", "supported"] and v[2] != "supported"


@pytest.mark.xfail(strict=True, reason="known limitation: a bare short answer whose only name is in the "
                   "evidence ('Paris.' vs 'I had a great day in Paris') is not flagged; the rule that "
                   "would catch it (a question name absent from the evidence) cost HaluEval-QA 0.05 "
                   "LODO AUROC (benchmarks/RESULTS.md)")
def test_repro_bare_short_answer_word_presence(scorer):
    (r,) = [r for r in rows("18b_llamaindex_presence_not_entailment.jsonl") if r["id"] == "li_paris"]
    v = verdicts(scorer, [(r["instruction"], r["response"], r["context"]),
                          ("What is the capital of Italy?", "Rome.", "We ate pizza in Rome last summer.")])
    assert v == ["hallucinated", "hallucinated"]


@pytest.mark.parametrize("good,bad", [
    ("The lake is 42 km long.", "The lake is 24 km long."),
    ("The bridge opened in 1937.", "The bridge opened in 1973."),
    ("The tower is 330 metres tall.", "The tower is 303 metres tall."),
    ("About 400 people work there.", "About 4,000 people work there."),
])
def test_a_wrong_number_is_flagged(scorer, good, bad):
    src = ("The lake is 42 km long. The bridge opened in 1937. The tower is 330 metres tall. "
           "About 400 people work there.")
    g, b = scorer.score([PairInput("Tell me a fact.", good, src), PairInput("Tell me a fact.", bad, src)])
    assert (g.verdict, b.verdict) == ("supported", "hallucinated")


def test_normalised_numbers_dates_and_abbreviations_are_supported(scorer):
    v = verdicts(scorer, [
        ("When was he born?", "He was born on July 10, 1981.", "He was born on July 10,1981 in Ohio."),
        ("How many people?", "The city has 1280000 residents.", "The city has 1,280,000 residents."),
        ("How long?", "The span is 3.50 km long.", "The span is 3.5 km long."),
        ("Where is the firm?", "The firm is based in the United States.", "The firm is based in the U.S. and sells bolts."),
        ("Where is the firm?", "The firm is based in the U.S.", "The firm is based in the United States and sells bolts."),
        ("Who runs it?", "Doctor Smith runs the clinic.", "Dr. Smith runs the clinic in town."),
        ("Tell me about dogs.", "Dogs live 12 years.[9] Breeding is bad.[9]", "Dogs live about 12 years. Irresponsible breeding is bad for dogs."),
    ])
    assert v == ["supported"] * 7


# -- 3. sentence splitting ---------------------------------------------------------------------
def test_repro_sentence_split_after_abbreviations(scorer):
    expected = {"us_abbrev_wrong_year": "hallucinated", "spelled_wrong_year": "hallucinated",
                "us_abbrev_correct": "supported", "no_abbrev_wrong_person": "hallucinated",
                "answer_letter": "hallucinated"}
    rs = rows("10_sentence_split_abbrev.jsonl")
    res = scorer.score([PairInput(r["instruction"], r["response"], r["context"]) for r in rs])
    assert {r["id"]: g.verdict for r, g in zip(rs, res)} == expected
    assert all(len(g.sentences) == 2 for g in res)
    assert res[0].worst_sentence == "It was founded in 1850 by Maria Lopez."


# -- 4. three-way verdicts ---------------------------------------------------------------------
def test_no_checkable_claim_is_unverifiable(scorer):
    v = verdicts(scorer, [("Write code.", "```js\nconsole.log(1)\n```", SORTED_SRC),
                          ("What is 2+2?", "2 + 2 = 4", SORTED_SRC),
                          ("Help?", "I'm not sure.", SORTED_SRC),
                          ("Thanks", "You're welcome!", SORTED_SRC),
                          ("Anything?", "", SORTED_SRC)])
    assert v == ["unverifiable"] * 5


def test_evidence_not_about_the_claim_is_unverifiable_in_index_mode(demo_index, embedder, tmp_path):
    s = GroundingScorer(embedder=embedder, index=demo_index)
    res = s.score([PairInput("Write a haiku about autumn.", "Crimson leaves drift down\nwhispering to the cold earth\nsummer says goodbye"),
                   PairInput("Give me a pancake recipe.", "Whisk two eggs with a cup of milk and a cup of flour, then fry in butter."),
                   PairInput("Which magazine was started first Arthur's Magazine or First for Women?", "Arthur's Magazine")])
    assert [g.verdict for g in res[:2]] == ["unverifiable", "unverifiable"]
    assert all(not g.hallucinated and np.isnan(g.hallucination_prob) for g in res[:2])
    assert res[2].verdict == "supported"
    # The floor, the overlap test and the about test are documented, settable parameters: with all
    # three at 0 everything is judged.
    params = GroundingParams.load()
    params.about = {"min_sim": -1.0, "min_coverage": 0.0, "min_coverage_index": 0.0}
    params.save(tmp_path / "p.json")
    judged = GroundingScorer(embedder=embedder, index=demo_index, retrieval_floor=0.0, retrieval_min_coverage=0.0,
                             params=tmp_path / "p.json").score(
        [PairInput("Give me a pancake recipe.", "Whisk two eggs with a cup of milk and a cup of flour, then fry in butter.")])
    assert judged[0].verdict in ("supported", "hallucinated") and not np.isnan(judged[0].hallucination_prob)


def test_own_source_mode_uses_the_about_test_not_the_retrieval_floor(scorer):
    """A pair's own source silent on the subject (a haiku against capitals) is not about the claim:
    unverifiable, with a probability (the source lacks its words) but never flagged. The retrieval
    floor is an index-mode test: a claim of an own source below it is judged when the source is
    about it."""
    (g,) = scorer.score([PairInput("Write a haiku.", "Crimson leaves drift down to the cold earth.", GEO)])
    assert g.verdict == "unverifiable" and not g.hallucinated and 0.0 <= g.hallucination_prob <= 1.0
    (h,) = scorer.score([PairInput("What is the capital of Peru?", "Quito is the capital of Peru.", GEO)])
    assert h.verdict == "hallucinated"


# -- 5. the verdict does not depend on unrelated documents ----------------------------------------
def test_unrelated_documents_in_the_index_do_not_change_the_verdict(embedder):
    from curator.index import Document, PassageIndex

    own = Document("own", ACME)
    others = [Document(f"o{i}", t) for i, t in enumerate([
        "Acme Corporation is a fictional company in Looney Tunes cartoons.",
        "Ohio is a state in the Midwestern United States. Its capital is Columbus.",
        "Industrial fasteners include bolts, nuts, screws and rivets.",
        "Maria Lopez is a common name in Spanish-speaking countries.",
        "Widgets are small gadgets or mechanical devices.",
        "Many companies were founded in 1990, among them several software firms.",
    ] * 3)]
    pairs = [PairInput("Tell me about Acme Widgets.", "Acme Widgets was founded in 1990 by Maria Lopez."),
             PairInput("Tell me about Acme Widgets.", "Acme Widgets makes industrial fasteners and employs about 400 people."),
             PairInput("Tell me about Acme Widgets.", "Acme Widgets was founded in 1850 by John Carter.")]
    alone = GroundingScorer(embedder=embedder, index=PassageIndex.build([own], embedder)).score(pairs)
    crowd = GroundingScorer(embedder=embedder, index=PassageIndex.build([own, *others], embedder)).score(pairs)
    assert [g.verdict for g in alone] == [g.verdict for g in crowd] == ["supported", "supported", "hallucinated"]
    for a, c in zip(alone[:2], crowd[:2]):
        # More documents can add evidence, never take support away (sign-constrained combiner).
        assert c.hallucination_prob <= a.hallucination_prob + 0.05


def test_shipped_coefficients_respect_their_direction():
    from curator.grounding import AGAINST_FEATURES, SUPPORT_FEATURES, GroundingParams

    p = GroundingParams.load()
    for f, c in zip(p.features, p.coef):
        assert not (f in SUPPORT_FEATURES and c > 0) and not (f in AGAINST_FEATURES and c < 0), (f, c)


# -- 6. the pipeline: three counts, unverifiable kept, missing sources, explicit flags ------------
def _cli(args):
    from click.testing import CliRunner

    from curator.cli import cli

    return CliRunner().invoke(cli, args)


@pytest.fixture(scope="module")
def docs_index(tmp_path_factory, embedder):
    from curator.index import PassageIndex, load_documents

    path = tmp_path_factory.mktemp("i11") / "docs"
    PassageIndex.build(load_documents([CASES / "docs"]), embedder).save(path)
    return path


def test_repro_explicit_flags_win_over_a_detected_context(docs_index, tmp_path):
    out = tmp_path / "scored.jsonl"
    res = _cli(["score", str(CASES / "context_overrides_flags.jsonl"), "--index", str(docs_index),
                "--source-id-field", "doc", "-o", str(out)])
    assert res.exit_code == 0, res.output
    (row,) = [json.loads(line)["curator"] for line in out.read_text().splitlines()]
    # Graded against paris.txt, not against the row's own (wrong) context.
    assert row["evidence_mode"] == "source_id" and row["grounding_verdict"] == "hallucinated"
    res = _cli(["score", str(CASES / "context_overrides_flags.jsonl"), "--index", str(docs_index), "-o", str(out)])
    (row,) = [json.loads(line)["curator"] for line in out.read_text().splitlines()]
    assert row["evidence_mode"] == "index" and row["grounding_verdict"] == "hallucinated"
    # Asked for it, the row is graded against its own context.
    res = _cli(["score", str(CASES / "context_overrides_flags.jsonl"), "--source-field", "context", "-o", str(out)])
    (row,) = [json.loads(line)["curator"] for line in out.read_text().splitlines()]
    assert row["evidence_mode"] == "source" and row["grounding_verdict"] == "supported"


def test_rows_without_a_source_are_unverifiable_counted_and_warned_once(tmp_path):
    src = tmp_path / "pairs.jsonl"
    rows = [{"instruction": "Capital of Peru?", "response": "Lima is the capital of Peru.", "context": GEO},
            {"instruction": "Capital of Peru?", "response": "Quito is the capital of Peru.", "context": GEO},
            {"instruction": "Which city is the capital of Peru?", "response": "Lima.", "context": ""},
            {"instruction": "Name the largest city of Peru.", "response": "It is Lima, on the coast.", "context": None},
            {"instruction": "Who invented sorted()?", "response": "I don't know.", "context": SORTED_SRC}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    outdir = tmp_path / "out"
    res = _cli(["run", str(src), "--source-field", "context", "--budget", "10", "-o", str(outdir)])
    assert res.exit_code == 0, res.output
    assert res.output.count("2 pairs have no source text") == 1
    assert "grounding: 1 supported, 1 hallucinated, 2 unverifiable" in res.output
    summary = json.loads((outdir / "summary.json").read_text())
    g = summary["stages"]["grounding"]
    assert g["verdicts"] == {"supported": 1, "hallucinated": 1, "unverifiable": 2}
    assert g["dropped"] == 1 and g["reasons"] == {"hallucinated": 1}
    assert summary["stages"]["quality"]["reasons"] == {"non_answer": 1}
    kept = [json.loads(line) for line in (outdir / "kept.jsonl").read_text().splitlines()]
    assert len(kept) == 3  # the supported row and both rows without a source
    html = (outdir / "report.html").read_text()
    assert "1 supported</b>" in html and "1 hallucinated</b>" in html and "2 unverifiable</b>" in html


def test_most_rows_unverifiable_warns_once_that_the_index_does_not_cover_the_data(demo_index_dir, tmp_path):
    src = tmp_path / "alpaca_like.jsonl"
    rows = [{"instruction": "Write a haiku about autumn.", "output": "Crimson leaves drift down\nwhispering to the cold earth"},
            {"instruction": "Give me a pancake recipe.", "output": "Whisk two eggs with a cup of milk and a cup of flour, then fry in butter."},
            {"instruction": "Write a Python hello world.", "output": "```python\nprint('hello')\n```"},
            {"instruction": "Which magazine was started first Arthur's Magazine or First for Women?", "output": "Arthur's Magazine"}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "scored.jsonl"
    res = _cli(["score", str(src), "--index", str(demo_index_dir), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.count("the index does not seem to cover this data") == 1
    got = [json.loads(line)["curator"]["grounding_verdict"] for line in out.read_text().splitlines()]
    assert got == ["unverifiable", "unverifiable", "unverifiable", "supported"]


def test_non_answers_are_a_quality_reason_not_grounding():
    from curator.quality import QualityScorer

    resp = ["I don't know.", "Sure!", "OK", "I'm not sure.", "Sorry, I do not know the answer.", "You're welcome!",
            "Sure! Lima is the capital of Peru.", "I don't know much about Peru, but Lima is its capital.", "No."]
    cols = QualityScorer().score(["Question?"] * len(resp), resp)
    assert cols["quality_reason"] == ["non_answer"] * 6 + [None, None, None]


def test_multi_turn_rows_keep_their_worst_turn_and_a_verdict(tmp_path):
    out = tmp_path / "scored.jsonl"
    res = _cli(["score", str(CASES / "multiturn_source.jsonl"), "--source-field", "source", "-o", str(out)])
    assert res.exit_code == 0, res.output
    got = [json.loads(line)["curator"] for line in out.read_text().splitlines()]
    assert [g["grounding_verdict"] for g in got] == ["hallucinated", "supported"]
    assert "2,500" in got[0]["worst_sentence"]


# -- issue 11, second pass: wrong verdicts found on real use --------------------------------------
# (a) an answer read from a terse tool result repeats the question's name (Paris) that the
# result never states; only against a structured record, and only when the prompt gives the name
# rather than offering it as an alternative or asking yes/no about it.
@pytest.mark.parametrize("prompt,response,source", [
    ("What's the weather in Paris?", "It is 18 °C in Paris.", '{"temp_c": 18}'),
    ("What's the weather in Paris?", "It is 18 °C in Paris.", "temp c: 18"),
    ('Weather in Paris?\n\n[tool call] {"name": "get_weather", "arguments": {"city": "Paris"}}\n\n'
     '[tool result] {"temp_c": 18}', "It is 18 °C in Paris.", '{"temp_c": 18}'),
    ("Weather in Rome?", "It is 22 °C and sunny in Rome.", '{"temp_c": 22, "condition": "Sunny"}'),
    ("When was the Eiffel Tower finished?", "The Eiffel Tower was finished in 1889.", '{"year_completed": 1889}'),
    ("How many people live in Lima?", "Lima has a population of 10 million.", '{"population_millions": 10}'),
])
def test_answers_read_from_a_tool_result_are_supported(scorer, prompt, response, source):
    (g,) = scorer.score([PairInput(prompt, response, source)])
    assert g.verdict == "supported", (g.hallucination_prob, g.sentences[0].features)


@pytest.mark.parametrize("prompt,response,source", [
    ("What's the weather in Paris?", "It is 25 °C in Paris.", '{"temp_c": 18}'),           # wrong number
    ("Is it 18 °C in Paris or in Lyon?", "It is 18 °C in Lyon.", '{"city": "Paris", "temp_c": 18}'),
    ("Which city is warmer, Paris or Lyon?", "Lyon is warmer, at 18 °C.", '{"temp_c": 18}'),  # a choice
    ("Is it 18 °C in Lyon?", "Yes, it is 18 °C in Lyon.", '{"city": "Paris", "temp_c": 18}'),  # yes/no
    ("Is the capital of Peru Lima or Quito?", "The capital of Peru is Quito.", '{"country": "Peru", "capital": "Lima"}'),
    ("Is the capital of Peru Lima or Quito?", "The capital of Peru is Quito.",
     "Peru is in South America. Its capital has 10 million people."),
])
def test_names_offered_as_alternatives_or_absent_from_prose_are_still_checked(scorer, prompt, response, source):
    (g,) = scorer.score([PairInput(prompt, response, source)])
    assert g.verdict == "hallucinated", (g.hallucination_prob, g.sentences[0].features)


def test_prose_that_never_names_the_subject_is_not_about_the_claim(scorer):
    """No exemption for prose: a source that never names the question's subject is about
    something else, so the claim is unverifiable (issue 21), never supported."""
    (g,) = scorer.score([PairInput("What is the capital of France?", "The capital of France is Paris.",
                                   "I had a great day in Paris last week.")])
    assert g.verdict == "unverifiable" and not g.hallucinated


def test_readme_tool_calling_examples_are_supported(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    examples = [line for line in readme.splitlines() if line.startswith("{") and '"temp_c' in line]
    assert len(examples) == 2
    for i, line in enumerate(examples):
        src, out = tmp_path / f"t{i}.jsonl", tmp_path / f"s{i}.jsonl"
        src.write_text(line + "\n")
        res = _cli(["score", str(src), "--source-field", "context", "-o", str(out)])
        assert res.exit_code == 0, res.output
        (row,) = [json.loads(x)["curator"] for x in out.read_text().splitlines()]
        assert row["grounding_verdict"] == "supported", row


# (b) a bare yes/no cannot be checked lexically: not a claim, never a flag on features blind to it.
@pytest.mark.parametrize("answer", ["No.", "no", "Yes.", "Yes, it is.", "No, he wasn't.", "Nope!", "yes it does"])
def test_a_bare_yes_or_no_is_not_checked(scorer, answer):
    (g,) = scorer.score([PairInput("Was Marie Curie born in Warsaw?", answer,
                                   "Marie Curie was born in Warsaw in 1867. She won two Nobel Prizes.")])
    assert g.verdict == "unverifiable" and not g.hallucinated and np.isnan(g.hallucination_prob)
    assert [s.verdict for s in g.sentences] == ["not_checked"]


def test_yes_or_no_before_a_claim_leaves_the_claim_checked(scorer):
    src = "Marie Curie was born in Warsaw in 1867. She won two Nobel Prizes."
    good, bad, lead = scorer.score([
        PairInput("Was Marie Curie born in Paris?", "No, Marie Curie was born in Warsaw.", src),
        PairInput("Was Marie Curie born in Warsaw?", "No, Marie Curie was born in Berlin.", src),
        PairInput("Was Marie Curie born in Warsaw?", "Yes. She was born in Warsaw in 1867.", src)])
    assert (good.verdict, bad.verdict, lead.verdict) == ("supported", "hallucinated", "supported")
    assert [s.verdict for s in lead.sentences] == ["not_checked", "supported"]


# (c) a claim that restates an evidence sentence with its negation flipped.
NEG_SRC = ("The Eiffel Tower is in Paris. The tower is 330 metres tall. The museum opened in 1990. "
           "It is not open on Mondays. The shop sells maps. Marie Curie won the Nobel Prize in 1911.")


@pytest.mark.parametrize("bad,cited", [
    ("The tower is not 330 metres tall.", "The tower is 330 metres tall."),
    ("The tower isn't 330 metres tall.", "The tower is 330 metres tall."),
    ("The shop no longer sells maps.", "The shop sells maps."),
    ("The shop never sells maps.", "The shop sells maps."),
    ("Marie Curie did not win the Nobel Prize in 1911.", "Marie Curie won the Nobel Prize in 1911."),
    ("The museum is open on Mondays.", "It is not open on Mondays."),
])
def test_a_flipped_negation_is_flagged_and_cites_the_sentence(scorer, bad, cited):
    (g,) = scorer.score([PairInput("Tell me about Paris.", bad, NEG_SRC)])
    assert g.verdict == "hallucinated" and g.hallucination_prob >= 0.95
    assert g.sentences[0].evidence == cited and g.sentences[0].features["neg_flip"] == 1.0


@pytest.mark.parametrize("good", [
    "The tower is 330 metres tall.",
    "The museum is not open on Mondays.",          # the source's own negation, by a pronoun
    "The museum isn't open on Mondays.",
    "Marie Curie won the Nobel Prize in 1911.",
])
def test_a_claim_with_the_sources_polarity_stays_supported(scorer, good):
    (g,) = scorer.score([PairInput("Tell me about Paris.", good, NEG_SRC)])
    assert g.verdict == "supported" and g.sentences[0].features["neg_flip"] == 0.0


def test_a_negation_about_something_else_is_not_a_flip(scorer):
    v = verdicts(scorer, [
        ("Tell me about the tower.", "The tower is 330 metres tall.", "The tower, which is not red, is 330 metres tall."),
        ("Did he win?", "He won the race.", "He won the race without help."),
    ])
    assert v == ["supported", "supported"]


# (d) "El-P.Jaime Meline": sentences glued after a capital letter.
def test_glued_sentence_after_a_capital_is_split_for_grounding(scorer):
    src = ("Smash and Definitive Jux label head El-P.Jaime Meline (born March 2, 1975), better known by his "
           "stage name El-P, is an American hip hop recording artist.")
    (g,) = scorer.score([PairInput("Who is El-P?", "Jaime Meline was born in 1975.", src)])
    assert g.verdict == "supported"
    assert g.sentences[0].evidence.startswith("Jaime Meline (born March 2, 1975)")


# (e) an index that does not cover the data: a passage similar enough (above the retrieval floor)
# that shares none of the prompt's words and little of the claim's is not about the claim.
OFF_TOPIC = [("What is the angle between the vectors?", "So the angle ABC is arccos(-0.5) radians or 120 degrees."),
             ("Define the word timid.", "A timid person is someone who is shy and not confident in social situations.")]
ON_TOPIC_WRONG = [("Which genus of moth in the world's seventh-largest country contains only one species?", "Lepidoptera"),
                  ("Cadmium Chloride is slightly soluble in this chemical, it is also called what?", "hydrogen peroxide")]


def test_evidence_sharing_neither_the_prompts_nor_the_claims_words_is_not_about_it(demo_index, embedder, tmp_path):
    pairs = [PairInput(*p) for p in OFF_TOPIC + ON_TOPIC_WRONG]
    res = GroundingScorer(embedder=embedder, index=demo_index).score(pairs)
    assert [g.verdict for g in res] == ["unverifiable"] * 2 + ["hallucinated"] * 2
    off = res[0].sentences[0]
    # Above the retrieval floor; its passage ("The Angles were a Germanic tribe ...") shares only a
    # homonym's stem with the prompt ("angle"), and too little of the claim: not about it.
    assert off.verdict == "unverifiable" and off.features["emb_max"] >= 0.35 and off.features["prompt_overlap"] <= 1
    # The criteria are documented, settable parameters: 0 (and an about test that accepts all)
    # judges them (and flags them).
    params = GroundingParams.load()
    params.about = {"min_sim": -1.0, "min_coverage": 0.0, "min_coverage_index": 0.0}
    params.save(tmp_path / "p.json")
    judged = GroundingScorer(embedder=embedder, index=demo_index, retrieval_min_coverage=0.0,
                             params=tmp_path / "p.json").score(pairs[:2])
    assert [g.verdict for g in judged] == ["hallucinated"] * 2
