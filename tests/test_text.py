from hypothesis import given
from hypothesis import strategies as st

from curator.text import (
    chunk_text,
    content_words,
    normalize_text,
    numbers,
    sentence_spans,
    split_sentences,
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
