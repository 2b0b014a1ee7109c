"""PassageIndex: source documents → passages → embeddings → a persistent FAISS index.

On disk (``indexes/<name>/``)::

    index.faiss        the FAISS index (inner product over unit vectors = cosine)
    passages.parquet   passage_id, doc_id, chunk, text, start, end (char offsets in the document)
    manifest.json      model, dimension, metric, chunking, counts, corpus and file hashes, version
    sentences.keys.npy     content hashes of the passages' sentences (format 2)
    sentences.vectors.npy  their unit vectors, so grounding never re-embeds evidence (format 2)

>>> idx = PassageIndex.build([Document("d1", "Paris is the capital of France.")])  # doctest: +SKIP
>>> idx.search(["capital of France"], k=1)[0][0].doc_id                              # doctest: +SKIP
'd1'
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .embed import Embedder
from .errors import ConfigError, IndexMismatchError, IndexNotFoundError, InputError, check_param
from .text import chunk_text

INDEX_FILE = "index.faiss"
PASSAGES_FILE = "passages.parquet"
MANIFEST_FILE = "manifest.json"
DOCUMENTS_FILE = "documents.json"  # doc id -> text hash, so `add` can skip unchanged documents
SENTENCE_KEYS_FILE = "sentences.keys.npy"
SENTENCE_VECTORS_FILE = "sentences.vectors.npy"
# 1: passages + FAISS; 2: + the sentence vectors of the passages. Format-1 indexes still load
# (their evidence sentences are embedded at run time, as before).
INDEX_FORMAT = 2
DEFAULT_INDEX_DIR = "indexes"
INDEX_TYPES = ("auto", "flat", "hnsw")
# Exact search scans every vector: at 200k passages x 384 dims that is ~77 MFLOP per query,
# ~10-20 ms on 2 cores, still fine for scoring; above it HNSW answers in ~1 ms at recall > 0.95.
AUTO_HNSW_ABOVE = 200_000
#: Largest difference allowed between the manifest's model probe (16 values rounded to 5 decimals)
#: and the run's. The probe is always computed in fp32 (Embedder.probe), so an index built at bf16
#: loads in an fp32 run and the other way round. fp32 on another CPU, a GPU or ONNX Runtime moves
#: it by < 1e-5; even a probe computed at bf16 would pass (it moved by 4.7e-4 on this CPU); other
#: weights under the same name move it by far more.
PROBE_TOLERANCE = 2e-3
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
_HTML_SUFFIXES = (".html", ".htm")
_TABLE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".csv")


@dataclass(frozen=True)
class Document:
    """A human-written source document."""

    id: str
    text: str


@dataclass(frozen=True)
class Passage:
    """A retrieved passage: where it comes from and how similar it is to the query."""

    passage_id: int
    doc_id: str
    text: str
    start: int
    end: int
    score: float


# ---------------------------------------------------------------------------------------------
# reading sources
# ---------------------------------------------------------------------------------------------
def load_documents(paths: Sequence[str | Path], text_field: str = "text",
                   id_field: str | None = None) -> list[Document]:
    """Read source documents from text files, folders of them, or tables with a text column.

    Text files become one document each; table rows become one document each (id = ``id_field``
    or ``<file>:<line>``). A file's id is its path relative to the folder given, or, when several
    sources are given, to their common folder, so ``a/intro.md`` and ``b/intro.md`` stay apart.
    Rows with an empty text are skipped; an empty result is an error. Two different texts under
    one id are refused (naming the id and both places); a repeated identical document is kept
    once (logged).
    """
    import logging

    from .io import read_bytes, read_table

    log = logging.getLogger(__name__)
    given = [Path(p) for p in paths]
    for path in given:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder. Check the path.")
    root = _common_root(given)
    docs: list[Document] = []
    seen: dict[str, tuple[str, str]] = {}  # id -> (text hash, where it came from)

    def put(doc_id: str, text: str, where: str) -> None:
        h = _text_hash(text)
        if doc_id in seen:
            if seen[doc_id][0] != h:
                raise InputError(
                    f"document id {doc_id!r} names two different documents ({seen[doc_id][1]} and "
                    f"{where}); give each document its own id.")
            log.warning("document id %r repeated with the same text (%s and %s): indexed once",
                        doc_id, seen[doc_id][1], where)
            return
        seen[doc_id] = (h, where)
        docs.append(Document(doc_id, text))

    for path in given:
        files = sorted(f for f in path.rglob("*") if f.is_file() and _source_suffix(f) in _TEXT_SUFFIXES + _HTML_SUFFIXES) \
            if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise InputError(f"{path}: folder has no {'/'.join(_TEXT_SUFFIXES + _HTML_SUFFIXES)} files.")
        base = root if root is not None else (path if path.is_dir() else path.parent)
        for f in files:
            suffix = _source_suffix(f)
            rel = _relative(f, base)
            if suffix in _TEXT_SUFFIXES + _HTML_SUFFIXES:
                try:
                    text = read_bytes(f).decode("utf-8").removeprefix("\ufeff")
                except UnicodeDecodeError as exc:
                    raise InputError(f"{f}: not UTF-8 text (offset {exc.start}). Re-encode it as UTF-8.") from exc
                if suffix in _HTML_SUFFIXES:
                    text = html_to_text(text)
                if text.strip():
                    put(rel, text, str(f))
            elif suffix in _TABLE_SUFFIXES:
                res = read_table(f)
                for rec, line in zip(res.items, res.lines):
                    assert isinstance(rec, dict)  # read_table raises on bad lines by default
                    if text_field not in rec:
                        raise InputError(
                            f"{f}:{line}: no {text_field!r} field; the records have: "
                            f"{', '.join(sorted(rec))}. Name the text column with --text-field."
                        )
                    if id_field is not None and id_field not in rec:
                        raise InputError(f"{f}:{line}: no {id_field!r} field. Fix --id-field.")
                    text = rec[text_field]
                    if text is None or not str(text).strip():
                        continue
                    doc_id = str(rec[id_field]) if id_field else f"{rel}:{line}"
                    for name, value in ((text_field, str(text)), (id_field, doc_id)):
                        lone = _LONE_SURROGATE.search(value)
                        if lone is not None:
                            raise InputError(
                                f"{f}:{line}: field {name!r} holds a lone UTF-16 surrogate (\\u{ord(lone.group()):04x}, "
                                "half of a character such as an emoji), which UTF-8 cannot encode. Fix the record.")
                    put(doc_id, str(text), f"{f}:{line}")
            else:
                raise InputError(
                    f"{f}: unsupported source type {f.suffix!r}; use "
                    f"{', '.join(_TEXT_SUFFIXES + _TABLE_SUFFIXES)} or a folder."
                )
    if not docs:
        raise InputError("no non-empty source documents found in " + ", ".join(map(str, paths)) + ".")
    return docs


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _source_suffix(f: Path) -> str:
    """A source file's type, looking through .gz/.zst: ``notes.md.zst`` is markdown."""
    suffixes = [s.lower() for s in f.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".zst"):
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _common_root(paths: list[Path]) -> Path | None:
    """The folder several sources share (ids are relative to it); None for one source."""
    if len(paths) < 2:
        return None
    folders = [str((p if p.is_dir() else p.parent).resolve()) for p in paths]
    return Path(os.path.commonpath(folders))


def _relative(f: Path, base: Path) -> str:
    try:
        return f.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:  # pragma: no cover - base is always an ancestor
        return f.name


def html_to_text(html: str) -> str:
    """Main text of an HTML page, navigation and boilerplate stripped (trafilatura)."""
    import logging

    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    return trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=True) or ""


def unique_documents(docs: Iterable[Document]) -> list[Document]:
    """Drop documents whose (id, text) repeats, keeping first occurrences in order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for d in docs:
        if (d.id, d.text) not in seen:
            seen.add((d.id, d.text))
            out.append(d)
    return out


# ---------------------------------------------------------------------------------------------
# locating indexes
# ---------------------------------------------------------------------------------------------
def index_root() -> Path:
    return Path(os.environ.get("CURATOR_INDEX_DIR", DEFAULT_INDEX_DIR))


def resolve_index_path(name_or_path: str | Path, must_exist: bool = True) -> Path:
    """A plain name means ``$CURATOR_INDEX_DIR/<name>`` (default ``indexes/<name>``); anything
    with a path separator, or an existing folder, is used as a path."""
    s = str(name_or_path)
    looks_like_path = os.sep in s or "/" in s or s.startswith(".")
    if looks_like_path or (Path(s).is_dir() and (Path(s) / MANIFEST_FILE).exists()):
        path = Path(s)
    else:
        if not _NAME_RE.match(s) or ".." in s:
            raise ConfigError(
                f"{s!r} is not a valid index name: use letters, digits, '.', '_' or '-' "
                "(or pass a folder path)."
            )
        path = index_root() / s
    if must_exist and not (path / MANIFEST_FILE).exists():
        hint = f"run `curator index build SOURCES --name {s}` first" if not looks_like_path else \
            "check the path or build it with `curator index build SOURCES --out DIR`"
        raise IndexNotFoundError(f"no index at {path} ({MANIFEST_FILE} missing): {hint}.")
    return path


def check_index_name(name: str) -> str:
    if not _NAME_RE.match(name) or ".." in name:
        raise ConfigError(
            f"{name!r} is not a valid index name: use letters, digits, '.', '_' or '-' "
            "(use --out DIR for a path)."
        )
    return name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def corpus_hash(docs: Sequence[Document]) -> str:
    h = hashlib.sha256()
    for d in docs:
        h.update(d.id.encode())
        h.update(b"\0")
        h.update(d.text.encode())
        h.update(b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# the index
# ---------------------------------------------------------------------------------------------
class PassageIndex:
    """Passages of source documents with their embeddings in a FAISS index.

    Build with :meth:`build`, extend with :meth:`add`, persist with :meth:`save`, reopen with
    :meth:`load`. An index refuses to be searched with an embedder other than its own.
    """

    def __init__(self, embedder: Embedder, passages: Any, faiss_index: Any, manifest: dict[str, Any],
                 vectors: np.ndarray | None = None) -> None:
        self.embedder = embedder
        self.passages = passages  # polars DataFrame
        self.faiss_index = faiss_index
        self.manifest = manifest
        self._texts: list[str] = passages["text"].to_list()
        self._doc_ids: list[str] = passages["doc_id"].to_list()
        self._by_doc: dict[str, list[int]] | None = None
        self._vectors = vectors
        # sentence content hashes (n, 16) uint8 and vectors (n, dim) float32 (format 2)
        self._sent_keys = np.zeros((0, 16), np.uint8)
        self._sent_vecs: np.ndarray = np.zeros((0, int(manifest.get("dimension", 0))), np.float32)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def build(cls, documents: Sequence[Document], embedder: Embedder | None = None,
              max_tokens: int = 128, overlap_sentences: int = 1, index_type: str = "auto",
              hnsw_m: int = 32) -> PassageIndex:
        """Chunk, embed and index documents."""
        check_param("PassageIndex", "max_tokens", max_tokens, isinstance(max_tokens, int) and max_tokens >= 8, "an int >= 8")
        check_param("PassageIndex", "overlap_sentences", overlap_sentences,
                    isinstance(overlap_sentences, int) and overlap_sentences >= 0, "an int >= 0")
        check_param("PassageIndex", "index_type", index_type, index_type in INDEX_TYPES, f"one of {INDEX_TYPES}")
        import polars as pl

        embedder = embedder or Embedder()
        documents = unique_documents(documents)
        if not documents:
            raise InputError("no documents to index.")
        ids = [d.id for d in documents]
        if len(set(ids)) != len(ids):  # as add() refuses: one id must name one text
            dup = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"document id {dup!r} names two different documents; give each document its own id.")
        manifest: dict[str, Any] = {
            "curator_version": __version__,
            "model": embedder.model_name,
            "model_probe": embedder.probe()[:16],
            "precision": embedder.effective_precision,
            "embed_backend": getattr(embedder, "backend", "torch"),
            "dimension": embedder.dimension,
            "normalized": True,
            "metric": "inner_product",
            "index_type": index_type,
            "hnsw_m": hnsw_m,
            "chunking": {"max_tokens": max_tokens, "overlap_sentences": overlap_sentences,
                         "unit": "whitespace tokens", "splitter": "curator.text.sentence_spans"},
            "counts": {"documents": 0, "passages": 0},
            "corpus_hash": "",
            "format": INDEX_FORMAT,
        }
        empty = pl.DataFrame(schema=_passage_schema())
        idx = cls(embedder, empty, None, manifest)
        idx._add_documents(documents)
        return idx

    def add(self, documents: Sequence[Document]) -> int:
        """Add documents (those already indexed with the same id and text are skipped).
        Returns the number of passages added."""
        import logging

        have = self.manifest.get("_doc_hashes", {})
        new = [d for d in unique_documents(documents) if have.get(d.id) != _text_hash(d.text)]
        clash = [d.id for d in new if d.id in have]
        if clash:
            raise InputError(
                f"document id {clash[0]!r} is already in the index with a different text; "
                "give changed documents new ids or rebuild the index."
            )
        # The same text under another id (a file added by its own path after its folder was
        # indexed: `intro.md` vs `a/intro.md`) is already indexed: never index it twice.
        by_hash = {h: doc_id for doc_id, h in have.items()}
        fresh = []
        for d in new:
            other = by_hash.get(_text_hash(d.text))
            if other is not None:
                logging.getLogger(__name__).warning(
                    "document %r has the same text as %r, already in the index: skipped", d.id, other)
            else:
                fresh.append(d)
        return self._add_documents(fresh)

    def _add_documents(self, documents: Sequence[Document]) -> int:
        import polars as pl

        if not documents:
            return 0
        ch = self.manifest["chunking"]
        schema = _passage_schema()
        rows: dict[str, list[Any]] = {k: [] for k in schema}
        next_id = self.passages.height
        for d in documents:
            for i, c in enumerate(chunk_text(d.text, ch["max_tokens"], ch["overlap_sentences"])):
                rows["passage_id"].append(next_id)
                rows["doc_id"].append(d.id)
                rows["chunk"].append(i)
                rows["text"].append(c.text)
                rows["start"].append(c.start)
                rows["end"].append(c.end)
                next_id += 1
        new = pl.DataFrame(rows, schema=schema)
        if self.passages.height and self.manifest.get("precision", "fp32") != self.embedder.effective_precision:
            self.manifest["precision"] = "mixed"  # passages added at another precision than the rest
        if self.passages.height and self.manifest.get("embed_backend", "torch") != getattr(self.embedder, "backend", "torch"):
            self.manifest["embed_backend"] = "mixed"  # or by another runtime (vectors equal up to rounding)
        vecs = self.embedder.encode(new["text"].to_list())
        self._add_sentence_vectors(new["text"].to_list())
        total = self.passages.height + new.height
        if self.faiss_index is None:
            self.faiss_index = self._new_faiss(total)
        self.faiss_index.add(vecs)
        self.passages = pl.concat([self.passages, new]) if self.passages.height else new
        self._texts = self.passages["text"].to_list()
        self._doc_ids = self.passages["doc_id"].to_list()
        self._by_doc = None
        self._vectors = None
        docs = self.manifest.setdefault("_doc_hashes", {})
        for d in documents:
            docs[d.id] = _text_hash(d.text)
        # The corpus hash chains batches: build(A) then add(B) differs from build(B) then add(A),
        # which is right, since passage ids differ too.
        h = hashlib.sha256(self.manifest["corpus_hash"].encode())
        h.update(corpus_hash(documents).encode())
        self.manifest["corpus_hash"] = h.hexdigest()
        self.manifest["counts"] = {"documents": len(docs), "passages": self.passages.height}
        return new.height

    def _add_sentence_vectors(self, passages: list[str]) -> None:
        """Embed the sentences of new passages (split as grounding splits evidence) and keep
        their vectors: grounding then reads them instead of embedding evidence again."""
        from .embed import text_key
        from .text import sentence_spans

        have = {k.tobytes() for k in self._sent_keys}
        texts: dict[bytes, str] = {}
        for p in passages:
            for sent, _, _ in sentence_spans(p):
                k = text_key(sent)
                if k not in have and k not in texts:
                    texts[k] = sent
        if not texts:
            return
        vecs = self.embedder.encode(list(texts.values()))
        keys = np.frombuffer(b"".join(texts), dtype=np.uint8).reshape(len(texts), 16)
        self._sent_keys = np.concatenate([self._sent_keys, keys])
        self._sent_vecs = np.concatenate([np.asarray(self._sent_vecs, np.float32).reshape(-1, vecs.shape[1]), vecs])
        self.manifest["sentence_vectors"] = {
            "count": int(len(self._sent_keys)), "batch_size": self.embedder.batch_size,
            "splitter": "curator.text.sentence_spans", "files": [SENTENCE_KEYS_FILE, SENTENCE_VECTORS_FILE]}
        self.manifest["format"] = INDEX_FORMAT

    def _new_faiss(self, n_expected: int) -> Any:
        import faiss

        dim = int(self.manifest["dimension"])
        kind = self.manifest["index_type"]
        if kind == "auto":
            kind = "hnsw" if n_expected > AUTO_HNSW_ABOVE else "flat"
        self.manifest["index_type_resolved"] = kind
        if kind == "flat":
            return faiss.IndexFlatIP(dim)
        index = faiss.IndexHNSWFlat(dim, int(self.manifest.get("hnsw_m", 32)), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
        return index

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the index folder atomically per file, under the folder's lock (readers wait for
        the whole set of files); returns the folder. To change an index another process may
        change too, hold :func:`curator.locks.index_lock` around load, change and save."""
        import logging

        from .locks import index_lock

        path = Path(path)
        with index_lock(path, on_wait=logging.getLogger(__name__).warning):
            return self._save(path)

    def _save(self, path: Path) -> Path:
        import faiss

        from .io import atomic_write, write_json

        path.mkdir(parents=True, exist_ok=True)
        atomic_write(path / INDEX_FILE, faiss.serialize_index(self.faiss_index).tobytes())
        import io as _io

        buf = _io.BytesIO()
        self.passages.write_parquet(buf, compression="zstd", statistics=False)
        atomic_write(path / PASSAGES_FILE, buf.getvalue())
        hashed = [INDEX_FILE, PASSAGES_FILE]
        if len(self._sent_keys):
            for name, arr in ((SENTENCE_KEYS_FILE, self._sent_keys),
                              (SENTENCE_VECTORS_FILE, np.asarray(self._sent_vecs, np.float32))):
                buf = _io.BytesIO()
                np.save(buf, arr, allow_pickle=False)
                atomic_write(path / name, buf.getvalue())
                hashed.append(name)
        # Document texts are needed to tell an unchanged document from a changed one on `add`;
        # they live next to the manifest, not in it, so the manifest stays readable.
        docs = self.manifest.get("_doc_hashes", {})
        write_json(path / DOCUMENTS_FILE, {"documents": [{"id": k, "sha256": v} for k, v in docs.items()]})
        manifest = {k: v for k, v in self.manifest.items() if not k.startswith("_")}
        manifest["files"] = {f: _sha256(path / f) for f in hashed}
        write_json(path / MANIFEST_FILE, manifest)
        return path

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None, verify: bool = True) -> PassageIndex:
        """Open an index folder. With ``embedder`` given, refuse if it is another model.

        With ``embedder=None`` the index's own model is loaded. The files are read under the
        index's shared lock: a writer (``index add``) is waited for, never read half-written.
        """
        import logging

        from .locks import index_lock

        path = resolve_index_path(path) if not isinstance(path, Path) else path
        with index_lock(path, shared=True, on_wait=logging.getLogger(__name__).warning):
            return cls._load(path, embedder, verify)

    @classmethod
    def _load(cls, path: Path, embedder: Embedder | None, verify: bool) -> PassageIndex:
        import faiss
        import polars as pl

        for f in (MANIFEST_FILE, INDEX_FILE, PASSAGES_FILE):
            if not (path / f).exists():
                raise IndexNotFoundError(f"{path}: incomplete index ({f} missing); rebuild it with `curator index build`.")
        try:
            manifest = json.loads((path / MANIFEST_FILE).read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexNotFoundError(f"{path / MANIFEST_FILE}: not valid JSON ({exc}); rebuild the index.") from exc
        for key in ("model", "dimension", "chunking"):
            if key not in manifest:
                raise IndexNotFoundError(f"{path / MANIFEST_FILE}: no {key!r} entry; rebuild the index.")
        if verify:
            for f, digest in manifest.get("files", {}).items():
                if not (path / f).exists():
                    raise IndexNotFoundError(f"{path}: incomplete index ({f} missing); rebuild it with `curator index build`.")
                if _sha256(path / f) != digest:
                    raise IndexNotFoundError(f"{path / f}: content does not match the manifest hash; "
                                             "the index was modified or corrupted, rebuild it.")
        fi = faiss.deserialize_index(np.frombuffer((path / INDEX_FILE).read_bytes(), dtype=np.uint8))
        if fi.d != int(manifest["dimension"]):
            raise IndexMismatchError(f"{path}: FAISS index has dimension {fi.d} but the manifest says "
                                     f"{manifest['dimension']}; rebuild the index.")
        passages = pl.read_parquet(path / PASSAGES_FILE)
        if passages.height != fi.ntotal:
            raise IndexNotFoundError(f"{path}: {passages.height} passages but {fi.ntotal} vectors; rebuild the index.")
        if embedder is None:
            embedder = Embedder(manifest["model"])
        cls.check_embedder(manifest, embedder, path)
        docs_file = path / DOCUMENTS_FILE
        manifest = dict(manifest)
        if docs_file.exists():
            stored = json.loads(docs_file.read_text("utf-8"))["documents"]
            manifest["_doc_hashes"] = {d["id"]: d["sha256"] for d in stored}
        idx = cls(embedder, passages, fi, manifest)
        idx._load_sentence_vectors(path)
        return idx

    def _load_sentence_vectors(self, path: Path) -> None:
        import logging

        info = self.manifest.get("sentence_vectors")
        if not info:
            logging.getLogger("curator").info(
                "%s: no stored sentence vectors (index format 1): evidence is embedded at run time; "
                "rebuild it with `curator index build ... --force` to skip that.", path)
            return
        for f in info["files"]:
            if not (path / f).exists():
                raise IndexNotFoundError(f"{path}: incomplete index ({f} missing); rebuild it with `curator index build`.")
        try:
            keys = np.load(path / SENTENCE_KEYS_FILE, allow_pickle=False)
            # memory-mapped: only the rows grounding asks for are read
            vecs = np.load(path / SENTENCE_VECTORS_FILE, allow_pickle=False, mmap_mode="r")
        except ValueError as exc:
            raise IndexNotFoundError(f"{path}: unreadable sentence vectors ({exc}); rebuild the index.") from exc
        if keys.shape != (len(vecs), 16) or vecs.shape[1:] != (int(self.manifest["dimension"]),):
            raise IndexNotFoundError(f"{path}: sentence vectors do not match their keys; rebuild the index.")
        self._sent_keys, self._sent_vecs = keys, vecs
        # Vectors are bit-exact for one batch size (see Embedder._embed); another one would only
        # differ in the last bits, but runs must not depend on what an index happened to store.
        if int(info.get("batch_size", -1)) == self.embedder.batch_size:
            self.embedder.add_store(keys, vecs)

    @staticmethod
    def check_embedder(manifest: dict[str, Any], embedder: Embedder, path: Path | str = "index") -> None:
        """Raise IndexMismatchError unless ``embedder`` is the model the index was built with."""
        if embedder.model_name != manifest["model"]:
            raise IndexMismatchError(
                f"{path} was built with model {manifest['model']!r} but {embedder.model_name!r} was "
                f"given; use --model {manifest['model']} or rebuild the index with your model."
            )
        if embedder.dimension != int(manifest["dimension"]):
            raise IndexMismatchError(
                f"{path} has dimension {manifest['dimension']} but the model gives {embedder.dimension}; "
                "rebuild the index with this model."
            )
        probe = manifest.get("model_probe")
        if probe:
            # computed in fp32 whatever the run's or the index's precision (see PROBE_TOLERANCE)
            mine = np.array(embedder.probe()[: len(probe)])
            if float(np.max(np.abs(mine - np.array(probe)))) > PROBE_TOLERANCE:
                raise IndexMismatchError(
                    f"{path} was built with different weights under the name {manifest['model']!r} "
                    "(probe embedding differs); rebuild the index with this model."
                )

    # -- queries ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.passages.height

    def search(self, queries: Sequence[str] | np.ndarray, k: int = 5) -> list[list[Passage]]:
        """Top-``k`` passages per query (text or unit vector), best first."""
        check_param("PassageIndex.search", "k", k, isinstance(k, int) and k >= 1, "an int >= 1")
        vecs = queries if isinstance(queries, np.ndarray) else self.embedder.encode(list(queries))
        if len(vecs) == 0 or self.faiss_index.ntotal == 0:
            return [[] for _ in range(len(vecs))]
        scores, ids = self.faiss_index.search(np.ascontiguousarray(vecs, dtype=np.float32), min(k, self.faiss_index.ntotal))
        # each passage hit read from the table once per call (one gather), not once per hit
        uniq = np.unique(ids[ids >= 0])
        sub = self.passages[uniq.tolist()].select("doc_id", "text", "start", "end")
        found = {int(i): row for i, row in zip(uniq, sub.iter_rows())}

        def hit(i: int, score: float) -> Passage:
            doc_id, text, start, end = found[i]
            return Passage(i, doc_id, text, start, end, score)

        return [[hit(int(i), float(s)) for s, i in zip(srow, irow) if i >= 0]
                for srow, irow in zip(scores, ids)]

    def passage(self, passage_id: int, score: float = float("nan")) -> Passage:
        row = self.passages.row(passage_id, named=True)
        return Passage(passage_id, row["doc_id"], row["text"], row["start"], row["end"], score)

    def passages_of(self, doc_id: str) -> list[Passage]:
        """Every passage of one document (in order); empty if the id is unknown."""
        if self._by_doc is None:
            by: dict[str, list[int]] = {}
            for i, d in enumerate(self._doc_ids):
                by.setdefault(d, []).append(i)
            self._by_doc = by
        return [self.passage(i) for i in self._by_doc.get(doc_id, [])]

    def vectors(self, passage_ids: Sequence[int]) -> np.ndarray:
        """Stored unit vectors of passages (reconstructed from FAISS, no re-embedding)."""
        if self._vectors is None:
            self._vectors = self.faiss_index.reconstruct_n(0, self.faiss_index.ntotal)
        return self._vectors[np.asarray(passage_ids, dtype=np.int64)]

    def info(self) -> dict[str, Any]:
        return {k: v for k, v in self.manifest.items() if not k.startswith("_")}


def _passage_schema() -> dict[str, Any]:
    import polars as pl

    return {"passage_id": pl.Int64, "doc_id": pl.String, "chunk": pl.Int64,
            "text": pl.String, "start": pl.Int64, "end": pl.Int64}


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
