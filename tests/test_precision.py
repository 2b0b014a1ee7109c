"""Embedding precision (issue 24): bf16 by default where the hardware computes it natively, fp32
elsewhere and on request (the old bits); recorded in summary.json and index manifests; an index
built at one precision serves runs at the other."""

from __future__ import annotations

import json

import numpy as np
import pytest

import curator.devices as E
import curator.embed as EMB
from curator.embed import Embedder
from curator.errors import ConfigError

TEXTS = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.",
         "Arthur's Magazine was an American literary periodical published in Philadelphia."]


def _forward_fp32(texts: list[str]) -> np.ndarray:
    """What curator computed before bf16 became the default: each text alone in a fixed-shape
    batch (batch 16, its length bucket), no autocast, normalised."""
    import torch

    st = Embedder(precision="fp32")._load()
    tok = st.tokenizer
    out = []
    for t in texts:
        ids = tok([t.strip()], truncation=True, max_length=int(st.max_seq_length))["input_ids"][0]
        length = EMB._bucket(len(ids), int(st.max_seq_length))
        x = torch.full((16, length), int(tok.pad_token_id or 0), dtype=torch.long)
        m = torch.zeros((16, length), dtype=torch.long)
        x[:, :len(ids)] = torch.tensor(ids)
        m[:, :len(ids)] = 1
        with torch.inference_mode():
            v = st.forward({"input_ids": x, "attention_mask": m, "token_type_ids": torch.zeros_like(x)})
        out.append(torch.nn.functional.normalize(v["sentence_embedding"].float(), p=2, dim=1)[0].numpy())
    return np.stack(out)


def test_fp32_keeps_the_old_bits_and_bf16_is_close():
    fp32 = Embedder(cache=False, precision="fp32")
    assert fp32.effective_precision == "fp32"
    v = fp32.encode(TEXTS)
    assert np.array_equal(v, _forward_fp32(TEXTS))
    bf = Embedder(cache=False, precision="bf16")
    w = bf.encode(TEXTS)
    assert bf.effective_precision == "bf16" and not np.array_equal(v, w)
    assert np.abs(v - w).max() < 1e-2 and ((v * w).sum(1) > 0.999).all()
    # the legacy backend name is the same computation
    assert np.array_equal(Embedder(cache=False, backend="torch-bf16").encode(TEXTS), w)
    # the weights' fingerprint is computed in fp32 at any precision
    assert bf.probe() == fp32.probe()


def test_auto_is_bf16_only_where_the_cpu_has_it(monkeypatch):
    monkeypatch.setattr(E, "cpu_has_native_bf16", lambda: False)
    assert Embedder(device="cpu").effective_precision == "fp32"
    assert Embedder(device="cpu", precision="bf16").effective_precision == "bf16"  # asked: emulated
    monkeypatch.setattr(E, "cpu_has_native_bf16", lambda: True)
    assert Embedder(device="cpu").effective_precision == "bf16"
    assert Embedder(device="cpu", precision="fp32").effective_precision == "fp32"
    assert Embedder(device="cpu", backend="onnx").effective_precision == "fp32"  # ONNX computes in fp32


def test_cpuinfo_flags_are_read():
    assert E._cpuinfo_has_bf16("processor: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n")
    assert E._cpuinfo_has_bf16("flags : fpu amx_bf16 amx_tile\n")
    assert not E._cpuinfo_has_bf16("flags : fpu sse2 avx2 avx512f\n")
    assert not E._cpuinfo_has_bf16("Features: fp asimd bf16\n")  # ARM: no flags line, fp32


def test_bad_precisions_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="precision"):
        Embedder(precision="fp16")
    with pytest.raises(ConfigError, match="computes in bf16"):
        Embedder(backend="torch-bf16", precision="fp32")
    with pytest.raises(ConfigError, match="fp32 only"):
        Embedder(backend="onnx", precision="bf16")


def test_disk_cache_keeps_precisions_apart(tmp_path):
    a = Embedder(cache_dir=tmp_path, precision="fp32")
    v32 = a.encode(TEXTS[:2])
    b = Embedder(cache_dir=tmp_path, precision="bf16")
    v16 = b.encode(TEXTS[:2])
    assert not np.array_equal(v32, v16)
    assert np.array_equal(Embedder(cache_dir=tmp_path, precision="fp32").encode(TEXTS[:2]), v32)
    # torch at bf16 and the torch-bf16 backend share their cached vectors (the same bits)
    assert b._disk_dir() == Embedder(cache_dir=tmp_path, backend="torch-bf16")._disk_dir() != a._disk_dir()


def test_an_fp32_index_serves_a_bf16_run_and_the_manifest_records_the_precision(tmp_path):
    from curator.index import PassageIndex, load_documents

    from .conftest import DEMO

    docs = load_documents([DEMO / "sources.jsonl"], id_field="id")[:20]
    idx = PassageIndex.build(docs, Embedder(precision="fp32"))
    assert idx.manifest["precision"] == "fp32"
    idx.save(tmp_path / "idx")
    assert json.loads((tmp_path / "idx" / "manifest.json").read_text())["precision"] == "fp32"
    bf = Embedder(precision="bf16")
    loaded = PassageIndex.load(tmp_path / "idx", embedder=bf)  # the probe check passes
    q = docs[0].text.split(".")[0]
    assert loaded.search([q], k=1)[0][0].doc_id == docs[0].id
    loaded.add(load_documents([DEMO / "sources.jsonl"], id_field="id")[20:22])
    assert loaded.manifest["precision"] == "mixed"  # passages added at another precision


def test_summary_config_and_ray_settings_carry_the_precision(tmp_path, demo_index_dir, monkeypatch):
    from click.testing import CliRunner

    from curator.cli import cli
    from curator.config import load_pipeline
    from curator.context import RunContext

    from .conftest import DEMO

    monkeypatch.setenv("CURATOR_CACHE_DIR", "off")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join((DEMO / "pairs.jsonl").read_text().splitlines(keepends=True)[:12]))
    for precision in ("fp32", "bf16"):
        r = CliRunner().invoke(cli, ["--quiet", "run", str(pairs), "--index", str(demo_index_dir), "-o",
                                     str(tmp_path / precision), "--no-report", "--precision", precision])
        assert r.exit_code == 0, r.output
        summary = json.loads((tmp_path / precision / "summary.json").read_text())
        assert (summary["embed_backend"], summary["embed_precision"]) == ("torch", precision)
    toml = tmp_path / "p.toml"
    toml.write_text(f'[input]\npath = "{pairs}"\n[embedder]\nprecision = "fp32"\n[[steps]]\ntype = "quality"\n')
    assert load_pipeline(toml).embedder == {"precision": "fp32"}
    ctx = RunContext(Embedder(precision="fp32"))
    assert ctx.embedder_settings()["precision"] == "fp32"
    r = CliRunner().invoke(cli, ["run", str(pairs), "--index", str(demo_index_dir), "-o", str(tmp_path / "x"),
                                 "--precision", "fp16"])
    assert r.exit_code == 2 and "--precision" in r.output
