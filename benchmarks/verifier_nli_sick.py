"""Does NLI supervision transfer? A verifier trained on SICK entailment labels only, tested on
the four grounding dev sets it never saw.

    python benchmarks/verifier_nli_sick.py [--workdir /tmp/curator_verifier_sick]

The in-house verifier (benchmarks/verifier.py) was trained on the grounding sets themselves and
did not transfer to a held-out one. This asks a different question: does an NLI signal learned
from ~10k human-labelled sentence pairs (SICK 2014, pairs/sick2014.jsonl: ENTAILMENT = supported,
CONTRADICTION / NEUTRAL = not supported) help on BEGIN, Q², SummEdits and HaluEval-QA? SICK is
CC BY-NC-SA: this model is measured, never shipped.

Reports per dataset (1,000-row fixed samples, Q² all 600): AUROC of the verifier alone, of the
shipped features' combiner refitted leave-one-dataset-out, and of features + verifier refitted
leave-one-dataset-out on the same samples (the verifier saw none of the four sets, so its scores
on the training datasets of the combiner are not in-sample).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import read_jsonl, require  # noqa: E402
from grounding import DATASETS, load  # noqa: E402
from verifier import auroc, claim_of, eval_sample, features, window  # noqa: E402

from curator.calibrate import fit_params  # noqa: E402
from curator.grounding import GroundingVerifier, train_verifier  # noqa: E402

OUT = Path(__file__).with_name("RESULTS_verifier_sick.md")


def sick_examples() -> list[tuple[str, str, int]]:
    (path,) = require("pairs/sick2014.jsonl")
    out = []
    for r in read_jsonl(path):
        lab = (r.get("meta") or {}).get("entailment")
        if lab in ("ENTAILMENT", "CONTRADICTION", "NEUTRAL"):
            out.append((r["text_a"], r["text_b"], int(lab != "ENTAILMENT")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/curator_verifier_sick")
    ap.add_argument("--max-length", type=int, default=192, help="tokens per pair when scoring")
    ap.add_argument("--train-max-length", type=int, default=64, help="tokens per SICK pair when training")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--eval-cap", type=int, default=1000)
    ap.add_argument("--features", default="/tmp/gfeat_full.npz")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    model_dir = work / "model"
    ex = sick_examples()
    t_train = float("nan")
    if not (model_dir / "model.safetensors").is_file():
        t0 = time.perf_counter()
        train_verifier(ex, model_dir, epochs=1, batch_size=args.batch_size, lr=args.lr,
                       max_length=args.train_max_length, log_every=50)
        t_train = time.perf_counter() - t0
        print(f"trained on {len(ex)} SICK pairs in {t_train:.0f} s", flush=True)
    ver = GroundingVerifier(model_dir, max_length=args.max_length)

    data = {n: load(n, None) for n in DATASETS}
    feats = features(data, args.features)
    idx, vp, rate = {}, {}, {}
    cache = work / "scores.json"
    cached = json.loads(cache.read_text("utf-8")) if cache.is_file() else {}
    for n in DATASETS:
        idx[n] = eval_sample(len(data[n]), args.eval_cap)
        if n in cached:
            vp[n], rate[n] = np.array(cached[n]["p"]), cached[n]["rate"]
            continue
        rows = [data[n][i] for i in idx[n]]
        claims = [claim_of(r) for r in rows]
        t0 = time.perf_counter()
        vp[n] = ver.predict(claims, [window(c, r["source"]) for c, r in zip(claims, rows)]).astype(float)
        rate[n] = len(rows) / (time.perf_counter() - t0)
        cached[n] = {"p": vp[n].tolist(), "rate": rate[n]}
        cache.write_text(json.dumps(cached), encoding="utf-8")
        print(f"{n}: scored {len(rows)} at {rate[n]:.1f}/s", flush=True)

    ys = {n: np.array([data[n][i]["hallucinated"] for i in idx[n]]) for n in DATASETS}
    fx = {n: feats[n][idx[n]] for n in DATASETS}
    lines = [
        f"## NLI transfer: verifier trained on SICK only ({datetime.date.today()})", "",
        f"Command: `python benchmarks/verifier_nli_sick.py` — {len(ex):,d} SICK pairs "
        f"({sum(y for *_, y in ex):,d} not entailed), 1 epoch, lr {args.lr}, batch {args.batch_size}, "
        f"max_length {args.train_max_length} (training), {args.max_length} (scoring), "
        + (f"train {t_train:.0f} s, " if t_train == t_train else "")
        + f"{args.threads} torch thread(s), shared 2-core box. Measured, not shipped (SICK is NC).", "",
        "| dataset | n | verifier alone | features (LODO) | features + verifier (LODO) | Δ | scored pairs/s |",
        "|---|---|---|---|---|---|---|",
    ]
    agg: dict[str, list[float]] = {"v": [], "f": [], "c": []}
    for h in DATASETS:
        others = [o for o in DATASETS if o != h]
        g = np.concatenate([[o] * len(ys[o]) for o in others])
        y = np.concatenate([ys[o] for o in others])
        pf = fit_params(np.concatenate([fx[o] for o in others]), y, g, {})
        f_auc = auroc(ys[h], pf.prob_unsupported(fx[h]))
        xc = {n: np.hstack([fx[n], vp[n][:, None]]) for n in DATASETS}
        import curator.calibrate as cal

        saved = cal.FEATURES
        try:  # fit_params names its features after FEATURES; one extra column here
            cal.FEATURES = (*saved, "verifier")  # type: ignore[misc]
            pc = fit_params(np.concatenate([xc[o] for o in others]), y, g, {})
        finally:
            cal.FEATURES = saved  # type: ignore[misc]
        c_auc = auroc(ys[h], pc.prob_unsupported(xc[h]))
        v_auc = auroc(ys[h], vp[h])
        agg["v"].append(v_auc)
        agg["f"].append(f_auc)
        agg["c"].append(c_auc)
        lines.append(f"| {h} | {len(ys[h])} | {v_auc:.3f} | {f_auc:.3f} | {c_auc:.3f} | {c_auc - f_auc:+.3f} | "
                     f"{rate[h]:.1f} |")
    lines.append(f"| **mean** | | {np.mean(agg['v']):.3f} | {np.mean(agg['f']):.3f} | {np.mean(agg['c']):.3f} | "
                 f"{np.mean(agg['c']) - np.mean(agg['f']):+.3f} | |")
    text = "\n".join(lines) + "\n"
    OUT.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
