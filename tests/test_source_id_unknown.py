"""Issue 22 item 7: a --source-id-field value the index does not have is never graded against
retrieved passages. Without --on-error skip the run stops before any work with one line; with it
the row is unverifiable, with its reason, and one warning counts such rows."""

import json

import pytest
from click.testing import CliRunner

from curator.cli import cli

DOCS = [
    {"id": "fr", "text": "Paris is the capital of France. The Seine flows through Paris."},
    {"id": "old", "text": "In 1700 the French court sat at Versailles, the capital of France at the time."},
    {"id": "blank", "text": "   "},   # `index build` skips a document without text
]
Q = "Which city is the capital of France?"
PAIRS = [
    {"id": "ok", "q": Q, "a": "Paris is the capital of France.", "doc": "fr"},
    {"id": "space", "q": Q, "a": "Versailles is the capital of France.", "doc": "fr "},
    {"id": "case", "q": Q, "a": "Versailles is the capital of France.", "doc": "FR"},
    {"id": "skipped", "q": Q, "a": "Versailles is the capital of France.", "doc": "blank"},
    {"id": "absent", "q": Q, "a": "Versailles is the capital of France.", "doc": "de"},
]
FIELDS = ["--instruction-field", "q", "--response-field", "a", "--source-id-field", "doc"]


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATOR_CACHE_DIR", str(tmp_path / "cache"))
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    index = tmp_path / "index"
    res = CliRunner().invoke(cli, ["index", "build", str(docs), "--out", str(index), "--id-field", "id"])
    assert res.exit_code == 0, res.output
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    return tmp_path, index, pairs


def _rows(path):
    return {json.loads(x)["id"]: json.loads(x)["curator"] for x in path.read_text().splitlines()}


@pytest.mark.parametrize("command", ["score", "run"])
def test_without_skip_an_unknown_id_stops_before_any_work(files, command):
    tmp_path, index, pairs = files
    out = tmp_path / ("s.jsonl" if command == "score" else "out")
    res = CliRunner().invoke(cli, [command, str(pairs), "--index", str(index), "-o", str(out), *FIELDS])
    assert res.exit_code == 1
    err = [x for x in res.stderr.strip().splitlines() if not x.startswith("model: ")]
    assert len(err) == 1 and err[0].startswith("Error: 4 rows name a source document that is not in index"), res.stderr
    assert "'fr ' (did you mean 'fr'?)" in err[0] and "'FR' (did you mean 'fr'?)" in err[0] and "line 2" in err[0]
    assert "--on-error skip" in err[0]
    assert not (out if command == "score" else out / "kept.jsonl").exists()


def test_with_skip_unknown_ids_are_unverifiable_with_a_reason_and_one_warning(files):
    tmp_path, index, pairs = files
    out = tmp_path / "s.jsonl"
    res = CliRunner().invoke(cli, ["score", str(pairs), "--index", str(index), "-o", str(out), "--on-error", "skip", *FIELDS])
    assert res.exit_code == 0, res.output
    rows = _rows(out)
    assert rows["ok"]["grounding_verdict"] == "supported" and rows["ok"]["evidence_mode"] == "source_id"
    for rid in ("space", "case", "skipped", "absent"):
        # never retrieved: the 'old' document would otherwise be there to "support" Versailles
        assert rows[rid]["grounding_verdict"] == "unverifiable", (rid, rows[rid])
        assert rows[rid]["evidence_mode"] == "none" and not rows[rid].get("citations")
        assert "is not a document of the index" in rows[rid]["unverifiable_reason"]
    assert "did you mean 'fr'?" in rows["case"]["unverifiable_reason"]
    assert "unverifiable_reason" not in rows["ok"]
    warnings = [x for x in res.stderr.splitlines() if "not in the index" in x]
    assert len(warnings) == 1 and warnings[0].startswith("warning: 4 rows name a source document"), res.stderr


def test_run_with_skip_keeps_the_rows_unjudged(files):
    tmp_path, index, pairs = files
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", str(pairs), "--index", str(index), "-o", str(out), "--no-report",
                                   "--on-error", "skip", *FIELDS])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"]["grounding"]["verdicts"]["unverifiable"] == 4
    assert any("4 rows name a source document" in w for w in summary["stages"]["grounding"]["warnings"])


def test_library_scorer_never_retrieves_for_an_unknown_id(embedder):
    from curator.grounding import GroundingScorer, PairInput
    from curator.index import Document, PassageIndex

    index = PassageIndex.build([Document(d["id"], d["text"]) for d in DOCS if d["text"].strip()], embedder)
    res = GroundingScorer(embedder=embedder, index=index).score([PairInput(Q, "Versailles is the capital of France.",
                                                                           source_id="nope")])
    assert res[0].verdict == "unverifiable" and res[0].evidence_mode == "none"
