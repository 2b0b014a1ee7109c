"""The training-data generators of benchmarks/verifier_train.py: the swaps it calls
"unsupported" really change a fact, with material from the same document."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
recipe = pytest.importorskip("verifier_train")

DOC = ("Alice Moore was born in March 1950 in Leeds. Her brother Tom Moore was born in July 1953 in York. "
       "The lake is 42 km long and 8 km wide. Hamlet was written by William Shakespeare.")


def test_detok_undoes_ptb_tokenisation():
    assert recipe.detok("Soul Food is a 1997 film -LRB- US -RRB- , by `` Babyface '' Edmonds .") == \
        'Soul Food is a 1997 film (US), by "Babyface" Edmonds.'
    assert recipe.detok("It is n't the band 's album .") == "It isn't the band's album."


@pytest.mark.parametrize("seed", range(8))
def test_date_swap_takes_another_date_of_the_document(seed):
    rng = np.random.default_rng(seed)
    out = recipe.date_swap("Alice Moore was born in March 1950 in Leeds.", DOC, rng)
    assert out is not None and out != "Alice Moore was born in March 1950 in Leeds."
    changed = set(out.split()) - set("Alice Moore was born in March 1950 in Leeds.".split())
    assert len(changed) == 1
    (new,) = changed
    assert new in {"July", "1953"} or new.isdigit()  # from the document, else a nearby year


def test_date_swap_without_a_date_is_none():
    assert recipe.date_swap("The lake is long.", DOC, np.random.default_rng(0)) is None


def test_first_clause_only_when_it_reads_as_a_claim():
    assert recipe.first_clause("Soul Food is a 1997 American film, produced by Kenneth Edmonds.") == \
        "Soul Food is a 1997 American film."
    assert recipe.first_clause("In 1997, it was released.") is None          # too short
    assert recipe.first_clause("No comma in this sentence at all.") is None


def test_synthetic_pairs_come_in_supported_unsupported_couples():
    docs = [DOC.split(". ")[:3] + ["Hamlet was written by William Shakespeare."]]
    docs = [[s if s.endswith(".") else s + "." for s in d] for d in docs]
    ex = recipe.synthetic_examples(docs, 6, 64, np.random.default_rng(0))
    assert ex and len(ex) % 2 == 0
    for (e0, c0, y0), (e1, c1, y1) in zip(ex[::2], ex[1::2]):
        assert (y0, y1) == (0, 1) and c0 != c1
        assert e0 and e1  # evidence windows are never empty
