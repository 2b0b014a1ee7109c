"""report.html: one self-contained, escaped file that survives missing stages and tiny tables."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from curator import records as R
from curator.pipeline import CurationResult
from curator.report import mark_tokens, render_report, write_report

EVIL = "<script>alert('x')</script>"
UNSUPPORTED = f"The tower was finished in 1999 {EVIL}."


def _sentences(*items: tuple[str, str, float, str | None, list[str]]) -> str:
    return json.dumps([{"text": t, "span": [0, len(t)], "verdict": v, "support": s, "citation": "p1" if ev else None,
                        "citation_span": [0, 10] if ev else None, "evidence": ev, "unsupported_tokens": toks}
                       for t, v, s, ev, toks in items])


def make_result(stages: tuple[str, ...] = ("quality", "grounding", "dedup", "select")) -> CurationResult:
    """Eight rows: 0-3 kept (1 and 2 are a cluster's kept members), 4 hallucinated, 5-6 duplicates of 1,
    7 not selected. Columns of the stages not in ``stages`` are left out."""
    n = 8
    cols: dict[str, list] = {
        R.ROW_ID: list(range(n)), R.ID: [f"r{i}" for i in range(n)],
        R.INSTRUCTION: ["When was the tower built?", "Name a prime number.", "What is the capital of France?",
                        "Who wrote Hamlet?", "When was the tower finished?", "Name a prime number.",
                        "Name a prime number!", "Explain photosynthesis briefly."],
        R.INPUT: [""] * n,
        R.RESPONSE: ["In 1889.", "7", "Paris.", "Shakespeare.", UNSUPPORTED + " It is tall.", "11", "13",
                     "Plants turn light into sugar."],
        R.DROP_STAGE: [None, None, None, None, "grounding", "dedup", "dedup", "select"],
        R.DROP_REASON: [None, None, None, None, "hallucinated", "duplicate", "duplicate", "budget_exhausted"],
        R.DROP_DETAIL: [None] * 4 + ["hallucination_prob=0.97", "exact duplicate of row 1 (cluster 1)",
                                     "near duplicate of row 1 (cluster 1)", None],
        R.RECORD: ["{}"] * n,
    }
    if "quality" in stages:
        cols[R.QUALITY] = [1.0, 0.9, 1.0, 0.8, 0.7, 1.0, 1.0, 0.6]
        cols[R.QUALITY_REASON] = [None] * n
    if "grounding" in stages:
        cols[R.HALLUCINATION_PROB] = [0.1, 0.2, 0.05, 0.3, 0.97, 0.2, 0.25, float("nan")]
        cols[R.GROUNDING] = [1 - p for p in cols[R.HALLUCINATION_PROB]]
        cols[R.HALLUCINATED] = [False, False, False, False, True, False, False, False]
        cols[R.EVIDENCE_MODE] = ["index"] * 7 + ["none"]
        cols[R.SENTENCES] = [_sentences(("In 1889.", "supported", 0.9, "Built in 1889.", []))] * 4 + [
            _sentences((UNSUPPORTED, "unsupported", 0.03, "The tower was completed in 1889 & opened.",
                        ["1999", "finish"]),
                       ("It is tall.", "supported", 0.8, "It is 300 m tall.", []))] + [None] * 3
    if "dedup" in stages:
        cols[R.CLUSTER_ID] = [0, 1, 2, 3, None, 1, 1, 7]
        cols[R.CLUSTER_SIZE] = [1, 3, 1, 1, None, 3, 3, 1]
        cols[R.DUPLICATE_OF] = [None, None, None, None, None, 1, 1, None]
        cols[R.DUP_METHOD] = [None, None, None, None, None, "exact", "near", None]
        cols[R.DUP_SIMILARITY] = [None, None, None, None, None, 1.0, 0.91, None]
    if "select" in stages:
        cols[R.UTILITY] = [0.9, 0.8, 0.9, 0.7, None, None, None, 0.1]
        cols[R.SELECT_RANK] = [0, 1, 2, 3, None, None, None, None]
    table = pl.DataFrame(cols, strict=False)
    stage_stats = {"read": {"in": 8, "dropped": 0, "reasons": {}}}
    alive = 8
    drops = {"quality": {}, "grounding": {"hallucinated": 1}, "dedup": {"duplicate": 2},
             "select": {"budget_exhausted": 1}}
    for s in stages:
        d = sum(drops[s].values())
        stage_stats[s] = {"in": alive, "dropped": d, "reasons": drops[s]}
        alive -= d
    if "grounding" in stages:
        stage_stats["grounding"]["threshold"] = 0.5
    summary = {"rows_in": 8, "kept": alive, "dropped": 8 - alive, "stages": stage_stats,
               "drop_reasons": {f"{s}:{r}": c for s in stages for r, c in drops[s].items()},
               "model": "test-model"}
    return CurationResult(table=table, summary=summary, timings={s: 1.25 for s in stages})


def assert_self_contained(doc: str) -> None:
    assert doc.startswith("<!doctype html>") and doc.rstrip().endswith("</html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", doc, re.I)
    assert "http://" not in doc and "https://" not in doc
    assert "url(" not in doc and "@import" not in doc
    assert "<script" not in doc.lower()   # the report has no scripts, and user text is escaped


def test_full_report(tmp_path: Path) -> None:
    path = write_report(make_result(), tmp_path / "report.html")
    assert path == tmp_path / "report.html"
    doc = path.read_text("utf-8")
    assert_self_contained(doc)
    # funnel numbers
    assert "rows in" in doc and ">8<" in doc and "hallucinated <b>1</b>" in doc and "duplicate <b>2</b>" in doc
    assert "budget_exhausted" in doc and "test-model" in doc
    assert "1.2 s" in doc and "total time <b>5.0 s</b>" in doc   # per-stage timings from result.timings
    # worst-grounded pair: unsupported sentence (escaped) next to its evidence, tokens marked
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in doc
    assert "<mark>1999</mark>" in doc and "<mark>finished</mark>" in doc
    assert "completed in 1889 &amp; opened." in doc
    assert 'class="claim unsupported"' in doc
    # largest cluster: kept member and both duplicates with method and similarity
    assert "Cluster 1: 3 rows, 1 kept, 2 dropped" in doc
    assert "duplicate of 1" in doc and "0.910" in doc and ">near<" in doc
    # plots are inline PNGs; the map says how it was made
    assert doc.count('src="data:image/png;base64,') == 3
    assert "TF-IDF + TruncatedSVD" in doc and "threshold" in doc


def test_embeddings_map_and_validation() -> None:
    res = make_result()
    emb = np.random.default_rng(0).normal(size=(res.table.height, 16)).astype(np.float32)
    assert "PCA of the supplied embeddings" in render_report(res, embeddings=emb)
    with pytest.raises(ValueError, match="one row per table row"):
        render_report(res, embeddings=emb[:3])


@pytest.mark.parametrize("stages", [(), ("quality",), ("grounding",), ("quality", "dedup"), ("grounding", "select")])
def test_missing_stages(tmp_path: Path, stages: tuple[str, ...]) -> None:
    doc = write_report(make_result(stages), tmp_path / "r.html").read_text("utf-8")
    assert_self_contained(doc)
    if "grounding" not in stages:
        assert "The grounding stage did not run." in doc
    if "dedup" not in stages:
        assert "The dedup stage did not run." in doc
    if "select" not in stages:
        assert "the selection stage did not run" in doc


def test_one_row_table(tmp_path: Path) -> None:
    res = make_result()
    one = CurationResult(table=res.table.head(1), summary={
        "rows_in": 1, "kept": 1, "dropped": 0, "drop_reasons": {},
        "stages": {"read": {"in": 1, "dropped": 0, "reasons": {}},
                   "grounding": {"in": 1, "dropped": 0, "reasons": {}, "threshold": 0.5}}})
    doc = write_report(one, tmp_path / "one.html").read_text("utf-8")
    assert_self_contained(doc)
    assert "No duplicates found" in doc and "Too few rows" in doc and "In 1889." in doc


def test_timings_from_legacy_summary() -> None:
    res = make_result(("grounding",))
    legacy = CurationResult(table=res.table, summary=res.summary | {"timings_s": {"grounding": 7.5}})
    assert "7.5 s" in render_report(legacy)


def test_summary_without_stages_and_all_dropped(tmp_path: Path) -> None:
    res = make_result(("grounding",))
    table = res.table.with_columns(pl.lit("grounding").alias(R.DROP_STAGE), pl.lit("hallucinated").alias(R.DROP_REASON))
    doc = render_report(CurationResult(table=table, summary={"rows_in": 8, "kept": 0, "dropped": 8}))
    assert_self_contained(doc)
    assert "hallucinated" in doc and "0.0% of input kept" in doc


def test_degenerate_inputs() -> None:
    # all-null (dtype Null) columns, a skipped stage, malformed sentences JSON, no summary
    nulls = pl.DataFrame({R.ROW_ID: [0, 1], R.INSTRUCTION: ["a", "b"], R.RESPONSE: ["x", "y"],
                          R.DROP_STAGE: [None, None], R.DROP_REASON: [None, None],
                          R.HALLUCINATION_PROB: [None, None], R.CLUSTER_ID: [None, None],
                          R.SELECT_RANK: [None, None]})
    doc = render_report(CurationResult(nulls, {"rows_in": 2, "kept": 2, "dropped": 0,
                                               "stages": {"grounding": {"skipped": "no rows left"}}}))
    assert "skipped: no rows left" in doc and "No pair has a hallucination probability" in doc
    bad = pl.DataFrame({R.ROW_ID: [0, 1], R.INSTRUCTION: ["a", "b"], R.RESPONSE: ["x", "y <b>"],
                        R.HALLUCINATION_PROB: [0.1, 0.9], R.SENTENCES: ["not json", "[1, 2]"]})
    doc = render_report(CurationResult(bad, {}))
    assert_self_contained(doc)
    assert "y &lt;b&gt;" in doc


def test_mark_tokens_escapes_and_stems() -> None:
    assert mark_tokens("Countries <b>&", ["country"]) == "<mark>Countries</mark> &lt;b&gt;&amp;"
    assert mark_tokens("no tokens <i>", []) == "no tokens &lt;i&gt;"


def test_large_table_is_fast(tmp_path: Path) -> None:
    base = make_result().table
    big = pl.concat([base] * 12_500).with_columns(pl.int_range(0, 100_000).alias(R.ROW_ID))
    res = CurationResult(table=big, summary=make_result().summary | {"rows_in": 100_000})
    t0 = time.perf_counter()
    doc = write_report(res, tmp_path / "big.html").read_text("utf-8")
    assert time.perf_counter() - t0 < 20  # typically ~2 s; generous for shared CI machines
    assert_self_contained(doc)
    assert "Showing a sample of" in doc and len(doc) < 2_000_000


@pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                    reason="chromium not installed")
def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    from PIL import Image

    html_path = write_report(make_result(), tmp_path / "report.html")
    png = tmp_path / "shot.png"
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1000,1400",
                    html_path.as_uri()], capture_output=True, timeout=60, check=True)
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert pixels.shape[:2] == (1400, 1000)
    assert (pixels < 200).any(axis=2).mean() > 0.01   # something was drawn (text, bars, plots)
