"""Deduplication: exact, near (MinHash + LSH) and semantic (embedding) duplicates.

Three finders each turn rows into weighted edges ``(i, j, similarity)`` with ``i < j``; the
:class:`Deduplicator` clusters them and keeps one row per cluster. Stages, as in text-dedup:
fingerprint -> candidate pairs -> verify -> guard -> cluster -> assign. What each method merges
and never merges, with examples: docs/dedup.md.

Every merge is justified pairwise: a dropped row is directly similar (>= the threshold of the
method that merged it) to the kept row it names, and ``similarity`` is that direct value.
Connected components did not guarantee it: a chain of rows that each edit ~15% of the previous
one ended in one cluster whose ends shared a quarter of their 5-grams, and on a real 21k-row
merge about half the near-duplicate drops were below the threshold to the row they named. We
use star clustering (:func:`star_clusters`): rows in keep order (score desc, row asc); each row
not yet absorbed becomes a kept centre and absorbs its still-free direct neighbours; exact-copy
groups follow their best row. Complete linkage would also bound the similarity *between*
dropped rows, which nobody reads, at the cost of every pair inside a cluster; star clustering
needs only each centre's edges and runs in O(rows + pairs). LSH buckets order their rows by
keep priority and pair every row with the bucket's first ``window`` rows, so a centre sees its
direct neighbours even in huge template buckets (the old ``window`` only paired consecutive
mates and relied on chaining).

Near and semantic pairs also pass a value guard (:class:`_ValueGuard`): a pair whose texts
differ by a *replaced* number, operator/symbol, capitalised name or caseless-script word is a
different task ("... in 2019?" / "... in 2020?") and is not merged unless
``allow_value_changes``; nor are texts whose numbers, days, code layout or (for problems) final
question differ at all.

What a row is besides its text (issue 22): its media and offered tools are part of its key
(:func:`context_keys`: rows with other media or tools are never duplicates), and a preamble
shared by many rows (a system prompt, a tool description: :func:`split_preambles`) does not
decide a merge: near and semantic compare the text after it, among rows under the same preamble.

>>> res = Deduplicator(semantic=False).run(
...     ["Hello, World!", "hello world", "Something else entirely."], scores=[0.1, 0.9, 0.5])
>>> res.keep.tolist(), res.duplicate_of.tolist(), res.method
([False, True, True], [1, -1, -1], ['exact', None, None])

Design choices, measured with ``benchmarks/dedup.py`` (numbers in benchmarks/RESULTS.md):

* One normalisation for exact and near matching, which keeps what carries meaning: NFKC,
  case-folding, whitespace collapsed, invisible format characters (ZWSP, soft hyphen, BOM, bidi
  marks) deleted and only meaning-neutral sentence punctuation (. , ! ? ; : quotes) turned into
  spaces; digits, operators and symbols (+ - * / < > = # % $ @ & |), emoji and letters of every
  script stay, so "7+3" / "7-3", "C++" / "C#" and "😀" / "😢" are neither exact duplicates nor
  the same shingles. Done with numpy over code points. (Until issue 10 every punctuation mark
  and symbol was erased; ``strip_punctuation=True`` still gives that.)
* Near duplicates are compared on character 5-grams of that normalised text. Character n-grams
  need no tokenizer, so Thai, Japanese kana and other scripts written without spaces shingle
  like English (CJK ideographs, each about a word, are first spaced apart as BERT's tokenizer
  does); and on instruction data they separate lightly edited copies from unrelated rows
  better than word n-grams (a 10% word edit keeps a median Jaccard of ~0.79 on 5-grams of
  characters but ~0.62 on 3-grams of words, while unrelated rows stay near ~0.1).
* MinHash is a vectorised numpy implementation (one 32-bit hash per shingle, then 128
  multiply-add permutations over blocks of shingles of many rows at once) instead of
  datasketch: same estimator, ~8-12x the throughput and a third of the memory in the
  benchmark, and its working arrays are bounded by a batch size, not by the corpus. The
  Rust-backed rensa and gaoya were measured too (the retired ``benchmarks/minhash_libs.py``, see docs/history.md): from raw
  text to clusters they took 2.2x and 2.4-6x curator's time, as they need Python token lists.

Layout (one module per method or concern, each importing only those listed before it):

* :mod:`~curator.dedup.syntax`: code regions, primes and marks of expressions, which the
  normalisation keeps and the guard compares.
* :mod:`~curator.dedup.normalize`: meaning-keeping normalisation over code points (the exact
  key, the text the near stage shingles), batching.
* :mod:`~curator.dedup.minhash`: shingle hashes, the 64-bit mixer, LSH bands x rows.
* :mod:`~curator.dedup.checks`: argument checks and the edge-list form shared by the finders.
* :mod:`~curator.dedup.numbers`: a text's numbers (digits and number words) and final question.
* :mod:`~curator.dedup.guard`: the value guard (replaced numbers, symbols, names; negations;
  row-level numbers, days, code, questions).
* :mod:`~curator.dedup.context`, :mod:`~curator.dedup.preamble`: a record's media and tools;
  preambles shared by many rows.
* :mod:`~curator.dedup.exact`, :mod:`~curator.dedup.near`, :mod:`~curator.dedup.semantic`:
  the three finders (semantic also says which texts the embedding model can read).
* :mod:`~curator.dedup.cluster`: star clusters and connected components.
* :mod:`~curator.dedup.deduplicator`: the :class:`Deduplicator` and its :class:`DedupResult`.
"""

from __future__ import annotations

from .cluster import _star_clusters as _star_clusters
from .cluster import connected_components, star_clusters
from .context import context_keys, maybe_context, record_context
from .deduplicator import Deduplicator, DedupResult
from .exact import ExactDuplicateFinder
from .guard import _ValueGuard as _ValueGuard
from .minhash import optimal_lsh_params
from .near import DEFAULT_NEAR_THRESHOLD, DEFAULT_NGRAM, NearDuplicateFinder
from .normalize import _near_codepoints as _near_codepoints
from .normalize import _normalize_codepoints as _normalize_codepoints
from .preamble import PREAMBLE_MIN_ROWS, Preambles, split_preambles
from .semantic import (
    DEFAULT_SEMANTIC_THRESHOLD,
    MAX_UNK_SHARE,
    MULTILINGUAL_MODEL,
    SemanticDuplicateFinder,
    latin_letter_share,
    semantic_readable,
)
from .semantic import ENGLISH_ONLY_MODELS as ENGLISH_ONLY_MODELS
from .semantic import MIN_LATIN_SHARE as MIN_LATIN_SHARE
from .semantic import RowVectors as RowVectors

__all__ = [
    "DEFAULT_NEAR_THRESHOLD",
    "DEFAULT_NGRAM",
    "DEFAULT_SEMANTIC_THRESHOLD",
    "MAX_UNK_SHARE",
    "MULTILINGUAL_MODEL",
    "PREAMBLE_MIN_ROWS",
    "DedupResult",
    "Deduplicator",
    "ExactDuplicateFinder",
    "NearDuplicateFinder",
    "Preambles",
    "SemanticDuplicateFinder",
    "connected_components",
    "context_keys",
    "maybe_context",
    "latin_letter_share",
    "optimal_lsh_params",
    "record_context",
    "semantic_readable",
    "split_preambles",
    "star_clusters",
]
