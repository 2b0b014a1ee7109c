"""Tests of curator.quality: each signal, each drop reason, the quality score and validation."""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import curator.quality as quality_module
from curator.errors import ConfigError
from curator.quality import (
    QUALITY_REASONS,
    QualityScorer,
    has_template_leak,
    is_refusal,
    repetition,
)

DATA = Path(__file__).resolve().parent / "data"

COLUMNS = (
    "response_words", "instruction_words", "repetition", "refusal", "template_leak",
    "relevance", "quality", "quality_reason",
)
PARAGRAPH = (
    "Photosynthesis lets plants turn light into chemical energy. Chlorophyll in the leaves "
    "absorbs sunlight, and the plant uses that energy to combine carbon dioxide from the air "
    "with water from the soil into glucose, releasing oxygen as a by-product."
)


def reasons(instructions, responses, **kwargs):
    return QualityScorer(**kwargs).score(instructions, responses)["quality_reason"]


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


# -- shape and types -----------------------------------------------------------------------------
def test_every_column_has_one_entry_per_pair_and_the_documented_type():
    cols = QualityScorer().score(["Q1?", "Q2?", "Q3?"], ["A1.", "", PARAGRAPH])
    assert set(cols) == set(COLUMNS)
    assert all(len(cols[c]) == 3 for c in COLUMNS)
    assert cols["response_words"].dtype == np.int64 and cols["instruction_words"].dtype == np.int64
    assert cols["refusal"].dtype == bool and cols["template_leak"].dtype == bool
    for c in ("repetition", "relevance", "quality"):
        assert cols[c].dtype == np.float64
    assert cols["response_words"].tolist() == [1, 0, len(PARAGRAPH.split())]
    assert cols["instruction_words"].tolist() == [1, 1, 1]
    assert isinstance(cols["quality_reason"], list)
    assert set(QUALITY_REASONS) >= {r for r in cols["quality_reason"] if r}


def test_empty_input_gives_empty_columns():
    cols = QualityScorer().score([], [], np.zeros((0, 4)), np.zeros((0, 4)))
    assert all(len(cols[c]) == 0 for c in COLUMNS)


def test_scoring_is_deterministic():
    args = (["Explain photosynthesis.", "Say hi."], [PARAGRAPH, "Hi!"])
    a, b = QualityScorer().score(*args), QualityScorer().score(*args)
    for c in COLUMNS:
        assert np.array_equal(np.asarray(a[c]), np.asarray(b[c]), equal_nan=c == "relevance")


# -- empty -------------------------------------------------------------------------------------
def test_empty_or_whitespace_or_null_response_is_empty_response():
    got = reasons(["Say hi."] * 3, ["", " \n\t ", None])
    assert got == ["empty_response"] * 3


def test_empty_instruction_and_the_response_reason_comes_first():
    got = reasons(["", "  ", ""], ["Hello there.", "Hello there.", ""])
    assert got == ["empty_instruction", "empty_instruction", "empty_response"]
    assert QualityScorer().score([""], ["Hello."])["quality"][0] == 0.0


def test_a_response_without_word_characters_is_not_empty():
    # Self-Instruct answers a chat with emojis only: zero words, but not empty.
    cols = QualityScorer().score(["Reply with emojis."], ["- 😌😊"])
    assert cols["quality_reason"] == [None] and cols["response_words"][0] == 0


def test_non_string_values_are_rejected():
    with pytest.raises(TypeError, match=r"responses\[1\] must be a string or None"):
        QualityScorer().score(["a", "b"], ["x", 3])


# -- short answers ---------------------------------------------------------------------------------
def test_short_factual_answers_pass_with_full_quality():
    instructions = ["What is the capital of France?", "How many legs does a spider have?",
                    "Is the sentence toxic?\n\nYou are a bastard.", "Which came first?"]
    responses = ["Paris", "8", "Yes", "Arthur's Magazine"]
    cols = QualityScorer().score(instructions, responses)
    assert cols["quality_reason"] == [None] * 4
    assert cols["quality"].tolist() == [1.0] * 4


def test_paris_is_not_off_topic_even_with_a_low_relevance():
    # A one-word answer is far from its question in embedding space; it must not be judged.
    i, r = unit(1, 0, 0), unit(-1, 1, 0)
    cols = QualityScorer().score(["What is the capital of France?"], ["Paris"], i[None], r[None])
    assert cols["relevance"][0] < 0
    assert cols["quality_reason"] == [None] and cols["quality"][0] == 1.0


# -- too long ------------------------------------------------------------------------------------
def test_too_long_fires_only_above_max_response_words():
    text = " ".join(f"w{i}" for i in range(50))
    assert reasons(["Go."] * 2, [text, text], max_response_words=49) == ["too_long", "too_long"]
    assert reasons(["Go."], [text], max_response_words=50) == [None]
    q = QualityScorer(max_response_words=25).score(["Go."], [text])["quality"][0]
    assert q == pytest.approx(0.5)


# -- refusal -------------------------------------------------------------------------------------
REFUSALS = [
    "As an AI language model, I cannot browse the internet.",
    "I'm sorry, but I cannot help with that.",
    "I’m sorry, but I can’t assist with that request.",  # curly apostrophes
    "I can't assist with that.",
    "Sorry, I can't help with creating malware.",
    "I am sorry, but I am not programmed to have access to real-time information.",
    "I'm unable to provide medical advice. Please consult a doctor.",
    "Unfortunately, I am an AI language model, and I do not have the capability to edit images.",
    "As an AI, I don't have personal experiences, but here is a typical one.",
    "I'm an AI and do not have personal preferences.",
    "I must respectfully decline to write that.",
    "I cannot provide ways of hurting yourself or others because it is dangerous.",
    "You are requesting personal information. Due to privacy concerns, I cannot answer this.",
    "Sorry, the task involves personal information. We cannot complete this task.",
    "I'm sorry, but I don't have access to external articles.",
    "That request goes against my guidelines.",
    "It is not appropriate for me to speculate about a private person.",
    "I won't generate that content.",
    "As an AI assistant I don't have access to real-time information.",
    "I am an AI assistant, so I don't really have any musical preferences.",
]
NOT_REFUSALS = [
    "I'm sorry to hear that you're feeling lonely. Here are some ways to make friends.",
    "I'm sorry, but I'm unable to come into work today due to a migraine.",  # a requested excuse
    "I can't wait to see you again!",
    "I can't help but feel a sense of wonder.",
    "I can't believe it's been ten years.",
    "I will not succeed.",  # "make this statement negative"
    "The novel is twisty and full of surprises. I can't recommend it highly enough!",
    "I am an AI language model developed by Meta. Feel free to ask me anything.",
    "As an AI assistant, I would guide the customer through the checkout step by step.",
    "Sorry for the confusion. The issue is not the cost of MOOCs themselves.",
    "We're sorry to hear the color wasn't what you expected. Please contact support.",
    "I couldn't answer him; the words stuck in my throat.",  # narrative, past tense
    "Language models have shown impressive results on many benchmarks.",
    "Use `sorry` as the keyword; the function cannot be called twice.",
    "As an AI researcher, I don't think AGI is near.",  # a person, not a disclaimer
    "Dear Sam, I don't have feelings for you anymore.",
    "I don't have access to my account since Monday.",  # a complaint letter
    "I cannot support this plan: it doubles the budget.",  # an opinion essay
    "Paris",
    "",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_detected(text):
    assert is_refusal(text)


@pytest.mark.parametrize("text", NOT_REFUSALS)
def test_normal_text_with_sorry_or_cant_is_not_a_refusal(text):
    assert not is_refusal(text)


def test_refusal_only_looks_at_the_opening():
    story = PARAGRAPH * 3 + ' HAL said: "I\'m sorry, Dave. I cannot help you with that."'
    assert not is_refusal(story)


def test_refusal_drops_and_scores_low_unless_drop_refusals_is_false():
    cols = QualityScorer().score(["Tell me a secret."], ["I'm sorry, but I can't help with that."])
    assert cols["refusal"].tolist() == [True] and cols["quality_reason"] == ["refusal"]
    assert cols["quality"][0] == pytest.approx(0.2)
    kept = QualityScorer(drop_refusals=False).score(["Tell me a secret."], ["I can't assist."])
    assert kept["refusal"].tolist() == [True] and kept["quality_reason"] == [None]


# -- repetition ----------------------------------------------------------------------------------
def test_a_looping_response_is_repetitive():
    loop = "Sure! Here is the answer. " + "The answer is that the answer is the answer. " * 30
    assert repetition(loop) > 0.9
    assert reasons(["Explain."], [loop]) == ["repetitive"]
    assert QualityScorer().score(["Explain."], [loop])["quality"][0] < 0.15


def test_ordinary_prose_has_no_repetition_and_full_quality():
    assert repetition(PARAGRAPH) == 0.0
    cols = QualityScorer().score(["Explain photosynthesis."], [PARAGRAPH])
    assert cols["quality_reason"] == [None] and cols["quality"][0] == 1.0


def test_repeated_lines_count_but_short_code_lines_do_not():
    lines = "\n".join(["Buy one, get one free today!"] * 4)
    assert repetition(lines) == pytest.approx(0.75)
    code = "def f(x):\n    if x:\n        return 1\n    }\n    }\n    }\n    return 0"
    assert repetition(code) == 0.0


def test_max_repetition_is_the_threshold():
    twice = PARAGRAPH + " " + PARAGRAPH
    rep = repetition(twice)
    assert 0.4 < rep < 0.5
    assert reasons(["Explain."], [twice]) == [None]
    assert reasons(["Explain."], [twice], max_repetition=0.4) == ["repetitive"]


# -- relevance / off-topic -----------------------------------------------------------------------
def test_relevance_is_the_row_cosine_and_nan_without_both_embeddings():
    i = np.stack([unit(1, 0), unit(1, 1), unit(0, 1)]) * 3.0  # not unit length: still cosine
    r = np.stack([unit(1, 0), unit(1, 0), unit(0, -1)])
    cols = QualityScorer().score(["a", "b", "c"], ["x", "y", "z"], i, r)
    assert cols["relevance"] == pytest.approx([1.0, math.sqrt(0.5), -1.0])
    only_one = QualityScorer().score(["a"], ["x"], instruction_embeddings=i[:1])
    assert np.isnan(only_one["relevance"]).all()


def test_zero_vectors_give_nan_relevance_and_no_off_topic():
    # The pipeline fills rows it did not embed (empty texts) with zeros.
    z = np.zeros((1, 3), np.float32)
    cols = QualityScorer().score(["Explain."], [PARAGRAPH], z, z)
    assert np.isnan(cols["relevance"][0]) and cols["quality_reason"] == [None]


def test_off_topic_needs_enough_words_and_a_low_relevance():
    i, r = unit(1, 0)[None], unit(-1, 0.2)[None]
    assert reasons(["Explain."], [PARAGRAPH]) == [None]  # no embeddings: never off-topic
    cols = QualityScorer().score(["Explain."], [PARAGRAPH], i, r)
    assert cols["quality_reason"] == ["off_topic"] and cols["quality"][0] == pytest.approx(0.26, abs=0.01)
    assert QualityScorer(min_relevance=None).score(["Explain."], [PARAGRAPH], i, r)[
        "quality_reason"] == [None]
    assert QualityScorer(off_topic_min_words=100).score(["Explain."], [PARAGRAPH], i, r)[
        "quality_reason"] == [None]


def test_off_topic_with_the_real_embedder(embedder):
    instructions = ["Translate 'good morning' into Spanish."] * 3
    responses = [
        "Buenos días",
        "The derivative of x squared is two x, because the limit of the difference quotient "
        "((x + h) squared minus x squared) divided by h equals two x plus h, which tends to two "
        "x as h goes to zero.",
        "In Spanish, 'good morning' is 'buenos días'. People say it until about noon, then "
        "switch to 'buenas tardes' in the afternoon and 'buenas noches' at night, as a greeting.",
    ]
    cols = QualityScorer().score(
        instructions, responses, embedder.encode(instructions), embedder.encode(responses)
    )
    assert cols["quality_reason"] == [None, "off_topic", None]
    assert cols["relevance"][1] < 0.0 < cols["relevance"][2]
    assert cols["quality"][0] == 1.0 and cols["quality"][1] < cols["quality"][2]


def test_mismatched_lengths_and_shapes_are_errors():
    with pytest.raises(ValueError, match="same length"):
        QualityScorer().score(["a", "b"], ["x"])
    with pytest.raises(ValueError, match=r"shape \(2, dim\)"):
        QualityScorer().score(["a", "b"], ["x", "y"], np.ones((2, 3)), np.ones((1, 3)))


# -- template leak -------------------------------------------------------------------------------
def test_leaked_prompt_templates_are_flagged():
    leaked = [
        "Mauna Loa.\n\n#Question#: Which volcano is the largest?\n#Right Answer#: Mauna Loa",
        "Sure.\n### Instruction:\nWrite a poem.\n### Response:",
        "Hello!<|im_end|>\n<|im_start|>user",
        "[INST] Tell me more [/INST]",
    ]
    assert all(has_template_leak(t) for t in leaked)
    assert reasons(["Q?"] * 4, leaked) == ["template_leak"] * 4
    ok = ["## Answer\nParis", "# Title\nUse C# or F#: both work.", "Tag #Wanderlust #travel"]
    assert not any(has_template_leak(t) for t in ok)
    assert QualityScorer(drop_template_leaks=False).score(["Q?"], leaked[:1])[
        "quality_reason"] == [None]


def test_reason_order_follows_quality_reasons():
    text = "I can't assist with that. " * 40  # too long, refusal and repetitive at once
    got = reasons([""], [text], max_response_words=10)
    assert got == ["empty_instruction"]
    assert reasons(["Q?"], [text], max_response_words=10) == ["too_long"]
    assert reasons(["Q?"], [text]) == ["refusal"]
    assert reasons(["Q?"], [text], drop_refusals=False) == ["repetitive"]


# -- parameters ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_repetition": 1.5},
         "The 'max_repetition' parameter of QualityScorer must be a float in [0, 1]. Got 1.5."),
        ({"max_response_words": 0},
         "The 'max_response_words' parameter of QualityScorer must be a positive int. Got 0."),
        ({"max_response_words": 10.0},
         "The 'max_response_words' parameter of QualityScorer must be a positive int. Got 10.0."),
        ({"min_relevance": "high"},
         "The 'min_relevance' parameter of QualityScorer must be a float in [-1, 1] or None. "
         "Got 'high'."),
        ({"off_topic_min_words": -1},
         "The 'off_topic_min_words' parameter of QualityScorer must be a non-negative int. "
         "Got -1."),
        ({"drop_refusals": "yes"},
         "The 'drop_refusals' parameter of QualityScorer must be a bool. Got 'yes'."),
    ],
)
def test_invalid_parameters_raise_on_score_not_in_the_constructor(kwargs, message):
    scorer = QualityScorer(**kwargs)  # sklearn style: the constructor only stores
    assert all(getattr(scorer, k) == v for k, v in kwargs.items())
    with pytest.raises(ConfigError) as err:
        scorer.score(["Q?"], ["A."])
    assert str(err.value) == message


def test_repr_shows_the_parameters():
    assert "max_repetition=0.3" in repr(QualityScorer(max_repetition=0.3))


# -- properties ----------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=80), st.text(max_size=300)), max_size=6))
def test_signals_stay_in_range_for_any_text(pairs):
    cols = QualityScorer(max_response_words=20).score([p[0] for p in pairs], [p[1] for p in pairs])
    assert all(len(cols[c]) == len(pairs) for c in COLUMNS)
    assert ((cols["quality"] >= 0) & (cols["quality"] <= 1)).all()
    assert ((cols["repetition"] >= 0) & (cols["repetition"] <= 1)).all()
    for (_ins, resp), reason, q in zip(pairs, cols["quality_reason"], cols["quality"]):
        assert reason is None or reason in QUALITY_REASONS
        if not resp.strip():
            assert reason == "empty_response" and q == 0.0


def test_module_doctests():
    assert doctest.testmod(quality_module).failed == 0


# -- real data -----------------------------------------------------------------------------------
def test_self_instruct_slice_drops_only_the_two_privacy_refusals():
    rows = [json.loads(line) for line in (DATA / "self_instruct_slice.jsonl").open(encoding="utf-8")]
    prompts = [r["instruction"] + ("\n\n" + r["input"] if r["input"].strip() else "") for r in rows]
    cols = QualityScorer().score(prompts, [r["output"] for r in rows])
    dropped = {r["id"]: why for r, why in zip(rows, cols["quality_reason"]) if why}
    assert dropped == {"seed_task_115-0": "refusal", "seed_task_120-0": "refusal"}
    short = cols["response_words"] <= 2
    assert short.sum() >= 10 and (cols["quality"][short] == 1.0).all()
    # The lowest kept row is an IPv4 regex whose repeated octet pattern reads as repetition 0.37.
    kept = np.array([why is None for why in cols["quality_reason"]])
    assert (cols["quality"][kept] >= 0.75).all()


def test_a_refusal_drop_names_the_words_that_read_as_one(tmp_path, embedder):
    # New-user trial (2026-12-07): refusal drops had an empty drop_detail.
    from curator.pipeline import Pipeline
    from curator.records import read_pairs
    from curator.steps import QualityStep

    rows = [{"instruction": "What is your favourite sight in Rome?",
             "output": "As an AI, I don't have personal preferences, but the Colosseum and the Pantheon are popular."},
            {"instruction": "Name a sight in Rome.", "output": "The Pantheon is a former Roman temple in Rome."}]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = Pipeline([QualityStep()], embedder=embedder).run(read_pairs(str(src))).table
    assert t["drop_reason"].to_list() == ["refusal", None]
    assert "As an AI, I don't" in t["drop_detail"][0]
