"""Issue 22, item 6: two writers of one index never lose a document. `index add` and
`index build --force` take the index folder's lock; the second waits (saying so) or fails
clearly after CURATOR_LOCK_TIMEOUT seconds. Real processes, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from curator.locks import index_lock

from .conftest import ROOT

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
       "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}


class Proc:
    """A `curator` process whose stderr is read as it comes."""

    def __init__(self, *args: str | Path, timeout: float | None = None) -> None:
        env = dict(ENV)
        if timeout is not None:
            env["CURATOR_LOCK_TIMEOUT"] = str(timeout)
        self.p = subprocess.Popen([sys.executable, "-m", "curator", *map(str, args)], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.err: list[str] = []
        self.waiting = threading.Event()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            self.err.append(line)
            if "waiting for it" in line:
                self.waiting.set()

    def wait(self, timeout: float = 300) -> tuple[int, str]:
        code = self.p.wait(timeout)
        self.t.join(10)
        return code, "".join(self.err)


def docs(path: Path, *ids: str) -> Path:
    texts = {"a": "The Nile flows north through Egypt into the Mediterranean Sea.",
             "b": "Mount Kilimanjaro is the highest mountain in Africa.",
             "c": "The Danube passes through Vienna, Budapest and Belgrade.",
             "d": "Lake Baikal in Siberia is the deepest lake on Earth."}
    path.write_text("".join(json.dumps({"id": i, "text": texts[i]}) + "\n" for i in ids), "utf-8")
    return path


def doc_ids(index: Path) -> set[str]:
    return {d["id"] for d in json.loads((index / "documents.json").read_text("utf-8"))["documents"]}


@pytest.fixture
def index(tmp_path, embedder) -> Path:
    from curator.index import PassageIndex, load_documents

    path = tmp_path / "ix"
    PassageIndex.build(load_documents([docs(tmp_path / "base.jsonl", "a")], id_field="id"), embedder).save(path)
    return path


def test_two_index_adds_at_once_keep_both_documents(tmp_path, index):
    """Both processes are started while the index is locked, so both reach the lock together;
    once it is free they add one after the other, and both documents are in the index."""
    with index_lock(index):
        p1 = Proc("index", "add", index, docs(tmp_path / "b.jsonl", "b"), "--id-field", "id")
        p2 = Proc("index", "add", index, docs(tmp_path / "c.jsonl", "c"), "--id-field", "id")
        for p in (p1, p2):
            assert p.waiting.wait(180), "".join(p.err)
    for p in (p1, p2):
        code, err = p.wait()
        assert code == 0, err
        assert "another curator process is writing or reading this index; waiting" in err
    assert doc_ids(index) == {"a", "b", "c"}
    manifest = json.loads((index / "manifest.json").read_text("utf-8"))
    assert manifest["counts"]["documents"] == 3


def test_a_writer_fails_clearly_when_the_index_stays_locked(tmp_path, index):
    before = (index / "manifest.json").read_bytes()
    with index_lock(index):
        t0 = time.monotonic()
        code, err = Proc("index", "add", index, docs(tmp_path / "b.jsonl", "b"), "--id-field", "id", timeout=1).wait()
        assert time.monotonic() - t0 < 120
    assert code == 1
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("Error:")]
    assert "another curator process" in line and "gave up waiting after 1 s" in line and "CURATOR_LOCK_TIMEOUT" in line
    assert (index / "manifest.json").read_bytes() == before
    assert doc_ids(index) == {"a"}


def test_index_build_force_waits_for_an_add(tmp_path, index):
    """A rebuild started while another writer holds the index waits, then replaces it."""
    with index_lock(index):
        p = Proc("index", "build", docs(tmp_path / "d.jsonl", "d"), "--out", index, "--id-field", "id", "--force")
        assert p.waiting.wait(180), "".join(p.err)
        assert doc_ids(index) == {"a"}  # nothing written while the lock is held
    code, err = p.wait()
    assert code == 0, err
    assert doc_ids(index) == {"d"}
    code, err = Proc("index", "build", docs(tmp_path / "d.jsonl", "d"), "--out", index, "--id-field", "id").wait()
    assert code == 1 and "already exists" in err


def test_a_reader_waits_for_a_writer_and_fails_clearly(index):
    with index_lock(index):
        code, err = Proc("index", "search", index, "Nile", "-k", "1", timeout=1).wait()
    assert code == 1 and "Traceback" not in err
    assert "gave up waiting after 1 s" in err and f"(pid {os.getpid()})" in err
    code, err = Proc("index", "search", index, "Nile", "-k", "1", timeout=1).wait()
    assert code == 0, err


def test_the_lock_is_reentrant_and_released(tmp_path, index):
    from curator.locks import _HELD

    with index_lock(index):
        with index_lock(index), index_lock(index, shared=True):
            pass
        assert str(index.absolute()) in _HELD
    assert not _HELD
    # a read-only copy without a lock file reads without one
    (index / ".lock").unlink()
    with index_lock(index, shared=True):
        assert not (index / ".lock").exists()


def test_bad_timeout_setting(monkeypatch, tmp_path):
    from curator.errors import ConfigError

    monkeypatch.setenv("CURATOR_LOCK_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="CURATOR_LOCK_TIMEOUT"), index_lock(tmp_path / "x"):
        pass
