"""A self-contained HTML report of a curation run.

One file, no network: plots are inline PNGs (matplotlib, Agg), everything else is HTML + CSS,
and a Content-Security-Policy forbids the page from loading anything. Sections:

* header: rows in / kept / dropped, model, input format, time per stage (``result.timings``);
* funnel: rows through each stage, drops per stage with their reasons, one example per reason;
* score histograms: hallucination probability (grounding threshold marked) and quality;
* worst-grounded pairs: each response sentence next to the evidence it was aligned with,
  unsupported sentences highlighted and the words the evidence lacks marked;
* largest duplicate clusters: the kept member against the dropped ones (method, similarity);
* selection map: a 2-D map of the rows, selected vs not (PCA of the embeddings when given,
  else TF-IDF + TruncatedSVD of the prompts).

Columns may be absent (a stage did not run) and values null (a row dropped before a stage);
every section then says so instead of failing. Plotted and listed rows are sampled/capped, so a
100k-row table renders in a few seconds.

>>> write_report(result, "out/report.html")              # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import records as R

MAX_WORST = 6             # worst-grounded pairs shown
MAX_DOUBTFUL = 12         # doubtful pairs shown
MAX_SENTENCES = 10        # sentences shown per worst pair
MAX_CLUSTERS = 5          # duplicate clusters shown
MAX_CLUSTER_MEMBERS = 8   # members shown per cluster
MAX_MAP_POINTS = 3000     # points on the selection map
#: The map's vectors: an array with one row per table row, or rows -> their vectors.
Embeddings = np.ndarray | Callable[[np.ndarray], np.ndarray]
MAX_REASON_ROWS = 30      # rows of the drop-reason table
#: Characters of a text (prompt, response, id, sentences JSON) the report reads from a row: a
#: 50 MB row costs no more than this; longer texts are shown cut, with their full length.
TEXT_LIMIT = 20_000
SENTENCES_LIMIT = 200_000  # characters of a row's sentences JSON read (its first sentences)
MAX_SENTENCE_CHARS = 2_000  # characters of one response sentence shown

KEPT, DROP_HERE, DROP_OTHER, GREY = "#2a9d8f", "#e76f51", "#b8bec6", "#c9ced6"
_WORD_RE = re.compile(r"\w+(?:[-'’.]\w+)*", re.UNICODE)

CSS = """
:root{--ok:#2a9d8f;--bad:#e76f51;--mute:#6b7280;--line:#e5e7eb;--soft:#f8fafc}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 max-width:1120px;margin:0 auto;padding:20px 24px 60px;color:#1f2937;background:#fff}
h1{font-size:24px;margin:0}
h2{font-size:18px;margin:30px 0 8px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:16px 0 6px}
a{color:#2563eb;text-decoration:none}
.sub{color:var(--mute);margin:2px 0 10px}
nav{margin:6px 0 0;font-size:13px}nav a{margin-right:14px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:6px 14px;min-width:118px;background:var(--soft)}
.card b{display:block;font-size:22px;line-height:1.2}.card span{color:var(--mute);font-size:12px}
.card.ok b{color:var(--ok)}.card.bad b{color:var(--bad)}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{font-size:12px;color:var(--mute);font-weight:600;background:var(--soft)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bar{position:relative;height:14px;width:100%;min-width:160px;background:#f1f5f9;border-radius:3px;display:flex}
.bar i{display:block;height:100%}.bar i.k{background:#7fb3d5}.bar i.d{background:var(--bad)}
.bar i.f{background:var(--ok)}
.chip{display:inline-block;border:1px solid #f3c3b5;background:#fdf0eb;border-radius:10px;padding:0 7px;
 margin:1px 3px 1px 0;font-size:12px;white-space:nowrap}
.none{color:var(--mute);font-style:italic}
tr.total td{font-weight:600;border-top:2px solid #cbd5e1}
details{font-size:12px;color:var(--mute)}summary{cursor:pointer}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots figure{margin:0;flex:1 1 480px}
figure img{max-width:100%;height:auto;display:block}.plots figure img{width:100%}
figcaption,.cap{font-size:12.5px;color:var(--mute);margin:4px 0 8px}
.pair{border:1px solid var(--line);border-radius:8px;margin:10px 0;padding:8px 12px}
.pair .meta{font-size:12px;color:var(--mute)}
.pair .q{margin:4px 0 6px}
.sents{display:grid;grid-template-columns:1fr 1fr;gap:4px 14px}
.sents>div{padding:3px 6px;border-radius:4px}
.claim.unsupported{background:#fde8e2;border-left:3px solid var(--bad)}
.claim.supported{background:#eaf6f4;border-left:3px solid var(--ok)}
.claim.unverifiable{background:#f3f4f6;border-left:3px solid #9ca3af}
.claim.doubtful{background:#fef6e4;border-left:3px solid #d4a017}
.claim.not_checked{background:#fafafa;border-left:3px dotted #d1d5db;color:#6b7280}
.ev{background:var(--soft);border-left:3px solid #cbd5e1;font-size:13px}
.ev .cite{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px;color:#475569;margin-right:4px}
.sents .h{font-size:11.5px;color:var(--mute);padding:0 6px;font-weight:600}
mark{background:#f4a261;color:#111;border-radius:2px;padding:0 1px}
.score{font-size:11.5px;color:var(--mute);white-space:nowrap}
.tag{display:inline-block;font-size:11.5px;border-radius:9px;padding:0 7px;border:1px solid}
.tag.kept{color:#1f6f66;border-color:#9fd3cc;background:#eaf6f4}
.tag.dropped{color:#9a3412;border-color:#f3c3b5;background:#fdf0eb}
table.cl{table-layout:fixed}.cl td.txt{overflow-wrap:anywhere}
.ans{font-size:12px;color:var(--mute)}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
footer{margin-top:36px;font-size:12px;color:var(--mute)}
"""


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    """Escaped text ('' for None)."""
    return html.escape("" if value is None else str(value))


def _clip(text: Any, n: int, total: int | None = None) -> str:
    """``text`` with whitespace collapsed, cut to ``n`` characters with "…". ``total``: the full
    length of a text the report read only the start of; a cut text that long says so."""
    s = "" if text is None else str(text)
    s = " ".join(s[: 4 * n + 64].split()) if len(s) > 4 * n + 64 else " ".join(s.split())
    long = total is not None and total > TEXT_LIMIT
    if len(s) <= n and not long:
        return s
    note = f" [truncated: {total:,} characters in all]" if long else ""
    return s[: n - 1].rstrip() + "…" + note


def _bounded(table: Any, cols: Sequence[str], limit: int = TEXT_LIMIT) -> Any:
    """``table``'s ``cols`` (those present) with each text cut to ``limit`` characters in polars,
    plus ``_len_<col>`` (the full length) and ``_hash_<col>`` (equal texts, equal hashes): rows
    read into Python then cost at most ``limit`` characters per text."""
    import polars as pl

    out = []
    for c in cols:
        if c not in table.columns:
            continue
        if table.schema[c] == pl.String:
            col = pl.col(c)
            out += [col.str.slice(0, limit).alias(c), col.str.len_chars().alias(f"_len_{c}"),
                    col.hash().alias(f"_hash_{c}")]
        else:
            out.append(pl.col(c))
    return table.select(out)


def _int(n: Any) -> str:
    try:
        return f"{int(n):,}"
    except (TypeError, ValueError):
        return _e(n)


def _pct(n: float, d: float) -> str:
    return f"{100.0 * n / d:.1f}%" if d else "–"


def _num(v: Any, nd: int = 2) -> str:
    if v is None:
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return _e(v)
    return "–" if np.isnan(f) else f"{f:.{nd}f}"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _figure(w: float, h: float) -> tuple[Any, Any]:
    # Figure without pyplot: no global state, no GUI backend, Agg canvas on savefig.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    ax = fig.subplots()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _floats(table: Any, col: str) -> np.ndarray:
    """A column as float64 with nulls as NaN."""
    import polars as pl

    return table[col].cast(pl.Float64, strict=False).fill_null(float("nan")).to_numpy().astype(np.float64)


def _stage_is(table: Any, stage: str) -> np.ndarray:
    return (table[R.DROP_STAGE] == stage).fill_null(False).to_numpy().astype(bool)


def _alive(table: Any) -> np.ndarray:
    return table[R.DROP_STAGE].is_null().to_numpy().astype(bool)


def _status(row: dict[str, Any]) -> str:
    stage = row.get(R.DROP_STAGE)
    if stage is None:
        return '<span class="tag kept">kept</span>'
    return f'<span class="tag dropped">dropped · {_e(stage)}: {_e(row.get(R.DROP_REASON))}</span>'


def _prompt(row: dict[str, Any]) -> str:
    ins, inp = row.get(R.INSTRUCTION) or "", row.get(R.INPUT) or ""
    return f"{ins}\n\n{inp}" if inp.strip() else ins


def _prompt_len(row: dict[str, Any]) -> int | None:
    """The full length of a bounded row's prompt (None when the row was not bounded)."""
    if f"_len_{R.INSTRUCTION}" not in row:
        return None
    return int(row.get(f"_len_{R.INSTRUCTION}") or 0) + int(row.get(f"_len_{R.INPUT}") or 0)


def _first_sentences(text: str | None, k: int) -> list[dict[str, Any]]:
    """The first ``k`` sentence objects of a (possibly cut) sentences JSON list."""
    if not text:
        return []
    dec = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    pos = text.find("[") + 1
    if pos == 0:
        return []
    while len(out) < k:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            item, pos = dec.raw_decode(text, pos)
        except ValueError:  # the cut end of a long list
            break
        if isinstance(item, dict):
            out.append(item)
    return out


def _stemmer() -> Callable[[str], str]:
    try:
        from .text import stem

        return stem
    except Exception:  # pragma: no cover - the report must not depend on the grounding module
        return lambda w: w


def mark_tokens(text: str, tokens: Sequence[str]) -> str:
    """Escape ``text`` and wrap in <mark> each word whose (stemmed) form is in ``tokens``.

    >>> mark_tokens("It aired in 2008 <b>", ["2008"])
    'It aired in <mark>2008</mark> &lt;b&gt;'
    """
    wanted = {str(t).casefold() for t in tokens if t}
    if not wanted:
        return _e(text)
    stem = _stemmer()
    out: list[str] = []
    pos = 0
    for m in _WORD_RE.finditer(text):
        w = m.group(0).casefold()
        if w in wanted or stem(w) in wanted:
            out.append(_e(text[pos:m.start()]))
            out.append(f"<mark>{_e(m.group(0))}</mark>")
            pos = m.end()
    out.append(_e(text[pos:]))
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------
def _stages(summary: dict[str, Any], table: Any) -> dict[str, dict[str, Any]]:
    """Stages in run order; derived from the table when the summary has none."""
    stages = summary.get("stages")
    if isinstance(stages, dict) and stages:
        return {str(k): (v if isinstance(v, dict) else {}) for k, v in stages.items()}
    from collections import Counter

    names = [s for s in table[R.DROP_STAGE].to_list() if s is not None] if R.DROP_STAGE in table.columns else []
    counts = Counter(names)
    alive, out = table.height, {}
    for name in dict.fromkeys(names):
        out[name] = {"in": alive, "dropped": counts[name], "reasons": {}}
        alive -= counts[name]
    return out


def _header(s: dict[str, Any], timings: dict[str, Any], n_in: int, kept: int, dropped: int,
            sections: list[tuple[str, str]]) -> str:
    total = sum(float(v) for v in timings.values() if isinstance(v, (int, float)))
    inp = s.get("input") or {}
    fields = ", ".join(f"{_e(k)}={_e(v)}" for k, v in (inp.get("fields") or {}).items())
    bits = [f"model <b>{_e(s.get('model') or 'n/a')}</b>"]
    if inp.get("format"):
        bits.append(f"input format <b>{_e(inp['format'])}</b>" + (f" ({fields})" if fields else ""))
    if total:
        bits.append(f"total time <b>{total:.1f} s</b>")
    cards = (f'<div class="card"><b>{_int(n_in)}</b><span>rows in</span></div>'
             f'<div class="card ok"><b>{_int(kept)}</b><span>kept ({_pct(kept, n_in)})</span></div>'
             f'<div class="card bad"><b>{_int(dropped)}</b><span>dropped ({_pct(dropped, n_in)})</span></div>')
    for name, sec in timings.items():
        if isinstance(sec, (int, float)):
            cards += f'<div class="card"><b>{float(sec):.1f} s</b><span>{_e(name)}</span></div>'
    nav = "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in sections)
    return (f"<header><h1>curator report</h1><p class='sub'>{' · '.join(bits)}</p>"
            f"<div class='cards'>{cards}</div><nav>{nav}</nav></header>")


def _stage_stats(st: dict[str, Any]) -> str:
    """The stage's extra statistics (everything but in/dropped/reasons) as compact text."""
    items = []
    for k, v in st.items():
        if k in ("in", "dropped", "reasons", "timings_s", "message"):
            continue
        if isinstance(v, dict):
            inner = ", ".join(f"{_e(a)} {_e(b)}" for a, b in v.items() if not isinstance(b, (dict, list)))
            if inner:
                items.append(f"{_e(k)}: {inner}")
        elif not isinstance(v, list) and v is not None:
            items.append(f"{_e(k)}={_num(v, 3) if isinstance(v, float) else _e(v)}")
    if not items:
        return ""
    return f"<details><summary>stats</summary>{'; '.join(items)}</details>"


def _funnel(timings: dict[str, Any], stages: dict[str, dict[str, Any]], n_in: int, kept: int) -> str:
    rows = [f'<tr><td><b>input</b></td><td class="num">{_int(n_in)}</td><td class="num"></td><td></td>'
            f'<td class="num"></td><td><div class="bar"><i class="k" style="width:100%"></i></div></td></tr>']
    for name, st in stages.items():
        n_stage = int(st.get("in", 0) or 0)
        dropped = int(st.get("dropped", 0) or 0)
        after = max(n_stage - dropped, 0)
        reasons = st.get("reasons") or {}
        chips = "".join(f'<span class="chip">{_e(r)} <b>{_int(c)}</b></span>'
                        for r, c in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
        if st.get("skipped"):
            chips += f'<span class="none">skipped: {_e(st["skipped"])}</span>'
        if st.get("message"):
            chips += f'<div class="cap">{_e(st["message"])}</div>'
        if not chips and not dropped:
            chips = '<span class="none">none</span>'
        w_after, w_drop = (100.0 * after / n_in, 100.0 * dropped / n_in) if n_in else (0.0, 0.0)
        t = timings.get(name)
        rows.append(
            f'<tr><td><b>{_e(name)}</b></td><td class="num">{_int(n_stage)}</td>'
            f'<td class="num">{_int(dropped)}<br><span class="score">{_pct(dropped, n_in)} of input</span></td>'
            f"<td>{chips}{_stage_stats(st)}</td>"
            f'<td class="num">{_num(t, 1) + " s" if t is not None else "–"}</td>'
            f'<td><div class="bar"><i class="k" style="width:{w_after:.2f}%"></i>'
            f'<i class="d" style="width:{w_drop:.2f}%"></i></div>'
            f'<span class="score">{_int(after)} left</span></td></tr>')
    rows.append(f'<tr class="total"><td>kept</td><td class="num">{_int(kept)}</td>'
                f'<td class="num">{_int(n_in - kept)}</td><td>{_pct(kept, n_in)} of input kept</td><td></td>'
                f'<td><div class="bar"><i class="f" style="width:{100.0 * kept / n_in if n_in else 0:.2f}%">'
                f"</i></div></td></tr>")
    head = ('<tr><th>stage</th><th class="num">rows in</th><th class="num">dropped</th><th>drop reasons</th>'
            '<th class="num">time</th><th>rows remaining (red: dropped here)</th></tr>')
    return f'<h2 id="funnel">Funnel</h2><table class="funnel">{head}{"".join(rows)}</table>'


def _reasons(table: Any, n_in: int) -> str:
    import polars as pl

    if R.DROP_STAGE not in table.columns or R.DROP_REASON not in table.columns:
        return ""
    cols = [c for c in (R.ROW_ID, R.ID, R.DROP_DETAIL, R.INSTRUCTION) if c in table.columns]
    grp = (_bounded(table.filter(pl.col(R.DROP_STAGE).is_not_null()), [R.DROP_STAGE, R.DROP_REASON, *cols], 1000)
           .group_by([R.DROP_STAGE, R.DROP_REASON])
           .agg(pl.len().alias("_n"), *[pl.col(c).first() for c in cols])
           .sort(["_n", R.DROP_STAGE, R.DROP_REASON], descending=[True, False, False], nulls_last=True))
    if grp.height == 0:
        return '<h3>Drop reasons</h3><p class="none">No row was dropped.</p>'
    body = []
    for r in grp.head(MAX_REASON_ROWS).iter_rows(named=True):
        ex = r.get(R.DROP_DETAIL) or r.get(R.INSTRUCTION) or ""
        who = r.get(R.ID) if r.get(R.ID) is not None else r.get(R.ROW_ID)
        body.append(f"<tr><td>{_e(r[R.DROP_STAGE])}: <b>{_e(r[R.DROP_REASON])}</b></td>"
                    f'<td class="num">{_int(r["_n"])}</td><td class="num">{_pct(r["_n"], n_in)}</td>'
                    f'<td><span class="mono">{_e(_clip(who, 80))}</span> {_e(_clip(ex, 220))}</td></tr>')
    more = (f'<p class="cap">… and {grp.height - MAX_REASON_ROWS} more reasons.</p>'
            if grp.height > MAX_REASON_ROWS else "")
    return ('<h3>Drop reasons</h3><table><tr><th>stage: reason</th><th class="num">rows</th>'
            f'<th class="num">of input</th><th>example</th></tr>{"".join(body)}</table>{more}')


def _hist(values: np.ndarray, groups: list[tuple[str, np.ndarray, str]], title: str, xlabel: str,
          threshold: float | None) -> str:
    fig, ax = _figure(5.4, 2.9)
    edges = np.linspace(0.0, 1.0, 31)
    ok = ~np.isnan(values)
    base = np.zeros(len(edges) - 1)
    for name, mask, color in groups:  # stacked histogram: one filled step polygon per group (fast)
        counts = np.histogram(values[mask & ok], bins=edges)[0].astype(float)
        if counts.sum() == 0:
            continue
        ax.stairs(base + counts, edges, baseline=base.copy(), fill=True, color=color,
                  label=f"{name} ({int(counts.sum()):,})")
        base += counts
    if threshold is not None:
        ax.axvline(threshold, color="#111827", linestyle="--", linewidth=1.2)
        ax.annotate(f"threshold {threshold:.2f}", xy=(threshold, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(4, -2), textcoords="offset points", va="top", fontsize=8.5)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(1.0, float(base.max()) * 1.08))
    ax.set_title(title, fontsize=10.5, loc="left")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("rows", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3)
    return _png(fig)


def _scores(table: Any, stages: dict[str, dict[str, Any]]) -> str:
    cols = table.columns
    figs = []
    alive = _alive(table)
    for col, stage, title in ((R.HALLUCINATION_PROB, "grounding", "Hallucination probability"),
                              (R.QUALITY, "quality", "Quality")):
        if col not in cols:
            figs.append(f'<figure><p class="none">{_e(title)}: not computed (the {_e(stage)} stage did '
                        "not run).</p></figure>")
            continue
        vals = _floats(table, col)
        here = _stage_is(table, stage)
        groups = [(f"dropped by {stage}", here, DROP_HERE), ("dropped by another stage", ~here & ~alive, DROP_OTHER),
                  ("kept", alive, KEPT)]
        scored = int((~np.isnan(vals)).sum())
        unscored = table.height - scored
        thr = (stages.get(stage) or {}).get("threshold")
        thr_f = float(thr) if isinstance(thr, (int, float)) and not isinstance(thr, bool) else None
        if scored == 0:
            figs.append(f'<figure><p class="none">{_e(title)}: no row has a score.</p></figure>')
            continue
        img = _hist(vals, groups, title, col, thr_f)
        if col == R.HALLUCINATION_PROB:
            cap = (f"Pairs at or above the threshold ({_num(thr_f)}) are flagged <i>hallucinated</i>. "
                   if thr_f is not None else "No grounding threshold in the summary. ")
            counts = (stages.get(stage) or {}).get("verdicts")
            if isinstance(counts, dict):
                cap += (f"Verdicts: <b>{int(counts.get('supported', 0)):,} supported</b>, "
                        f"<b>{int(counts.get('hallucinated', 0)):,} hallucinated</b>, "
                        f"<b>{int(counts.get('unverifiable', 0)):,} unverifiable</b> (no checkable claim "
                        "or no evidence about it: kept, not judged). ")
                n_doubt = (stages.get(stage) or {}).get("doubtful")
                if isinstance(n_doubt, int) and n_doubt:
                    cap += f'Of the unverifiable, <a href="#doubtful">{n_doubt:,} are doubtful</a> (worth reading). '

                for w in (stages.get(stage) or {}).get("warnings") or []:
                    cap += f"<b>Warning:</b> {_e(str(w))} "
        else:
            cap = ("Quality drops are rule-based (see the reasons in the funnel), not a score threshold. "
                   if thr_f is None else f"Threshold {_num(thr_f)}. ")
        cap += f"{scored:,} rows scored"
        cap += f"; {unscored:,} without a score (dropped earlier or no evidence)." if unscored else "."
        figs.append(f"<figure>{img}<figcaption>{cap}</figcaption></figure>")
    return f'<h2 id="scores">Scores</h2><div class="plots">{"".join(figs)}</div>'


def _sentence_rows(sents: list[dict[str, Any]], n_all: int | None = None) -> str:
    """The first MAX_SENTENCES of a response's ``sents`` (``n_all`` in all) next to their evidence."""
    n_all = len(sents) if n_all is None else max(n_all, len(sents))
    out = ['<div class="h">response sentence</div><div class="h">cited evidence</div>']
    for v in sents[:MAX_SENTENCES]:
        verdict = str(v.get("verdict") or "unverifiable")
        text = str(v.get("text") or "")
        tokens = v.get("unsupported_tokens") or []
        cut = f" … [truncated: {len(text):,} characters]" if len(text) > MAX_SENTENCE_CHARS else ""
        text = text[:MAX_SENTENCE_CHARS]
        body = (mark_tokens(text, tokens) if verdict == "unsupported" else _e(text)) + _e(cut)
        out.append(f'<div class="claim {_e(verdict)}">{body} <span class="score">{_e(verdict)}, '
                   f"support {_num(v.get('support'))}</span></div>")
        ev = v.get("evidence")
        if ev:
            cite = f'<span class="cite">[{_e(v.get("citation"))}]</span>' if v.get("citation") else ""
            out.append(f'<div class="ev">{cite}“{_e(_clip(ev, 500))}”</div>')
        else:
            out.append('<div class="ev"><span class="none">no evidence found</span></div>')
    if n_all > MAX_SENTENCES:
        out.append(f'<div class="cap">… {n_all - MAX_SENTENCES} more sentences</div><div></div>')
    return f'<div class="sents">{"".join(out)}</div>'


def _worst(table: Any) -> str:

    head = '<h2 id="worst">Worst-grounded pairs</h2>'
    if R.HALLUCINATION_PROB not in table.columns:
        return head + '<p class="none">The grounding stage did not run.</p>'
    hp = _floats(table, R.HALLUCINATION_PROB)
    scored = np.flatnonzero(~np.isnan(hp))
    if len(scored) == 0:
        return head + '<p class="none">No pair has a hallucination probability.</p>'
    top = scored[np.argsort(-hp[scored], kind="stable")[:MAX_WORST]]  # ties: input order
    cards = _pair_cards(table, top)
    cap = (f"The {len(top)} pairs (of {len(scored):,} scored) with the highest hallucination probability. "
           "Each response sentence sits next to the evidence sentence it was aligned with (its citation); "
           "unsupported sentences are red and the words the evidence does not contain are "
           "<mark>marked</mark>.")
    return head + f'<p class="cap">{cap}</p>' + cards


def _doubtful(table: Any) -> str:
    """Pairs left ``unverifiable`` with a ``doubtful`` claim (grounding_confidence "low"): between the
    doubt threshold and the threshold, over it with nothing shown against it, or flagged against an
    index that covers almost none of the data. Kept, and worth reading."""
    import polars as pl

    head = '<h2 id="doubtful">Doubtful — worth reading</h2>'
    need = (R.HALLUCINATION_PROB, R.GROUNDING_VERDICT, R.SENTENCES)
    if any(c not in table.columns for c in need):
        return head + '<p class="none">The grounding stage did not run.</p>'
    mask = ((pl.col(R.GROUNDING_VERDICT) == "unverifiable")
            & pl.col(R.SENTENCES).str.contains('"verdict": "doubtful"', literal=True)).fill_null(False)
    idx = np.flatnonzero(table.select(mask.alias("_d"))["_d"].to_numpy())
    if len(idx) == 0:
        return head + '<p class="none">No doubtful pair: every judged pair is clearly supported or flagged.</p>'
    hp = _floats(table, R.HALLUCINATION_PROB)[idx]
    top = idx[np.argsort(-np.nan_to_num(hp, nan=-1.0), kind="stable")[:MAX_DOUBTFUL]]
    cap = (f"{len(idx):,} pairs are <i>unverifiable</i> with low confidence: a claim the evidence is about lacks "
           "support, but not clearly enough to drop the pair: its probability lies between the doubt "
           "threshold and the threshold, or reaches the threshold while its evidence shows nothing against "
           "it (every word of it is there, no contradiction), or it was flagged against an index that covers "
           "almost none of the data. Each pair's <code>unverifiable_reason</code> says which. They are kept. "
           f"The {len(top)} most doubtful:")
    return head + f'<p class="cap">{cap}</p>' + _pair_cards(table, top)


def _pair_cards(table: Any, top: np.ndarray) -> str:
    """One card per row of ``top``: the prompt, each response sentence next to its evidence."""
    # only the columns shown, texts cut in polars: a 50 MB row is never read whole
    worst = _bounded(table[top.tolist()], [R.ROW_ID, R.ID, R.HALLUCINATION_PROB, R.EVIDENCE_MODE, R.DROP_STAGE,
                                           R.DROP_REASON, R.INSTRUCTION, R.INPUT, R.RESPONSE, R.N_SENTENCES,
                                           R.N_UNSUPPORTED])
    sentences = (table[top.tolist()][R.SENTENCES].str.slice(0, SENTENCES_LIMIT).to_list()
                 if R.SENTENCES in table.columns else [None] * worst.height)
    cards = []
    for r, sent_json in zip(worst.iter_rows(named=True), sentences):
        sents = _first_sentences(sent_json, MAX_SENTENCES + 1)
        n_all = r.get(R.N_SENTENCES)
        n_all = len(sents) if n_all is None else int(n_all)
        n_uns = r.get(R.N_UNSUPPORTED)
        n_uns = sum(v.get("verdict") == "unsupported" for v in sents) if n_uns is None else int(n_uns)
        meta = [f"row <span class='mono'>{_e(r.get(R.ROW_ID))}</span>"]
        if r.get(R.ID) is not None and str(r.get(R.ID)) != str(r.get(R.ROW_ID)):
            meta.append(f"id <span class='mono'>{_e(_clip(r.get(R.ID), 120))}</span>")
        meta.append(f"<b>P(hallucinated) = {_num(r.get(R.HALLUCINATION_PROB))}</b>")
        meta.append(f"{n_uns} of {n_all} sentences unsupported")
        if r.get(R.EVIDENCE_MODE):
            meta.append(f"evidence: {_e(r.get(R.EVIDENCE_MODE))}")
        meta.append(_status(r))
        body = (_sentence_rows(sents, n_all) if sents else
                f"<p><b>A:</b> {_e(_clip(r.get(R.RESPONSE), 600, r.get(f'_len_{R.RESPONSE}')))}</p>")
        cards.append(f'<div class="pair"><div class="meta">{" · ".join(meta)}</div>'
                     f'<div class="q"><b>Q:</b> {_e(_clip(_prompt(r), 500, _prompt_len(r)))}</div>{body}</div>')
    return "".join(cards)


def _clusters(table: Any, stages: dict[str, dict[str, Any]]) -> str:
    import polars as pl

    head = '<h2 id="clusters">Largest duplicate clusters</h2>'
    if R.CLUSTER_ID not in table.columns:
        return head + '<p class="none">The dedup stage did not run.</p>'
    cols = [c for c in (R.ROW_ID, R.CLUSTER_ID, R.DUPLICATE_OF, R.DUP_METHOD, R.DUP_SIMILARITY, R.DROP_STAGE,
                        R.DROP_REASON, R.INSTRUCTION, R.INPUT, R.RESPONSE) if c in table.columns]
    multi = table.select(cols).filter(pl.col(R.CLUSTER_ID).is_not_null())  # narrow first: fast on 100k rows
    multi = _bounded(multi, cols)  # texts cut in polars, with their full lengths and hashes
    for c, dt in ((R.DUPLICATE_OF, pl.Int64), (R.DUP_METHOD, pl.String), (R.DUP_SIMILARITY, pl.Float64)):
        if c not in multi.columns:
            multi = multi.with_columns(pl.lit(None, dt).alias(c))
    sizes = (multi.group_by(R.CLUSTER_ID)
             .agg(pl.len().alias("_n"), pl.col(R.DUPLICATE_OF).is_null().sum().alias("_kept"))
             .filter(pl.col("_n") > 1))
    if sizes.height == 0:
        return head + '<p class="none">No duplicates found: every row is its own cluster.</p>'
    big = sizes.sort(["_n", R.CLUSTER_ID], descending=[True, False]).head(MAX_CLUSTERS)
    n_dup = int(multi[R.DUPLICATE_OF].is_not_null().sum())
    st = stages.get("dedup") or {}
    by_method = st.get("dropped_by_method")
    if not isinstance(by_method, dict):
        vc = multi.filter(pl.col(R.DUPLICATE_OF).is_not_null())[R.DUP_METHOD].value_counts()
        by_method = {str(m): int(c) for m, c in vc.iter_rows()}
    methods = ", ".join(f"{_e(m)} {_int(c)}" for m, c in by_method.items() if c)
    cap = (f"{sizes.height:,} clusters with more than one member; {n_dup:,} rows marked duplicates"
           + (f" ({methods})" if methods else "") + f". The {big.height} largest: the kept member "
           "(best utility) first, then the dropped members with how they matched it.")
    order = [pl.col(R.DUPLICATE_OF).is_not_null(), pl.col(R.DUP_SIMILARITY).fill_null(0.0)]
    if R.ROW_ID in multi.columns:
        order.append(pl.col(R.ROW_ID))
    members = (multi.filter(pl.col(R.CLUSTER_ID).is_in(big[R.CLUSTER_ID].to_list()))
               .sort(order, descending=[False, True, False][:len(order)])
               .group_by(R.CLUSTER_ID, maintain_order=True).head(MAX_CLUSTER_MEMBERS))
    blocks = []
    for cid, n, n_kept in big.select(R.CLUSTER_ID, "_n", "_kept").iter_rows():
        rows = list(members.filter(pl.col(R.CLUSTER_ID) == cid).iter_rows(named=True))
        trs = []
        kept_prompt: tuple[Any, ...] | None = None
        for r in rows[:MAX_CLUSTER_MEMBERS]:
            is_kept = r.get(R.DUPLICATE_OF) is None
            role = ('<span class="tag kept">kept member</span>' if is_kept else
                    f'<span class="tag dropped">duplicate of {_e(r.get(R.DUPLICATE_OF))}</span>')
            method = "" if is_kept else _e(r.get(R.DUP_METHOD))
            sim = "" if is_kept else _num(r.get(R.DUP_SIMILARITY), 3)
            final = _status(r) if (is_kept or r.get(R.DROP_STAGE) != "dedup") else ""
            # the same prompt only when the whole instruction and input are the same texts
            # (not merely their first characters, nor the same after dedup's normalisation)
            key = tuple(r.get(f"_{what}_{c}") for c in (R.INSTRUCTION, R.INPUT) for what in ("hash", "len"))
            shown = ('<span class="none">same prompt as the kept member, character for character</span>'
                     if not is_kept and key == kept_prompt else _e(_clip(_prompt(r), 240, _prompt_len(r))))
            if is_kept and kept_prompt is None:
                kept_prompt = key
            answer = _clip(r.get(R.RESPONSE), 200, r.get(f"_len_{R.RESPONSE}"))
            trs.append(f'<tr><td>{role}</td><td class="num mono">{_e(r.get(R.ROW_ID))}</td><td>{method}</td>'
                       f'<td class="num">{sim}</td><td class="txt">{shown}'
                       f'<br><span class="ans">A: {_e(answer)}</span> {final}</td></tr>')
        more = (f'<tr><td colspan="5" class="cap">… {n - len(rows):,} more members</td></tr>'
                if n > len(rows) else "")
        blocks.append(f"<h3>Cluster {_e(cid)}: {_int(n)} rows, {n_kept} kept, {_int(n - n_kept)} dropped</h3>"
                      '<table class="cl"><colgroup><col style="width:150px"><col style="width:64px">'
                      '<col style="width:80px"><col style="width:84px"><col></colgroup><tr><th>role</th><th class="num">row</th><th>method</th>'
                      f'<th class="num">similarity</th><th>prompt / response</th></tr>{"".join(trs)}{more}</table>')
    return head + f'<p class="cap">{cap}</p>' + "".join(blocks)


def _sample(groups: list[tuple[str, np.ndarray, str]], budget: int, rng: np.random.Generator
            ) -> list[tuple[str, np.ndarray, str, int]]:
    """Per group: (label, sampled row positions, colour, group size); at most ``budget`` in all."""
    total = sum(len(g) for _, g, _ in groups)
    out = []
    for label, idx, color in groups:
        if total > budget and len(idx):
            k = min(len(idx), max(int(budget * len(idx) / total), min(len(idx), budget // 10)))
            idx_s = np.sort(rng.choice(idx, size=k, replace=False))
        else:
            idx_s = idx
        out.append((label, idx_s, color, len(idx)))
    return out


def _coords(table: Any, rows: np.ndarray, embeddings: Embeddings | None) -> tuple[np.ndarray | None, str]:
    """2-D coordinates of ``rows`` and a caption saying how they were made."""
    if embeddings is not None:
        # the sampled rows only, then float64 (a float64 copy of every row: 3 KiB per row)
        picked = embeddings(rows) if callable(embeddings) else np.asarray(embeddings)[rows]
        x = np.asarray(picked, dtype=np.float64)
        x = np.nan_to_num(x - x.mean(axis=0))
        if x.shape[0] < 2:
            return np.zeros((x.shape[0], 2)), "PCA of the supplied embeddings"
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        xy = x @ vt[:2].T
        if xy.shape[1] < 2:
            xy = np.hstack([xy, np.zeros((xy.shape[0], 2 - xy.shape[1]))])
        return xy, "PCA of the supplied embeddings"
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    sub = _bounded(table[rows], [R.INSTRUCTION, R.INPUT])  # a lexical proxy: the start of each prompt
    texts = [_prompt(r) for r in sub.iter_rows(named=True)]
    how = ("TF-IDF + TruncatedSVD of the prompt text (a cheap lexical proxy: no embeddings were passed "
           "to <span class='mono'>write_report</span>, and the selector used sentence embeddings)")
    try:
        x = TfidfVectorizer(sublinear_tf=True, max_features=20000, min_df=1).fit_transform(texts)
    except ValueError:  # empty vocabulary
        return None, how
    if x.shape[0] < 3 or x.shape[1] < 3:
        return None, how
    xy = TruncatedSVD(n_components=2, random_state=0).fit_transform(x)
    return xy, how


def _map(table: Any, embeddings: Embeddings | None) -> str:
    head = '<h2 id="map">Selection map</h2>'
    n = table.height
    alive = _alive(table)
    if R.SELECT_RANK in table.columns:
        here = _stage_is(table, "select")
        reasons = table[R.DROP_REASON].to_numpy() if R.DROP_REASON in table.columns else np.array([None] * n)
        groups: list[tuple[str, np.ndarray, str]] = [
            ("dropped before selection", np.flatnonzero(~alive & ~here), GREY)]
        palette = ["#f4a261", "#e76f51", "#9b5de5", "#8d99ae"]
        for i, reason in enumerate(sorted({str(r) for r in reasons[here]})):
            groups.append((f"not selected: {reason}", np.flatnonzero(here & (reasons == reason)),
                           palette[i % len(palette)]))
        groups.append(("selected", np.flatnonzero(alive), "#1d4ed8"))
        what = ("selected rows (blue) among the candidates the selector saw; grey rows were dropped "
                "earlier (a grey halo round a dot: a dropped row with the same or a similar prompt)")
    else:
        groups = [("dropped", np.flatnonzero(~alive), GREY), ("kept", np.flatnonzero(alive), "#1d4ed8")]
        what = "kept vs dropped rows (the selection stage did not run)"
    sampled = _sample(groups, MAX_MAP_POINTS, np.random.default_rng(0))
    rows = np.concatenate([g[1] for g in sampled]) if sampled else np.zeros(0, np.int64)
    if len(rows) == 0:
        return head + '<p class="none">No rows to map.</p>'
    try:
        xy, how = _coords(table, rows, embeddings)
    except Exception as exc:  # the map is a nicety: never let it break the report
        return head + f'<p class="none">No map: {_e(type(exc).__name__)}: {_e(exc)}</p>'
    if xy is None:
        return head + f'<p class="none">Too few rows or words for a map ({_e(len(rows))} rows).</p>'
    fig, ax = _figure(9.6, 4.4)
    pos = 0
    for label, idx, color, size in sampled:
        pts = xy[pos:pos + len(idx)]
        pos += len(idx)
        if not len(idx):
            continue
        grey = color == GREY
        shown = f", {len(idx):,} shown" if len(idx) < size else ""
        # grey (dropped earlier) is drawn larger and underneath: rows sharing a prompt with a
        # candidate (duplicates, other answers to the same question) show as a grey halo.
        ax.scatter(pts[:, 0], pts[:, 1], s=42 if grey else 13, c=color, alpha=0.6 if grey else 0.9,
                   linewidths=0, label=f"{label} ({size:,}{shown})", zorder=1 if grey else 2)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#d1d5db")
    ax.legend(fontsize=8.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.02),
              ncol=min(4, len(sampled)), markerscale=1.6)
    total = sum(g[3] for g in sampled)
    sample_note = f" Showing a sample of {len(rows):,} of {total:,} rows." if len(rows) < total else ""
    cap = f"Each dot is a row, placed by {how}; colours show {what}.{sample_note}"
    return head + f"<figure>{_png(fig)}<figcaption>{cap}</figcaption></figure>"


# ---------------------------------------------------------------------------------------------
_FLOAT_COLS = (R.HALLUCINATION_PROB, R.GROUNDING, R.QUALITY, R.DUP_SIMILARITY, R.UTILITY, R.SELECT_GAIN)
_INT_COLS = (R.ROW_ID, R.CLUSTER_ID, R.CLUSTER_SIZE, R.DUPLICATE_OF, R.SELECT_RANK, R.REDUNDANT_WITH,
             R.N_SENTENCES, R.N_UNSUPPORTED)


def _normalise(table: Any) -> Any:
    """Give all-null columns (dtype Null, e.g. a hand-built table) a real dtype; add drop columns."""
    import polars as pl

    fixes = []
    for name, dtype in table.schema.items():
        if dtype == pl.Null:
            to = pl.Float64 if name in _FLOAT_COLS else pl.Int64 if name in _INT_COLS else pl.String
            fixes.append(pl.col(name).cast(to))
    for name in (R.DROP_STAGE, R.DROP_REASON):
        if name not in table.columns:
            fixes.append(pl.lit(None, pl.String).alias(name))
    return table.with_columns(fixes) if fixes else table


def render_report(result: Any, embeddings: Embeddings | None = None) -> str:
    """The report of ``result`` (a CurationResult) as one HTML string."""

    t = _normalise(result.table)
    s = result.summary or {}
    if embeddings is not None and not callable(embeddings):
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or embeddings.shape[0] != t.height:
            raise ValueError(f"embeddings must be a 2-D array with one row per table row ({t.height}); "
                             f"got shape {embeddings.shape}.")
    n_in = int(s.get("rows_in", t.height))
    kept = int(s.get("kept", int(_alive(t).sum())))
    dropped = int(s.get("dropped", n_in - kept))
    stages = _stages(s, t)
    sections = [("funnel", "Funnel"), ("scores", "Scores"), ("worst", "Worst-grounded"),
                ("doubtful", "Doubtful"), ("clusters", "Duplicate clusters"), ("map", "Selection map")]
    # wall-clock seconds per stage: CurationResult.timings (summary.json is kept free of timings so
    # re-runs are identical); older summaries carried them as "timings_s".
    timings = dict(getattr(result, "timings", None) or s.get("timings_s") or {})
    parts = [_header(s, timings, n_in, kept, dropped, sections), _funnel(timings, stages, n_in, kept),
             _reasons(t, n_in),
             _scores(t, stages), _worst(t), _doubtful(t), _clusters(t, stages), _map(t, embeddings)]
    from . import __version__

    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>curator report: {_int(kept)} of {_int(n_in)} rows kept</title><style>{CSS}</style></head>"
            f"<body>{''.join(parts)}<footer>curator {_e(__version__)} · one self-contained file; "
            "user text is escaped, nothing is loaded from the network.</footer></body></html>")


def write_report(result: Any, path: str | Path, embeddings: Embeddings | None = None) -> Path:
    """Render ``result`` (a CurationResult) to one self-contained HTML file at ``path``.

    ``embeddings``: optional array aligned with ``result.table`` rows, or a function from row
    positions to their vectors (only the rows the map samples are asked for), for the selection
    map (PCA); without it the map comes from TF-IDF + TruncatedSVD of the prompts.
    """
    from .io import atomic_write

    path = Path(path)
    atomic_write(path, render_report(result, embeddings).encode("utf-8"))
    return path
