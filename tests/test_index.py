import json

import pytest

from curator.embed import Embedder
from curator.errors import ConfigError, IndexMismatchError, IndexNotFoundError, InputError
from curator.index import Document, PassageIndex, load_documents, resolve_index_path


def test_demo_index_retrieves_the_right_passage(demo_index):
    hits = demo_index.search(["Which magazine was started first Arthur's Magazine or First for Women?"], k=3)[0]
    assert hits[0].doc_id == "doc000"
    assert hits[0].score >= hits[1].score
    assert hits[0].text == demo_index.passages["text"][hits[0].passage_id]


def test_manifest_describes_the_index(demo_index_dir):
    m = json.loads((demo_index_dir / "manifest.json").read_text())
    assert m["model"] == "sentence-transformers/all-MiniLM-L6-v2" and m["dimension"] == 384
    assert m["counts"] == {"documents": 120, "passages": 120}
    assert m["metric"] == "inner_product" and m["normalized"] is True
    assert m["chunking"]["max_tokens"] == 128 and len(m["corpus_hash"]) == 64
    assert set(m["files"]) == {"index.faiss", "passages.parquet", "sentences.keys.npy", "sentences.vectors.npy"}
    assert m["format"] == 2 and m["sentence_vectors"]["batch_size"] == 16


def test_add_documents_and_reload(tmp_path, embedder):
    idx = PassageIndex.build([Document("a", "Paris is the capital of France.")], embedder)
    assert idx.add([Document("a", "Paris is the capital of France."), Document("b", "Rome is in Italy.")]) == 1
    with pytest.raises(InputError, match="already in the index with a different text"):
        idx.add([Document("a", "Changed text.")])
    idx.save(tmp_path / "i")
    again = PassageIndex.load(tmp_path / "i", embedder)
    assert len(again) == 2 and again.search(["Italy"], k=1)[0][0].doc_id == "b"
    assert again.add([Document("b", "Rome is in Italy.")]) == 0


def test_the_same_text_under_another_id_is_not_indexed_twice(tmp_path, embedder, caplog):
    # `index build docs/` names it a/intro.md; `index add NAME docs/a/intro.md` names it intro.md
    docs = tmp_path / "docs"
    for sub, text in (("a", "The Eiffel Tower is 330 metres tall."), ("b", "Rome is the capital of Italy.")):
        (docs / sub).mkdir(parents=True)
        (docs / sub / "intro.md").write_text(text, encoding="utf-8")
    idx = PassageIndex.build(load_documents([docs]), embedder)
    assert sorted(idx.passages["doc_id"].to_list()) == ["a/intro.md", "b/intro.md"]
    with caplog.at_level("WARNING"):
        assert idx.add(load_documents([docs / "a" / "intro.md"])) == 0
    assert "same text as 'a/intro.md'" in caplog.text
    assert len(idx) == 2
    # a new text is still added, under its own id
    (docs / "c.md").write_text("Lima is the capital of Peru.", encoding="utf-8")
    assert idx.add(load_documents([docs / "c.md"])) == 1 and len(idx) == 3


def test_hnsw_index_type(embedder):
    idx = PassageIndex.build([Document(str(i), f"Fact number {i} is about topic {i}.") for i in range(20)],
                             embedder, index_type="hnsw")
    assert idx.manifest["index_type_resolved"] == "hnsw"
    assert idx.search(["Fact number 7 is about topic 7."], k=1)[0][0].doc_id == "7"


def test_index_refuses_another_model(demo_index_dir, tmp_path):
    m = json.loads((demo_index_dir / "manifest.json").read_text())
    m["model"] = "some/other-model"
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in demo_index_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexMismatchError, match="was built with model 'some/other-model'"):
        PassageIndex.load(bad, Embedder())
    m["model"] = "sentence-transformers/all-MiniLM-L6-v2"
    m["model_probe"] = [0.0] * 16
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexMismatchError, match="different weights"):
        PassageIndex.load(bad, Embedder())


def test_corrupted_or_missing_index(demo_index_dir, tmp_path):
    with pytest.raises(IndexNotFoundError, match="curator index build"):
        resolve_index_path("never-built")
    with pytest.raises(ConfigError, match="not a valid index name"):
        resolve_index_path("bad name!")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text((demo_index_dir / "manifest.json").read_text())
    (broken / "index.faiss").write_bytes(b"garbage")
    (broken / "passages.parquet").write_bytes((demo_index_dir / "passages.parquet").read_bytes())
    with pytest.raises(IndexNotFoundError, match="does not match the manifest hash"):
        PassageIndex.load(broken)


def test_load_documents_from_folders_and_tables(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Alpha text.")
    (tmp_path / "docs" / "b.md").write_text("# Beta\nBeta text.")
    (tmp_path / "docs" / "empty.txt").write_text("  ")
    docs = load_documents([tmp_path / "docs"])
    assert [d.id for d in docs] == ["a.txt", "b.md"]
    (tmp_path / "t.jsonl").write_text('{"body": "x"}\n')
    with pytest.raises(InputError, match="no 'text' field.*--text-field"):
        load_documents([tmp_path / "t.jsonl"])
    assert load_documents([tmp_path / "t.jsonl"], text_field="body")[0].id == "t.jsonl:1"


def test_html_sources_lose_their_boilerplate(tmp_path):
    page = ("<html><head><title>t</title><script>var x=1;</script></head><body>"
            "<nav><a href='/'>Home</a> | <a href='/about'>About us</a> | <a href='/c'>Contact</a></nav>"
            "<article><h1>The bridge</h1><p>The Golden Gate Bridge opened to traffic in 1937 after four years "
            "of construction. It spans the strait between San Francisco Bay and the Pacific Ocean.</p>"
            "<p>Its total length is about 2.7 kilometres and its towers rise 227 metres above the water.</p></article>"
            "<footer>Copyright 2024. All rights reserved. Privacy policy.</footer></body></html>")
    (tmp_path / "page.html").write_text(page)
    (doc,) = load_documents([tmp_path / "page.html"])
    assert "opened to traffic in 1937" in doc.text
    assert "var x" not in doc.text and "All rights reserved" not in doc.text


def test_grounding_reads_evidence_vectors_from_the_index_instead_of_embedding_them(tmp_path):
    from curator.grounding import GroundingScorer, PairInput
    from curator.text import sentence_spans

    docs = [Document("d1", "The bridge opened in 1932. It spans the harbour. Trains cross it daily."),
            Document("d2", "Tea is grown in Assam. The harvest starts in March.")]
    built = PassageIndex.build(docs, Embedder())
    built.save(tmp_path / "i")
    fresh = Embedder()
    idx = PassageIndex.load(tmp_path / "i", fresh)
    embedded: list[str] = []
    real = fresh._embed
    fresh._embed = lambda texts: (embedded.extend(texts), real(texts))[1]  # type: ignore[method-assign]
    pairs = [PairInput("When did the bridge open?", "The bridge opened in 1932. Trains cross it.", None, None)]
    got = GroundingScorer(embedder=fresh, index=idx).score(pairs)
    evidence = {s for d in docs for s, _, _ in sentence_spans(d.text)}
    assert embedded and not evidence & set(embedded)
    # and the result is the one a run that embeds everything gets, bit for bit
    plain = GroundingScorer(embedder=Embedder(), index=PassageIndex.load(tmp_path / "i", Embedder(batch_size=8)))
    assert got[0].hallucination_prob == pytest.approx(plain.score(pairs)[0].hallucination_prob, abs=1e-6)
    ref = GroundingScorer(embedder=Embedder(), index=built).score(pairs)
    assert got[0].hallucination_prob == ref[0].hallucination_prob


def test_format_1_indexes_still_load(tmp_path):
    idx = PassageIndex.build([Document("a", "Paris is the capital of France. It is large.")], Embedder())
    idx.save(tmp_path / "i")
    m = json.loads((tmp_path / "i" / "manifest.json").read_text())
    for f in ("sentences.keys.npy", "sentences.vectors.npy"):
        (tmp_path / "i" / f).unlink()
        del m["files"][f]
    del m["sentence_vectors"], m["format"]
    (tmp_path / "i" / "manifest.json").write_text(json.dumps(m))
    old = PassageIndex.load(tmp_path / "i", Embedder())
    assert old.search(["capital of France"], k=1)[0][0].doc_id == "a"
