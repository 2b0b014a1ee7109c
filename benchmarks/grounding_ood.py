"""Index mode against an index that does not cover the data: which rows are still flagged?

``GroundingScorer.retrieval_floor`` makes a claim ``unverifiable`` when its best retrieved
evidence sentence is not similar enough; ``retrieval_min_coverage`` also when that evidence shares no content word with
the prompt and holds less than that share of the claim's own new words (the least unrelated
passage of a Wikipedia index can be similar to a story's sentence yet say nothing about it). This script measures, against
the demo index (examples/halueval_demo: Wikipedia passages):

* out-of-domain: the first N Alpaca-GPT4 rows (../shared/data/instructions; prompt = instruction +
  input, as `curator run` reads them): verdict counts, and the flagged rows with their worst claim
  and cited evidence (``--show``);
* in-domain: the demo's HaluEval-QA pairs, whose passages are in the index: verdict counts and
  AUROC of ``hallucination_prob`` (rows left unverifiable count as 0, as in benchmarks/grounding.py);

* with ``--halueval N``: N HaluEval-QA rows in retrieval mode (their sources indexed, the own
  source never named, as in benchmarks/grounding.py);

each with the shipped setting and with the overlap criterion off (``retrieval_min_coverage=0``).

    python benchmarks/grounding_ood.py [--n 200] [--show] [--halueval 300]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import read_jsonl, require  # noqa: E402

from curator.embed import Embedder  # noqa: E402
from curator.grounding import GroundingScorer, PairInput  # noqa: E402
from curator.index import Document, PassageIndex  # noqa: E402
from curator.records import prompt_text  # noqa: E402


def counts(v: list[str]) -> str:
    return " / ".join(f"{v.count(k)}" for k in ("supported", "hallucinated", "unverifiable"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="Alpaca rows (the first N)")
    ap.add_argument("--show", action="store_true", help="print the flagged out-of-domain rows")
    ap.add_argument("--halueval", type=int, default=0, help="also N retrieval-mode HaluEval-QA rows")
    ap.add_argument("--overlaps", default=None, help="comma-separated retrieval_min_coverage values to compare")
    ap.add_argument("--pair-query", choices=["auto", "mean", "concat"], default=GroundingScorer.PAIR_QUERY,
                    help="how a pair's own retrieval query is made (GroundingScorer.PAIR_QUERY)")
    args = ap.parse_args()
    GroundingScorer.PAIR_QUERY = args.pair_query
    from sklearn.metrics import roc_auc_score

    (alpaca,) = require("instructions/alpaca_gpt4_sample.jsonl")
    demo = Path(__file__).resolve().parents[1] / "examples" / "halueval_demo"
    embedder = Embedder()
    index = PassageIndex.build([Document(r["id"], r["text"]) for r in read_jsonl(demo / "sources.jsonl")], embedder)
    ood_rows = read_jsonl(alpaca)[: args.n]
    ood = [PairInput(prompt_text(r["instruction"], r.get("input") or ""), r["output"]) for r in ood_rows]
    demo_rows = read_jsonl(demo / "pairs.jsonl")
    ind = [PairInput(r["question"], r["answer"]) for r in demo_rows]
    y = np.array([r["hallucinated"] for r in demo_rows])
    shipped = GroundingScorer(embedder=embedder, index=index).retrieval_min_coverage
    overlaps = ([float(x) for x in args.overlaps.split(",")] if args.overlaps else [0.0, shipped])
    print(f"\n## Index that does not cover the data (demo index, {len(ood)} Alpaca rows, {len(ind)} HaluEval-QA demo pairs; "
          f"pair query {args.pair_query})\n")
    print("| retrieval_min_coverage | Alpaca supported / hallucinated / unverifiable | demo pairs supported / hallucinated / "
          "unverifiable | demo AUROC |")
    print("|---|---|---|---|")
    # Score once with the criterion off; a setting then leaves unjudged the claims its
    # ``_not_about`` rejects, and a pair's probability is that of its worst judged claim (what
    # GroundingScorer.score does).
    base = GroundingScorer(embedder=embedder, index=index, retrieval_min_coverage=0.0)
    ro, ri = base.score(ood), base.score(ind)
    thr = base.threshold_

    def verdicts(res: list, ov: float) -> tuple[np.ndarray, list[str]]:
        judge = GroundingScorer(embedder=embedder, index=index, retrieval_min_coverage=ov)
        probs = np.array([max([1.0 - v.support for v in g.sentences if v.features and not np.isnan(v.support)
                               and not judge._not_about(v.features)], default=np.nan) for g in res])
        return probs, ["unverifiable" if np.isnan(p) else "hallucinated" if p >= thr else "supported" for p in probs]

    shown = None
    for ov in overlaps:
        po, vo = verdicts(ro, ov)
        pi, vi = verdicts(ri, ov)
        auc = roc_auc_score(y, np.nan_to_num(pi, nan=0.0))
        print(f"| {ov:.2f}{' (shipped)' if ov == shipped else ''} | {counts(vo)} | {counts(vi)} | {auc:.3f} |")
        if ov == shipped:
            shown = (po, judge_worst(ro, ov, embedder, index))
    if args.halueval:
        # Retrieval-mode HaluEval-QA (as in benchmarks/grounding.py): every sampled row's source
        # indexed, the pair's own never named. Does the criterion cost anything in domain?
        (hpath,) = require("grounding/halueval_qa.jsonl")
        hrows = [r for r in read_jsonl(hpath) if r.get("hallucinated") is not None]
        hrows = [hrows[i] for i in sorted(np.random.default_rng(0).choice(len(hrows), args.halueval, replace=False))]
        hindex = PassageIndex.build([Document(f"d{i}", t) for i, t in enumerate(dict.fromkeys(r["source"] for r in hrows))],
                                    embedder)
        hscorer = GroundingScorer(embedder=embedder, index=hindex, retrieval_min_coverage=0.0)
        rh = hscorer.score([PairInput(r["prompt"] or "", r["response"] or "") for r in hrows])
        yh = np.array([r["hallucinated"] for r in hrows])
        print(f"\nRetrieval-mode HaluEval-QA ({len(hrows)} rows, seed 0; their sources indexed, own source not named):\n")
        print("| retrieval_min_coverage | supported / hallucinated / unverifiable | AUROC | P / R at threshold |")
        print("|---|---|---|---|")
        for ov in overlaps:
            ph, vh = verdicts(rh, ov)
            flag = np.nan_to_num(ph) >= thr
            prec = (flag & (yh == 1)).sum() / max(1, flag.sum())
            print(f"| {ov:.2f} | {counts(vh)} | {roc_auc_score(yh, np.nan_to_num(ph, nan=0.0)):.3f} | "
                  f"{prec:.2f} / {(flag & (yh == 1)).sum() / max(1, (yh == 1).sum()):.2f} |")
    if args.show and shown is not None:
        print("\nFlagged Alpaca rows (shipped setting):\n")
        for r, p, w in zip(ood_rows, shown[0], shown[1]):
            if not np.isnan(p) and p >= thr and w is not None:
                print(f"- {r['id']} p={p:.2f} emb_max={w.features['emb_max']:.2f} cov_local={w.features['cov_local']:.2f} "
                      f"prompt_overlap={w.features['prompt_overlap']:.0f}: {w.text[:80]!r} <- {str(w.evidence)[:80]!r}")


def judge_worst(res: list, ov: float, embedder: Embedder, index: PassageIndex) -> list:
    """Each pair's worst claim among those the setting judges (None when it judges none)."""
    judge = GroundingScorer(embedder=embedder, index=index, retrieval_min_coverage=ov)
    out = []
    for g in res:
        judged = [v for v in g.sentences if v.features and not np.isnan(v.support) and not judge._not_about(v.features)]
        out.append(min(judged, key=lambda v: v.support) if judged else None)
    return out

if __name__ == "__main__":
    main()
