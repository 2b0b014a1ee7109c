"""The GPU half of the verifier recipe (benchmarks/verifier_gpu.py), run on the CPU: NF4 round trip,
pair layout, budgeted LoRA training and the merge back, on a tiny random MPNet (smoke test, a few
seconds) and, marked slow, on the real all-mpnet-base-v2 when its reassembled folder is present."""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
gpu = pytest.importorskip("verifier_gpu")

SOURCE = ("The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It was designed by the "
          "engineering company of Gustave Eiffel. The tower is 330 metres tall.")


def test_nf4_round_trip_is_close_and_compact():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.05, (96, 128)).astype(np.float32)
    packed, absmax = gpu.nf4_quantize(w, 64)
    assert packed.dtype == np.uint8 and packed.size == w.size // 2 and absmax.size == w.size // 64
    back = gpu.nf4_dequantize(packed, absmax, w.shape, 64)
    assert back.shape == w.shape
    rel = np.linalg.norm(back - w) / np.linalg.norm(w)
    assert rel < 0.12  # NF4 on Gaussian weights: ~10 % relative error
    import torch

    back_t = gpu.nf4_dequantize_torch(torch.from_numpy(packed), torch.from_numpy(absmax), w.shape, 64)
    assert np.allclose(back_t.numpy(), back)
    assert np.array_equal(gpu.nf4_dequantize(*gpu.nf4_quantize(np.zeros(70)), (70,)), np.zeros(70))


def test_assemble_lays_out_and_cuts_the_longer_side_first():
    seg_tok = np.arange(100, 140, dtype=np.uint16)      # segment 0: 30 tokens, segment 1: 4, segment 2: 6
    seg_off = np.array([0, 30, 34, 40])
    tmpl = {"prefix": np.array([0]), "mid": np.array([2, 2]), "suffix": np.array([2]), "pad": 1, "type_b": False}
    ids, tt, lengths = gpu.assemble(seg_tok, seg_off, np.array([0, 1]), np.array([2, 2]), tmpl, max_length=20)
    assert lengths.tolist() == [20, 14]
    # evidence 30 + claim 6 > 16: the evidence is cut to 10 (down to the claim), then alternately
    assert ids[0].tolist() == [0, *range(100, 110), 2, 2, *range(134, 140), 2]
    assert ids[1, :14].tolist() == [0, 130, 131, 132, 133, 2, 2, *range(134, 140), 2] and (ids[1, 14:] == 1).all()


def test_auroc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200), 1)  # ties
    assert abs(gpu.auroc(y, s) - roc_auc_score(y, s)) < 1e-12
    assert np.isnan(gpu.auroc(np.ones(3), np.arange(3)))


def test_plan_steps_fits_the_budget_and_the_epoch_cap():
    assert gpu.plan_steps(100, 10.0, 60.0, 10_000) == 100 + int(10 * 50 * 0.95)
    assert gpu.plan_steps(100, 10.0, 60.0, 300) == 300
    assert gpu.plan_steps(100, 70.0, 60.0, 10_000) == 101


def tiny_mpnet(path: Path) -> Path:
    """A randomly initialised 2-layer MPNet with the packaged MiniLM tokenizer (BERT word pieces)."""
    from transformers import MPNetConfig, MPNetForMaskedLM

    from curator.grounding import base_model_dir

    cfg = MPNetConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=128, max_position_embeddings=130, pad_token_id=0)
    import torch

    torch.manual_seed(0)
    MPNetForMaskedLM(cfg).save_pretrained(str(path))
    src = base_model_dir()
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (src / f).is_file():
            shutil.copy(src / f, path / f)
    return path


def examples(n: int, seed: int = 0) -> list[tuple[str, str, int]]:
    rng = np.random.default_rng(seed)
    good = ["The tower is 330 metres tall.", "It was completed in 1889.", "It was designed by Gustave Eiffel's company."]
    bad = ["The tower is 120 metres tall.", "It was completed in 1925.", "It was designed by Gustave Moreau."]
    out = []
    for i in range(n):
        k = int(rng.integers(3))
        out.append((SOURCE, bad[k], 1) if i % 2 else (SOURCE, good[k], 0))
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import torch

    root = tmp_path_factory.mktemp("vgpu")
    base = tiny_mpnet(root / "base")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        man = gpu.write_pack(root / "pack", base, examples(1000), examples(40, 1),
                             eval_pairs=[(c, e) for e, c, _ in examples(10, 2)], max_length=48, log=lambda s: None)
        info = gpu.device_train(root / "pack", root / "out", budget_minutes=0.25, device="cpu", batch_size=32,
                                lr=2e-3, lora_r=4, lora_alpha=8, max_epochs=1, measure_seconds=2, warmup_steps=5,
                                log=lambda s: None)
    finally:
        torch.set_num_threads(threads)
    return root, base, man, info


def test_pack_is_small_and_self_describing(trained):
    root, _, man, _ = trained
    gpu_dir = root / "pack" / "gpu"
    assert sorted(p.name for p in gpu_dir.iterdir()) == ["base.safetensors", "config.json", "manifest.json",
                                                          "tokens.npz.xz"]
    assert man["summary"]["train"] == 1000 and man["summary"]["eval"] == 10
    assert man["template"]["prefix"] == [101] and man["template"]["mid"] == [102]  # [CLS] a [SEP] b [SEP]
    cfg = json.loads((gpu_dir / "config.json").read_text("utf-8"))
    assert cfg["id2label"] == {"0": "unsupported"} and cfg["architectures"] == ["MPNetForSequenceClassification"]
    z = gpu.load_tokens(gpu_dir)
    assert z["seg_tok"].dtype == np.uint16 and len(z["train_y"]) == 1000
    assert (root / "pack" / "local" / "eval_pairs.jsonl.gz").is_file()


def test_budgeted_training_measures_plans_and_writes_its_outputs(trained):
    root, _, _, info = trained
    out = root / "out"
    assert {"adapter.safetensors", "train_log.json", "dev_p.npy", "eval_p.npy"} <= {p.name for p in out.iterdir()}
    assert info["measured_steps"] >= 1 and info["planned_steps"] <= 32 and info["steps_done"] == info["planned_steps"]
    assert info["lora_layers"] == 2 * 6 and 0 <= info["dev_auroc"] <= 1
    assert np.load(out / "eval_p.npy").shape == (10,)
    log = json.loads((out / "train_log.json").read_text("utf-8"))
    assert log["steps_per_second"] > 0 and log["pack"]["train"] == 1000


def test_merge_gives_the_trained_function_and_a_loadable_verifier(trained, tmp_path):
    root, base, _, _ = trained
    tok, model, ainfo = gpu.merged_model(root / "pack", root / "out", base)
    assert gpu.check_merge(model, root / "pack", root / "out") < 1e-4  # float32 on both sides here
    model.save_pretrained(str(tmp_path / "m"), safe_serialization=True)
    tok.save_pretrained(str(tmp_path / "m"))
    from curator.grounding import GroundingVerifier

    p = GroundingVerifier(tmp_path / "m", max_length=48).predict(["The tower is 330 metres tall."], [SOURCE])
    assert p.shape == (1,) and 0 < p[0] < 1


MPNET = Path(os.environ.get("CURATOR_MPNET_DIR", "/work/mpnet/all-mpnet-base-v2"))


@pytest.mark.slow
@pytest.mark.skipif(not (MPNET / "model.safetensors").is_file(), reason="all-mpnet-base-v2 not reassembled here")
def test_real_mpnet_pack_trains_a_step_and_merges(tmp_path):
    import torch

    man = gpu.write_pack(tmp_path / "pack", MPNET, examples(64), examples(8, 1), max_length=64, log=lambda s: None)
    assert man["template"]["mid"] == [2, 2] and man["template"]["prefix"] == [0]  # <s> a </s></s> b </s>
    torch.set_num_threads(2)
    info = gpu.device_train(tmp_path / "pack", tmp_path / "out", budget_minutes=0.5, device="cpu", batch_size=8,
                            max_epochs=0.25, measure_seconds=5, warmup_steps=2, log=lambda s: None)
    assert info["lora_layers"] == 12 * 6 and info["steps_done"] >= 1
    _, model, _ = gpu.merged_model(tmp_path / "pack", tmp_path / "out", MPNET)
    assert gpu.check_merge(model, tmp_path / "pack", tmp_path / "out", n=8) < 1e-3


def test_the_device_and_merge_commands_end_to_end(trained, tmp_path, monkeypatch, capsys):
    """``verifier_train.py --device-run`` then ``--merge``, as the GPU session runs them (on the CPU)."""
    import gzip

    recipe = pytest.importorskip("verifier_train")
    root, base, _, _ = trained
    monkeypatch.setattr(sys, "argv", ["verifier_train.py", "--device-run", str(root / "pack"), "--out",
                                      str(tmp_path / "res"), "--device", "cpu", "--budget-minutes", "0.1",
                                      "--max-epochs", "0.05", "--measure-seconds", "1", "--lora-r", "2"])
    recipe.main()
    log = json.loads((tmp_path / "res" / "train_log.json").read_text("utf-8"))
    assert log["steps_done"] == 1 and log["lora"]["r"] == 2
    monkeypatch.setattr(sys, "argv", ["verifier_train.py", "--merge", str(tmp_path / "res"), "--pack",
                                      str(root / "pack"), "--base", str(base), "--out", str(tmp_path / "model"),
                                      "--fp16"])
    recipe.main()
    meta = json.loads((tmp_path / "model" / "verifier_meta.json").read_text("utf-8"))
    assert meta["dtype"] == "float16" and meta["merge_check_max_abs_diff"] < 1e-4
    with gzip.open(tmp_path / "model_scores.jsonl.gz", "rt", encoding="utf-8") as fh:
        scores = [json.loads(line) for line in fh]
    assert len(scores) == 10 and {"claim", "evidence", "p"} <= set(scores[0])
    assert "GPU scores" in capsys.readouterr().out
