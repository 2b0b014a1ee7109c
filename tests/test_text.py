from hypothesis import given
from hypothesis import strategies as st

from curator.text import (
    chunk_text,
    content_words,
    normalize_text,
    numbers,
    sentence_spans,
    split_sentences,
    stem,
)


def test_sentences_handle_abbreviations_decimals_and_glued_sentences():
    assert split_sentences("Dr. Smith arrived at 5 p.m. He left. Was it 3.5 km?") == [
        "Dr. Smith arrived at 5 p.m.", "He left.", "Was it 3.5 km?"]
    assert split_sentences("It was published in the 19th century.First for Women is newer.") == [
        "It was published in the 19th century.", "First for Women is newer."]
    assert split_sentences("The U.S. Army won. Visit example.com now.") == ["The U.S. Army won.", "Visit example.com now."]
    assert split_sentences("你好。我很好！") == ["你好。", "我很好！"]
    assert split_sentences("- item one\n- item two") == ["- item one", "- item two"]
    assert split_sentences("Delhi") == ["Delhi"]
    assert split_sentences("   ") == []


def test_sentence_spans_point_into_the_text():
    text = "First one.  Second one!\nThird?"
    for sent, a, b in sentence_spans(text):
        assert text[a:b] == sent


def test_chunks_are_token_bounded_and_overlap_without_repeating():
    text = "One two three. Four five six. Seven eight nine ten. Eleven."
    chunks = chunk_text(text, max_tokens=6)
    assert [c.text for c in chunks] == ["One two three. Four five six.", "Seven eight nine ten. Eleven."]
    chunks = chunk_text("One two three. Four five six. Seven eight. Eleven.", max_tokens=6)
    assert chunks[1].text.startswith("Four five six.")  # one sentence of overlap
    for c in chunks:
        assert len(c.text.split()) <= 6


def test_a_sentence_longer_than_the_window_is_split_not_truncated():
    text = " ".join(f"w{i}" for i in range(300)) + "."
    chunks = chunk_text(text, max_tokens=128)
    assert sum(len(c.text.split()) for c in chunks) == 300


@given(st.text(min_size=0, max_size=400))
def test_chunks_cover_every_word(text):
    chunks = chunk_text(text, max_tokens=16)
    covered = set()
    for c in chunks:
        assert text[c.start:c.end] == c.text
        covered.update(range(c.start, c.end))
    for i, ch in enumerate(text):
        if not ch.isspace():
            assert i in covered


def test_words_numbers_normalize():
    assert content_words("The cat sat on the mat") == ["cat", "sat", "mat"]
    assert numbers("It cost $1,000 in 1998 and 3.5%") == ["1000", "1998", "3.5"]
    assert normalize_text("  Hello,   WORLD! ", strip_punctuation=True) == "hello world"


# -- issue 11: sentence ends after abbreviations, numbers, claims -----------------------------------
def test_abbreviation_then_a_sentence_starter_splits_but_names_do_not():
    cases = {
        "The company is based in the U.S. It was founded in 1990.": 2,
        "He said no. Then he left the room.": 2,
        "They live on Main St. The house is blue.": 2,
        "The answer is A. The others are wrong.": 2,
        "It lives 12 years.[9] Breeding is bad.[9] Rare.[9]": 3,
        "Dr. Smith met J. R. R. Tolkien at 5 p.m. Tomorrow they meet again.": 2,
        "Prices rose 3.5% in the U.S.A. My view is mixed.": 2,
        "The U.S. Army won. See No. 5 for details.": 2,
        "Dr. Will Smith and Dr. May Jones met at St. Paul's.": 1,
        "Acme is based in the U.S. state of Ohio. It was founded in 1990.": 2,
    }
    for text, n in cases.items():
        assert len(split_sentences(text)) == n, (text, split_sentences(text))
    assert split_sentences("It lives 12 years.[9] Breeding is bad.")[0] == "It lives 12 years.[9]"


def test_numbers_keep_dates_apart_and_normalise_decimals():
    assert numbers("born July 10,1981") == ["10", "1981"]
    assert numbers("1,280 metres; 1,000,000 people; 3.50 m; 2.0 kg") == ["1280", "1000000", "3.5", "2"]
    assert numbers("12,34") == ["12", "34"]


def test_abbreviations_expand_the_same_on_both_sides():
    from curator.text import expand_abbreviations as x

    assert x("based in the U.S. state of Ohio") == "based in the United States state of Ohio"
    assert "United States" in x("The USA and the US Army")
    assert x("Dr. Smith lives on Main St. in St. Louis") == "Doctor Smith lives on Main Street in Saint Louis"
    assert x("tools, e.g. hammers, i.e. things") == "tools, for example hammers, that is things"
    assert x("rose 5%") == "rose 5 percent"


def test_claims_lists_keep_their_marker_and_code_tables_headings_are_not_claims():
    from curator.text import segment_claims

    text = "1. Know your audience.\n\n2. Set clear learning objectives.\n\n3. Use videos."
    segs = segment_claims(text)
    assert [(s.text, s.kind, s.check) for s in segs] == [
        ("1. Know your audience.", "claim", "Know your audience."),
        ("2. Set clear learning objectives.", "claim", "Set clear learning objectives."),
        ("3. Use videos.", "claim", "Use videos.")]
    for s in segs:
        assert text[s.start:s.end] == s.text
    resp = ("You can sort by length:\n\n```python\nwords = ['pear', 'fig']\nprint(sorted(words, key=len))\n```\n\n"
            "## Notes\n| arg | meaning |\n|---|---|\n| key | a function |\n\n- a) The sort is stable. It is fast.\n"
            "See https://docs.python.org/3/howto/sorting.html\n2 + 2 = 4\n7.\n* Use `key=len` for length.")
    segs = segment_claims(resp)
    kinds = [(s.kind, s.text.split("\n")[0]) for s in segs]
    assert kinds == [("claim", "You can sort by length:"), ("code", "```python"), ("heading", "## Notes"),
                     ("table", "| arg | meaning |"), ("claim", "- a) The sort is stable."), ("claim", "It is fast."),
                     ("url", "See https://docs.python.org/3/howto/sorting.html"), ("punctuation", "2 + 2 = 4"),
                     ("punctuation", "7."), ("claim", "* Use `key=len` for length.")]
    assert segs[-1].check == "Use for length."
    for s in segs:
        assert resp[s.start:s.end] == s.text
    assert [s.kind for s in segment_claims("```\nunclosed fence\nstill code")] == ["code"]
    assert [s.kind for s in segment_claims("I don't know.")] == ["non_answer"]
    assert [s.kind for s in segment_claims("Sure!")] == ["non_answer"]
    assert [s.kind for s in segment_claims("Sure! Paris is the capital of France.")] == ["non_answer", "claim"]


@given(st.text(min_size=0, max_size=300))
def test_claim_spans_point_into_the_text(text):
    from curator.text import segment_claims

    for s in segment_claims(text):
        assert text[s.start:s.end] == s.text and s.text.strip() == s.text and s.text


def test_sentences_glued_after_a_capital_or_a_number_split_but_initials_do_not():
    cases = {
        "Label head El-P.Jaime Meline was born in 1975.": ["Label head El-P.", "Jaime Meline was born in 1975."],
        "It is run by NASA.The agency is old.": ["It is run by NASA.", "The agency is old."],
        "It began in 1990.It grew fast.": ["It began in 1990.", "It grew fast."],
        "He met J.R.R. Tolkien in 1950.": None,
        "He met J.R.R.Tolkien there.": None,
        "J.K. Rowling wrote it.": None,
        "The U.S.Army won.": None,
        "Mr.Smith and Prof.Jones came.": None,
        "See P.Diddy and Metro of S.A. Smash here.": None,
        "Use v1.2.Beta or version 3.11 now.": None,
        "It is 3.5 km, e.g. a short walk.": None,
        "Visit www.Example.com now.": None,
    }
    for text, want in cases.items():
        assert split_sentences(text) == (want or [text]), text
    # initials still end a sentence before a sentence starter
    assert split_sentences("He works at I.B.M. The firm is large.") == ["He works at I.B.M.", "The firm is large."]


def test_bare_yes_no_segments_are_not_claims():
    from curator.text import segment_claims

    for t in ("No.", "no", "Yes, it is.", "No, they weren't.", "Nope", "Yes it does."):
        assert [s.kind for s in segment_claims(t)] == ["yes_no"], t
    assert [(s.kind, s.check) for s in segment_claims("No, Paris is in France.")] == [("claim", "Paris is in France.")]
    assert [(s.kind, s.check) for s in segment_claims("No one knows.")] == [("claim", "No one knows.")]
    assert [s.kind for s in segment_claims("No. He was born in 1950.")] == ["yes_no", "claim"]


def test_stem_lives_in_text_and_grounding_reexports_it():
    import curator.grounding

    assert stem("countries") == "country" and stem("played") == "play" and stem("Curie’s") == stem("Curie") == "curi"
    assert curator.grounding.stem is stem
