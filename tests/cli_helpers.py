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
