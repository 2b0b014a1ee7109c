"""What the CLI tests share: run a command in-process, and read its one-line error."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from curator.cli import cli


def run(*args: Any) -> tuple[int, str]:
    """Exit code and output of ``curator ARGS`` (arguments may be paths)."""
    res = CliRunner().invoke(cli, [str(a) for a in args])
    return res.exit_code, res.output


def one_line_error(code: int, out: str) -> str:
    """The one ``Error:`` line of a failed command (exit 1, no traceback)."""
    assert code == 1, out
    assert "Traceback" not in out
    err = [x for x in out.splitlines() if x.startswith("Error:")]
    assert len(err) == 1, out
    return err[0]


def demo_runs(tmp_path: Any, index_dir: Any, backends: tuple[str, ...], keep: tuple[str, ...],
              extra: Any = lambda backend: []) -> dict[str, tuple[dict[str, list[tuple[Any, ...]]], dict[str, Any]]]:
    """Per embedding backend: `curator run` of the demo's first 40 pairs against ``index_dir``
    (budget 15), as (per output file, each row's id and its ``keep`` fields; summary.json).
    ``extra(backend)``: more arguments for that backend's run."""
    import json

    from .conftest import DEMO

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join((DEMO / "pairs.jsonl").read_text().splitlines(keepends=True)[:40]))
    runs = {}
    for backend in backends:
        out = tmp_path / backend
        r = CliRunner().invoke(cli, ["--quiet", "run", str(pairs), "--index", str(index_dir), "--budget", "15",
                                     "-o", str(out), "--no-report", "--embed-backend", backend, *extra(backend)])
        assert r.exit_code == 0, r.output
        rows = {f: [(x["id"], *(x["curator"].get(k) for k in keep))
                    for x in map(json.loads, (out / f).read_text().splitlines())] for f in ("kept.jsonl", "dropped.jsonl")}
        runs[backend] = (rows, json.loads((out / "summary.json").read_text()))
    return runs
