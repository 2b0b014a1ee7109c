"""Issue 22 item 11: tool-calling data is not handled as prose data.

* Without --index or --source-field, `curator run`/`score` on tool-calling rows grounds each answer
  in the tool results its row carries, marks the other rows unverifiable and says so in one line
  (prose rows alone are still refused before any work).
* A refusal that the offered tools justify (Glaive: "I can't book flights; my function gets
  exchange rates") is a correct answer, not a quality:refusal drop.
* Without --model, a run on an index says in one line which model it uses (the index's)."""

import json

import pytest
from click.testing import CliRunner

from curator.cli import cli

WEATHER_CALL = {"from": "function_call", "value": json.dumps({"name": "get_weather", "arguments": {"city": "Lima"}})}
WEATHER_RESULT = {"from": "observation", "value": json.dumps({"temp_c": 19, "sky": "cloudy"})}
SHAREGPT = [
    {"id": "tool_ok", "conversations": [{"from": "human", "value": "What's the weather in Lima?"}, WEATHER_CALL,
                                        WEATHER_RESULT, {"from": "gpt", "value": "It is 19 degrees Celsius and cloudy in Lima."}]},
    {"id": "tool_bad", "conversations": [{"from": "human", "value": "What's the weather in Lima?"}, WEATHER_CALL,
                                         WEATHER_RESULT, {"from": "gpt", "value": "It is 31 degrees Celsius and sunny in Lima."}]},
    {"id": "plain", "conversations": [{"from": "human", "value": "Name a primary colour."}, {"from": "gpt", "value": "Red is a primary colour."}]},
]
OPENAI = [
    {"id": "tool_ok", "messages": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"temp_c\": 18}"},
        {"role": "assistant", "content": "It is 18 °C in Paris."}]},
    {"id": "tool_bad", "messages": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"temp_c\": 18}"},
        {"role": "assistant", "content": "It is 25 °C in Paris."}]},
    {"id": "plain", "messages": [{"role": "user", "content": "Name a primary colour."},
                                 {"role": "assistant", "content": "Red is a primary colour."}]},
]
EXCHANGE = '[{"name": "get_exchange_rate", "description": "Get the exchange rate between two currencies", ' \
           '"parameters": {"type": "object", "properties": {"base_currency": {"type": "string"}}}}]'
REFUSE_FLIGHT = ("I'm sorry, but I don't have the capability to book flights. My current function allows me to get "
                 "the exchange rate between two currencies. If you need help with that, feel free to ask!")
GLAIVE = [  # LLaMA-Factory glaive_toolcall rows (tools as a JSON string), one of them answered from a tool result
    {"id": "g_answer", "conversations": [
        {"from": "human", "value": "What is the exchange rate from USD to EUR?"},
        {"from": "function_call", "value": '{"name": "get_exchange_rate", "arguments": {"base_currency": "USD"}}'},
        {"from": "observation", "value": '{"rate": 0.92}'},
        {"from": "gpt", "value": "The exchange rate from USD to EUR is 0.92."}], "tools": EXCHANGE},
    {"id": "g_limit", "conversations": [{"from": "human", "value": "Can you book a flight for me from New York to London?"},
                                        {"from": "gpt", "value": REFUSE_FLIGHT}], "tools": EXCHANGE},
    {"id": "g_limit_system", "conversations": [
        {"from": "system", "value": "You are a helpful assistant with access to the following functions. Use them if "
                                    "required -\n" + json.dumps(json.loads(EXCHANGE)[0], indent=4)},
        {"from": "human", "value": "Can you book a flight for me to Paris?"},
        {"from": "gpt", "value": REFUSE_FLIGHT}]},
    # the offered tool can do it: the refusal is wrong, still a refusal
    {"id": "g_wrong_refusal", "conversations": [{"from": "human", "value": "Please book a flight for me to London."},
                                                {"from": "gpt", "value": "I'm sorry, but I can't do that with the "
                                                                         "functions I have."}],
     "tools": '[{"name": "book_flight", "description": "Book a flight"}]'},
    # no tools offered: an ordinary refusal
    {"id": "g_no_tools", "conversations": [{"from": "human", "value": "Can you book a flight for me to London?"},
                                           {"from": "gpt", "value": REFUSE_FLIGHT}]},
]


GLAIVE_OPENAI = [OPENAI[0], {  # an OpenAI row with a `tools` list
    "id": "g_limit_openai", "messages": [
        {"role": "user", "content": "Can you order a pizza for me?"},
        {"role": "assistant", "content": "I'm sorry, but I'm unable to perform external tasks like ordering a pizza. "
                                         "My capabilities are currently limited to the functions provided to me."}],
    "tools": [{"type": "function", "function": {"name": "calculate_tip", "description": "Calculate a tip"}}]}]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _records(out):
    return {json.loads(x)["id"]: json.loads(x)["curator"]
            for f in ("kept.jsonl", "dropped.jsonl") for x in (out / f).read_text().splitlines()}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATOR_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("rows", [SHAREGPT, OPENAI], ids=["sharegpt", "openai"])
def test_run_grounds_tool_rows_in_their_tool_results_without_an_index(tmp_path, rows):
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", str(_write(tmp_path / "t.jsonl", rows)), "-o", str(out), "--no-report"])
    assert res.exit_code == 0, res.output
    said = [x for x in res.stderr.splitlines() if x.startswith("no --index or --source-field")]
    assert len(said) == 1 and "(2 of 3 rows have them)" in said[0] and "unverifiable" in said[0], res.stderr
    got = _records(out)
    assert got["tool_ok"]["grounding_verdict"] == "supported" and got["tool_ok"]["evidence_mode"] == "source"
    assert got["tool_bad"]["grounding_verdict"] == "hallucinated" and got["tool_bad"]["drop_reason"] == "hallucinated"
    assert got["plain"]["grounding_verdict"] == "unverifiable" and "drop_reason" not in got["plain"]


def test_score_does_the_same(tmp_path):
    out = tmp_path / "s.jsonl"
    res = CliRunner().invoke(cli, ["score", str(_write(tmp_path / "t.jsonl", SHAREGPT)), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stderr.count("no --index or --source-field") == 1
    got = {json.loads(x)["id"]: json.loads(x)["curator"]["grounding_verdict"] for x in out.read_text().splitlines()}
    assert got == {"tool_ok": "supported", "tool_bad": "hallucinated", "plain": "unverifiable"}


@pytest.mark.parametrize("command", ["run", "score"])
def test_prose_rows_without_evidence_are_still_refused_before_any_work(tmp_path, command):
    rows = _write(tmp_path / "p.jsonl", [{"instruction": "Name a colour.", "output": "Red.", "doc": "d1"}])
    out = tmp_path / ("out" if command == "run" else "s.jsonl")
    res = CliRunner().invoke(cli, [command, str(rows), "-o", str(out)])
    assert res.exit_code == 2 and "give --index NAME" in res.output
    res = CliRunner().invoke(cli, [command, str(rows), "-o", str(out), "--source-id-field", "doc"])
    assert res.exit_code == 2 and "--source-id-field names documents of an index" in res.output
    assert not (out / "kept.jsonl").exists() and not (out.is_file())


def test_refusals_the_offered_tools_justify_are_answers(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", str(_write(tmp_path / "g.jsonl", GLAIVE)), "-o", str(out), "--no-report"])
    assert res.exit_code == 0, res.output
    got = _records(out)
    for rid in ("g_limit", "g_limit_system"):
        assert got[rid].get("drop_stage") != "quality" and got[rid]["refusal"] is False, (rid, got[rid])
        assert got[rid].get("quality_reason") is None
    for rid in ("g_wrong_refusal", "g_no_tools"):
        assert got[rid]["drop_reason"] == "refusal", (rid, got[rid])
    q = json.loads((out / "summary.json").read_text())["stages"]["quality"]
    assert q["tool_limit_answers"] == 2
    assert res.stderr.count("refusals kept as answers") == 1
    # OpenAI rows with a `tools` list
    out = tmp_path / "out2"
    res = CliRunner().invoke(cli, ["run", str(_write(tmp_path / "o.jsonl", GLAIVE_OPENAI)), "-o", str(out), "--no-report"])
    assert res.exit_code == 0, res.output
    got = _records(out)
    assert got["g_limit_openai"]["refusal"] is False and "drop_stage" not in got["g_limit_openai"], got


def test_a_run_on_an_index_names_the_model_it_uses(tmp_path):
    docs = _write(tmp_path / "docs.jsonl", [{"id": "d", "text": "Red is a primary colour. Green is not."}])
    index = tmp_path / "index"
    assert CliRunner().invoke(cli, ["index", "build", str(docs), "--out", str(index), "--id-field", "id"]).exit_code == 0
    pairs = _write(tmp_path / "p.jsonl", [{"instruction": "Name a primary colour.", "output": "Red is a primary colour."}])
    res = CliRunner().invoke(cli, ["run", str(pairs), "--index", str(index), "-o", str(tmp_path / "o"), "--no-report"])
    assert res.exit_code == 0, res.output
    lines = [x for x in res.stderr.splitlines() if x.startswith("model: ")]
    assert len(lines) == 1 and f"the one index {index} was built with" in lines[0], res.stderr
    res = CliRunner().invoke(cli, ["score", str(pairs), "--index", str(index), "-o", str(tmp_path / "s.jsonl"),
                                   "--model", "all-MiniLM-L6-v2"])
    assert res.exit_code == 0 and "the one index" not in res.stderr
    res = CliRunner().invoke(cli, ["-q", "run", str(pairs), "--index", str(index), "-o", str(tmp_path / "o2"), "--no-report"])
    assert res.exit_code == 0 and res.stderr == ""
