"""An index that covers almost none of the data: its few flags are listed as doubtful, not dropped
(new-user trial of 2026-12-07: LIMA and Alpaca rows against a Wikipedia index were dropped for true
facts judged against a passage on a neighbouring subject). Rows written for the test."""

import json

import pytest

from .cli_helpers import run

FLAGGED = {"id": "flagged", "question": "What nationality was James Henry Miller's wife?", "answer": "Scottish"}


def _rows(n):
    towns = ["Arlen", "Brisk", "Corvo", "Dunmore", "Elsted", "Farrow", "Glenby", "Hollin", "Ivers", "Jessup"]
    return [{"id": f"town{i}", "question": f"Tell me about the town of {towns[i % 10]}{i}.",
             "answer": f"{towns[i % 10]}{i} is a small market town with a stone bridge, a weekly fair and "
                       f"about {1000 + 37 * i} inhabitants who mostly work in farming."} for i in range(n)]


def _run(tmp_path, demo_index_dir, rows, name):
    src = tmp_path / f"{name}.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / name
    code, output = run("run", src, "--index", demo_index_dir, "-o", out, "--no-report")
    assert code == 0, output
    got = {json.loads(x)["id"]: json.loads(x) for f in ("kept.jsonl", "dropped.jsonl")
           for x in (out / f).read_text().splitlines()}
    return got, output, json.loads((out / "summary.json").read_text())


def test_a_flag_against_an_index_that_covers_the_data_is_dropped(tmp_path, demo_index_dir):
    got, output, _ = _run(tmp_path, demo_index_dir, [FLAGGED], "covered")
    assert got["flagged"]["curator"].get("drop_reason") == "hallucinated", output


@pytest.mark.parametrize("n", [60, 12, 5])  # small files: a 1,551-row slice judged 32 rows; a trial's 5-row file
def test_a_flag_against_an_index_that_covers_almost_nothing_is_listed_not_dropped(tmp_path, demo_index_dir, n):
    got, output, summary = _run(tmp_path, demo_index_dir, [FLAGGED] + _rows(n), "uncovered")
    c = got["flagged"]["curator"]
    assert c.get("drop_reason") is None and c["grounding_verdict"] == "unverifiable", output
    assert "covers almost none of this data" in c["unverifiable_reason"]
    assert any(s["verdict"] == "doubtful" for s in c["sentences"])
    assert summary["stages"]["grounding"]["uncovered_index_flags"] == 1
    assert "1 row flagged against an index that covers almost none of this data" in output
    assert "kept as doubtful, not dropped" in output


def test_score_does_not_point_at_a_report_it_does_not_write(tmp_path, demo_index_dir):
    """`curator score` writes no report.html: its count of doubtful rows says where they are."""
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [FLAGGED] + _rows(12)))
    code, output = run("score", src, "--index", demo_index_dir, "-o", tmp_path / "s.jsonl")
    assert code == 0, output
    assert 'sentences with verdict "doubtful" in the output' in output
    assert not (tmp_path / "report.html").exists()
