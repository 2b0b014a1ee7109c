"""train_verifier's budget knobs (layer cut, frozen embeddings, checkpoints, time limit) and the
int8 scoring path: tiny runs of the packaged base model on a handful of pairs."""

import json

import numpy as np
import pytest

from curator.errors import ConfigError
from curator.grounding import GroundingVerifier, train_verifier

SOURCE = ("The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It was designed by "
          "the engineering company of Gustave Eiffel. The tower is 330 metres tall.")
EX = [(SOURCE, "The tower is 330 metres tall.", 0), (SOURCE, "The tower is 120 metres tall.", 1),
      (SOURCE, "It was completed in 1889.", 0), (SOURCE, "It was completed in 1925.", 1)] * 2


@pytest.fixture(scope="module")
def cut_model(tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        out = train_verifier(EX, tmp_path_factory.mktemp("v") / "m", batch_size=2, max_length=48, num_layers=2,
                             freeze_embeddings=True, checkpoint_every=1, extra_meta={"data": {"kind": "test"}})
    finally:
        torch.set_num_threads(threads)
    return out


def test_layer_cut_model_loads_and_records_its_run(cut_model):
    cfg = json.loads((cut_model / "config.json").read_text("utf-8"))
    meta = json.loads((cut_model / "verifier_meta.json").read_text("utf-8"))
    assert cfg["num_hidden_layers"] == 2 and meta["num_layers"] == 2
    assert meta["steps_done"] == meta["steps_planned"] == 4 and meta["complete"] is True
    assert meta["freeze_embeddings"] is True and meta["data"] == {"kind": "test"}
    p = GroundingVerifier(cut_model, max_length=48).predict([c for _, c, _ in EX], [e for e, _, _ in EX])
    assert p.shape == (8,) and np.all((p > 0) & (p < 1))


def test_frozen_word_embeddings_stay_as_the_base(cut_model):
    from safetensors import safe_open

    from curator.grounding import base_model_dir

    key = "embeddings.word_embeddings.weight"
    with safe_open(str(cut_model / "model.safetensors"), framework="pt") as fh:
        trained = fh.get_tensor(next(k for k in fh.keys() if k.endswith(key)))
    with safe_open(str(base_model_dir() / "model.safetensors"), framework="pt") as fh:
        base = fh.get_tensor(next(k for k in fh.keys() if k.endswith(key)))
    assert np.array_equal(trained.float().numpy(), base.float().numpy())


def test_time_limit_stops_early_and_leaves_a_usable_model(tmp_path):
    out = train_verifier(EX, tmp_path / "m", batch_size=2, max_length=48, num_layers=1, max_minutes=1e-6)
    meta = json.loads((out / "verifier_meta.json").read_text("utf-8"))
    assert meta["steps_done"] == 1 and meta["steps_planned"] == 4 and meta["complete"] is False
    assert GroundingVerifier(out, max_length=48).predict(["It was completed in 1889."], [SOURCE]).shape == (1,)


def test_int8_scores_close_to_float32(cut_model):
    claims, ev = [c for _, c, _ in EX], [e for e, _, _ in EX]
    p32 = GroundingVerifier(cut_model, max_length=48).predict(claims, ev)
    p8 = GroundingVerifier(cut_model, max_length=48, quantize="int8").predict(claims, ev)
    assert p8.dtype == np.float32 and np.abs(p8 - p32).max() < 0.05


@pytest.mark.parametrize("bad", [{"quantize": "int4"}, {"quantize": "int8", "device": "cuda"}])
def test_bad_quantize_is_a_config_error(cut_model, bad):
    with pytest.raises(ConfigError):
        GroundingVerifier(cut_model, **bad)


def test_layer_cut_beyond_the_base_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        train_verifier(EX, tmp_path / "m", num_layers=7)
