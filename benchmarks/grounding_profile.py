"""Where does grounding time go? Embedding vs. the cheap lexical stages.

    python benchmarks/grounding_profile.py [--n 300]

Scores n examples of each dev set against their own source with a fresh, cache-less embedder
(nothing reused from disk or from an earlier set) and splits the wall time into: embedding
(``Embedder.encode``, all of it: claims and evidence sentences), evidence gathering (chunking
and sentence splitting), and everything else in ``GroundingScorer.score`` (alignment, features,
the logistic model). The issue's budget: the cheap stages must not cost more than the embedding
they need. Medians of 3 repeats per set.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grounding import DATASETS, load  # noqa: E402

from curator.embed import Embedder  # noqa: E402
from curator.grounding import GroundingScorer, PairInput  # noqa: E402
from curator.grounding.claims import _claim_query  # noqa: E402
from curator.text import segment_claims  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print("| dataset | n | total s | embedding s (all) | evidence s | features + model s | cheap / all embedding "
          "| response-sentence embedding s | cheap / response embedding | cheap / total | examples/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in DATASETS:
        rows = load(name, args.n)
        pairs = [PairInput(r.get("prompt") or "", r["response"] or "", r["source"]) for r in rows]
        runs = []
        for _ in range(args.repeats):
            emb = Embedder(cache=False)  # no disk cache (cache_dir None), no in-memory reuse
            emb.encode(["warm up the model"])
            spent = {"embed": 0.0, "evidence": 0.0}
            scorer = GroundingScorer(embedder=emb)
            enc, evd = emb.encode, scorer._evidence

            def timed_encode(texts, *a, _enc=enc, spent=spent, **k):  # type: ignore[no-untyped-def]
                t = time.perf_counter()
                out = _enc(texts, *a, **k)
                spent["embed"] += time.perf_counter() - t
                return out

            def timed_evidence(*a, _evd=evd, spent=spent, **k):  # type: ignore[no-untyped-def]
                t = time.perf_counter()
                e0 = spent["embed"]
                out = _evd(*a, **k)
                spent["evidence"] += time.perf_counter() - t - (spent["embed"] - e0)
                return out

            emb.encode = timed_encode  # type: ignore[method-assign]
            scorer._evidence = timed_evidence  # type: ignore[method-assign]
            t0 = time.perf_counter()
            scorer.score(pairs)
            total = time.perf_counter() - t0
            runs.append((total, spent["embed"], spent["evidence"]))
        total, e, ev = (statistics.median(x) for x in zip(*runs))
        rest = total - e - ev
        # what embedding only the response sentences (as the scorer queries them) costs
        claims = [_claim_query(p.prompt, c.check) for p in pairs for c in segment_claims(p.response) if c.checked]
        resp = []
        for _ in range(args.repeats):
            emb = Embedder(cache=False)
            emb.encode(["warm up the model"])
            t0 = time.perf_counter()
            emb.encode(claims)
            resp.append(time.perf_counter() - t0)
        r = statistics.median(resp)
        print(f"| {name} | {len(pairs)} | {total:.1f} | {e:.1f} | {ev:.2f} | {rest:.2f} | {(ev + rest) / e:.2f} | "
              f"{r:.2f} | {(ev + rest) / r:.2f} | {(ev + rest) / total:.3f} | {len(pairs) / total:.1f} |", flush=True)


if __name__ == "__main__":
    main()
