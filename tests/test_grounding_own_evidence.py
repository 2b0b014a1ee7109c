"""Issue 21, own-evidence rows as users bring them: closed QA / extraction / summaries with a
`context` (Dolly-style) and tool-calling chats whose tool results are in the row (Glaive-style).
Rows written for these tests (no dataset text): faithful answers in other words must not be
flagged; a changed date, place or value must be flagged, or at least listed as doubtful (worth
reading: the precision-first threshold leaves some there)."""

import json

import pytest

from .cli_helpers import run

CTX_AIR = ("Blue Heron Air is an airline based in Halifax. It began flying on 14 May 2003 with three "
           "turboprops on two routes. After a rival went bankrupt in 2009 it became the largest carrier "
           "in the region.")
CTX_TOUR = "The choir's tour opened in Porto, went on to Seville and Valencia, and closed in Lyon after four weeks."
CTX_FISH = ("The axolotl is a salamander that keeps its larval features as an adult. It lives only in the lakes "
            "around Mexico City and can regrow lost limbs.")

CONTEXT_ROWS = [  # (instruction, context, response, hallucinated)
    ("When did Blue Heron Air start flying?", CTX_AIR,
     "Blue Heron Air began flying on 14 May 2003, with three turboprops serving two routes.", False),
    ("What made Blue Heron Air the largest carrier in the region?", CTX_AIR,
     "It became the region's largest carrier after a rival airline went bankrupt in 2009.", False),
    ("List the cities of the tour, separated by commas.", CTX_TOUR, "Porto, Seville, Valencia, Lyon", False),
    ("How long did the tour last?", CTX_TOUR, "The tour lasted four weeks.", False),
    ("Summarize the passage about the axolotl.", CTX_FISH,
     "The axolotl, a salamander that stays larval in form as an adult, lives only in the lakes around Mexico "
     "City and can regrow limbs it loses.", False),
    ("When did Blue Heron Air start flying?", CTX_AIR, "Blue Heron Air began flying on 2 June 1998.", True),
    ("Where did the tour close?", CTX_TOUR, "The tour closed in Madrid.", True),
    ("Where does the axolotl live?", CTX_FISH, "The axolotl lives only in the rivers around Lima.", True),
]


def _chat(question, call, result, answer):
    return {"conversations": [{"from": "human", "value": question},
                              {"from": "function_call", "value": json.dumps(call)},
                              {"from": "observation", "value": json.dumps(result)},
                              {"from": "gpt", "value": answer}], "tools": "[]"}


TOOL_ROWS = [  # (row, hallucinated)
    (_chat("What's the share price of Contoso?", {"name": "get_stock_price", "arguments": {"symbol": "CTSO"}},
           {"stock_price": "88.12"}, "Contoso (CTSO) is trading at $88.12 right now."), False),
    (_chat("What's the weather in Oslo?", {"name": "get_weather", "arguments": {"city": "Oslo"}},
           {"temperature": 7, "condition": "light rain", "humidity": 81},
           "In Oslo it is currently 7 degrees with light rain and 81% humidity."), False),
    (_chat("How far is Lyon from Geneva?", {"name": "get_distance", "arguments": {"a": "Lyon", "b": "Geneva"}},
           {"distance_km": 151}, "Lyon is about 151 km from Geneva."), False),
    (_chat("What's the share price of Contoso?", {"name": "get_stock_price", "arguments": {"symbol": "CTSO"}},
           {"stock_price": "88.12"}, "The stock price of Contoso is $81.28."), True),
    (_chat("What's the weather in Oslo?", {"name": "get_weather", "arguments": {"city": "Oslo"}},
           {"temperature": 7, "condition": "light rain"}, "In Oslo it is currently 17 degrees with light rain."), True),
]


def _caught(g):
    return g["grounding_verdict"] == "hallucinated" or any(
        x["verdict"] in ("unsupported", "doubtful") for x in g["sentences"])


def _verdicts(tmp_path, name, rows, *args):
    src = tmp_path / f"{name}.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / f"{name}_out.jsonl"
    code, output = run("score", src, "-o", out, *args)
    assert code == 0, output
    return [json.loads(x)["curator"] for x in out.read_text().splitlines()]


def test_context_rows_flag_only_what_the_context_contradicts(tmp_path):
    rows = [{"instruction": i, "context": c, "response": r} for i, c, r, _ in CONTEXT_ROWS]
    got = _verdicts(tmp_path, "ctx", rows, "--source-field", "context")
    # "rivers around Lima" for "lakes around Mexico City": doubtful (0.66) until the name rule
    # (names.name_mismatch, 2026-12-08) read "Lima" in the slot of "Mexico City"
    assert [g["grounding_verdict"] == "hallucinated" for g in got] == [False] * 5 + [True] * 3


def test_tool_chats_flag_only_a_misread_result(tmp_path):
    got = _verdicts(tmp_path, "tools", [r for r, _ in TOOL_ROWS])
    assert not any(g["grounding_verdict"] == "hallucinated" for (_, h), g in zip(TOOL_ROWS, got) if not h)
    assert all(_caught(g) for (_, h), g in zip(TOOL_ROWS, got) if h), [g["sentences"] for g in got[3:]]


@pytest.mark.xfail(strict=True, reason="known gap (benchmarks/RESULTS.md): a misread tool value phrased in words the "
                   "record does not use ('trading at' for stock_price) is not about the record, so unverifiable")
def test_a_misread_value_in_other_words_is_caught(tmp_path):
    row = _chat("What's the share price of Contoso?", {"name": "get_stock_price", "arguments": {"symbol": "CTSO"}},
                {"stock_price": "88.12"}, "Contoso's stock is trading at $81.28 right now.")
    (g,) = _verdicts(tmp_path, "gap", [row])
    assert _caught(g)
