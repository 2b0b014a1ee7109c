"""A lock on an index folder, so two writers (``index add``, ``index build --force``) never
interleave their read-modify-write and lose a document, and a reader never reads a half-written
index.

Writers hold an exclusive ``fcntl.flock`` on ``<index>/.lock`` for the whole load-change-save;
readers a shared one while they read the files. A process that finds the lock held says so once
(``on_wait``) and waits, up to ``CURATOR_LOCK_TIMEOUT`` seconds (default 600), then fails with
:class:`~curator.errors.IndexLockedError` naming the process that holds it. The lock goes with
the process: a writer that crashes or is killed leaves no stale lock behind.

>>> with index_lock(Path("indexes/demo")):   # doctest: +SKIP
...     ...                                   # load, add, save
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import ConfigError, IndexLockedError

LOCK_FILE = ".lock"
TIMEOUT_ENV = "CURATOR_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 600.0
_POLL = 0.1
#: Index folders this process holds the lock of: taking it again inside is a no-op (flock locks
#: belong to an open file, so a second open in the same process would wait for itself).
_HELD: set[str] = set()


def lock_timeout() -> float:
    """Seconds to wait for an index another process holds: ``$CURATOR_LOCK_TIMEOUT`` or 600."""
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r}: give the seconds to wait for a locked index (a number >= 0).")
    return value


def _holder(fh: IO[str]) -> str:
    try:
        fh.seek(0)
        pid = fh.read(32).strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


@contextmanager
def index_lock(path: str | Path, shared: bool = False, timeout: float | None = None,
               on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock of the index folder ``path`` (created if missing, for a writer) while the
    block runs: exclusive for a writer, ``shared`` for a reader. A reader of an index without a
    lock file (a read-only copy, an index older than the lock) reads without one. Re-entrant
    within a process: a writer's own load and save inside its block do not wait."""
    import fcntl

    path = Path(path)
    key = str(path.absolute())
    if key in _HELD:  # this process holds it already (e.g. `index add` around load and save)
        yield
        return
    timeout = lock_timeout() if timeout is None else timeout
    lock_path = path / LOCK_FILE
    if shared:
        try:
            fh: IO[str] = open(lock_path, encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError:
            yield
            return
    else:
        path.mkdir(parents=True, exist_ok=True)
        fh = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = time.monotonic() + timeout
        said = False
        while True:
            try:
                fcntl.flock(fh.fileno(), mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # a reader waits only for a writer, whose pid is in the file; a writer may wait
                # for readers too, who leave no pid
                what = f"another curator process{_holder(fh)} is writing" if shared else \
                    "another curator process is writing or reading"
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"{path}: {what} this index; gave up waiting after {timeout:g} s. Try again when "
                        f"it is done (or set {TIMEOUT_ENV} to wait longer)."
                    ) from None
                if not said and on_wait is not None:
                    on_wait(f"{path}: {what} this index; waiting for it (up to {timeout:g} s, {TIMEOUT_ENV})")
                said = True
                time.sleep(_POLL)
        if not shared:
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
    finally:
        fh.close()  # releases the lock
