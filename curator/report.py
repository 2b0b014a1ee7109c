"""A self-contained HTML report of a curation run: funnel, score histograms, worst-grounded pairs,
largest duplicate clusters. Plots are inline PNGs (no network, one file)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from . import records as R


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _funnel(summary: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = summary["stages"]
    labels = ["input"] + [f"after {k}" for k in stages]
    counts = [summary["rows_in"]]
    for s in stages.values():
        counts.append(counts[-1] - s["dropped"])
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.barh(labels[::-1], counts[::-1], color="#4c72b0")
    for y, c in enumerate(counts[::-1]):
        ax.text(c, y, f" {c}", va="center")
    ax.set_xlabel("rows")
    ax.set_title("Rows through the pipeline")
    return _png(fig)


def _hist(values: np.ndarray, title: str, threshold: float | None = None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = values[~np.isnan(values)]
    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.hist(values, bins=30, range=(0, 1), color="#55a868")
    if threshold is not None:
        ax.axvline(threshold, color="#c44e52", linestyle="--", label=f"threshold {threshold:.2f}")
        ax.legend()
    ax.set_title(title)
    ax.set_ylabel("rows")
    return _png(fig)


def write_report(result: Any, path: str | Path) -> Path:
    """Render ``result`` (a CurationResult) to one HTML file."""
    from .io import atomic_write

    t = result.table
    s = result.summary
    esc = html.escape
    parts = [f"<h1>curator report</h1><p>{s['rows_in']} rows in, <b>{s['kept']} kept</b>, "
             f"{s['dropped']} dropped. Model: {esc(str(s.get('model')))}.</p>", _funnel(s)]
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in sorted(s["drop_reasons"].items(), key=lambda kv: -kv[1]))
    parts.append(f"<h2>Drop reasons</h2><table><tr><th>stage:reason</th><th>rows</th></tr>{rows}</table>")
    if R.HALLUCINATION_PROB in t.columns:
        thr = s["stages"].get("grounding", {}).get("threshold")
        parts.append("<h2>Scores</h2>" + _hist(t[R.HALLUCINATION_PROB].cast(float).to_numpy(), "hallucination probability", thr))
    if R.QUALITY in t.columns:
        parts.append(_hist(t[R.QUALITY].cast(float).to_numpy(), "quality"))
    if R.HALLUCINATION_PROB in t.columns:
        worst = t.filter(t[R.HALLUCINATION_PROB].is_not_null()).sort(R.HALLUCINATION_PROB, descending=True).head(10)
        items = []
        for r in worst.iter_rows(named=True):
            sents = json.loads(r[R.SENTENCES] or "[]")
            body = "".join(
                f"<li class='{esc(v['verdict'])}'>{esc(v['text'])} <small>(support {v['support']}, "
                f"cites {esc(str(v['citation']))}: “{esc((v['evidence'] or '')[:200])}”)</small></li>" for v in sents)
            items.append(f"<div class='pair'><p><b>Q:</b> {esc(r[R.INSTRUCTION][:300])}<br>"
                         f"<b>P(hallucinated)</b> = {r[R.HALLUCINATION_PROB]:.2f}</p><ul>{body}</ul></div>")
        parts.append("<h2>Worst-grounded pairs</h2>" + "".join(items))
    if R.CLUSTER_SIZE in t.columns:
        big = (t.filter(t[R.CLUSTER_SIZE] > 1).group_by(R.CLUSTER_ID).len().sort(["len", R.CLUSTER_ID], descending=[True, False]).head(5))
        blocks = []
        for cid, n in big.iter_rows():
            members = t.filter(t[R.CLUSTER_ID] == cid)
            lis = "".join(f"<li>{'kept' if r[R.DUPLICATE_OF] is None else esc(str(r[R.DUP_METHOD]))}: {esc(r[R.INSTRUCTION][:160])}</li>"
                          for r in members.iter_rows(named=True))
            blocks.append(f"<h3>cluster {cid} ({n} rows)</h3><ul>{lis}</ul>")
        parts.append("<h2>Largest duplicate clusters</h2>" + ("".join(blocks) or "<p>none</p>"))
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px}.unsupported{background:#fdd}.supported{background:#dfd}"
             ".pair{border-top:1px solid #ddd}small{color:#555}")
    doc = f"<!doctype html><html><head><meta charset='utf-8'><title>curator report</title><style>{style}</style></head><body>{''.join(parts)}</body></html>"
    path = Path(path)
    atomic_write(path, doc.encode("utf-8"))
    return path
