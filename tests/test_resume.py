"""A run killed mid-way (kill -9) resumes from its last finished stage with identical outputs."""

import os
import signal
import subprocess
import sys
import time

from .conftest import DEMO

OUTPUTS = ("kept.jsonl", "dropped.jsonl", "scores.parquet", "summary.json")


def test_kill_9_then_resume_gives_byte_identical_outputs(tmp_path, demo_index_dir):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(open(DEMO / "pairs.jsonl").readlines()[:90]))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CURATOR_CACHE_DIR": str(tmp_path / "cache")}

    def cmd(out, *flags):
        return [sys.executable, "-m", "curator", *flags, "run", str(pairs), "--index", str(demo_index_dir),
                "--budget", "20", "-o", str(out), "--no-report"]

    clean = tmp_path / "clean"
    subprocess.run(cmd(clean), check=True, env=env, capture_output=True)

    # Kill a fresh run (cold cache) as soon as its first stage has been checkpointed.
    env_cold = {**env, "CURATOR_CACHE_DIR": str(tmp_path / "cache2")}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd(killed), env=env_cold, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list(killed.glob(".curator/*/00-quality.json")):
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    finished_early = proc.poll() is not None
    if not finished_early:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "kept.jsonl").exists() or finished_early
    res = subprocess.run(cmd(killed, "--verbose"), check=True, env=env_cold, capture_output=True, text=True)
    if not finished_early:
        assert "resumed from checkpoint" in res.stderr
    for name in OUTPUTS:
        assert (clean / name).read_bytes() == (killed / name).read_bytes(), name
