"""Shared fixtures: the real embedder (loaded once per session) and a built demo index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (CI must not fail by chance); explore new
# ones with HYPOTHESIS_PROFILE=explore (random draws, more examples).
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "halueval_demo"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def embedder():
    from curator.embed import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def demo_index_dir(tmp_path_factory, embedder) -> Path:
    from curator.index import PassageIndex, load_documents

    path = tmp_path_factory.mktemp("indexes") / "demo"
    PassageIndex.build(load_documents([DEMO / "sources.jsonl"], id_field="id"), embedder).save(path)
    return path


@pytest.fixture(scope="session")
def demo_index(demo_index_dir, embedder):
    from curator.index import PassageIndex

    return PassageIndex.load(demo_index_dir, embedder=embedder)
