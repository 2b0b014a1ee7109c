"""Verifier benchmark: does a fine-tuned cross-encoder lift grounding AUROC on unseen datasets?

Leave-one-dataset-out over the four human-labeled sets in ../shared/data/grounding/ (null labels
dropped). For each held-out dataset H:

* the three other datasets are split **by source document** (a stable hash of the source text)
  into half A (verifier training) and half B (combiner fitting), so the combiner never sees a
  verifier score on an example the verifier was trained on;
* the verifier (curator.grounding.train_verifier, from the packaged all-MiniLM-L6-v2 with a fresh
  one-logit head) trains on class-balanced samples of A (``--cap`` per dataset) plus synthetic
  contrast pairs made from A only: a sentence (or two) of an A source, or a faithful A response,
  verbatim or lightly paraphrased, is a supported claim, and the same text with one edit
  (number, name, negation, antonym, pronoun or argument swap) is an unsupported one;
* the combiner (``curator.calibrate.fit_params``, which benchmarks/grounding.py uses: dataset- and
  class-balanced logistic regression) is fitted on B rows with the 9 grounding features + the
  verifier probability;
* everything is scored on a fixed random sample of H (``--eval-cap``): H is never seen by the
  verifier, the synthetic data, or either combiner of its fold.

"features alone" refits fit_params on all rows of the three other datasets (as
benchmarks/grounding.py does); "B rows" fits it on the B halves only (the fair baseline for the
combination). All are reported on the same H sample.

    python benchmarks/verifier.py                      # all four folds, then the tables
    python benchmarks/verifier.py --folds summedits    # one fold (results cached in --workdir)
    python benchmarks/verifier.py --report             # tables from cached folds only
    python benchmarks/verifier.py --final              # train on all four, write curator/data/verifier/

Grounding features come from benchmarks/grounding.py's cache (``--features``, written by
``python benchmarks/grounding.py``: arrays per dataset in ``load(name, None)`` row order, key
"None"); when absent they are computed with its ``pair_features`` (slow: ~40 min).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from grounding import DATASETS, load, pair_features  # noqa: E402

from curator.calibrate import fit_params  # noqa: E402
from curator.grounding import (  # noqa: E402
    GroundingVerifier,
    evidence_window,
    labelled_examples,
    make_claim,
    train_verifier,
)
from curator.text import sentence_spans  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHIP_DIR = ROOT / "curator" / "data" / "verifier"
NAMES = {"begin": "BEGIN", "q2": "Q²", "summedits": "SummEdits", "halueval_qa": "HaluEval-QA"}

# ---------------------------------------------------------------------------------------------
# synthetic contrast pairs
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


def perturb(text: str, source: str, rng: np.random.Generator) -> str | None:
    """``text`` with one meaning-changing edit the source does not support, or None."""
    kinds = ["number", "entity", "negation", "antonym", "pronoun", "swap"]
    for k in rng.permutation(kinds):
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


def synthetic(rows: list[dict], n: int, rng: np.random.Generator) -> list[tuple[str, str, int]]:
    """About ``n`` (evidence, claim, label) contrast examples from these rows (half label 1).

    A claim is one source sentence, two neighbouring ones (summary-like), or a faithful
    response; the supported version is it verbatim or lightly paraphrased (``paraphrase``), the
    unsupported one carries one ``perturb`` edit (in one of its sentences)."""
    cands: list[tuple[list[str], str]] = []   # (claim sentences, source)
    for r in rows:
        src = r["source"]
        sents = [s for s, _, _ in sentence_spans(src)]
        ok = [i for i, s in enumerate(sents) if 6 <= len(s.split()) <= 40]
        if ok:
            i = ok[int(rng.integers(len(ok)))]
            if i + 1 < len(sents) and 4 <= len(sents[i + 1].split()) <= 30 and rng.random() < 0.4:
                cands.append(([sents[i], sents[i + 1]], src))
            else:
                cands.append(([sents[i]], src))
        if r["hallucinated"] == 0 and len((r["response"] or "").split()) >= 5:
            cands.append(([r["response"]], src))
    out: list[tuple[str, str, int]] = []
    for i in rng.permutation(len(cands)):
        parts, src = cands[i]
        j = int(rng.integers(len(parts)))
        bad_part = perturb(parts[j], src, rng)
        if bad_part is None:
            continue
        good = " ".join(p if rng.random() < 0.4 else paraphrase(p, rng) for p in parts)
        bad = " ".join(bad_part if k == j else p for k, p in enumerate(parts))
        out.append((window(good, src), good, 0))
        out.append((window(bad, src), bad, 1))
        if len(out) >= n:
            break
    return out


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
WINDOW_WORDS = 110


def window(claim: str, source: str) -> str:
    return evidence_window(claim, source, WINDOW_WORDS)


def claim_of(r: dict) -> str:
    return make_claim(r["response"] or "", r.get("prompt"))


def half_a(source: str) -> bool:
    """Split by source document: every row of one document falls in the same half."""
    return hashlib.blake2b(source.encode("utf-8"), digest_size=4).digest()[0] % 2 == 0


def balanced(idx: np.ndarray, y: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Up to cap/2 of each class (topped up from the other class when one is short)."""
    pos, neg = rng.permutation(idx[y[idx] == 1]), rng.permutation(idx[y[idx] == 0])
    k = cap // 2
    take_p, take_n = min(k, len(pos)), min(k, len(neg))
    take_p, take_n = min(len(pos), cap - take_n), min(len(neg), cap - take_p)
    return np.sort(np.concatenate([pos[:take_p], neg[:take_n]]))


def training_examples(data: dict[str, list[dict]], names: list[str], cap: int, n_syn: int, seed: int,
                      use_half: bool) -> list[tuple[str, str, int]]:
    rng = np.random.default_rng(seed)
    ex: list[tuple[str, str, int]] = []
    syn_rows: list[dict] = []
    for n in names:
        rows = data[n]
        y = np.array([r["hallucinated"] for r in rows])
        idx = np.array([i for i, r in enumerate(rows) if half_a(r["source"]) or not use_half])
        ex.extend(labelled_examples([rows[i] for i in balanced(idx, y, cap, rng)], WINDOW_WORDS))
        syn_rows.extend(rows[i] for i in idx)
    syn = synthetic(syn_rows, n_syn, rng) if n_syn else []
    return ex + syn


def eval_sample(n_rows: int, cap: int, seed: int = 0) -> np.ndarray:
    if n_rows <= cap:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, cap, replace=False))


def combiner_rows(rows: list[dict], cap: int, seed: int) -> np.ndarray:
    idx = np.array([i for i, r in enumerate(rows) if not half_a(r["source"])])
    if len(idx) > cap:
        idx = np.sort(np.random.default_rng(seed).choice(idx, cap, replace=False))
    return idx


def features(data: dict[str, list[dict]], path: str) -> dict[str, np.ndarray]:
    if Path(path).exists():
        z = np.load(path, allow_pickle=False)
        if str(z["key"]) == "None" and all(z[n].shape[0] == len(data[n]) for n in DATASETS):
            return {n: z[n] for n in DATASETS}
        print(f"{path} is not a full-data feature cache; recomputing", file=sys.stderr)
    from curator.embed import Embedder
    from curator.grounding import GroundingScorer

    scorer = GroundingScorer(embedder=Embedder())
    return {n: pair_features(scorer, data[n]) for n in DATASETS}


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


# ---------------------------------------------------------------------------------------------
# folds
# ---------------------------------------------------------------------------------------------
def run_fold(held: str, data: dict[str, list[dict]], args: argparse.Namespace) -> dict:
    others = [n for n in DATASETS if n != held]
    t0 = time.perf_counter()
    ex = training_examples(data, others, args.cap, args.synthetic, args.seed, use_half=True)
    t_build = time.perf_counter() - t0
    model_dir = Path(args.workdir) / f"model_{held}"
    print(f"[{held}] {len(ex)} training examples ({sum(y for *_, y in ex)} positive), built in {t_build:.0f}s",
          flush=True)
    t0 = time.perf_counter()
    train_verifier(ex, model_dir, epochs=1, batch_size=args.batch_size, lr=args.lr, random_state=args.seed,
                   max_length=args.max_length, log_every=20)
    t_train = time.perf_counter() - t0
    print(f"[{held}] trained in {t_train:.0f}s", flush=True)
    ver = GroundingVerifier(model_dir, max_length=args.max_length)
    res: dict = {"held": held, "n_train": len(ex), "n_train_pos": int(sum(y for *_, y in ex)),
                 "train_s": t_train, "threads": args.threads, "max_length": args.max_length}

    def score(name: str, idx: np.ndarray) -> tuple[np.ndarray, float]:
        rows = [data[name][i] for i in idx]
        claims = [claim_of(r) for r in rows]
        evs = [window(c, r["source"]) for c, r in zip(claims, rows)]
        t = time.perf_counter()
        p = ver.predict(claims, evs)
        return p, len(rows) / (time.perf_counter() - t)

    ev_idx = eval_sample(len(data[held]), args.eval_cap)
    p, rate = score(held, ev_idx)
    res.update(eval_idx=ev_idx.tolist(), eval_p=p.tolist(), eval_rate=rate)
    # Per-sentence variant: each response sentence against its own window, the worst one counts.
    owner, sc, se = [], [], []
    for k, i in enumerate(ev_idx):
        r = data[held][i]
        sents = [x for x, _, _ in sentence_spans(r["response"] or "")] or [r["response"] or ""]
        for x in sents:
            c = make_claim(x, r.get("prompt"))
            owner.append(k)
            sc.append(c)
            se.append(window(c, r["source"]))
    ps = ver.predict(sc, se)
    worst = np.zeros(len(ev_idx))
    np.maximum.at(worst, np.array(owner), ps)
    res["eval_p_sent"] = worst.tolist()
    print(f"[{held}] held-out scored: {len(ev_idx)} at {rate:.1f}/s", flush=True)
    for n in others:
        idx = combiner_rows(data[n], args.combiner_cap, args.seed)
        p, _ = score(n, idx)
        res[f"b_idx_{n}"], res[f"b_p_{n}"] = idx.tolist(), p.tolist()
    shutil.rmtree(model_dir, ignore_errors=True) if not args.keep_models else None
    return res


def report(data: dict[str, list[dict]], feats: dict[str, np.ndarray], folds: dict[str, dict], args: argparse.Namespace) -> str:
    ys = {n: np.array([r["hallucinated"] for r in data[n]]) for n in DATASETS}
    lines = [f"## Verifier, leave-one-dataset-out ({datetime.date.today()}, {args.threads} thread(s), "
             f"max_length {args.max_length}, window {WINDOW_WORDS} words)\n",
             "| held-out | n eval | train ex. | train s | infer ex/s | verifier | verifier, per sentence | "
             "features | features, B rows | combined, B rows | combined − features |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    agg: dict[str, list[float]] = {"v": [], "vs": [], "f": [], "fb": [], "c": []}
    for h in DATASETS:
        if h not in folds:
            continue
        r = folds[h]
        others = [n for n in DATASETS if n != h]
        ev = np.array(r["eval_idx"])
        y = ys[h][ev]
        pv = np.array(r["eval_p"])
        g = lambda ns: np.concatenate([[n] * len(ys[n]) for n in ns])  # noqa: E731
        fp = fit_params(np.concatenate([feats[n] for n in others]), np.concatenate([ys[n] for n in others]),
                        g(others), {})
        a_f = auroc(y, fp.prob_unsupported(feats[h][ev]))
        xb = np.concatenate([np.column_stack([feats[n][r[f"b_idx_{n}"]], r[f"b_p_{n}"]]) for n in others])
        yb = np.concatenate([ys[n][r[f"b_idx_{n}"]] for n in others])
        gb = np.concatenate([[n] * len(r[f"b_idx_{n}"]) for n in others])
        a_fb = auroc(y, fit_params(xb[:, :-1], yb, gb, {}).prob_unsupported(feats[h][ev]))
        cp = fit_params(xb, yb, gb, {})
        cp.features = cp.features + ["verifier"]
        a_c = auroc(y, cp.prob_unsupported(np.column_stack([feats[h][ev], pv])))
        a_v = auroc(y, pv)
        a_vs = auroc(y, np.array(r["eval_p_sent"])) if "eval_p_sent" in r else float("nan")
        for k, v in zip("v vs f fb c".split(), (a_v, a_vs, a_f, a_fb, a_c)):
            agg[k].append(v)
        lines.append(f"| {NAMES[h]} | {len(ev)} | {r['n_train']} | {r['train_s']:.0f} | {r['eval_rate']:.1f} | "
                     f"{a_v:.3f} | {a_vs:.3f} | {a_f:.3f} | {a_fb:.3f} | {a_c:.3f} | {a_c - a_f:+.3f} |")
    if agg["v"]:
        m = {k: float(np.mean(v)) for k, v in agg.items()}
        lines.append(f"| **mean** | | | | | {m['v']:.3f} | {m['vs']:.3f} | {m['f']:.3f} | {m['fb']:.3f} | "
                     f"{m['c']:.3f} | {m['c'] - m['f']:+.3f} |")
    lines.append("\nverifier = the LODO verifier alone (whole response vs its evidence window); per sentence ="
                 " worst sentence, each against its own window; features = benchmarks/grounding.py's "
                 "logistic combiner refitted on all rows of the other three sets; B rows = fitted on the "
                 "other sets' B half only (sources the verifier never trained on); combined = features + "
                 "verifier probability. All columns are scored on the same held-out sample.")
    return "\n".join(lines)


def final(data: dict[str, list[dict]], args: argparse.Namespace) -> None:
    """Train on all four sets (no held-out data) and ship fp16 safetensors."""
    ex = training_examples(data, list(DATASETS), args.cap, args.synthetic, args.seed, use_half=False)
    print(f"[final] {len(ex)} training examples", flush=True)
    tmp = Path(args.workdir) / "model_final"
    t0 = time.perf_counter()
    train_verifier(ex, tmp, epochs=1, batch_size=args.batch_size, lr=args.lr, random_state=args.seed,
                   max_length=args.max_length, fp16=True, log_every=20)
    print(f"[final] trained in {time.perf_counter() - t0:.0f}s", flush=True)
    SHIP_DIR.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():
        shutil.copy2(f, SHIP_DIR / f.name)
    meta = json.loads((SHIP_DIR / "verifier_meta.json").read_text("utf-8"))
    meta.update(trained_on=list(DATASETS), cap_per_dataset=args.cap, synthetic=args.synthetic,
                window_words=WINDOW_WORDS, date=datetime.date.today().isoformat(),
                command=" ".join(["python", "benchmarks/verifier.py", *sys.argv[1:]]))
    (SHIP_DIR / "verifier_meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    # Scores the tests reproduce (to 1e-3) from the fp16 weights as shipped.
    ver = GroundingVerifier(SHIP_DIR, max_length=args.max_length)
    ref = [(REF_SOURCE, c) for c in REF_CLAIMS]
    p = ver.predict([c for _, c in ref], [e for e, _ in ref])
    (SHIP_DIR / "reference_scores.json").write_text(json.dumps(
        [{"evidence": e, "claim": c, "p_unsupported": round(float(x), 6)} for (e, c), x in zip(ref, p)],
        indent=1) + "\n", encoding="utf-8")
    print(f"wrote {SHIP_DIR}")


REF_SOURCE = ("The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It was designed by "
              "the engineering company of Gustave Eiffel. The tower is 330 metres tall.")
REF_CLAIMS = ["The Eiffel Tower was completed in 1889.", "The Eiffel Tower was completed in 1925.",
              "The tower is not 330 metres tall.", "It was designed by Antoni Gaudi."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", default=",".join(DATASETS), help="held-out datasets to run (comma-separated)")
    ap.add_argument("--report", action="store_true", help="only print the tables from cached folds")
    ap.add_argument("--final", action="store_true", help="train on all four sets and ship the model")
    ap.add_argument("--cap", type=int, default=500, help="real training examples per dataset (class-balanced)")
    ap.add_argument("--synthetic", type=int, default=1500, help="synthetic contrast examples per fold")
    ap.add_argument("--eval-cap", type=int, default=1000, help="held-out examples scored per fold")
    ap.add_argument("--combiner-cap", type=int, default=400, help="B-half rows per dataset for the combiner")
    ap.add_argument("--max-length", type=int, default=192)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 was faster than 2 on the shared, loaded 2-core machine)")
    ap.add_argument("--features", default="/tmp/gfeat_full.npz")
    ap.add_argument("--workdir", default="/tmp/curator_verifier")
    ap.add_argument("--keep-models", action="store_true")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    data = {n: load(n, None) for n in DATASETS}
    if args.final:
        final(data, args)
        return
    folds: dict[str, dict] = {}
    for h in DATASETS:
        f = Path(args.workdir) / f"fold_{h}.json"
        if f.exists():
            folds[h] = json.loads(f.read_text("utf-8"))
    if not args.report:
        for h in [x for x in args.folds.split(",") if x]:
            folds[h] = run_fold(h, data, args)
            (Path(args.workdir) / f"fold_{h}.json").write_text(json.dumps(folds[h]), encoding="utf-8")
    feats = features(data, args.features)
    print(report(data, feats, folds, args))


if __name__ == "__main__":
    main()
