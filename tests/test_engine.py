"""The Ray engine: same steps, same configuration, byte-identical outputs to the local engine.

Runs on a local Ray cluster started here (``ray.init(num_cpus=2)``), on the demo slice with
its index (retrieval-mode grounding) and a few rows with an own source (source mode)."""

from __future__ import annotations

import json

import pytest

from curator.engine import LocalEngine, RayEngine
from curator.errors import ConfigError
from curator.pipeline import DedupStep, GroundingStep, Pipeline, QualityStep, SelectStep
from curator.records import read_pairs

from .conftest import DEMO

ray = pytest.importorskip("ray", reason="the Ray engine needs `pip install 'curator[ray]'`")

OUTPUTS = ("kept.jsonl", "dropped.jsonl", "summary.json")


N_ROWS = 96  # a slice of the demo keeps the suite fast; 357 rows gave the same verdict


def _steps(index_dir):
    return [QualityStep(), GroundingStep(index=str(index_dir), batch_size=16), DedupStep(), SelectStep(budget=30)]


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory, demo_index_dir, ray_cluster):
    from curator.embed import Embedder

    pairs = tmp_path_factory.mktemp("in") / "pairs.jsonl"
    pairs.write_text("".join((DEMO / "pairs.jsonl").read_text().splitlines(keepends=True)[:N_ROWS]))
    data = read_pairs(str(pairs))
    out = {}
    for name, engine in (("local", LocalEngine()), ("ray", RayEngine(workers=2))):
        folder = tmp_path_factory.mktemp(name)
        # a fresh embedder each: nothing computed by one run is reused by the other
        res = Pipeline(_steps(demo_index_dir), embedder=Embedder(), engine=engine).run(data)
        res.write(folder, report=False)
        out[name] = (folder, res)
    return out


@pytest.mark.parametrize("name", OUTPUTS)
def test_ray_engine_writes_the_same_bytes_as_the_local_one(both_runs, name):
    local, ray_ = both_runs["local"][0] / name, both_runs["ray"][0] / name
    assert local.read_bytes() == ray_.read_bytes()


def test_the_run_did_real_work_on_the_workers(both_runs):
    folder, res = both_runs["ray"]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["rows_in"] == N_ROWS and summary["kept"] == 30
    assert summary["stages"]["grounding"]["evidence_modes"] == {"index": summary["stages"]["grounding"]["in"]}
    # the scores table (floats included) is identical too, not only what is written to JSON
    assert res.table.equals(both_runs["local"][1].table)


def test_source_mode_rows_and_errors_from_workers(tmp_path, ray_cluster):
    from curator.records import FieldMap, pairs_from_records

    recs = [{"instruction": f"What does note {i} say?", "output": f"Note {i} says the bridge opened in {1900 + i}.",
             "source": f"Note {i}. The bridge opened in {1900 + i} after {i} years of work."} for i in range(12)]
    data = pairs_from_records(recs, FieldMap(source="source"))
    steps = [QualityStep(), GroundingStep(batch_size=5), DedupStep(), SelectStep(budget=6)]
    a = Pipeline(steps, engine=LocalEngine()).run(data)
    b = Pipeline(steps, engine=RayEngine(workers=2)).run(data)
    assert a.table.equals(b.table) and a.summary == b.summary
    # a configuration error surfaces as the same one-line CuratorError, not a Ray traceback
    with pytest.raises(ConfigError, match="top_k"):
        Pipeline([GroundingStep(top_k=0)], engine=RayEngine(workers=1)).run(data)


def test_cli_run_engine_ray_writes_the_same_bytes_as_local(tmp_path, demo_index_dir, ray_cluster, monkeypatch):
    # End to end through the CLI: `curator run --engine ray` joins the cluster this module
    # started (and leaves it running), does its row-local work on the workers, and writes what
    # `--engine local` writes, byte for byte.
    from click.testing import CliRunner

    from curator.cli import cli

    monkeypatch.setenv("CURATOR_CACHE_DIR", "off")  # the Ray run must not read the local run's vectors
    calls: list[str] = []
    real = RayEngine.map_batches

    def spy(self, ctx, make, batches, desc="work", sizes=None):  # type: ignore[no-untyped-def]
        calls.append(desc)
        return real(self, ctx, make, batches, desc, sizes)

    monkeypatch.setattr(RayEngine, "map_batches", spy)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join((DEMO / "pairs.jsonl").read_text().splitlines(keepends=True)[:24]))
    outs = {}
    for name, extra in (("local", []), ("ray", ["--engine", "ray", "--workers", "2"])):
        outs[name] = tmp_path / name
        res = CliRunner().invoke(cli, ["-q", "run", str(pairs), "--index", str(demo_index_dir), "--budget", "10",
                                       "-o", str(outs[name]), "--no-report", *extra])
        assert res.exit_code == 0, res.output
    assert calls == ["embedding", "grounding"]  # quality's embeddings, then grounding, on the workers
    for f in OUTPUTS:
        assert (outs["local"] / f).read_bytes() == (outs["ray"] / f).read_bytes(), f
    assert json.loads((outs["ray"] / "summary.json").read_text())["rows_in"] == 24
    assert ray.is_initialized()  # a cluster the CLI joined is not shut down by it
