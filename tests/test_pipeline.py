"""End-to-end: the demo slice through every stage, and the row-accounting invariant."""

import json

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curator import records as R
from curator.pipeline import DedupStep, GroundingStep, Pipeline, QualityStep, RunContext, SelectStep
from curator.records import FieldMap, pairs_from_records, read_pairs

from .conftest import DEMO


@pytest.fixture(scope="module")
def demo_result(demo_index_dir, embedder):
    data = read_pairs(str(DEMO / "pairs.jsonl"))
    steps = [QualityStep(), GroundingStep(index=str(demo_index_dir)), DedupStep(), SelectStep(budget=60)]
    return Pipeline(steps, embedder=embedder).run(data)


def test_every_row_is_kept_or_dropped_exactly_once(demo_result):
    t = demo_result.table
    n = sum(1 for _ in open(DEMO / "pairs.jsonl"))
    assert t.height == n
    kept, dropped = demo_result.kept, demo_result.dropped
    assert kept.height + dropped.height == n
    assert sorted(kept[R.ROW_ID].to_list() + dropped[R.ROW_ID].to_list()) == list(range(n))
    assert dropped[R.DROP_REASON].null_count() == 0 and dropped[R.DROP_STAGE].null_count() == 0
    s = demo_result.summary
    assert s["rows_in"] == n and s["kept"] == kept.height
    assert sum(st_["dropped"] for st_ in s["stages"].values()) == dropped.height
    assert sum(s["drop_reasons"].values()) == dropped.height
    for name, st_ in s["stages"].items():
        assert sum(st_["reasons"].values()) == st_["dropped"], name


def test_grounding_removes_most_hallucinated_answers(demo_result):
    t = demo_result.table
    labels = np.array([r["hallucinated"] for r in R.record_dicts(t)])
    kept = t[R.DROP_STAGE].is_null().to_numpy()
    # The input is 2/3 hallucinated; what survives must be mostly faithful.
    assert labels.mean() > 0.6
    assert labels[kept].mean() < 0.2
    from sklearn.metrics import roc_auc_score

    # Unverifiable rows (retrieved evidence below the floor) have no probability: count them as 0.
    assert roc_auc_score(labels, np.nan_to_num(t[R.HALLUCINATION_PROB].to_numpy(), nan=0.0)) > 0.85


def test_budget_and_dedup_are_respected(demo_result):
    assert demo_result.kept.height <= 60
    dups = demo_result.table.filter(pl.col(R.DROP_REASON) == "duplicate")
    kept_ids = set(demo_result.table.filter(pl.col(R.DROP_STAGE).is_null() | (pl.col(R.DROP_STAGE) == "select"))[R.ROW_ID])
    for row in dups.iter_rows(named=True):
        assert row[R.DUPLICATE_OF] in kept_ids


def test_write_outputs(demo_result, tmp_path):
    paths = demo_result.write(tmp_path)
    kept = [json.loads(line) for line in open(paths["kept"])]
    dropped = [json.loads(line) for line in open(paths["dropped"])]
    assert len(kept) + len(dropped) == demo_result.table.height
    assert {"id", "question", "answer", "hallucinated", "curator"} <= set(kept[0])
    assert all(d["curator"]["drop_reason"] and d["curator"]["drop_stage"] for d in dropped)
    assert pl.read_parquet(paths["scores"]).height == demo_result.table.height
    summary = json.loads(open(paths["summary"]).read())
    assert summary["kept"] == len(kept)
    assert "<html>" in open(paths["report"]).read()


texts = st.text(alphabet=st.sampled_from("abc xyz.\n"), min_size=0, max_size=30)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(texts, texts, st.booleans()), min_size=1, max_size=12))
def test_accounting_holds_for_any_input(embedder, rows):
    recs = [{"prompt": p, "response": r, "source": "abc xyz"} if ok else {"prompt": p} for p, r, ok in rows]
    recs.insert(0, {"prompt": "What is abc?", "response": "abc xyz", "source": "abc xyz"})
    rows = [None, *rows]
    data = pairs_from_records(recs, FieldMap(source="source"), on_error="skip")
    result = Pipeline([QualityStep(), GroundingStep(), DedupStep(), SelectStep(budget=3)], embedder=embedder).run(data)
    t = result.table
    assert t.height == len(rows)
    assert result.kept.height + result.dropped.height == len(rows)
    assert result.kept.height <= 3
    assert result.summary["kept"] + sum(s["dropped"] for s in result.summary["stages"].values()) == len(rows)


def test_conversation_is_as_grounded_as_its_worst_turn(embedder):
    rec = {"messages": [
        {"role": "user", "content": "When was the bridge built?"}, {"role": "assistant", "content": "It was built in 1932."},
        {"role": "user", "content": "How long is it?"}, {"role": "assistant", "content": "It is 9 kilometres long."}],
        "context": "The bridge was built in 1932. It is 2 kilometres long and crosses the bay."}
    ok = {"messages": rec["messages"][:2], "context": rec["context"]}
    result = Pipeline([GroundingStep()], embedder=embedder).run(pairs_from_records([rec, ok]))
    t = result.table
    assert t[R.N_SENTENCES].to_list() == [2, 1]
    assert t[R.HALLUCINATED].to_list() == [True, False]
    assert t[R.WORST_SENTENCE][0] == "It is 9 kilometres long."


def test_vectors_are_cached_only_when_a_later_step_reads_them():
    # Memory at scale: without grounding and with dedup/selection on the instruction, the
    # prompt vectors live once, in the run's shared float16 copy, and the quality step's
    # response vectors are used once and not kept; the outputs do not change.
    from curator.embed import Embedder

    recs = [{"prompt": f"Explain topic {i % 7} in a few words.",
             "response": f"Topic {i % 7} is about {'many things ' * (i % 3)}and item {i}."} for i in range(20)]
    data = pairs_from_records(recs, FieldMap())
    steps = [QualityStep(), DedupStep(), SelectStep(budget=5)]
    lean, full = Embedder(), Embedder()
    a = Pipeline(steps, embedder=lean).run(data)
    assert lean.cache_rows() == 0
    assert a.vectors.vecs.dtype == np.float16 and a.vectors.have.all() and len(a.vectors) == len(recs)
    want = lean.encode([r["prompt"] for r in recs], keep=False).astype(np.float16)
    assert np.array_equal(a.vectors.vecs, want)
    b = Pipeline([QualityStep(), DedupStep(on="response"), SelectStep(budget=5)], embedder=full).run(data)
    assert full.cache_rows() == len({r["response"] for r in recs})
    assert a.table["relevance"].to_list() == b.table["relevance"].to_list()
    # with grounding after quality, the prompts stay cached too (grounding embeds them again)
    assert QualityStep._prompts_read_later(RunContext(lean, later_steps=[GroundingStep(), DedupStep()]))
    assert not QualityStep._prompts_read_later(RunContext(lean, later_steps=[DedupStep(), SelectStep()]))


def test_quality_in_chunks_gives_the_same_table(embedder, monkeypatch):
    # QualityStep embeds and scores in chunks of rows (memory at a million rows); the chunk size
    # must not change a single value.
    recs = [{"prompt": p, "response": r} for p, r in [
        ("Say hi.", "hi"), ("Explain gravity.", "I'm sorry, but I cannot help with that."),
        ("List fruit.", "apple " * 40), ("Describe the sea.", "The sea is vast and deep. " * 6),
        ("", "orphan answer"), ("Name a colour.", ""), ("What is 2+2?", "4"),
    ] * 2]
    data = pairs_from_records(recs, FieldMap(), on_error="skip")
    whole = Pipeline([QualityStep()], embedder=embedder).run(data).table
    monkeypatch.setattr(QualityStep, "CHUNK", 3)
    chunked = Pipeline([QualityStep()], embedder=embedder).run(data).table
    assert chunked.equals(whole)


# -- --source-field input: an Alpaca input that says "no input" is no source -----------------------
_LIMA = "Lima is the capital of Peru, a country in South America."
_PLACEHOLDERS = ["<noinput>", "noinput", "No input.", "N/A", "none", ""]


def _alpaca_with_placeholders(tmp_path, question="Where is Lima?", answer="Lima is the capital of Peru."):
    recs = [{"instruction": question, "input": _LIMA, "output": answer}]
    recs += [{"instruction": question, "input": x, "output": answer} for x in _PLACEHOLDERS]
    src = tmp_path / "alpaca.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs), "utf-8")
    return src


def test_a_placeholder_input_is_not_the_evidence(tmp_path, embedder, demo_index_dir):
    src = _alpaca_with_placeholders(tmp_path)
    data = read_pairs(str(src), FieldMap(source="input"))
    t = Pipeline([GroundingStep(drop=False)], embedder=embedder).run(data).table
    assert t[R.EVIDENCE_MODE].to_list() == ["source"] + ["none"] * len(_PLACEHOLDERS)
    assert t[R.GROUNDING_VERDICT].to_list() == ["supported"] + ["unverifiable"] * len(_PLACEHOLDERS)
    # with an index, a placeholder row is grounded in retrieved passages, as a row without a source is
    src = _alpaca_with_placeholders(tmp_path, "Which magazine was started first, Arthur's Magazine or First for Women?",
                                    "Arthur's Magazine was started first.")
    data = read_pairs(str(src), FieldMap(source="input"))
    t = Pipeline([GroundingStep(index=str(demo_index_dir), drop=False)], embedder=embedder).run(data).table
    assert t[R.EVIDENCE_MODE].to_list() == ["source"] + ["index"] * len(_PLACEHOLDERS)
    rows = t.select(R.GROUNDING_VERDICT, R.CITATIONS, R.HALLUCINATION_PROB).rows()[1:]
    assert len(set(rows)) == 1 and rows[0][0] == "supported"  # each placeholder row is judged as the "" one


def test_a_placeholder_input_through_the_cli(tmp_path):
    from .cli_helpers import run

    src = _alpaca_with_placeholders(tmp_path)
    code, out = run("score", src, "--source-field", "input", "-o", tmp_path / "s.jsonl")
    assert code == 0, out
    assert f"{len(_PLACEHOLDERS)} pairs have no source text" in out
    rows = [json.loads(x)["curator"] for x in (tmp_path / "s.jsonl").read_text("utf-8").splitlines()]
    assert [r["evidence_mode"] for r in rows] == ["source"] + ["none"] * len(_PLACEHOLDERS)


def test_a_placeholder_input_is_no_part_of_the_prompt(embedder):
    """Quality, dedup (and grounding, above) read the prompt as instruction + input: "<noinput>"
    adds nothing to it, so such rows are exact duplicates of the one with an empty input."""
    ins, out = "Name three planets of the solar system.", "Mars, Venus and Earth are three planets."
    recs = [{"instruction": ins, "input": x, "output": out} for x in ["", "<noinput>", "No input.", "N/A"]]
    recs.append({"instruction": ins, "input": "Only gas giants, please.", "output": out})
    assert R.prompt_text(ins, "<noinput>") == ins and R.prompt_text(ins, "none.") == ins
    assert R.prompt_text(ins, "Only gas giants.") == f"{ins}\n\nOnly gas giants."
    t = Pipeline([QualityStep(), DedupStep(near=False, semantic=False)], embedder=embedder).run(
        pairs_from_records(recs)).table
    assert len(set(t["relevance"].to_list()[:4])) == 1
    assert t[R.DUPLICATE_OF].to_list() == [None, 0, 0, 0, None]


# -- every unverifiable row says why (unverifiable_reason), whatever kept it from being judged -----
_EIFFEL = ("The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It was designed by the "
           "engineering company of Gustave Eiffel. The tower is 330 metres tall.")
MIXED = [  # (instruction, response, context, the start of the reason; None: judged)
    ("When was the Eiffel Tower completed?", "It was completed in 1889.", _EIFFEL, None),
    ("When was the Eiffel Tower completed?", "It was completed in 1925.", _EIFFEL, None),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted the Mona Lisa in Florence.", _EIFFEL,
     "not about the evidence"),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted it.", "", "no evidence"),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted it.", "<noinput>", "no evidence"),
    ("Is the Eiffel Tower in Paris?", "Yes, it is.", _EIFFEL, "no checkable claim: only a bare yes or no"),
    ("Print hello in Python.", "```python\nprint('hello')\n```", _EIFFEL, "no checkable claim: only code"),
    ("How tall are 3 towers?", "Three towers are 3*330=990 metres tall.", _EIFFEL, "no checkable claim: only a calculation"),
    ("When was it completed?", "I don't know.", _EIFFEL, "no checkable claim: only a non-answer"),
    ("Name the tower's game.", "F.E.A.R.", _EIFFEL, "no checkable claim: only text without words"),
    ("Describe the tower.", "", _EIFFEL, "no checkable claim: the response is empty"),
    ("You are Gustave Eiffel. Greet the visitors.", "Welcome, friends, to my tower of iron and dreams!", _EIFFEL,
     "an open-ended task"),
    ("Where was it built?", "بُني البرج في باريس عام 1889.", _EIFFEL, "claims in Arabic script"),
]


def _check_reasons(t):
    for verdict, reason in t.select(R.GROUNDING_VERDICT, R.UNVERIFIABLE_REASON).rows():
        assert (verdict == "unverifiable") == bool(reason and reason.strip()), (verdict, reason)


def test_every_unverifiable_row_has_a_reason(tmp_path, embedder):
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps({"instruction": i, "output": o, "context": c}) + "\n" for i, o, c, _ in MIXED),
                   "utf-8")
    t = Pipeline([GroundingStep(drop=False)], embedder=embedder).run(read_pairs(str(src), FieldMap(source="context"))).table
    _check_reasons(t)
    assert t[R.GROUNDING_VERDICT].to_list()[:2] == ["supported", "hallucinated"]
    for (*_, want), got in zip(MIXED, t[R.UNVERIFIABLE_REASON].to_list()):
        assert (got is None) if want is None else got.startswith(want), (want, got)


def test_every_unverifiable_conversation_and_index_row_has_a_reason(embedder, demo_index_dir, demo_result):
    weather = json.dumps({"name": "get_weather", "arguments": {"city": "Lima"}})
    convs = [
        {"conversations": [{"from": "human", "value": "Weather in Lima?"}, {"from": "function_call", "value": weather}]},
        {"conversations": [{"from": "human", "value": "Is it in Paris?"}, {"from": "gpt", "value": "Yes."},
                           {"from": "human", "value": "Show it in code."}, {"from": "gpt", "value": "`x = 1`"}]},
        {"conversations": [{"from": "human", "value": "Is it in Paris?"}, {"from": "gpt", "value": "Yes."},
                           {"from": "human", "value": "When was it built?"}, {"from": "gpt", "value": "In 1889."}],
         "context": "The Mona Lisa hangs in the Louvre."},
    ]
    t = Pipeline([GroundingStep(index=str(demo_index_dir), drop=False)], embedder=embedder).run(
        pairs_from_records(convs)).table
    _check_reasons(t)
    why = t[R.UNVERIFIABLE_REASON].to_list()
    assert why[0].startswith("no checkable claim: the row holds only tool calls")
    assert why[1].startswith("answer 1: no checkable claim: only a bare yes or no")
    assert "; answer 2: no checkable claim: only code" in why[1]
    assert why[2].startswith("answer 1: no checkable claim") and "answer 2: not about the evidence" in why[2]
    # the demo with its index: retrieved passages about nothing it says, doubtful rows, yes/no answers
    t = demo_result.table
    _check_reasons(t)
    kinds = {r.split(":")[0] for r in t[R.UNVERIFIABLE_REASON].drop_nulls().to_list()}
    assert kinds == {"doubtful", "not about the evidence", "no checkable claim"}


def test_an_open_ended_task_says_so_with_an_index_too(embedder, demo_index_dir):
    """An open-ended task keeps its reason in index mode; one with nothing to check says that."""
    recs = [{"instruction": "Write a short poem about a magazine.", "output": "Arthur's Magazine sang of 1844, of ink."},
            {"instruction": "Write five multiplication problems.", "output": "1. 2 x 3 = ?\n2. 8 x 7 = ?"}]
    t = Pipeline([GroundingStep(index=str(demo_index_dir), drop=False)], embedder=embedder).run(
        pairs_from_records(recs)).table
    _check_reasons(t)
    why = t[R.UNVERIFIABLE_REASON].to_list()
    assert why[0].startswith("an open-ended task (creative writing)") and why[1].startswith("no checkable claim")
