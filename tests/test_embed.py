import numpy as np
import pytest

from curator.embed import DEFAULT_MODEL, Embedder, resolve_model
from curator.errors import ModelError


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
