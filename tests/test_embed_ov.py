"""The ``openvino`` embedding backend (curator.embed_ov): torch's vectors within rounding, a
text's vector independent of its batch and thread plan, no telemetry, one-line errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from curator.embed import Embedder
from curator.errors import ConfigError


def needs_openvino() -> None:
    """Skip without OpenVINO, found without importing it (``import openvino`` imports its converter,
    whose telemetry curator binds to the stub: only curator's import_openvino may import it)."""
    import importlib.util

    if importlib.util.find_spec("openvino") is None:
        pytest.skip("openvino is not installed (pip install 'curator[openvino]')")


QUICKSTART = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
TEXTS = QUICKSTART + [f"Sentence number {i} says {'more ' * (i % 7)}things about topic {i % 5}." for i in range(30)]
TEXTS += ["a", "x " * 300, "The Eiffel Tower is in Paris, France, and was finished in 1889."]


def test_openvino_gives_torchs_vectors_within_rounding_at_each_precision():
    needs_openvino()
    for precision, tol in (("fp32", 1e-5), ("bf16", 1e-2)):
        ov = Embedder(cache=False, backend="openvino", precision=precision).encode(TEXTS)
        torch_v = Embedder(cache=False, precision=precision).encode(TEXTS)
        assert np.abs(ov - torch_v).max() < tol, precision
        assert float((ov * torch_v).sum(1).min()) > 0.9999, precision
        sims = ov[:3] @ ov[:3].T  # the public quickstart's similarities
        assert sims[0, 1] == pytest.approx(0.6660, abs=2e-3) and sims[0, 2] == pytest.approx(0.1046, abs=2e-3)


def test_openvino_vector_is_a_function_of_the_text_alone():
    """Other batch neighbours, another order, one batch at a time or two side by side: the same bits."""
    needs_openvino()
    v = Embedder(cache=False, backend="openvino").encode(TEXTS)
    assert np.array_equal(Embedder(cache=False, backend="openvino").encode(TEXTS[::-1])[::-1], v)
    one = Embedder(cache=False, backend="openvino", workers=1).encode(TEXTS[5:17])
    assert np.array_equal(one, v[5:17])
    alone = Embedder(cache=False, backend="openvino").encode([TEXTS[-1]])
    assert np.array_equal(alone[0], v[-1])


def test_openvino_sends_no_telemetry_and_writes_nothing_home(tmp_path):
    """OpenVINO's converter reports usage to Google Analytics on import unless opted out; curator
    imports it bound to OpenVINO's own no-op stub (a fresh process: the first import decides)."""
    needs_openvino()
    import subprocess

    code = ("from curator.embed import Embedder; Embedder(cache=False, backend='openvino').encode(['hi there']);"
            "import sys, openvino.tools.ovc.telemetry_utils as t, openvino.tools.ovc.convert_impl as c;"
            "print(t.tm.__name__, c.tm.__name__, 'openvino_telemetry' in sys.modules)")
    env = {"HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
           "PYTHONPATH": ":".join(p for p in sys.path if p)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    stub = "openvino.tools.ovc.telemetry_stub"
    assert r.stdout.split() == [stub, stub, "False"]
    assert not (tmp_path / "intel").exists()  # no client id, no usage counter


def test_openvino_errors_are_one_line(monkeypatch):
    with pytest.raises(ConfigError, match="CPU only"):
        Embedder(backend="openvino", device="cuda").encode(["x"])
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if not installed
    from curator import embed_ov

    with pytest.raises(ConfigError, match=r"pip install 'curator\[openvino\]'"):
        embed_ov.import_openvino()


def test_openvino_keeps_its_own_disk_cache(tmp_path):
    """Another backend's vectors differ in the last bits: never mixed in one cache folder."""
    folders = {b: Embedder(backend=b, cache_dir=tmp_path, precision="bf16")._disk_dir()
               for b in ("torch", "openvino")}
    assert folders["torch"] != folders["openvino"]


def test_cli_run_with_the_openvino_backend_keeps_and_drops_the_same_rows(tmp_path, demo_index_dir, monkeypatch):
    """On real rows (the HaluEval demo against its index) the verdicts, reasons and counts agree
    with torch's at the same precision; the summary names the backend."""
    needs_openvino()
    from .cli_helpers import demo_runs

    monkeypatch.setenv("CURATOR_CACHE_DIR", "off")
    keep = ("drop_stage", "drop_reason", "grounding_verdict", "hallucinated", "duplicate_of")
    runs = demo_runs(tmp_path, demo_index_dir, ("torch", "openvino"), keep)
    assert runs["torch"][0]["kept.jsonl"] and runs["torch"][0]["dropped.jsonl"]
    assert runs["torch"][0] == runs["openvino"][0]
    t, o = runs["torch"][1], runs["openvino"][1]
    assert (t["embed_backend"], o["embed_backend"]) == ("torch", "openvino")
    for key in ("rows_in", "kept", "dropped", "drop_reasons"):
        assert t[key] == o[key]


def test_openvino_is_a_backend_of_the_cli():
    from click.testing import CliRunner

    from curator.cli import cli

    r = CliRunner().invoke(cli, ["run", "--help"])
    assert "openvino" in r.output


def test_an_index_manifest_names_the_backend_that_embedded_it(tmp_path):
    """Built with openvino: the manifest says so; passages added later by torch make it "mixed"
    (the vectors agree up to rounding; the precision is recorded beside it)."""
    needs_openvino()
    from curator.index import Document, PassageIndex

    idx = PassageIndex.build([Document("a", "Paris is the capital of France.")],
                             Embedder(cache=False, backend="openvino"))
    assert idx.manifest["embed_backend"] == "openvino"
    hits = idx.search(["What is the capital of France?"], k=1)
    assert hits[0][0].text == "Paris is the capital of France."
    idx.save(tmp_path / "idx")
    again = PassageIndex.load(tmp_path / "idx", embedder=Embedder(cache=False))
    again.add([Document("b", "Berlin is the capital of Germany.")])
    assert again.manifest["embed_backend"] == "mixed"


def test_an_infer_request_never_outlives_its_compiled_model_into_another_at_the_same_address():
    """embed_ov.run keeps one infer request per compiled model and thread, keyed by id(): a
    compiled model freed and another made at the same address must get its own request (no
    OpenVINO needed: two stand-ins whose requests return different vectors)."""
    import gc

    from curator import embed_ov

    class Request:
        def __init__(self, value: float) -> None:
            self.value = value

        def infer(self, feeds: dict) -> list:
            return [np.full((len(feeds["input_ids"]), 2), self.value, dtype=np.float32)]

    class Compiled:
        def __init__(self, value: float) -> None:
            self.value = value

        def create_infer_request(self) -> Request:
            return Request(self.value)

    ids, mask = np.ones((1, 3), np.int64), np.ones((1, 3), np.int64)
    for _ in range(50):  # the allocator hands a freed address to the next stand-in within a few tries
        a = Compiled(1.0)
        assert embed_ov.run(a, ids, mask)[0, 0] > 0
        del a
        gc.collect()
        b = Compiled(-1.0)
        assert embed_ov.run(b, ids, mask)[0, 0] < 0
