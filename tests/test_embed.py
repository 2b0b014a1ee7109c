import numpy as np
import pytest

from curator.embed import DEFAULT_MODEL, Embedder, resolve_model
from curator.errors import ConfigError, ModelError


def test_default_model_reproduces_the_sentence_transformers_quickstart(embedder):
    v = embedder.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    sims = v @ v.T
    assert sims[0, 1] == pytest.approx(0.6660, abs=1e-3)
    assert sims[0, 2] == pytest.approx(0.1046, abs=1e-3)
    assert sims[1, 2] == pytest.approx(0.1411, abs=1e-3)
    assert v.dtype == np.float32 and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert embedder.model_name == DEFAULT_MODEL and embedder.dimension == 384


def test_cache_returns_same_vectors_in_input_order(embedder):
    a = embedder.encode(["alpha", "beta", "alpha"])
    assert np.array_equal(a[0], a[2])
    assert np.array_equal(embedder.encode(["beta"])[0], a[1])
    assert embedder.encode([]).shape == (0, 384)


def test_local_path_works_and_bad_paths_are_clear(tmp_path, embedder):
    path = resolve_model(None)
    assert Embedder(path).encode(["x"]).shape == (1, 384)
    with pytest.raises(ModelError, match="not a sentence-transformers model folder"):
        resolve_model(str(tmp_path))
    with pytest.raises(ModelError, match="Could not load embedding model"):
        Embedder("no-such-org/no-such-model-xyz").encode(["x"])


def test_a_vector_does_not_depend_on_its_batch_neighbours_bit_for_bit():
    # What lets the Ray engine split embedding over workers and still write the same bytes.
    texts = [f"Sentence number {i} says {'more ' * (i % 7)}things about topic {i % 5}." for i in range(40)]
    texts += ["Paris is the capital of France.", "  padded  ", "a", "x " * 300]
    together = Embedder(cache=False).encode(texts)
    alone = np.stack([Embedder(cache=False).encode([t])[0] for t in texts[::7]])
    reversed_ = Embedder(cache=False).encode(texts[::-1])[::-1]
    assert np.array_equal(together[::7], alone)
    assert np.array_equal(together, reversed_)
    import torch

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one_thread = Embedder(cache=False).encode(texts[:12])
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(together[:12], one_thread)


@pytest.mark.parametrize("backend", ["torch", "torch-bf16"])
def test_batches_side_by_side_give_the_same_bits_and_restore_the_thread_count(backend):
    import torch

    texts = [f"Claim {i}: the river {'runs ' * (i % 9)}past town {i % 4}." for i in range(70)] + ["x " * 200]
    before = torch.get_num_threads()
    one = Embedder(cache=False, workers=1, backend=backend).encode(texts)
    for w in (2, 3):
        e = Embedder(cache=False, workers=w, backend=backend)
        assert e._plan_workers(True, 10)[0] == w
        assert np.array_equal(e.encode(texts), one)
        assert torch.get_num_threads() == before
    # two callers at once take turns, and the thread count is still restored
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as ex:
        got = list(ex.map(lambda _: Embedder(cache=False, workers=2, backend=backend).encode(texts), range(2)))
    assert all(np.array_equal(g, one) for g in got) and torch.get_num_threads() == before
    assert Embedder(workers=4)._plan_workers(True, 1) == (1, 0)      # one batch: nothing to share
    assert Embedder(workers=4)._plan_workers(False, 50) == (1, 0)    # GPU / ONNX: one at a time
    for bad in (0, True, 1.5):
        with pytest.raises(ConfigError, match="workers"):
            Embedder(workers=bad)


def test_seeded_vectors_are_served_from_the_cache():
    e = Embedder()
    v = np.full((1, 384), 0.05, np.float32)
    e.seed(["never embedded text"], v)
    assert np.array_equal(e.encode(["never embedded text"]), v)


def test_auto_device_is_cpu_without_a_gpu():
    import torch

    from curator.embed import resolve_device

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


def test_onnx_backend_gives_torchs_vectors_within_rounding_and_keeps_fixed_shapes(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import torch

    texts = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    texts += [f"Sentence number {i} says {'more ' * (i % 7)}things about topic {i % 5}." for i in range(30)]
    texts += ["a", "x " * 300]
    onnx = Embedder(cache=False, backend="onnx", cache_dir=tmp_path, device="cpu")
    v = onnx.encode(texts)
    assert list(tmp_path.glob("onnx/*.onnx"))  # exported once, reused by the next Embedder
    sims = v[:3] @ v[:3].T
    assert sims[0, 1] == pytest.approx(0.6660, abs=1e-3) and sims[0, 2] == pytest.approx(0.1046, abs=1e-3)
    assert np.abs(v - Embedder(cache=False, device="cpu", precision="fp32").encode(texts)).max() < 1e-5
    again = Embedder(cache=False, backend="onnx", cache_dir=tmp_path, device="cpu")
    assert np.array_equal(again.encode(texts[::-1])[::-1], v)  # other batch neighbours, same bits
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # the session takes torch's thread count
        one = Embedder(cache=False, backend="onnx", cache_dir=tmp_path / "t1", device="cpu").encode(texts[:12])
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(one, v[:12])


def test_unknown_backend_is_a_one_line_config_error():
    from curator.errors import ConfigError

    with pytest.raises(ConfigError, match="backend"):
        Embedder(backend="tensorrt")


def test_cli_run_with_the_onnx_backend_keeps_and_drops_the_same_rows(tmp_path, demo_index_dir, monkeypatch):
    """Vectors within ~2e-7 of torch's: on real rows the verdicts, reasons and summary agree; only
    the last digits of the float scores may differ."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from .cli_helpers import demo_runs

    monkeypatch.setenv("CURATOR_CACHE_DIR", str(tmp_path / "cache"))
    keep = ("drop_stage", "drop_reason", "grounding_verdict", "hallucinated", "duplicate_of", "cluster_id")
    runs = demo_runs(tmp_path, demo_index_dir, ("torch", "onnx"), keep,
                     lambda b: ["--device", "cpu", *(["--precision", "fp32"] if b == "torch" else [])])
    assert runs["torch"][0]["kept.jsonl"] and runs["torch"][0]["dropped.jsonl"]
    assert runs["torch"][0] == runs["onnx"][0]
    # the counts and reasons agree; the selection graph's diagnostics need not (an edge whose
    # similarity sits at the graph's floor may fall either side; the objective's 7th digit)
    t, o = runs["torch"][1], runs["onnx"][1]
    assert (t["embed_backend"], o["embed_backend"]) == ("torch", "onnx")  # the summary says which ran
    for key in ("rows_in", "kept", "dropped", "drop_reasons"):
        assert t[key] == o[key]
    assert {k: v["reasons"] for k, v in t["stages"].items()} == {k: v["reasons"] for k, v in o["stages"].items()}


def test_cli_run_with_embed_workers_writes_the_same_bytes(tmp_path, demo_index_dir, monkeypatch):
    """Batches side by side (--embed-workers 2) or one at a time (1): the same vectors, so the
    same kept.jsonl, dropped.jsonl and summary.json, byte for byte."""
    from click.testing import CliRunner

    from curator.cli import cli

    from .conftest import DEMO

    monkeypatch.setenv("CURATOR_CACHE_DIR", "off")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join((DEMO / "pairs.jsonl").read_text().splitlines(keepends=True)[:30]))
    for w in ("1", "2"):
        r = CliRunner().invoke(cli, ["--quiet", "run", str(pairs), "--index", str(demo_index_dir), "--budget", "12",
                                     "-o", str(tmp_path / w), "--no-report", "--device", "cpu", "--embed-workers", w])
        assert r.exit_code == 0, r.output
    for f in ("kept.jsonl", "dropped.jsonl", "summary.json"):
        assert (tmp_path / "1" / f).read_bytes() == (tmp_path / "2" / f).read_bytes(), f
    r = CliRunner().invoke(cli, ["run", str(pairs), "--index", str(demo_index_dir), "-o", str(tmp_path / "0"),
                                 "--embed-workers", "0"])
    assert r.exit_code == 2 and "--embed-workers" in r.output and "Traceback" not in r.output


def test_index_search_takes_embed_workers(demo_index_dir):
    from click.testing import CliRunner

    from curator.cli import cli

    q = "Who directed the film?"
    outs = [CliRunner().invoke(cli, ["index", "search", str(demo_index_dir), q, "-k", "3", "--embed-workers", w])
            for w in ("1", "2")]
    assert all(r.exit_code == 0 for r in outs), outs[0].output
    assert outs[0].output == outs[1].output and outs[0].output.strip()


def test_index_search_and_add_take_the_onnx_backend(tmp_path, demo_index_dir, monkeypatch):
    """`index search` / `index add` embed with the backend asked for: the same passages come back,
    and passages added under onnx are found by a torch query."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import json
    import shutil

    from click.testing import CliRunner

    from curator.cli import cli

    monkeypatch.setenv("CURATOR_CACHE_DIR", str(tmp_path / "cache"))
    idx = tmp_path / "idx"
    shutil.copytree(demo_index_dir, idx)
    q = "Which magazine was started first?"
    found = {}
    for backend in ("torch", "onnx"):
        r = CliRunner().invoke(cli, ["index", "search", str(idx), q, "-k", "3", "--embed-backend", backend])
        assert r.exit_code == 0, r.output
        found[backend] = [json.loads(x)["passage_id"] for x in r.output.splitlines()]
    assert len(found["torch"]) == 3 and found["torch"] == found["onnx"]
    doc = tmp_path / "new.txt"
    doc.write_text("The Hollow Lantern Gazette is a fortnightly journal of lighthouse keepers, founded in 1911.\n")
    r = CliRunner().invoke(cli, ["index", "add", str(idx), str(doc), "--embed-backend", "onnx", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["index", "search", str(idx), "lighthouse keepers journal", "-k", "1"])
    assert r.exit_code == 0 and "Hollow Lantern" in r.output, r.output


def test_cache_is_blocks_of_rows_and_keep_false_leaves_no_trace(monkeypatch):
    # The cache holds vectors in float32 blocks with a key -> row map; tiny blocks here so the
    # test crosses block boundaries. What callers see is the same bits, cached or not.
    import curator.embed as E

    monkeypatch.setattr(E, "CACHE_BLOCK", 3)
    monkeypatch.setattr(E, "TOKENIZE_CHUNK", 4)  # chunked tokenisation: same bits as well
    texts = [f"Row {i} is about {'the sea ' * (i % 4)}topic {i % 3}." for i in range(11)]
    fresh = Embedder(cache=False).encode(texts)
    e = Embedder()
    first = e.encode(texts[:5] + texts[:2])
    assert e.cache_rows() == 5 and len(e._blocks) == 2
    assert np.array_equal(first, np.concatenate([fresh[:5], fresh[:2]]))
    mixed = e.encode(texts, keep=[i % 2 == 0 for i in range(11)])
    assert np.array_equal(mixed, fresh)
    assert e.cache_rows() == 5 + 3  # texts 6, 8, 10 were kept; 5, 7, 9 were not
    assert e.missing(texts) == [texts[5], texts[7], texts[9]]
    assert np.array_equal(e.encode(texts[::-1], keep=False), fresh[::-1])
    assert e.cache_rows() == 8
    with pytest.raises(ValueError, match="keep has 1 values for 2 texts"):
        e.encode(texts[:2], keep=[True])


def test_onnx_backend_on_a_gpu_device_says_cpu_only_and_cache_off_writes_no_folder_here(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from curator.errors import ConfigError

    with pytest.raises(ConfigError, match="runs on the CPU only"):
        Embedder(backend="onnx", device="cuda").encode(["x"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CURATOR_CACHE_DIR", "off")
    assert Embedder(backend="onnx", cache=False).encode(["x"]).shape == (1, 384)
    assert not (tmp_path / "off").exists()


@pytest.mark.parametrize("device, match", [("gpu", "unknown device"), ("cuda", "no CUDA GPU"), ("cuda:3", "no CUDA GPU")])
def test_a_device_torch_cannot_use_is_a_one_line_config_error(device, match):
    """Not a 'could not load the model' error with advice about --model (found by a new-user run)."""
    import torch

    from curator.errors import ConfigError

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match=match):
        Embedder(device=device).encode(["hello"])


def test_bf16_backend_is_close_to_fp32_a_function_of_the_text_and_cached_apart(tmp_path):
    """torch-bf16 (= precision bf16): vectors within a few 1e-3 of fp32's, still the same bits whatever the
    batch neighbours, never mixed with fp32 vectors in the disk cache, and the weights'
    fingerprint (manifest probe) is the fp32 one, so an index built with either loads with both."""
    texts = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.",
             "Arthur's Magazine was an American literary periodical published in Philadelphia."]
    fp32 = Embedder(cache=False, precision="fp32").encode(texts)
    bf = Embedder(cache=False, backend="torch-bf16")
    v = bf.encode(texts)
    assert np.abs(v - fp32).max() < 1e-2 and ((v * fp32).sum(1) > 0.999).all()
    assert not np.array_equal(v, fp32)  # it did run in bfloat16
    alone = np.stack([Embedder(cache=False, backend="torch-bf16").encode([t])[0] for t in texts])
    assert np.array_equal(alone, v)  # fixed-shape batches: independent of batch neighbours
    assert bf.probe() == Embedder(precision="fp32").probe()
    a, b = Embedder(cache_dir=tmp_path, precision="fp32"), Embedder(cache_dir=tmp_path, backend="torch-bf16")
    a.encode(texts[:2])
    assert np.array_equal(b.encode(texts[:2]), v[:2])  # not served fp32 vectors from the shared cache dir


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_unfilled_batches_a_vector_is_itself_alone_and_among_any_texts(precision):
    """The batching contract (issue 24, decision 3): a text is embedded padded to its length
    bucket in a batch that holds 1 to batch_size texts of that bucket (at least MIN_TOKENS word
    pieces, filled with copies) where the row check passes, else batch_size rows. A vector is
    then the same bits alone, among texts of other lengths, among more texts of its bucket than
    one batch holds, on one thread per batch or on two, and filled or not."""
    import curator.devices as D
    from curator.embed import MIN_TOKENS

    words = "the river runs past an old mill where children play every summer afternoon".split()
    texts = ["", "a", "Yes.", "x " * 400]  # 2, 3, 4 and 256 (truncated) word pieces
    texts += [" ".join(words[: 1 + i % 12]) + f" {i}" for i in range(60)]  # many of some lengths
    texts += [" ".join(words * (1 + i)) for i in range(5)]
    together = Embedder(cache=False, precision=precision).encode(texts)
    assert D._ROWS_FREE and all(D._ROWS_FREE.values())  # this CPU's kernels pass the row check
    alone = np.stack([Embedder(cache=False, precision=precision).encode([t])[0] for t in texts[::4]])
    assert np.array_equal(together[::4], alone)
    mixed = Embedder(cache=False, precision=precision, batch_size=16, workers=1).encode(texts[::-1] + texts[:9])
    assert np.array_equal(mixed[:len(texts)][::-1], together) and np.array_equal(mixed[len(texts):], together[:9])
    # filled to batch_size rows (what a device failing the row check computes): the same bits here
    e = Embedder(cache=False, precision=precision)
    import unittest.mock as mock

    with mock.patch("curator.embed.rows_free", lambda *a, **k: False):
        assert np.array_equal(e.encode(texts), together)
    assert MIN_TOKENS >= 16


def test_the_row_check_catches_a_forward_that_depends_on_its_batch():
    import curator.devices as D

    probes = {5: [np.arange(5) + i for i in range(8)], 40: [np.arange(40) + i for i in range(8)]}

    def honest(rows, length):
        return np.stack([np.full(3, float(r.sum())) for r in rows])

    def by_rows(rows, length):  # rounding that moves with the row count
        return honest(rows, length) + (len(rows) % 2) * 1e-7

    def by_neighbour(rows, length):  # a row that sees the one before it
        return np.stack([np.full(3, float(r.sum() + 1e-3 * rows[i - 1].sum())) for i, r in enumerate(rows)])

    assert D.rows_free(("test", "honest"), honest, probes, 8)
    assert not D.rows_free(("test", "rows"), by_rows, probes, 8)
    assert not D.rows_free(("test", "neighbour"), by_neighbour, probes, 8)
    calls = []
    assert D.rows_free(("test", "honest"), lambda rows, n: calls.append(1), probes, 8)  # once per key
    assert not calls
    for k in [k for k in D._ROWS_FREE if k[0] == "test"]:
        del D._ROWS_FREE[k]


def test_token_ids_on_threads_are_the_tokenizers_own(embedder):
    """The private Rust tokenizer on two threads gives exactly transformers' ids (special tokens,
    truncation at the window, no padding), in order, for odd texts and more than one chunk; the
    shared tokenizer's settings are left alone."""
    from curator.devices import TOKEN_CHUNK, token_ids

    tok = embedder._load().tokenizer
    odd = ["", "   ", "a" * 5000, "x " * 600, "héllo wörld 東京", "\t tab\n", "C++ / C# 😀", "Wait... what?!"]
    texts = [f"Sentence number {i} of the list, with some words." for i in range(TOKEN_CHUNK + 40)] + odd
    want = tok([t.strip() for t in texts], truncation=True, max_length=256, return_attention_mask=False,
               return_token_type_ids=False)["input_ids"]
    before = tok.backend_tokenizer.truncation
    for threads in (1, 2):
        got = token_ids(tok, texts, 256, threads)
        assert len(got) == len(want) and all(g.dtype == np.int64 and g.tolist() == w for g, w in zip(got, want))
    assert tok.backend_tokenizer.truncation == before
