"""Dedup never deletes good data (issue 10): every merge is justified by a direct similarity,
normalisation keeps what carries meaning, changed values are not merged, the semantic stage only
compares text the model reads, long texts are not truncated, conversations keep every request.

The repro rows come from shared/repros (synthetic, written for these bugs; copies in tests/data/dedup_*)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curator import records as R
from curator.dedup import (
    DEFAULT_NEAR_THRESHOLD,
    DEFAULT_SEMANTIC_THRESHOLD,
    Deduplicator,
    ExactDuplicateFinder,
    NearDuplicateFinder,
    _normalize_codepoints,
    _ValueGuard,
    latin_letter_share,
    semantic_readable,
    star_clusters,
)
from curator.errors import InputError
from curator.pipeline import DedupStep, Pipeline
from curator.records import pairs_from_records


def norm(text: str) -> str:
    cps, _ = _normalize_codepoints([text])
    return cps.tobytes().decode("utf-32-le", "surrogatepass")


def assert_justified(res, texts, emb=None, near_threshold=DEFAULT_NEAR_THRESHOLD,
                     semantic_threshold=DEFAULT_SEMANTIC_THRESHOLD) -> None:
    """Every dropped row is directly similar (>= its method's threshold) to the kept row it
    names, and dup_similarity is that direct value."""
    near = NearDuplicateFinder()
    for r in np.flatnonzero(~res.keep).tolist():
        k = int(res.duplicate_of[r])
        assert res.keep[k], (r, k)
        m, s = res.method[r], res.similarity[r]
        if m == "exact":
            assert s == 1.0
            a, b = norm(texts[r]), norm(texts[k])
            assert a == b and (a or texts[r].strip() == texts[k].strip())
        elif m == "near":
            direct = near.similarity(texts[r], texts[k])
            assert direct >= near_threshold and direct == pytest.approx(s), (texts[r], texts[k])
        else:
            assert m == "semantic" and emb is not None
            va, vb = emb[r] / np.linalg.norm(emb[r]), emb[k] / np.linalg.norm(emb[k])
            assert float(va @ vb) >= semantic_threshold - 1e-5
            assert float(va @ vb) == pytest.approx(s, abs=1e-4)


# -- 1. merges justified pairwise ------------------------------------------------------------
WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma"]


@st.composite
def chained(draw):
    """Rows with chains of edits (each row edits the previous one), exact copies, unrelated rows."""
    rows: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        words = draw(st.lists(st.sampled_from(WORDS), min_size=6, max_size=20))
        rows.append(" ".join(words))
        for _ in range(draw(st.integers(0, 6))):  # a chain: edit ~15% of the previous row
            w = rows[-1].split()
            for _ in range(max(1, len(w) // 7)):
                w[draw(st.integers(0, len(w) - 1))] = draw(st.sampled_from(WORDS))
            rows.append(" ".join(w))
    for _ in range(draw(st.integers(0, 4))):
        src = draw(st.sampled_from(rows))
        rows.append(draw(st.sampled_from([src.upper(), src + "!", src])))
    order = draw(st.permutations(range(len(rows))))
    rows = [rows[k] for k in order]
    scores = draw(st.one_of(st.none(), st.lists(st.floats(0, 1), min_size=len(rows),
                                                  max_size=len(rows))))
    return rows, scores


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chained(), st.integers(0, 2**31))
def test_every_drop_is_directly_similar_to_its_kept_row(case, seed):
    texts, scores = case
    res = Deduplicator(semantic=False).run(texts, scores=scores)
    assert_justified(res, texts)
    # with embeddings: close random directions per word-set family, so semantic edges chain too
    rng = np.random.default_rng(seed)
    base = rng.normal(size=16)
    vec: dict[str, np.ndarray] = {}
    emb = np.stack([vec.setdefault(" ".join(sorted(t.lower().strip("!").split())),
                                   base + rng.normal(scale=0.2, size=16)) for t in texts])
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    res = Deduplicator(semantic_threshold=0.9).run(texts, embeddings=emb, scores=scores)
    assert_justified(res, texts, emb, semantic_threshold=0.9)


def test_chain_of_edits_is_not_one_cluster():
    """from-real-use/chain_near_dups.jsonl: each row edits ~15% of the previous one's words."""
    rng = np.random.default_rng(0)
    words = ("the quick brown fox jumps over the lazy dog while the farmer watches from the old "
             "red barn near the river bank on a sunny afternoon in early spring").split()
    rows = [" ".join(words)]
    for k in range(1, 8):
        w = rows[-1].split()
        for p in rng.choice(len(w), 4, replace=False):
            w[p] = f"w{k}{p}"
        rows.append(" ".join(w))
    near = NearDuplicateFinder()
    assert near.similarity(rows[0], rows[-1]) < DEFAULT_NEAR_THRESHOLD
    res = Deduplicator(semantic=False).run(rows)
    assert_justified(res, rows)
    assert res.keep.sum() >= 3          # connected components kept 1 (today: 2 of 8)
    assert res.keep[0]


def test_star_clusters_never_chain():
    # 0-1 and 1-2 similar, 0-2 not: 0 keeps, absorbs 1; 2 stays (its only link is absorbed)
    centre, sim, kind = star_clusters(np.arange(3), np.array([0, 1]), np.array([1, 2]),
                                      np.array([0.7, 0.9]), np.array([1, 2]))
    assert centre.tolist() == [-1, 0, -1] and sim[1] == 0.7 and kind.tolist() == [-1, 1, -1]
    # priority decides the centre: rank 1 first -> it absorbs 0 and 2
    centre, _, _ = star_clusters(np.array([1, 0, 2]), np.array([0, 1]), np.array([1, 2]),
                                 np.array([0.7, 0.9]))
    assert centre.tolist() == [1, -1, 1]


def test_kept_row_is_best_scored_and_group_follows_it():
    texts = ["Explain how a binary search works.", "explain how a binary search works",
             "Explain how binary search works."]
    res = Deduplicator(semantic=False).run(texts, scores=[0.1, 0.9, 0.5])
    assert res.kept_indices.tolist() == [1]
    assert res.method == ["exact", None, "near"]
    assert_justified(res, texts)


def test_big_lsh_bucket_centre_sees_all_its_neighbours():
    """A templated set larger than the LSH window: the best row is checked against every copy."""
    base = ("Write a short poem about the sea at night, with a calm tone and four lines, "
            "mentioning the moon and the waves and the sand")
    texts = [base + f" and a little {w}" for w in WORDS * 4]  # 72 rows, all mutual near dups
    res = Deduplicator(semantic=False, allow_value_changes=True).run(texts)
    assert res.keep.sum() == 1
    assert_justified(res, texts)


# -- 2. exact normalisation keeps meaning --------------------------------------------------------
def _load(name: str) -> list[str]:
    """Instructions of a repro file copied from shared/repros/from-bug-reports to tests/data."""
    path = Path(__file__).resolve().parent / "data" / f"dedup_{name}.jsonl"
    return [json.loads(line)["instruction"] for line in path.open(encoding="utf-8")]


OPERATOR_ROWS = [  # 06_punctuation_only_diff.jsonl and variants: all different tasks
    "What is 7+3?", "What is 7-3?", "What is 7*3?", "What is 7/3?", "What is 7^3?", "What is 7%3?",
    "Who created C++?", "Who created C#?", "Who created C?", "Is 5 < 3 true in Python?",
    "Is 5 > 3 true in Python?", "Is 5 <= 3 true in Python?", "Is 5 == 3 true in Python?",
    "What is -5 squared?", "What is 5 squared?", "Is a | b true?", "Is a & b true?",
    "Price: $5", "Price: €5", "Price: 5%", "Tag me @home", "Tag me #home",
    "Describe this emoji: 😀", "Describe this emoji: 😢", "Describe this emoji: 🇫🇷",
    "Describe this emoji: 🇩🇪", "Is 3.14 equal to 314?", "Is 314 equal to 3.14?",
]


def test_operators_symbols_emoji_are_not_exact_duplicates():
    assert ExactDuplicateFinder().find_pairs(OPERATOR_ROWS) == []
    res = Deduplicator(semantic=False).run(OPERATOR_ROWS)
    assert res.keep.all(), [OPERATOR_ROWS[r] for r in np.flatnonzero(~res.keep)]


def test_true_copies_are_exact_duplicates():
    """07_unicode_variants / 22_whitespace_case_variants: folding that keeps the meaning."""
    peru = ["What is the capital of Peru?", "Ｗｈａｔ ｉｓ ｔｈｅ ｃａｐｉｔａｌ ｏｆ Ｐｅｒｕ？",
            "What is the capi\u200btal of Pe\u200bru?", "What is the capi\u00adtal of Peru?",
            "What\u00a0is the\u00a0capital of Peru?", "\ufeffWhat is the capital of Peru?",
            "  what   IS the\tcapital of\nPERU?  ", "WHAT IS THE CAPITAL OF PERU",
            "“What is the capital of Peru?”", "What is the capital of Peru ?!", "What is the capital of Peru…"]
    others = ["Où se trouve la ville de Besançon ?", "Ou\u0300 se trouve la ville de Besanc\u0327on ?",
              "ما هي عاصمة البيرو؟", "\u200fما هي عاصمة البيرو؟\u200f", "日本の首都はどこですか？", "日本の首都はどこですか",
              "😀", "😀", "?!", "?!", "Sum 10,000 and 5.", "sum 10,000 and 5"]
    res = Deduplicator(semantic=False).run(peru + others)
    p = len(peru)
    assert res.keep.tolist() == [True] + [False] * (p - 1) + [True, False] * 6
    assert set(res.method[1:p]) == {"exact"}
    assert_justified(res, peru + others)


def test_numbers_keep_their_separators():
    assert norm("Is 3.14 bigger than 10,000 at 7:30?") == "is 3.14 bigger than 10,000 at 7:30"
    assert norm("End. Start, then: go!") == "end start then go"


def test_blank_rows_still_never_merge():
    res = Deduplicator(semantic=False).run(["", " ", "\n", ""])
    assert res.keep.all()


# -- 3. task-changing differences ---------------------------------------------------------------
CHANGED = [  # (a, b): near or semantic duplicates by similarity, different tasks
    ("Which team won the World Series in 2019?", "Which team won the World Series in 2020?"),
    ("What is the square root of 144?", "What is the square root of 169?"),
    ("In which county is Farm to Market Road 1506 (FM 1506) located?",
     "In which county is Farm to Market Road 1511 (FM 1511) located?"),
    ("Is 1021 a prime number?", "Is 1011 a prime number?"),
    ("Convert 3.5 kilograms to pounds and show every step of the calculation clearly.",
     "Convert 35 kilograms to pounds and show every step of the calculation clearly."),
    ("Write a travel guide for a weekend in Paris with museums, food and walks along the river.",
     "Write a travel guide for a weekend in Lyon with museums, food and walks along the river."),
    ("Summarise the biography of Marie Curie in five sentences for a school report.",
     "Summarise the biography of Ada Lovelace in five sentences for a school report."),
    ("Compute 12 + 30 and explain each step of the addition to a ten year old child.",
     "Compute 12 - 30 and explain each step of the addition to a ten year old child."),
    ("Какая столица Франции? Ответьте одним словом, пожалуйста.",
     "Какая столица Германии? Ответьте одним словом, пожалуйста."),
    ("中国的首都是哪里？请用一个词回答。", "美国的首都是哪里？请用一个词回答。"),
    ("เมืองหลวงของประเทศไทยคืออะไร", "เมืองหลวงของประเทศลาวคืออะไร"),
    ("한국의 수도는 어디입니까?", "일본의 수도는 어디입니까?"),
    ("ما هي عاصمة مصر؟", "ما هي عاصمة الأردن؟"),
    # another address: a URL, a domain, a page, an e-mail address (own variants of the real file's)
    ("Download the text of the page at https://www.python.org/about and list its headings.",
     "Download the text of the page at https://www.rust-lang.org/about and list its headings."),
    ("Summarise the front page of nytimes.com for me in three bullet points.",
     "Summarise the front page of nytimes.com/section/world for me in three bullet points."),
    ("Fetch the content of the web page given below and summarise it: https://example.org/report",
     "Fetch the content of the web page given below and summarise it."),
    ("Write a polite reminder e-mail to anna.berg@example.com about the unpaid invoice.",
     "Write a polite reminder e-mail to tom.wu@example.com about the unpaid invoice."),
    # another unit (the real file's "... in kilometers" / "... in miles")
    ("Calculate the distance between Paris and Berlin in kilometers.",
     "Calculate the distance between Paris and Berlin in miles."),
    ("How many minutes are there in one hour? Show the calculation.",
     "How many seconds are there in one hour? Show the calculation."),
    ("Give the price of the ticket in dollars and explain the fee.", "Give the price of the ticket in euros and explain the fee."),
]


@pytest.mark.parametrize("a,b", CHANGED)
def test_changed_values_are_not_merged(a, b):
    g = _ValueGuard([a, b])
    assert g.blocked(0, 1)
    emb = np.ones((2, 4), dtype=np.float32)  # the model would call them identical
    res = Deduplicator().run([a, b], embeddings=emb)
    assert res.keep.all()
    opted = Deduplicator(allow_value_changes=True).run([a, b], embeddings=emb)
    assert not opted.keep.all()
    assert_justified(opted, [a, b], emb)


SAME_VALUES = [  # pairs the guard lets through: no value replaced
    ("Sum 10,000 and 5", "sum 10000 and 5."),
    ("Which team won the World Series in 2019?", "Which team won the World Series in 2019 and why?"),
    ("Tell me about the history of Rome. The city is old.", "Tell me about the history of Rome. the city is old. The end"),
    ("write a poem about cats", "write a short poem about cats"),
    ("中国的首都是哪里", "中国的首都是哪里呢"),
    ("What is 1.50 plus 2?", "What is 1.5 plus 2?"),
    # one address written otherwise: scheme, "www.", a trailing slash or full stop
    ("Get the content of https://www.example.com/", "get the content of http://example.com."),
    ("Read e.g. the docs of i.e. this tool.", "Read e.g. the docs of this tool."),
    # one unit, singular or plural
    ("Convert the distance to kilometers please", "Convert the distance to kilometer please"),
    ("Tell me about the Mi band and its features.", "Tell me about the Mi band and all its features."),
    # a unit only added, or a calendar word: not another quantity
    ("Calculate the area of a circle with a radius of 7.", "Calculate the area of a circle with a radius of 7 cm."),
    ("Describe the daily life of a knight during that era.", "Describe the day-to-day life of a knight during that era."),
]


@pytest.mark.parametrize("a,b", SAME_VALUES)
def test_unchanged_values_pass_the_guard(a, b):
    assert not _ValueGuard([a, b]).blocked(0, 1)


def test_repro_files_dedup_stages():
    rows = {name: _load(name) for name in
            ("06_punctuation_only_diff", "02_numbers_differ", "08_cjk_thai_no_spaces")}
    assert Deduplicator(semantic=False).run(rows["06_punctuation_only_diff"]).keep.all()
    assert Deduplicator(semantic=False).run(rows["02_numbers_differ"]).keep.all()
    cjk = rows["08_cjk_thai_no_spaces"]
    res = Deduplicator(semantic=False).run(cjk)
    dropped = {cjk[r] for r in np.flatnonzero(~res.keep)}
    # the true copies (punctuation only) and the particle-only variant go; every other row stays
    assert dropped == {"日本の首都はどこですか", "中国的首都是哪里呢？", "เมืองหลวงของประเทศไทยคืออะไร?"}


# -- 4/5. semantic only on text the model reads; long texts not truncated ------------------------
def test_script_and_unk_rules(embedder):
    texts = ["เมืองหลวงของประเทศไทยคืออะไร", "តើអ្នកសុខសប្បាយទេ", "የኢትዮጵያ ዋና ከተማ ማን ነው",
             "配置无线路由器。", "谢谢", "What is the capital of Peru?", "Où se trouve Besançon ?",
             "Какая столица Франции?", "12 + 30 = ?"]
    unk = embedder.unk_share(texts)
    assert (unk[:3] > 0.5).all() and unk[5] == 0.0
    mask, counts = semantic_readable(texts, unk, embedder.model_name)
    assert mask.tolist() == [False] * 5 + [True, True, False, True]
    assert counts["unknown_word_pieces"] + counts["script_not_trained"] == 6
    # a multilingual model is not held to Latin script, only to the [UNK] rule (of its own
    # tokenizer: here Thai unknown, the rest known)
    own_unk = np.where(np.arange(len(texts)) == 0, 1.0, 0.0)
    mask, _ = semantic_readable(texts, own_unk, "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2")
    assert mask[3] and mask[7] and not mask[0]
    assert latin_letter_share(["abc", "абв", "a б", "123"]).tolist() == [1.0, 0.0, 0.5, 1.0]


LONG = Path(__file__).resolve().parent / "data" / "dedup_long_shared_prefix.jsonl"


def test_long_texts_are_embedded_in_windows(embedder):
    """16_long_shared_prefix: ~1,000-word answers on volcanoes, sourdough and football that share
    a 240-word preamble."""
    texts = [json.loads(line)["output"] for line in LONG.open(encoding="utf-8")]
    plain = embedder.encode(texts)
    assert (plain @ plain.T).min() > 0.99        # truncated: the topics are never seen
    win = embedder.encode_windows(texts)
    assert (win @ win.T)[np.triu_indices(3, 1)].max() < 0.9
    short = ["a short text", "another one"]
    assert np.allclose(embedder.encode_windows(short), embedder.encode(short), atol=1e-6)


def _run_dedup(records, embedder, **kw):
    data = pairs_from_records(records)
    return Pipeline([DedupStep(**kw)], embedder=embedder).run(data)


def test_pipeline_unreadable_rows_skip_semantic_and_warn(embedder, caplog):
    recs = [{"instruction": t, "output": "x"} for t in
            ["配置无线路由器。", "简要解释什么是碳抵消。", "谢谢", "你好",
             "เมืองหลวงของประเทศไทยคืออะไร", "วิธีทำต้มยำกุ้งให้อร่อย", "តើអ្នកសុខសប្បាយទេ", "តើបាយឆាធ្វើយ៉ាងដូចម្តេច"]]
    with caplog.at_level("WARNING", logger="curator"):
        res = _run_dedup(recs, embedder)
    assert res.summary["kept"] == len(recs)
    st_ = res.summary["stages"]["dedup"]
    assert st_["semantic_excluded"] == len(recs)
    assert "paraphrase-multilingual-MiniLM-L12-v2" in st_["warnings"][0]
    assert sum("multilingual" in r.getMessage() for r in caplog.records) == 1


def test_pipeline_long_responses_are_not_truncated(embedder):
    recs = [json.loads(line) for line in LONG.open(encoding="utf-8")]
    res = _run_dedup(recs, embedder, on="response")
    assert res.summary["kept"] == 3


# -- 6. conversation keys -----------------------------------------------------------------------
CHATS = [
    {"id": "c1", "conversations": [{"from": "human", "value": "Hello"}, {"from": "gpt", "value": "Hi! How can I help?"},
                                   {"from": "human", "value": "Write a haiku about autumn leaves."},
                                   {"from": "gpt", "value": "Crimson leaves drifting."}]},
    {"id": "c2", "conversations": [{"from": "human", "value": "Hello"}, {"from": "gpt", "value": "Hi! How can I help?"},
                                   {"from": "human", "value": "Explain how a binary search works."},
                                   {"from": "gpt", "value": "It halves a sorted list."}]},
    {"id": "c3", "conversations": [{"from": "human", "value": "hello!"}, {"from": "gpt", "value": "Hello!"},
                                   {"from": "human", "value": "Translate 'good morning' into Spanish."},
                                   {"from": "gpt", "value": "Buenos días."}]},
]


def test_conversations_compared_on_every_request(embedder):
    res = _run_dedup(CHATS, embedder, semantic=False)
    assert res.summary["kept"] == 3
    first = _run_dedup(CHATS, embedder, semantic=False, on="first_request")
    assert first.summary["kept"] == 1
    dropped = first.table.filter(first.table[R.DROP_REASON] == "duplicate")
    assert dropped[R.DUP_METHOD].to_list() == ["exact", "exact"]


@pytest.mark.parametrize("a, b", [
    ("Is Paris in France?", "Is Paris not in France?"),
    ("Please delete the temporary files in the build folder before the release.",
     "Please don't delete the temporary files in the build folder before the release."),
    ("Write a story where the hero wins the final battle against the dragon.",
     "Write a story where the hero never wins the final battle against the dragon."),
    ("List the planets with rings.", "List the planets without rings."),
])
def test_an_added_negation_is_never_a_near_or_semantic_duplicate(a, b):
    # semantic: the two rows share one embedding; near: they are lightly edited copies
    emb = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    res = Deduplicator(exact=True, near=True, semantic=True).run([a, b], embeddings=emb)
    assert res.keep.all(), (res.method, res.similarity)
    loose = Deduplicator(near=True, semantic=True, allow_value_changes=True).run([a, b], embeddings=emb)
    assert not loose.keep.all()  # the opt-out merges them again


def test_the_same_negation_in_both_copies_still_merges():
    a = "Please do not delete the temporary files in the build folder before the release!"
    b = "please do not delete the temporary files in the build folder before the release"
    res = Deduplicator(semantic=False).run([a, b])
    assert res.keep.tolist() == [True, False]


# -- the value guard's vectorised decisions = its plain pair-at-a-time decision ---------------
# Tokens of every kind the guard reads: plain words, numbers written several ways, names at and
# away from sentence starts, words also used in lower case, operators and symbols, emoji,
# caseless scripts, negations, shouting.
GUARD_TOKENS = [
    "the", "what", "is", "of", "a", "river", "paris", "apples", "rings", "who", "in", "and",
    "Paris", "Lagos", "Tom", "Janet", "C++", "C#", "C", "I", "Why", "These", "The", "River",
    "2019", "2020", "2019?", "10,000", "10000", "-5", "5", "1.50", "1.5", "007", "7", "٣", "3.",
    "7+3", "7-3", "7*3", "<", "<=", ">", "=", "+", "-", "$5", "€5", "%", "#", "😀", "😢",
    "中国", "美国", "ไทย", "ลาว", "not", "no", "never", "don't", "cannot", "without",
    "well-known", "and/or", "(e.g.", "“quoted”", "x^2", ".", "?", "!", "\n", "WHAT", "IS", "PARIS",
    # issue 22: number words, digits inside words, days, primes, expression marks, code, questions
    "four", "Four", "twenty-five", "third", "$15", "16th", "45/3", "today", "yesterday", "f'(2)",
    "f''(2)", "(1,)", "(1)", '"5"+"5"', "a[1:2]", "a[1,2]", "print(i)", "x = 1", "\n    ", "How",
    "many", "left?", "first?",
]


@st.composite
def guard_rows(draw):
    """A few base rows and edited copies of them (words replaced, inserted, deleted, moved)."""
    rows: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        base = draw(st.lists(st.sampled_from(GUARD_TOKENS), min_size=1, max_size=12))
        rows.append(" ".join(base))
        for _ in range(draw(st.integers(0, 4))):
            w = rows[-1].split(" ")
            for _ in range(draw(st.integers(1, 3))):
                op = draw(st.sampled_from(["replace", "insert", "delete", "swap"]))
                k = draw(st.integers(0, len(w) - 1))
                if op == "replace":
                    w[k] = draw(st.sampled_from(GUARD_TOKENS))
                elif op == "insert":
                    w.insert(k, draw(st.sampled_from(GUARD_TOKENS)))
                elif op == "delete" and len(w) > 1:
                    del w[k]
                elif op == "swap":
                    m = draw(st.integers(0, len(w) - 1))
                    w[k], w[m] = w[m], w[k]
            rows.append(" ".join(w))
    if draw(st.booleans()):
        rows.append(draw(st.sampled_from(rows)).upper())
    return rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guard_rows())
def test_guard_verdicts_match_the_plain_comparison(texts):
    i, j = np.triu_indices(len(texts), k=1)
    plain = np.array([_ValueGuard(texts).blocked(a, b) for a, b in zip(i.tolist(), j.tolist())],
                     dtype=bool)
    guard = _ValueGuard(texts)
    ver = guard.verdicts(i, j)
    decided = ver != -1
    assert np.array_equal(ver[decided] == 0, plain[decided])
    assert np.array_equal(~guard.keep_mask(i, j), plain)
    # the cheap decisions are symmetric, and so is the whole decision: the alignment is asked
    # in both directions, so whether two rows merge never depends on which one is the centre
    assert np.array_equal(ver, guard.verdicts(j, i))
    assert np.array_equal(guard.keep_mask(i, j), guard.keep_mask(j, i))


@pytest.mark.parametrize("a, b", [("the 7+3", "7-3 the"), ("What is 7+3 here", "here What is 7-3"),
                                  ("Fly from Paris on 12 May", "on 13 May fly from Paris")])
def test_a_value_replaced_next_to_a_moved_word_blocks_in_both_orders(a, b):
    g = _ValueGuard([a, b])
    assert g.blocked(0, 1) and g.blocked(1, 0)
    assert not Deduplicator(near_threshold=0.1, semantic=False).run([a, b]).duplicate_of.tolist()[1] >= 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guard_rows(), st.integers(0, 2**31))
def test_guard_fast_path_gives_the_same_merges(monkeypatch_ctx, texts, seed):
    # the same rows through the pipeline, with every edge decided by the plain comparison
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=16) + rng.normal(scale=0.1, size=(len(texts), 16))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    scores = rng.random(len(texts))
    kw = dict(near_threshold=0.3, semantic_threshold=0.9)
    fast = Deduplicator(**kw).run(texts, embeddings=emb, scores=scores)

    # the plain comparison: every would-be absorption (centre u, row v) asks blocked(u, v)
    aligned = _ValueGuard._aligned_blocked

    def no_verdicts(self, i, j):
        return np.full(len(i), -1, dtype=np.int8)

    def plain_blocked(self, u, v):
        cheap = self._cheap(u, v)
        return aligned(self, u, v) if cheap == -1 else cheap == 0

    with monkeypatch_ctx() as mp:
        mp.setattr(_ValueGuard, "verdicts", no_verdicts)
        mp.setattr(_ValueGuard, "_aligned_blocked", plain_blocked)
        plain = Deduplicator(**kw).run(texts, embeddings=emb, scores=scores)
    assert fast.keep.tolist() == plain.keep.tolist()
    assert fast.duplicate_of.tolist() == plain.duplicate_of.tolist()
    assert fast.method == plain.method
    assert np.array_equal(fast.similarity, plain.similarity, equal_nan=True)
    assert (fast.stats["pairs_blocked_by_value_guard"]
            == plain.stats["pairs_blocked_by_value_guard"])


@pytest.fixture(scope="module")
def monkeypatch_ctx():
    return pytest.MonkeyPatch.context


def test_window_vectors_serve_the_same_bits_by_rows(embedder):
    """The semantic stage reads its vectors by rows from the cache (no full copy): the same
    bits as encode_windows, with long texts among short ones (every row renormalised in
    float64 then) and without."""
    from curator.embed import Embedder

    long_texts = [json.loads(line)["output"] for line in LONG.open(encoding="utf-8")]
    short = ["a short text", "another one", "a short text", " "]
    fresh = Embedder(embedder.model)  # its own cache, the session's loaded model
    for texts in (short + long_texts[:2] + short[:1], short):
        want = embedder.encode_windows(texts)
        get = fresh.window_vectors(texts)
        rows = np.array([len(texts) - 1, 0, 2, 1] + list(range(len(texts))))
        assert np.array_equal(get(rows), want[rows])
    nocache = Embedder(embedder.model, cache=False)
    assert np.array_equal(nocache.window_vectors(short)(np.arange(4)), embedder.encode_windows(short))


def test_semantic_pairs_same_from_rows_as_from_an_array():
    """RowVectors (read in blocks) and a plain array give the same pairs, flat and IVF, unit
    rows or not; only the semantic stage's rows are read."""
    from curator.dedup import RowVectors, SemanticDuplicateFinder

    rng = np.random.default_rng(0)
    base = rng.standard_normal((60, 16)).astype(np.float32)
    x = np.concatenate([base, base + 0.01 * rng.standard_normal(base.shape).astype(np.float32)] * 20)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    for vecs in (x, unit):
        for kind in ("flat", "ivf"):
            finder = SemanticDuplicateFinder(threshold=0.9, index=kind)
            finder.BLOCK = 7
            want = finder._pair_arrays(vecs)
            asked: list[int] = []

            def get(rows, vecs=vecs, asked=asked):
                asked.extend(rows.tolist())
                return vecs[rows] * 1  # a copy, as the cache gives

            got = finder._pair_arrays(RowVectors(len(vecs), vecs.shape[1], get))
            assert all(np.array_equal(a, b) for a, b in zip(got, want)) and len(want[0]) > 1000
            assert set(asked) == set(range(len(vecs)))
    with pytest.raises(InputError, match="NaN or infinite"):
        bad = x.copy()
        bad[1500, 3] = np.nan
        SemanticDuplicateFinder(index="flat")._pair_arrays(RowVectors.of(bad))
