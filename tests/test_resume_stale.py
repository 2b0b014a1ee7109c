"""Issue 22 item 5: a resumed run never reuses stale results.

The same `curator run` resumes (and says "resumed from ...") only when everything its results
depend on is unchanged; after `index add`, `index build --force`, an edited `--params` file,
another field mapping, backend or setting, it recomputes and says what changed."""

import json
import shutil

import pytest
from click.testing import CliRunner

from curator.cli import cli

DOCS = [
    {"id": "fr", "text": "Paris is the capital of France. The city lies on the Seine river."},
    {"id": "pe", "text": "Lima is the capital of Peru. It lies on the Pacific coast."},
]
JAPAN = {"id": "jp", "text": "Tokyo is the capital of Japan. It is the largest city in the country."}
PAIRS = [
    {"id": "a", "instruction": "What is the capital of France?", "output": "Paris is the capital of France.",
     "alt": "The capital of France is Paris."},
    {"id": "b", "instruction": "What is the capital of Peru?", "output": "Lima is the capital of Peru.",
     "alt": "Peru's capital is Lima."},
    {"id": "c", "instruction": "What is the capital of Japan?", "output": "Tokyo is the capital of Japan.",
     "alt": "Japan's capital is Tokyo."},
]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cli(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def _verdicts(out):
    return {json.loads(line)["id"]: json.loads(line)["curator"].get("grounding_verdict")
            for f in ("kept.jsonl", "dropped.jsonl") for line in (out / f).read_text().splitlines()}


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATOR_CACHE_DIR", str(tmp_path / "cache"))
    docs = _jsonl(tmp_path / "docs.jsonl", DOCS)
    index = tmp_path / "index"
    _cli("index", "build", docs, "--out", index, "--id-field", "id")
    pairs = _jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "out"

    def run(*extra):
        return _cli("run", pairs, "--index", index, "-o", out, "--no-report", *extra)

    return tmp_path, index, out, run


def test_same_command_resumes_and_says_so_once(setup):
    tmp_path, index, out, run = setup
    first = run()
    assert "resumed from" not in first.stderr
    before = {f: (out / f).read_bytes() for f in ("kept.jsonl", "dropped.jsonl", "summary.json")}
    again = run()
    lines = [x for x in again.stderr.splitlines() if x.startswith("resumed from")]
    assert len(lines) == 1 and ".curator" in lines[0] and "grounding" in lines[0], again.stderr
    assert {f: (out / f).read_bytes() for f in before} == before
    assert len([d for d in (out / ".curator").iterdir() if d.is_dir()]) == 1


def test_index_add_recomputes_and_the_new_document_counts(setup):
    tmp_path, index, out, run = setup
    run()
    assert _verdicts(out)["c"] != "supported"   # the index knows nothing about Japan yet
    _cli("index", "add", index, _jsonl(tmp_path / "more.jsonl", [JAPAN]), "--id-field", "id")
    res = run()
    assert "resumed from" not in res.stderr
    assert "not resuming" in res.stderr and "index" in res.stderr, res.stderr
    assert _verdicts(out)["c"] == "supported"
    # the stale checkpoint is gone: one key folder
    assert len([d for d in (out / ".curator").iterdir() if d.is_dir()]) == 1


def test_index_build_force_recomputes(setup):
    tmp_path, index, out, run = setup
    run()
    _cli("index", "build", _jsonl(tmp_path / "all.jsonl", [*DOCS, JAPAN]), "--out", index, "--id-field", "id", "--force")
    res = run()
    assert "resumed from" not in res.stderr and "index" in res.stderr
    assert _verdicts(out)["c"] == "supported"


def test_edited_params_file_recomputes(setup):
    from importlib import resources

    tmp_path, index, out, run = setup
    params = tmp_path / "params.json"
    params.write_text(resources.files("curator").joinpath("data/grounding_params.json").read_text("utf-8"))
    run("--params", params, "--keep-hallucinated")
    assert run("--params", params, "--keep-hallucinated").stderr.count("resumed from") == 1
    raw = json.loads(params.read_text())
    raw["threshold"] = 0.0   # every judged claim is now unsupported
    params.write_text(json.dumps(raw))
    res = run("--params", params, "--keep-hallucinated")
    assert "resumed from" not in res.stderr and "params" in res.stderr, res.stderr
    assert "supported" not in _verdicts(out).values()


@pytest.mark.parametrize("change", [
    ("--threshold", "0.01"),                 # a setting
    ("--response-field", "alt"),             # another field read: the same records, other responses
    ("--embed-backend", "torch-bf16"),       # vectors change
    ("--dedup-on", "both"),
])
def test_a_changed_setting_or_field_recomputes(setup, change):
    tmp_path, index, out, run = setup
    run()
    res = run(*change)
    assert "resumed from" not in res.stderr, (change, res.stderr)
    assert "not resuming" in res.stderr
    # and the changed run resumes itself when repeated
    assert run(*change).stderr.count("resumed from") == 1


def test_edited_input_recomputes(setup):
    tmp_path, index, out, run = setup
    run()
    _jsonl(tmp_path / "pairs.jsonl", [*PAIRS[:2], {**PAIRS[2], "output": "Kyoto is the capital of Japan."}])
    res = run()
    assert "resumed from" not in res.stderr and "input" in res.stderr


def test_quiet_says_nothing(setup):
    tmp_path, index, out, run = setup
    run()
    res = CliRunner().invoke(cli, ["-q", "run", str(tmp_path / "pairs.jsonl"), "--index", str(index), "-o", str(out),
                                   "--no-report"])
    assert res.exit_code == 0 and "resumed" not in res.stderr


def test_the_key_covers_a_verifier_folder_and_a_model_folder(tmp_path, embedder):
    """A verifier (or tokenizer) folder whose files change is another result, however it is
    named; the folder's path alone is not enough."""
    import polars as pl

    from curator.context import RunContext
    from curator.pipeline import GroundingStep, checkpoint_key

    folder = tmp_path / "verifier"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    table = pl.DataFrame({"x": ["a"]})
    ctx = RunContext(embedder)
    key = checkpoint_key(table, [GroundingStep(verifier=str(folder))], ctx)
    assert "grounding verifier" in key and "grounding params" in key
    (folder / "model.safetensors").write_bytes(b"new weights")
    assert checkpoint_key(table, [GroundingStep(verifier=str(folder))], ctx) != key
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    assert (checkpoint_key(table, [GroundingStep(verifier=str(copy))], ctx)["grounding verifier"]
            == checkpoint_key(table, [GroundingStep(verifier=str(folder))], ctx)["grounding verifier"])


def test_the_key_names_the_batching_scheme(embedder, monkeypatch):
    """A checkpoint written before the length buckets changed (vectors differ in their last bits)
    is not resumed: the key names the scheme, as the disk cache's folder does."""
    import json

    import polars as pl

    import curator.embed as E
    from curator.context import RunContext
    from curator.pipeline import QualityStep, checkpoint_key

    table, ctx = pl.DataFrame({"x": ["a"]}), RunContext(embedder)
    key = checkpoint_key(table, [QualityStep()], ctx)
    assert json.loads(key["embedder"])["batching"] == E.BATCHING
    monkeypatch.setattr(E, "BATCHING", "fixed-shape-v2")
    assert checkpoint_key(table, [QualityStep()], ctx)["embedder"] != key["embedder"]
