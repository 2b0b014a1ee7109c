"""Issue 21: a hallucinated verdict needs evidence *about* the claim; long sources; what must never
be flagged (arithmetic, tool records, normalised dates); the doubt band; null probabilities; the
wrong-index warning."""

import json

import numpy as np
import pytest

from curator.grounding import GroundingParams, GroundingScorer, PairInput, is_about, judge_pair
from curator.grounding.claims import SentenceVerdict

GEO = "Lima is the capital of Peru. Quito is the capital of Ecuador. Bogota is the capital of Colombia."


@pytest.fixture(scope="module")
def scorer(embedder):
    return GroundingScorer(embedder=embedder)


def _verdicts(scorer, triples):
    return [g.verdict for g in scorer.score([PairInput(*t) for t in triples])]


# -- 4. long sources: windows over the whole source; neighbouring sentences joined ---------------
def _long_page(last: str) -> str:
    """~3,000 words of distinct filler paragraphs, then ``last`` as the final paragraph."""
    towns = ["Arden", "Belmora", "Caskell", "Dunmere", "Elsworth", "Fairholt", "Glenrith", "Halvern"]
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    paras = []
    for i in range(40):
        t = towns[i % len(towns)]
        paras.append(" ".join(
            f"The village of {t}{i} lies {k + i} km north of the river and holds a market every "
            f"{days[(i + k) % len(days)]} for farmers selling grain, wool and cheese." for k in range(5)))
    page = "\n\n".join(paras + [last])
    assert len(page.split()) > 3000
    return page


def test_a_claim_supported_only_by_the_last_paragraph_of_a_long_page(scorer):
    page = _long_page("The Harwick Bridge was opened in 1932 by Mayor Ellen Park. It spans the Tarn estuary.")
    good, bad = scorer.score([
        PairInput("When was the Harwick Bridge opened?", "The Harwick Bridge was opened in 1932.", page),
        PairInput("When was the Harwick Bridge opened?", "The Harwick Bridge was opened in 1958.", page)])
    assert good.verdict == "supported", good.sentences[0].features
    assert bad.verdict == "hallucinated", bad.sentences[0].features
    assert "1932" in (bad.sentences[0].evidence or "")  # it cites the last paragraph


@pytest.mark.parametrize("claim,verdict", [
    ("Marie Curie, born in Warsaw, moved to Paris in 1891.", "supported"),
    ("Born in Warsaw in 1867, Marie Curie moved to Paris in 1891.", "supported"),
    ("Marie Curie moved to Paris in 1867.", "hallucinated"),     # the birth year in the move's slot
])
def test_facts_in_adjacent_sentences_count_as_joined(scorer, claim, verdict):
    src = ("Marie Curie was born in Warsaw in 1867. She moved to Paris in 1891. "
           "The Eiffel Tower is 330 metres tall.")
    (g,) = scorer.score([PairInput("Tell me about Marie Curie.", claim, src)])
    assert g.verdict == verdict, (g.hallucination_prob, g.sentences[0].features)


# -- 1. the about test -------------------------------------------------------------------------
@pytest.mark.parametrize("prompt,response", [
    ("Write a haiku about autumn.", "Crimson leaves drift down to the cold earth, summer says goodbye."),
    ("Pretend you are a pirate and greet me.", "Ahoy, matey! Welcome aboard the Black Pearl, ye landlubber!"),
    ("Write a Python function that adds two numbers.", "The function takes two arguments and returns their sum."),
    ("Tell me about your weekend.", "I recently got a job at the local restaurant and I love it!"),
])
def test_a_source_silent_on_the_subject_is_not_about_the_claim(scorer, prompt, response):
    (g,) = scorer.score([PairInput(prompt, response, GEO)])
    assert g.verdict == "unverifiable" and not g.hallucinated
    assert all(s.verdict == "unverifiable" for s in g.sentences if s.features)


def test_a_source_about_the_claim_judges_it(scorer):
    v = _verdicts(scorer, [("What is the capital of Peru?", "Lima is the capital of Peru.", GEO),
                           ("What is the capital of Peru?", "Quito is the capital of Peru.", GEO),
                           ("What is the capital of Ecuador?", "The capital of Ecuador is Bogota.", GEO)])
    assert v == ["supported", "hallucinated", "hallucinated"]


def test_is_about_reads_its_thresholds_from_the_parameters():
    f = {"emb_max": 0.6, "about_cov": 0.5, "about_keys": -1.0, "prompt_overlap": 0.0, "ev_record": 0.0}
    assert is_about(f)
    assert not is_about({**f, "about_cov": 0.1})                     # the window states little of it
    assert not is_about({**f, "emb_max": 0.2})                       # and nothing else brings it close
    assert is_about({**f, "emb_max": 0.2, "about_keys": 1.0})        # its names are there
    assert is_about({**f, "emb_max": 0.2, "prompt_overlap": 5.0})    # the question's words are there
    assert is_about({**f, "emb_max": 0.2, "ev_record": 1.0})         # a tool's record
    assert not is_about(f, {"min_sim": 0.9, "min_coverage": 0.3})


def _claim(p: float, feats: dict[str, float], text: str = "A claim.") -> SentenceVerdict:
    return SentenceVerdict(text=text, start=0, end=0, verdict="", support=1.0 - p, citation=None,
                           citation_span=None, evidence=None, features=feats)


ABOUT = {"emb_max": 0.8, "about_cov": 0.8, "about_keys": -1.0, "prompt_overlap": 0.0, "ev_record": 0.0}
OFF = {**ABOUT, "emb_max": 0.1, "about_cov": 0.0}


def test_pair_verdicts_from_claim_verdicts():
    never = lambda f: False  # noqa: E731 - the index-mode retrieval floor, off here
    g = judge_pair("", [_claim(0.9, ABOUT), _claim(0.1, ABOUT)], "source", 0.8, never, 0.6)
    assert (g.verdict, g.hallucinated, g.hallucination_prob) == ("hallucinated", True, pytest.approx(0.9))
    g = judge_pair("", [_claim(0.7, ABOUT), _claim(0.1, ABOUT)], "source", 0.8, never, 0.6)
    assert (g.verdict, g.confidence, g.doubtful) == ("unverifiable", "low", True)
    g = judge_pair("", [_claim(0.2, ABOUT), _claim(0.99, OFF)], "source", 0.8, never, 0.6)
    assert g.verdict == "supported" and g.sentences[1].verdict == "unverifiable"
    # Nothing judged: unverifiable; an own source keeps a number (it lacks the claim's words) ...
    g = judge_pair("", [_claim(0.99, OFF)], "source", 0.8, never, 0.6)
    assert g.verdict == "unverifiable" and not g.doubtful and g.hallucination_prob == pytest.approx(0.99)
    # ... retrieved passages about something else say nothing: NaN (null in scores.parquet)
    g = judge_pair("", [_claim(0.99, OFF)], "index", 0.8, never, 0.6)
    assert g.verdict == "unverifiable" and np.isnan(g.hallucination_prob)
    # A contradiction rule that fires in a window stating enough of the claim, with the pair's own
    # source, makes the claim judged whatever its embedding; not in index mode; not without the window.
    conflict = {**OFF, "about_cov": 0.5, "swap": 1.0}
    g = judge_pair("", [_claim(0.99, conflict)], "source", 0.8, never, 0.6, None, ("swap",))
    assert g.verdict == "hallucinated"
    g = judge_pair("", [_claim(0.99, conflict)], "index", 0.8, never, 0.6, None, ("swap",))
    assert g.verdict == "unverifiable"
    g = judge_pair("", [_claim(0.99, {**OFF, "swap": 1.0})], "source", 0.8, never, 0.6, None, ("swap",))
    assert g.verdict == "unverifiable"


# -- 6. never flagged: arithmetic, tool records, normalised dates --------------------------------
@pytest.mark.parametrize("prompt,response", [
    ("What is 2+2?", "4"),
    ("What is 2+2?", "4."),
    ("What is 2+2?", "The answer is 4."),
    ("What is 2+2?", "2 + 2 = 4"),
    ("What is 2+2?", "Four."),
    ("What is 12 times 3?", "12 times 3 is 36."),
    ("Tom has 3 apples and buys 2 more. How many apples does he have?",
     "Tom starts with 3 apples and buys 2 more, so he has 3 + 2 = 5 apples.\n#### 5"),
])
@pytest.mark.parametrize("source", [GEO, "The Eiffel Tower was completed in 1889. It is 330 metres tall."])
def test_arithmetic_is_never_flagged(scorer, prompt, response, source):
    (g,) = scorer.score([PairInput(prompt, response, source)])
    assert not g.hallucinated and g.verdict != "hallucinated", (g.verdict, g.hallucination_prob)


@pytest.mark.parametrize("prompt,response,record", [
    ("What is the current stock price of Microsoft?",
     "The current price of Microsoft's stock (MSFT) is $216.54.", '{"stock_price": "216.54"}'),
    ("Hi, can you tell me the current stock price of Microsoft?",
     "The current stock price of Microsoft (MSFT) is $216.54.", '{"stock_price": "216.54"}'),
    ("What's Apple trading at?", "Apple (AAPL) is trading at $145.09 per share.", '{"stock_price": 145.09}'),
    ("How far is it from New York to London?", "The distance between New York and London is 3461.34 miles.",
     '{"distance": 3461.34, "unit": "miles"}'),
    ("Convert 500 US dollars to euros.", "500 US dollars is approximately 425.50 euros.",
     '{"converted_amount": 425.5, "from_currency": "USD", "to_currency": "EUR"}'),
])
def test_answers_read_from_a_tool_record_are_not_flagged(scorer, prompt, response, record):
    (g,) = scorer.score([PairInput(prompt, response, record)])
    assert not g.hallucinated, (g.hallucination_prob, [s.features for s in g.sentences])


def test_a_wrong_value_against_a_tool_record_is_still_flagged(scorer):
    (g,) = scorer.score([PairInput("What is the current stock price of Microsoft?",
                                   "The current price of Microsoft's stock is $261.45.", '{"stock_price": "216.54"}')])
    assert g.verdict in ("hallucinated", "unverifiable") and g.verdict != "supported"


@pytest.mark.parametrize("response", [
    "Tomoaki Komorida was born on July 10,1981.",
    "Tomoaki Komorida was born on July 10, 1981.",
    "Tomoaki Komorida was born on 10 July 1981.",
    "Komorida was born July 10 1981.",
])
def test_normalised_dates_are_not_flagged(scorer, response):
    src = ("Tomoaki Komorida (born July 10, 1981) is a former Japanese football player. "
           "He played for Avispa Fukuoka and Omiya Ardija.")
    (g,) = scorer.score([PairInput("When was Tomoaki Komorida born?", response, src)])
    assert g.verdict == "supported", (g.hallucination_prob, g.sentences[0].features)


# -- 5. unverifiable rows: a number or a null, never NaN; the warning ---------------------------
def test_scores_parquet_has_nulls_not_nan_and_auroc_works(tmp_path, demo_index_dir):
    import polars as pl
    from click.testing import CliRunner
    from sklearn.metrics import roc_auc_score

    from curator.cli import cli

    rows = [{"instruction": "What is the capital of Peru?", "output": "Lima is the capital of Peru.", "y": 0},
            {"instruction": "What is the capital of Peru?", "output": "Quito is the capital of Peru.", "y": 1},
            {"instruction": "What is the capital of Ecuador?", "output": "Quito is the capital of Ecuador.", "y": 0},
            {"instruction": "What is the capital of Ecuador?", "output": "Lima is the capital of Ecuador.", "y": 1},
            {"instruction": "Write a haiku.", "output": "Crimson leaves drift down to the cold earth.", "y": 0},
            {"instruction": "Write code.", "output": "```py\nprint(1)\n```", "y": 0}]
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps({**r, "context": GEO}) for r in rows) + "\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", str(src), "--source-field", "context", "--dedup-on", "response", "--budget", "100",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    t = pl.read_parquet(out / "scores.parquet")
    hp = t["hallucination_prob"]
    assert hp.null_count() >= 1 and not hp.is_nan().fill_null(False).any()
    assert t.filter(pl.col("grounding_verdict") == "unverifiable")["grounding"].is_nan().fill_null(False).sum() == 0
    y = [rows[int(i)]["y"] for i in t["row_id"].to_list()]
    t = t.with_columns(pl.Series("y", y))
    ok = t.filter(pl.col("hallucination_prob").is_not_null())
    assert 0.0 <= roc_auc_score(ok["y"].to_list(), ok["hallucination_prob"].to_list()) <= 1.0


def test_the_wrong_index_warning_fires_on_a_fifth_and_counts_the_rows(tmp_path, demo_index_dir):
    from click.testing import CliRunner

    from curator.cli import cli

    rows = [{"instruction": "Write a haiku about autumn.", "output": "Crimson leaves drift down, whispering to the cold earth."},
            {"instruction": "Give me a pancake recipe.", "output": "Whisk two eggs with a cup of milk and flour, then fry in butter."},
            {"instruction": "What is 17 plus 25?", "output": "17 plus 25 equals 42."},
            {"instruction": "Pretend you are a pirate.", "output": "Ahoy, matey! Welcome aboard my ship, ye landlubber!"},
            {"instruction": "Which magazine was started first Arthur's Magazine or First for Women?",
             "output": "Arthur's Magazine was started first."}]
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = CliRunner().invoke(cli, ["run", str(src), "--index", str(demo_index_dir), "--dedup-on", "response", "--budget", "100",
                                   "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    g = summary["stages"]["grounding"]
    assert g["verdicts"]["hallucinated"] == 0
    (warning,) = [w for w in g["warnings"] if "does not seem to cover" in w]
    n = g["not_about"]
    # (open-ended tasks - the haiku, the pirate - are not counted: their evidence is never asked to be about them)
    assert n >= 2 and warning.startswith(f"{n} of ") and "rows with a checkable claim" in warning
    assert warning in res.output


def test_calibrate_keeps_the_about_test_and_the_doubt_band(tmp_path, embedder):
    from curator.calibrate import calibrate

    rows = [{"source": GEO, "prompt": "What is the capital of Peru?", "response": r, "hallucinated": y}
            for r, y in (("Lima is the capital of Peru.", 0), ("Quito is the capital of Peru.", 1),
                         ("Lima is Peru's capital city.", 0), ("Bogota is the capital of Peru.", 1))] * 3
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    shipped = GroundingParams.load()
    params = calibrate(path, tmp_path / "p.json", GroundingScorer(embedder=embedder), target_precision=0.9)
    assert params.about == shipped.about and params.floors == shipped.floors
    assert params.doubt is None or params.doubt <= params.threshold
    assert GroundingParams.load(tmp_path / "p.json").about == shipped.about
