"""Retrieval floor: when is retrieved evidence "not about the claim"?

In index mode a claim is judged against passages retrieved for it. When the index does not cover
the data (instruction-following data against a Wikipedia index), the best passage is merely the
least unrelated one, and judging the claim against it calls every haiku and recipe a
hallucination. ``GroundingScorer.retrieval_floor`` makes a claim ``unverifiable`` when its most
similar evidence sentence has a cosine similarity below the floor.

This script measures, against the demo index (examples/halueval_demo: Wikipedia passages), the
best-evidence cosine (feature ``emb_max``) of the claims of

* in-domain pairs: the demo's HaluEval-QA pairs (faithful and hallucinated), whose passages are
  in the index;
* out-of-domain pairs: Alpaca-GPT4 and LIMA rows (../shared/data/instructions), which the index
  does not cover;

and, per candidate floor, the share of in-domain claims and rows it would leave unjudged (the
cost), the share of out-of-domain rows it makes unverifiable (the point), and the AUROC of the
in-domain rows' hallucination probability (rows left unjudged count as probability 0).

    python benchmarks/grounding_floor.py [--n 150]
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

FLOORS = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=150, help="out-of-domain rows per instruction set")
    args = ap.parse_args()
    from sklearn.metrics import roc_auc_score

    alpaca, lima = require("instructions/alpaca_gpt4_sample.jsonl", "instructions/lima.jsonl")
    demo = Path(__file__).resolve().parents[1] / "examples" / "halueval_demo"
    embedder = Embedder()
    index = PassageIndex.build([Document(r["id"], r["text"]) for r in read_jsonl(demo / "sources.jsonl")], embedder)
    ind = [PairInput(r["question"], r["answer"]) for r in read_jsonl(demo / "pairs.jsonl")]
    y = np.array([r["hallucinated"] for r in read_jsonl(demo / "pairs.jsonl")])
    rng = np.random.default_rng(0)
    ood: list[PairInput] = []
    for path in (alpaca, lima):
        rows = read_jsonl(path)
        for i in sorted(rng.choice(len(rows), min(args.n, len(rows)), replace=False)):
            r = rows[i]
            ood.append(PairInput(f"{r['instruction']} {r.get('input') or ''}".strip(), r["output"][:1500]))
    # Score once with no floor; a floor f then leaves a claim unjudged when its emb_max < f, and
    # a pair's probability is that of its worst judged claim (what GroundingScorer does).
    scorer = GroundingScorer(embedder=embedder, index=index, retrieval_floor=0.0)
    claims = {}
    for name, pairs in (("in", ind), ("ood", ood)):
        res = scorer.score(pairs)
        claims[name] = [[(v.features["emb_max"], 1.0 - v.support) for v in g.sentences if v.features] for g in res]
    print(f"\n## Retrieval floor (demo index, {len(ind)} in-domain pairs, {len(ood)} out-of-domain rows)\n")
    for name, label in (("in", "in-domain (HaluEval-QA demo)"), ("ood", "out-of-domain (Alpaca + LIMA)")):
        allc = np.array([c for vs in claims[name] for c, _ in vs])
        q = np.quantile(allc, [0.05, 0.25, 0.5, 0.75, 0.95])
        print(f"{label}: {len(allc)} claims; best-evidence cosine quantiles 5/25/50/75/95 %: "
              + " / ".join(f"{v:.2f}" for v in q))
    thr = scorer.threshold_
    print(f"\nthreshold {thr:.2f}\n")
    print("| floor | in-domain claims below | in-domain rows unverifiable | in-domain AUROC | in-domain flagged | "
          "out-of-domain rows unverifiable | out-of-domain rows flagged | out-of-domain claims below |")
    print("|---|---|---|---|---|---|---|---|")
    for f in FLOORS:
        def pair_probs(pp: list[list[tuple[float, float]]], floor: float = f) -> np.ndarray:
            return np.array([max([p for c, p in vs if c >= floor], default=np.nan) for vs in pp])

        def below(pp: list[list[tuple[float, float]]], floor: float = f) -> float:
            return float(np.mean([c < floor for vs in pp for c, _ in vs]))

        pi, po = pair_probs(claims["in"]), pair_probs(claims["ood"])
        auc = roc_auc_score(y, np.nan_to_num(pi, nan=0.0))
        print(f"| {f:.2f} | {below(claims['in']):.3f} | {np.isnan(pi).mean():.3f} | {auc:.3f} | "
              f"{(np.nan_to_num(pi) >= thr).mean():.3f} | {np.isnan(po).mean():.3f} | "
              f"{(np.nan_to_num(po) >= thr).mean():.3f} | {below(claims['ood']):.3f} |")


if __name__ == "__main__":
    main()
