import json

import pytest
from click.testing import CliRunner

from curator.calibrate import calibrate, threshold_for_precision
from curator.cli import cli
from curator.errors import InputError
from curator.grounding import GroundingParams, GroundingScorer, PairInput

from .conftest import DEMO


def labelled(tmp_path, n=60):
    src = {json.loads(x)["id"]: json.loads(x)["text"] for x in open(DEMO / "sources.jsonl")}
    rows = [json.loads(x) for x in open(DEMO / "pairs.jsonl")][:n]
    # The demo pairs come 2-3 per source, in source order.
    out = tmp_path / "labels.jsonl"
    with open(out, "w") as fh:
        for r in rows:
            doc = int(r["id"].split("-")[-2])
            fh.write(json.dumps({"source": src[f"doc{doc:03d}"], "prompt": r["question"], "response": r["answer"],
                                 "hallucinated": r["hallucinated"]}) + "\n")
    return out


def test_calibrate_fits_params_that_the_scorer_uses(tmp_path, embedder):
    path = labelled(tmp_path)
    params = calibrate(path, tmp_path / "p.json", GroundingScorer(embedder=embedder), target_precision=0.9)
    assert GroundingParams.load(tmp_path / "p.json").coef == params.coef
    scorer = GroundingScorer(embedder=embedder, params=tmp_path / "p.json")
    src = "Paris is the capital of France."
    good, bad = scorer.score([PairInput("Capital of France?", "Paris", src), PairInput("Capital of France?", "Lyon", src)])
    assert good.hallucination_prob < bad.hallucination_prob


def test_calibrate_cli_and_bad_labels(tmp_path):
    path = labelled(tmp_path, n=30)
    res = CliRunner().invoke(cli, ["calibrate", str(path), "-o", str(tmp_path / "p.json")])
    assert res.exit_code == 0, res.output
    assert "in-sample AUROC" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "x", "response": "y"}\n')
    with pytest.raises(InputError, match="missing field 'hallucinated'"):
        calibrate(bad)


def test_threshold_for_precision():
    import numpy as np

    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.1, 0.6, 0.55, 0.8, 0.9])
    assert threshold_for_precision(y, p, 1.0) == pytest.approx(0.61)
