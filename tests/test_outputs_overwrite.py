"""Issue 22, item 9: outputs that overwrite or mislead. The same file given twice (or the input
as an output) is refused before any work; report.html says "same prompt" only when it is the
same, and reads a bounded part of a very long row."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from curator import records as R
from curator.pipeline import CurationResult
from curator.report import TEXT_LIMIT, render_report

from .cli_helpers import one_line_error, run


def pairs(path: Path, n: int = 4) -> Path:
    recs = [{"instruction": f"Question number {i} about topic {'abcdefgh'[i]}?", "output": f"Answer {i}."}
            for i in range(n)] + [{"instruction": "Question number 0 about topic a?", "output": "Again."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), "utf-8")
    return path


@pytest.fixture
def no_work(monkeypatch):
    """Reading the pairs or running a step fails the test: the refusal must come first."""
    import curator.pipeline

    monkeypatch.setattr(curator.pipeline.Pipeline, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError))


@pytest.mark.parametrize("command", [["dedup", "--no-semantic"], ["select", "--budget", "2", "--method", "random"]])
@pytest.mark.parametrize("spelling", [
    lambda d: ("out.jsonl", "out.jsonl"),
    lambda d: ("out.jsonl", "./out.jsonl"),
    lambda d: ("out.jsonl", str(d / "out.jsonl")),             # absolute vs relative
    lambda d: ("sub/../out.jsonl", "out.jsonl"),
    lambda d: ("out.parquet", "./sub/../out.parquet"),
])
def test_the_same_file_as_out_and_dropped_is_refused(tmp_path, monkeypatch, no_work, command, spelling):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    src = pairs(tmp_path / "p.jsonl")
    out, dropped = spelling(tmp_path)
    err = one_line_error(*run(command[0], src, *command[1:], "-o", out, "--dropped", dropped))
    assert "same file" in err and "--dropped" in err
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.parquet").exists()


def test_a_symlink_or_hard_link_to_out_is_the_same_file(tmp_path, monkeypatch, no_work):
    monkeypatch.chdir(tmp_path)
    src = pairs(tmp_path / "p.jsonl")
    (tmp_path / "out.jsonl").write_text("keep me\n")
    os.symlink(tmp_path / "out.jsonl", tmp_path / "link.jsonl")
    os.link(tmp_path / "out.jsonl", tmp_path / "hard.jsonl")
    for other in ("link.jsonl", "hard.jsonl"):
        err = one_line_error(*run("dedup", src, "--no-semantic", "-o", "out.jsonl", "--dropped", other))
        assert "same file" in err
    assert (tmp_path / "out.jsonl").read_text() == "keep me\n"


@pytest.mark.parametrize("args", [
    lambda s: ["dedup", s, "--no-semantic", "-o", s],
    lambda s: ["dedup", s, "--no-semantic", "-o", "k.jsonl", "--dropped", s],
    lambda s: ["dedup", "./" + s, "--no-semantic", "-o", "k.jsonl", "--dropped", "sub/../" + s],
    lambda s: ["select", s, "--budget", "1", "-o", "k.jsonl", "--dropped", "link.jsonl"],
    lambda s: ["score", s, "--source-field", "output", "-o", "hard.jsonl"],
])
def test_the_input_as_an_output_is_refused(tmp_path, monkeypatch, no_work, args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    pairs(tmp_path / "p.jsonl")
    before = (tmp_path / "p.jsonl").read_bytes()
    os.symlink(tmp_path / "p.jsonl", tmp_path / "link.jsonl")
    os.link(tmp_path / "p.jsonl", tmp_path / "hard.jsonl")
    err = one_line_error(*run(*args("p.jsonl")))
    assert "input file" in err
    assert (tmp_path / "p.jsonl").read_bytes() == before


def test_different_files_still_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = pairs(tmp_path / "p.jsonl")
    code, out = run("dedup", src, "--no-semantic", "-o", "out.jsonl", "--dropped", "./dups.jsonl")
    assert code == 0, out
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 4
    assert len((tmp_path / "dups.jsonl").read_text().splitlines()) == 1


# -- report.html --------------------------------------------------------------------------------------
def _result(prompts: list[str], responses: list[str], methods: list[str | None],
            sentences: list[str | None] | None = None) -> CurationResult:
    """Rows 1.. are duplicates of row 0 (one cluster)."""
    n = len(prompts)
    cols: dict[str, list[Any]] = {
        R.ROW_ID: list(range(n)), R.ID: [str(i) for i in range(n)], R.INSTRUCTION: prompts, R.INPUT: [""] * n,
        R.RESPONSE: responses, R.DROP_STAGE: [None] + ["dedup"] * (n - 1),
        R.DROP_REASON: [None] + ["duplicate"] * (n - 1), R.DROP_DETAIL: [None] * n, R.RECORD: ["{}"] * n,
        R.CLUSTER_ID: [0] * n, R.CLUSTER_SIZE: [n] * n, R.DUPLICATE_OF: [None] + [0] * (n - 1),
        R.DUP_METHOD: methods, R.DUP_SIMILARITY: [None] + [0.9] * (n - 1),
        R.HALLUCINATION_PROB: [0.9] * n, R.SENTENCES: sentences or [None] * n,
    }
    table = pl.DataFrame(cols, strict=False)
    summary = {"rows_in": n, "kept": 1, "dropped": n - 1, "stages": {}, "drop_reasons": {}}
    return CurationResult(table=table, summary=summary)


def _cluster_section(doc: str) -> str:
    return doc[doc.index('id="clusters"'):doc.index('id="map"')]


def test_report_says_same_prompt_only_for_the_same_prompt():
    head = "Summarise the following support ticket for the on-call engineer. " * 6  # > 240 characters
    prompts = [head + "The printer is on fire.", head + "The printer is on fire.",
               head + "The printer is out of paper.", head.upper() + "THE PRINTER IS ON FIRE.",
               head + "The printer is on fire. "]
    doc = render_report(_result(prompts, ["a", "b", "c", "d", "e"], [None, "exact", "near", "exact", "near"]))
    sec = _cluster_section(doc)
    # row 1 is the same text; rows 2-4 share the first 240 characters (2), or the text up to case (3)
    # or up to a trailing space (4): their own prompts are shown, not "same prompt"
    assert sec.count("same prompt as the kept member") == 1
    assert sec.count("Summarise the following support ticket") >= 3


def _peak(fn: Any) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_report_memory_is_bounded_per_row():
    """A 12 MB prompt, response and sentences list cost the report no more than small ones."""
    big = "word " * 2_400_000
    sents = json.dumps([{"text": big[:50_000], "verdict": "unsupported", "support": 0.1, "citation": None,
                         "evidence": None, "unsupported_tokens": ["word"]}] * 240)  # 12 MB
    huge = _result([big, big + "x"], [big, big], [None, "near"], [sents, sents])
    small = _result(["short prompt", "short prompt x"], ["a", "b"], [None, "near"], [None, None])
    render_report(small)  # warm imports and caches
    base = _peak(lambda: render_report(small))
    doc = render_report(huge)
    peak = _peak(lambda: render_report(huge))
    assert peak - base < 8 * TEXT_LIMIT * 40, (peak, base)  # ~6 MB: a few bounded copies per row, not 12 MB each
    assert f"truncated: {len(big):,} characters in all" in doc
    assert "truncated: 50,000 characters" in doc  # a cut sentence says so too
    assert len(doc) < 2_000_000
