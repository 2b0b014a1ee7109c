"""Issue 22 item 9 (progress): a long stage says it is still running on stderr, at default
verbosity, even while one huge row keeps it inside a single batch; never under -q."""

import json

import pytest
from click.testing import CliRunner

import curator.context as context
from curator.cli import cli

SOURCE = ("The museum opened in 1901. It holds paintings, coins and maps. The west wing was added in 1950. "
          "Visitors come from many countries. ")


@pytest.fixture
def long_row(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(context, "PROGRESS_FIRST_S", 0.05)
    monkeypatch.setattr(context, "PROGRESS_EVERY_S", 0.2)
    # one row whose response is ~1,200 sentences: one grounding batch that takes seconds
    rows = [{"instruction": "Describe the museum.", "output": SOURCE * 300, "context": SOURCE * 5},
            {"instruction": "When did it open?", "output": "It opened in 1901.", "context": SOURCE}]
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_long_stage_reports_progress_at_default_verbosity(long_row, tmp_path):
    res = CliRunner().invoke(cli, ["score", str(long_row), "--source-field", "context", "-o", str(tmp_path / "s.jsonl")])
    assert res.exit_code == 0, res.output
    beats = [x for x in res.stderr.splitlines() if "still running after" in x]
    assert any(x.startswith("grounding: still running after") for x in beats), res.stderr
    # the engine's count is part of the line once the stage has started its batches
    assert any("of 2 pairs done" in x for x in beats if x.startswith("grounding")), beats


def test_quiet_prints_no_progress(long_row, tmp_path):
    res = CliRunner().invoke(cli, ["-q", "score", str(long_row), "--source-field", "context",
                                   "-o", str(tmp_path / "s.jsonl")])
    assert res.exit_code == 0, res.output
    assert "still running" not in res.stderr


def test_short_stages_say_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATOR_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"instruction": "When did it open?", "output": "In 1901.", "context": SOURCE}) + "\n")
    res = CliRunner().invoke(cli, ["score", str(path), "--source-field", "context", "-o", str(tmp_path / "s.jsonl")])
    assert res.exit_code == 0 and "still running" not in res.stderr


def test_heartbeat_stops_with_its_stage():
    import time

    from curator.context import Heartbeat, RunContext

    said: list[str] = []
    ctx = RunContext(embedder=None, notify=said.append)  # type: ignore[arg-type]
    with Heartbeat(ctx, "dedup", first=0.02, every=0.02):
        ctx.note_progress(1, 3, "stages", now="the near stage")
        time.sleep(0.15)
    n = len(said)
    time.sleep(0.1)
    assert n >= 2 and len(said) == n
    assert said[-1].startswith("dedup: still running after 0 s; 1 of 3 stages done, now the near stage")
