"""The `curator` command line: a thin layer over the library. Library errors become one line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from .devices import BACKENDS
from .errors import CuratorError
from .outpaths import (
    RUN_OUTPUTS,
    check_not_input,
    check_out_dir,
    check_out_file,
    check_single_outputs,
    dropped_path,
)

EPILOG_RUN = """\b
Example:
  curator index build examples/halueval_demo/sources.jsonl --name demo --id-field id
  curator run examples/halueval_demo/pairs.jsonl --index demo --budget 100 -o out/demo
"""


class CuratorGroup(click.Group):
    """Turns CuratorError into `Error: <one line>` and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CuratorError as exc:
            raise click.ClickException(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        except OSError as exc:  # a file system refusal (permissions, a read-only or missing place)
            where = f": {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or type(exc).__name__}{where}") from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug of curator's: still one line, the traceback under -v
            if logging.getLogger("curator").isEnabledFor(logging.INFO):
                raise
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise click.ClickException(f"internal error ({type(exc).__name__}: {first}); nothing was overwritten "
                                       "in place. Run with -v for the traceback and please report it.") from None


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.INFO if verbose else (logging.ERROR if quiet else logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("curator").setLevel(level)


@click.group(cls=CuratorGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EPILOG_RUN)
@click.version_option(__version__, package_name="curator")
@click.option("-v", "--verbose", is_flag=True, help="Log each stage and its timing.")
@click.option("-q", "--quiet", is_flag=True, help="Only print errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Clean and curate instruction-tuning data by grounding it in human-written source documents."""
    _setup_logging(verbose, quiet)
    ctx.obj = {"quiet": quiet}


def _say(ctx: click.Context, msg: str) -> None:
    if not (ctx.obj or {}).get("quiet"):
        click.echo(msg, err=True)


def _notifier(ctx: click.Context) -> Callable[[str], None]:
    """Where a pipeline's status lines go (resumed, recomputed, a long stage still running):
    stderr, unless --quiet."""
    return lambda msg: _say(ctx, msg)


# ---------------------------------------------------------------------------------------------
# shared options
# ---------------------------------------------------------------------------------------------
verifier_option = click.option(
    "--verifier", default=None, metavar="FOLDER",
    help="A local cross-encoder (NLI with an 'entailment' label, or one trained by "
         "`curator.grounding.train_verifier`) that re-judges the sentences the features find doubtful.")


def select_constraint_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--group-by, --must-include, --token-field, --tokenizer: SelectStep's constraints."""
    opts = [
        click.option("--group-by", default=None, metavar="FIELD",
                     help="Split the budget over the values of this field, in proportion to their sizes."),
        click.option("--must-include", multiple=True, metavar="ID", help="Select this row id first (repeatable)."),
        click.option("--token-field", default=None, metavar="FIELD",
                     help="Token counts for --budget-unit tokens (default: counted)."),
        click.option("--tokenizer", default=None, metavar="NAME_OR_DIR",
                     help="Count tokens with this local Hugging Face tokenizer (default: whitespace)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


PRECISION_OPTION = click.option(
    "--precision", type=click.Choice(["auto", "fp32", "bf16"]), default=None,
    help="what embeddings are computed at: auto (default) = bf16 where the hardware computes it natively (a CPU with "
         "AVX-512-bf16 or AMX, a CUDA GPU of compute capability >= 8.0), else fp32; fp32 = the vectors of curator before "
         "bf16 became the default, bit for bit; bf16 = bfloat16 matrix products (1.5-1.7x less CPU than fp32 end to end on an AVX-512-bf16 "
         "CPU, vectors within ~2e-3 of fp32's). summary.json and index manifests record the precision used.")


def pairs_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--instruction-field", help="Field holding the instruction (default: instruction/prompt/question/query)."),
        click.option("--response-field", help="Field holding the response (default: output/response/answer/completion)."),
        click.option("--input-field", help="Field holding extra input appended to the instruction (default: input)."),
        click.option("--source-field", help="Field holding the pair's own source text: score against it, no index needed."),
        click.option("--source-id-field", help="Field naming the document in the index the pair is grounded in "
                     "(an id the index lacks stops the run; with --on-error skip its row is unverifiable)."),
        click.option("--id-field", help="Field holding a record id (default: id if present)."),
        click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
                     help="On a malformed line: stop, or drop it with a reason and go on. On a --source-id-field "
                          "value the index lacks: stop, or keep the row as unverifiable."),
        click.option("--model", default=None, help="sentence-transformers model name or local folder (default: packaged all-MiniLM-L6-v2)."),
        click.option("--device", default=None, help="torch device for embeddings and the verifier: auto (default: CUDA when torch sees a GPU, else cpu), cpu, cuda, cuda:1, ..."),
        click.option("--embed-backend", type=click.Choice(list(BACKENDS)), default=None,
                     help="embedding runtime: torch (default); onnx (ONNX Runtime on the CPU, fp32, 1.2-1.3x faster than torch fp32 on an idle "
                          "2-core box, vectors within ~2e-7 of torch's; needs pip install 'curator[onnx]'); torch-bf16 (= torch with --precision bf16); "
                          "openvino (OpenVINO on the CPU, at --precision; 1.2x the texts/s of torch at bf16 on a 2-core AVX-512-bf16 box; needs pip install 'curator[openvino]')."),
        PRECISION_OPTION,
        click.option("--embed-workers", type=click.IntRange(min=1), default=None,
                     help="CPU batches embedded side by side, each on a share of torch's threads (default: one per thread, "
                          "at most 8; 1 = one batch at a time on all threads). The same vectors either way; "
                          "1.17-1.3x the texts/s for short texts on 2 cores."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _read(path: str, kw: dict[str, Any], index_ref: str | None = None) -> Any:
    from .records import FieldMap, read_pairs

    # An explicit --index means "ground in the index": a detected `context` field must not win.
    fields = FieldMap(instruction=kw.get("instruction_field"), response=kw.get("response_field"),
                      input=kw.get("input_field"), source=kw.get("source_field"),
                      source_id=kw.get("source_id_field"), id=kw.get("id_field"),
                      detect_source=index_ref is None)
    return read_pairs(path, fields, kw.get("on_error", "raise"))


def _embedder(model: str | None, index: str | None, device: str | None = None, backend: str | None = None,
              workers: int | None = None, announce: bool = False, precision: str | None = None) -> Any:
    from .embed import Embedder

    if model is None and index is not None:
        # Use the index's own model unless told otherwise (and say so: a run that embeds with a
        # model nobody named is worth one line).
        from .index import MANIFEST_FILE, resolve_index_path

        manifest = json.loads((resolve_index_path(index) / MANIFEST_FILE).read_text("utf-8"))
        model = manifest["model"]
        if announce:
            _say(click.get_current_context(), f"model: {model}, the one index {index} was built with (no --model given)")
    quiet = bool((click.get_current_context().obj or {}).get("quiet"))
    return Embedder(model, device=device or "auto", cache_dir=_cache_dir(), show_progress=False if quiet else None,
                    backend=backend or "torch", workers=workers, precision=precision or "auto")


def _cache_dir() -> Any:
    """The on-disk embedding cache of the CLI; CURATOR_CACHE_DIR=off disables it."""
    from .embed import cache_disabled, default_cache_dir

    return None if cache_disabled() else default_cache_dir()


def _report(ctx: click.Context, result: Any, paths: dict[str, Path] | None = None) -> None:
    s = result.summary
    _say(ctx, f"{s['rows_in']} rows in: {s['kept']} kept, {s['dropped']} dropped")
    for reason, n in sorted(s["drop_reasons"].items(), key=lambda kv: -kv[1]):
        _say(ctx, f"  {n:6d}  {reason}")
    for name, st in s["stages"].items():
        if isinstance(st, dict) and st.get("message"):
            _say(ctx, f"{name}: {st['message']}")
    _grounding_lines(ctx, s["stages"].get("grounding"), report=bool(paths and "report" in paths))
    if paths:
        for name, p in paths.items():
            _say(ctx, f"{name:8s} {p}")


def _grounding_lines(ctx: click.Context, g: Any, report: bool = False) -> None:
    """The grounding verdict counts and the stage's warnings (each printed once); ``report``:
    whether a report.html was written (it lists the doubtful rows)."""
    if not isinstance(g, dict) or "verdicts" not in g:
        return
    v = g["verdicts"]
    doubtful = int(g.get("doubtful") or 0)
    where = "listed in report.html" if report else "sentences with verdict \"doubtful\" in the output"
    _say(ctx, f"grounding: {v['supported']} supported, {v['hallucinated']} hallucinated, "
              f"{v['unverifiable']} unverifiable (kept, not judged"
              + (f"; {doubtful} of them doubtful, {where}" if doubtful else "") + ")")
    for w in g.get("warnings", []):
        _say(ctx, f"warning: {w}")


def _write_single(ctx: click.Context, result: Any, out: str, dropped: str | None, all_rows: bool = False,
                  source: Any = None) -> None:
    """Write the kept rows (or all rows) to OUT and the dropped rows next to it, each in the
    container its suffix names (the user's records plus curator's columns)."""
    from .output import write_rows

    frames = [(Path(out), result.table if all_rows else result.kept)]
    if not all_rows:  # written when empty too: a file left by an earlier run would read as this one's
        frames.append((dropped_path(out, dropped), result.dropped))
    for path, frame in frames:
        write_rows(path, frame, result.table, source)
        _say(ctx, f"wrote {frame.height} rows to {path}")


# ---------------------------------------------------------------------------------------------
# index
# ---------------------------------------------------------------------------------------------
@cli.group(cls=CuratorGroup, epilog="""\b
Example:
  curator index build examples/halueval_demo/sources.jsonl --name demo --id-field id
  curator index search demo "Who founded the magazine?" -k 3""")
def index() -> None:
    """Build, extend, inspect and search passage indexes of source documents."""


def _index_embed_options(f: Any) -> Any:
    """--device, --embed-backend, --precision and --embed-workers of the index commands that embed (build, add, search)."""
    f = click.option("--embed-workers", type=click.IntRange(min=1), default=None,
                     help="CPU batches embedded side by side (default: one per torch thread, at most 8; same vectors).")(f)
    f = PRECISION_OPTION(f)
    f = click.option("--embed-backend", type=click.Choice(list(BACKENDS)), default="torch", show_default=True,
                     help="embedding runtime: onnx = ONNX Runtime on the CPU (fp32, 1.2-1.3x faster than torch fp32 on an idle "
                          "2-core box; pip install 'curator[onnx]'); torch-bf16 = torch with --precision bf16; "
                          "openvino = OpenVINO on the CPU at --precision (1.2x the texts/s of torch at bf16 on a 2-core AVX-512-bf16 box; needs pip install 'curator[openvino]').")(f)
    return click.option("--device", default="auto", show_default=True,
                        help="torch device for embedding: auto (CUDA when torch sees a GPU), cpu, cuda, ...")(f)


@index.command("build", epilog="""\b
Example:
  curator index build examples/halueval_demo/sources.jsonl --name demo --id-field id
  curator index build docs/ --out /tmp/my-index --max-tokens 96""")
@click.argument("sources", nargs=-1, required=True)
@click.option("--name", help="Index name: stored under $CURATOR_INDEX_DIR or ./indexes/NAME.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder to write the index to (instead of --name).")
@click.option("--text-field", default="text", show_default=True, help="Text column of table sources.")
@click.option("--id-field", default=None, help="Id column of table sources (default: file:line).")
@click.option("--model", default=None, help="sentence-transformers model name or folder (default: packaged all-MiniLM-L6-v2).")
@click.option("--max-tokens", default=128, show_default=True, help="Passage size in whitespace tokens.")
@click.option("--overlap", default=1, show_default=True, help="Sentences shared by consecutive passages.")
@click.option("--index-type", type=click.Choice(["auto", "flat", "hnsw"]), default="auto", show_default=True,
              help="FAISS index: exact flat, HNSW, or auto (HNSW above 200k passages).")
@click.option("--force", is_flag=True, help="Overwrite an existing index.")
@_index_embed_options
@click.pass_context
def index_build(ctx: click.Context, sources: tuple[str, ...], name: str | None, out: str | None, text_field: str,
                id_field: str | None, model: str | None, max_tokens: int, overlap: int, index_type: str, force: bool,
                device: str, embed_backend: str, precision: str | None, embed_workers: int | None) -> None:
    """Chunk SOURCES (.txt/.md files or folders; .jsonl/.json/.parquet/.csv with a text column) into
    passages, embed them, and write a FAISS index with its manifest."""
    from .embed import Embedder
    from .index import MANIFEST_FILE, PassageIndex, check_index_name, index_root, load_documents
    from .locks import index_lock

    if bool(name) == bool(out):
        raise click.UsageError("give exactly one of --name NAME or --out DIR.")
    path = Path(out) if out else index_root() / check_index_name(name or "")
    if (path / MANIFEST_FILE).exists() and not force:
        raise CuratorError(f"an index already exists at {path}; use `curator index add` to extend it or --force to rebuild.")
    docs = load_documents(sources, text_field=text_field, id_field=id_field)
    # one writer at a time: a concurrent `index add` waits for the rebuild (and vice versa)
    with index_lock(path, on_wait=lambda msg: _say(ctx, msg)):
        if (path / MANIFEST_FILE).exists() and not force:  # built by another process meanwhile
            raise CuratorError(f"an index already exists at {path}; use `curator index add` to extend it or --force to rebuild.")
        idx = PassageIndex.build(docs, Embedder(model, device=device, backend=embed_backend, workers=embed_workers,
                                                precision=precision or "auto"),
                                 max_tokens=max_tokens, overlap_sentences=overlap, index_type=index_type)
        idx.save(path)
    c = idx.manifest["counts"]
    _say(ctx, f"indexed {c['documents']} documents as {c['passages']} passages with {idx.manifest['model']} "
              f"({idx.manifest['index_type_resolved']}) -> {path}")


@index.command("add", epilog="\b\nExample:\n  curator index add demo more_docs/")
@click.argument("name")
@click.argument("sources", nargs=-1, required=True)
@click.option("--text-field", default="text", show_default=True)
@click.option("--id-field", default=None)
@_index_embed_options
@click.pass_context
def index_add(ctx: click.Context, name: str, sources: tuple[str, ...], text_field: str, id_field: str | None,
              device: str, embed_backend: str, precision: str | None, embed_workers: int | None) -> None:
    """Add documents to an existing index (unchanged documents are skipped). New passages are
    embedded at the index's own precision unless --precision says otherwise."""
    from .index import MANIFEST_FILE, PassageIndex, load_documents, resolve_index_path
    from .locks import index_lock

    path = resolve_index_path(name)
    docs = load_documents(sources, text_field=text_field, id_field=id_field)
    if precision is None and embed_backend == "torch":
        precision = json.loads((path / MANIFEST_FILE).read_text("utf-8")).get("precision", "fp32")
        precision = precision if precision in ("fp32", "bf16") else None
    # load, add and save under the index's lock: a second `index add` waits for this one and
    # then adds to what it wrote (both documents stay)
    with index_lock(path, on_wait=lambda msg: _say(ctx, msg)):
        idx = PassageIndex.load(path, embedder=_embedder(None, name, device, embed_backend, embed_workers,
                                                         precision=precision))
        added = idx.add(docs)
        idx.save(path)
    _say(ctx, f"added {added} passages; {path} now holds {len(idx)} passages")


@index.command("info", epilog="\b\nExample:\n  curator index info demo")
@click.argument("name")
def index_info(name: str) -> None:
    """Print an index's manifest as JSON."""
    from .index import MANIFEST_FILE, resolve_index_path

    path = resolve_index_path(name)
    manifest = json.loads((path / MANIFEST_FILE).read_text("utf-8"))
    manifest.pop("model_probe", None)
    click.echo(json.dumps({"path": str(path), **manifest}, indent=2))


@index.command("search", epilog="\b\nExample:\n  curator index search demo \"Who founded the magazine?\" -k 3")
@click.argument("name")
@click.argument("query")
@click.option("-k", default=5, show_default=True, help="Number of passages.")
@click.option("--model", default=None, help="Embedding model (must match the index).")
@_index_embed_options
def index_search(name: str, query: str, k: int, model: str | None, device: str, embed_backend: str,
                 precision: str | None, embed_workers: int | None) -> None:
    """Print the top-k passages for QUERY as JSON lines."""
    from .index import PassageIndex, resolve_index_path

    idx = PassageIndex.load(resolve_index_path(name), embedder=_embedder(model, name, device, embed_backend, embed_workers, precision=precision))
    for p in idx.search([query], k=k)[0]:
        click.echo(json.dumps({"score": round(p.score, 4), "passage_id": p.passage_id, "doc_id": p.doc_id,
                               "start": p.start, "end": p.end, "text": p.text}, ensure_ascii=False))


# ---------------------------------------------------------------------------------------------
# stages
# ---------------------------------------------------------------------------------------------
def _run(ctx: click.Context, pairs: str, kw: dict[str, Any], steps: list[Any], index_ref: str | None,
         outputs: list[Path], grounding: bool = False) -> tuple[Any, Any]:
    """Read PAIRS, check that OUTPUTS can hold its records, run the steps: (result, output source)."""
    from .pipeline import Pipeline

    data = _read(pairs, kw, index_ref)
    if grounding:
        _check_evidence(ctx, data, index_ref)
    if data.n_bad:
        _say(ctx, f"warning: {data.n_bad} unreadable rows dropped with a reason (--on-error skip)")
    for note in data.notes:
        _say(ctx, f"warning: {note}")
    source = _prepare_outputs(pairs, data, outputs)
    embedder = _embedder(kw.get("model"), index_ref, kw.get("device"), kw.get("embed_backend"), kw.get("embed_workers"),
                         announce=grounding, precision=kw.get("precision"))
    return Pipeline(steps, embedder=embedder, notify=_notifier(ctx)).run(data), source


def _prepare_outputs(pairs: str, data: Any, outputs: list[Path]) -> Any:
    """Before any work: the records fit every output container (else a one-line error)."""
    from .io import expand_inputs
    from .output import prepare_outputs

    skipped = {s["file"] for s in data.skipped_shards}
    inputs = [f for f in expand_inputs(pairs) if str(f) not in skipped]
    return prepare_outputs(outputs, data, inputs)


@cli.command("score", epilog="""\b
Example:
  curator score examples/halueval_demo/pairs.jsonl --index demo -o out/scored.jsonl
  curator score data.jsonl --source-field context -o scored.parquet""")
@click.argument("pairs")
@click.option("--index", "index_ref", help="Index name or folder for retrieving evidence.")
@click.option("-o", "--out", required=True, help="Output file (.jsonl/.parquet/.csv): every row with its scores.")
@click.option("--top-k", default=5, show_default=True, help="Passages retrieved per query.")
@click.option("--threshold", type=float, default=None, help="Hallucination probability that flags a pair (default: the parameters' own; see benchmarks/RESULTS.md for the shipped one's precision).")
@click.option("--params", default=None, help="Grounding parameters JSON (from `curator calibrate`).")
@verifier_option
@pairs_options
@click.pass_context
def score_cmd(ctx: click.Context, pairs: str, index_ref: str | None, out: str, top_k: int, threshold: float | None,
              params: str | None, verifier: str | None, **kw: Any) -> None:
    """Score every (instruction, response) pair for grounding and quality; drops nothing."""
    from .pipeline import GroundingStep, QualityStep

    check_out_file(out)
    check_not_input(pairs, [Path(out)])
    steps = [QualityStep(drop=False), GroundingStep(index=index_ref, top_k=top_k, threshold=threshold, params=params, drop=False,
                                                           verifier=verifier, unknown_source_id=_unknown_ids(kw))]
    result, source = _run(ctx, pairs, kw, steps, index_ref, [Path(out)], grounding=True)
    _write_single(ctx, result, out, None, all_rows=True, source=source)
    g = result.summary["stages"]["grounding"]
    _say(ctx, f"{g.get('flagged', 0)} of {g['in']} pairs flagged as hallucinated")
    _grounding_lines(ctx, g)


@cli.command("dedup", epilog="""\b
Example:
  curator dedup examples/halueval_demo/pairs.jsonl -o out/deduped.jsonl
  curator dedup data.jsonl --on both --no-semantic -o deduped.jsonl""")
@click.argument("pairs")
@click.option("-o", "--out", required=True, help="Output file for the kept rows.")
@click.option("--dropped", default=None, help="Output file for the duplicates (default: OUT with .dropped).")
@click.option("--on", type=click.Choice(["instruction", "first_request", "response", "both"]), default="instruction",
              show_default=True, help="Which text identifies a duplicate: instruction = instruction + input (a "
              "conversation: system prompt + every user turn); first_request = a conversation's system prompt + "
              "first user turn only.")
@click.option("--near-threshold", type=float, default=None, help="Jaccard threshold for near-duplicates.")
@click.option("--semantic-threshold", type=float, default=None, help="Cosine threshold for semantic duplicates.")
@click.option("--semantic/--no-semantic", default=True, show_default=True, help="Embedding-based dedup.")
@click.option("--allow-value-changes", is_flag=True, help="Let near and semantic dedup merge rows whose numbers, "
              "operators, symbols or names differ ('... in 2019?' vs '... in 2020?'); by default they stay apart. "
              "For templated sets (GSM8K-style) whose copies differ only in such values.")
@click.option("--score-column", default=None, help="Keep the cluster member with the highest value of this field.")
@pairs_options
@click.pass_context
def dedup_cmd(ctx: click.Context, pairs: str, out: str, dropped: str | None, on: str, near_threshold: float | None,
              semantic_threshold: float | None, semantic: bool, allow_value_changes: bool, score_column: str | None,
              **kw: Any) -> None:
    """Remove exact, near- and semantic duplicates; every row gets a cluster id.

    \b
    Each dropped row names the kept row it duplicates (duplicate_of) and its direct similarity
    to it (dup_similarity, >= the threshold of the method: clusters are stars around the kept
    row, never chains).
      exact     same text after folding case, whitespace, Unicode forms (NFKC), invisible
                characters and sentence punctuation (. , ! ? ; : quotes): "What is the capital
                of Peru?" = "WHAT IS THE CAPITAL OF PERU". Never: "7+3" / "7-3", "C++" / "C#",
                "😀" / "😢" (digits, operators, symbols, emoji and all scripts are kept).
      near      character 5-gram Jaccard >= 0.6 (light edits of the same text).
      semantic  embedding cosine >= 0.95 (paraphrases), only for texts the model reads: not
                for text mostly in a script it was not trained on or > 10% unknown word pieces
                (counted in the summary); long texts are embedded in windows.
    \b
    Near and semantic never merge rows whose numbers, operators, symbols or names were changed
    ("... World Series in 2019?" / "... in 2020?", "FM 1506" / "FM 1511", "Paris" / "Lyon")
    unless --allow-value-changes. See docs/dedup.md."""
    from .pipeline import DedupStep

    check_single_outputs(pairs, out, dropped)
    steps = [DedupStep(on=on, semantic=semantic, near_threshold=near_threshold,
                       semantic_threshold=semantic_threshold, score_column=score_column,
                       allow_value_changes=allow_value_changes)]
    result, source = _run(ctx, pairs, kw, steps, None, [Path(out), dropped_path(out, dropped)])
    _write_single(ctx, result, out, dropped, source=source)
    _report(ctx, result)


@cli.command("select", epilog="""\b
Example:
  curator select examples/halueval_demo/pairs.jsonl --budget 50 -o out/selected.jsonl
  curator select data.jsonl --budget 200000 --budget-unit tokens -o subset.jsonl""")
@click.argument("pairs")
@click.option("--budget", type=int, required=True, help="Rows (or tokens with --budget-unit tokens) to select.")
@click.option("--budget-unit", type=click.Choice(["rows", "tokens"]), default="rows", show_default=True)
@click.option("--method", type=click.Choice(["facility_location", "k_center", "score_first", "top_utility", "random"]),
              default="facility_location", show_default=True)
@click.option("--utility-column", default=None, help="Field to use as utility (default: quality x grounding if present, else equal).")
@select_constraint_options
@click.option("--seed", "random_state", default=0, show_default=True)
@click.option("-o", "--out", required=True, help="Output file for the selected rows.")
@click.option("--dropped", default=None, help="Output file for the unselected rows.")
@pairs_options
@click.pass_context
def select_cmd(ctx: click.Context, pairs: str, budget: int, budget_unit: str, method: str, utility_column: str | None,
               group_by: str | None, must_include: tuple[str, ...], token_field: str | None, tokenizer: str | None,
               random_state: int, out: str, dropped: str | None, **kw: Any) -> None:
    """Select a diverse, utility-weighted subset under a budget."""
    from .pipeline import SelectStep

    check_single_outputs(pairs, out, dropped)
    steps = [SelectStep(budget=budget, budget_unit=budget_unit, method=method, utility_column=utility_column,
                        random_state=random_state, group_by=group_by, must_include=list(must_include) or None,
                        token_field=token_field, tokenizer=tokenizer)]
    result, source = _run(ctx, pairs, kw, steps, None, [Path(out), dropped_path(out, dropped)])
    _write_single(ctx, result, out, dropped, source=source)
    _report(ctx, result)


@cli.command("run", epilog=EPILOG_RUN)
@click.argument("pairs")
@click.option("--index", "index_ref", help="Index name or folder for retrieving evidence.")
@click.option("--budget", type=int, default=None, help="Rows (or tokens) to select; omit to keep every clean row.")
@click.option("--budget-unit", type=click.Choice(["rows", "tokens"]), default="rows", show_default=True)
@click.option("-o", "--out", "outdir", default=None, help="Output folder (required unless the pipeline file sets [output] dir).")
@click.option("--threshold", type=float, default=None, help="Hallucination probability that drops a pair (default: the parameters' own, 0.76 shipped; pairs from their doubt threshold, 0.57, up to it are kept as doubtful).")
@click.option("--top-k", default=5, show_default=True, help="Passages retrieved per query.")
@click.option("--params", default=None, help="Grounding parameters JSON (from `curator calibrate`).")
@verifier_option
@click.option("--keep-hallucinated", is_flag=True, help="Score grounding but do not drop flagged pairs.")
@click.option("--dedup-on", type=click.Choice(["instruction", "first_request", "response", "both"]), default="instruction",
              show_default=True, help="Text dedup compares (see `curator dedup --help`).")
@select_constraint_options
@click.option("--seed", "random_state", default=0, show_default=True)
@click.option("--no-report", is_flag=True, help="Skip report.html.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default=None,
              help="Where row-local work runs: local (default) or ray (Ray Data; pip install 'curator[ray]'). Same outputs either way.")
@click.option("--address", default=None, help="With --engine ray: an existing Ray cluster (auto, ray://HEAD:10001); default: start a local one.")
@click.option("--workers", type=int, default=None, help="With --engine ray: actors in the pool (default: one per CPU, or per GPU).")
@pairs_options
@click.pass_context
def run_cmd(ctx: click.Context, pairs: str, index_ref: str | None, budget: int | None, budget_unit: str, outdir: str,
            threshold: float | None, top_k: int, params: str | None, verifier: str | None, keep_hallucinated: bool, dedup_on: str,
            group_by: str | None, must_include: tuple[str, ...], token_field: str | None, tokenizer: str | None, random_state: int,
            no_report: bool, **kw: Any) -> None:
    """Run every stage (quality → grounding → dedup → select) and write kept.jsonl, dropped.jsonl,
    scores.parquet, summary.json and report.html to OUTDIR.

    PAIRS may also be a pipeline file (.toml) whose [[steps]] map onto the step classes; see
    examples/pipeline.toml."""
    from .output import check_curator_field
    from .pipeline import DedupStep, GroundingStep, Pipeline, QualityStep, SelectStep

    engine_opts = {"address": kw.pop("address", None), "workers": kw.pop("workers", None)}
    engine_name = kw.pop("engine", None)
    if pairs.endswith(".toml"):
        _run_toml(ctx, pairs, outdir, no_report, engine_name, engine_opts, kw.get("device"), kw.get("embed_backend"),
                  kw.get("embed_workers"), kw.get("precision"))
        return
    if outdir is None:
        raise click.UsageError("give -o OUTDIR.")
    check_out_dir(outdir)
    check_not_input(pairs, [Path(outdir) / f for f in RUN_OUTPUTS])
    steps = [QualityStep(), GroundingStep(index=index_ref, top_k=top_k, threshold=threshold, params=params,
                                          drop=not keep_hallucinated, verifier=verifier,
                                          unknown_source_id=_unknown_ids(kw)),
             DedupStep(on=dedup_on), SelectStep(budget=budget, budget_unit=budget_unit, random_state=random_state,
                                                group_by=group_by, must_include=list(must_include) or None,
                                                token_field=token_field, tokenizer=tokenizer)]
    data = _read(pairs, kw, index_ref)
    _check_evidence(ctx, data, index_ref)
    for note in data.notes:
        _say(ctx, f"warning: {note}")
    check_curator_field(data.table)
    embedder = _embedder(kw.get("model"), index_ref, kw.get("device"), kw.get("embed_backend"), kw.get("embed_workers"),
                         announce=True, precision=kw.get("precision"))
    result = _run_on_engine(Pipeline(steps, embedder=embedder, notify=_notifier(ctx)), data, outdir, engine_name, engine_opts)
    paths = result.write(outdir, report=not no_report)
    _report(ctx, result, paths)


NO_EVIDENCE = "give --index NAME (evidence from an index) or --source-field FIELD (own source)."


def _check_evidence(ctx: click.Context, data: Any, index_ref: str | None) -> None:
    """Grounding needs evidence: an index, a source field (named or detected), a source-id field,
    or, in tool-calling data, the tool results the rows carry. With only those, say in one line
    that the answers are checked against them and the other rows are unverifiable; with none,
    refuse before any work."""
    if index_ref is not None or data.fields.source is not None:
        return
    if data.fields.source_id is not None:
        raise click.UsageError("--source-id-field names documents of an index: give --index NAME too.")
    from . import records as R

    turns = data.table[R.TURNS]
    candidates = data.table.filter(turns.is_not_null() & turns.str.contains('"context"', literal=True))
    n = sum(any("context" in t for t in json.loads(x)) for x in candidates[R.TURNS].to_list())
    if not n:
        raise click.UsageError(NO_EVIDENCE)
    _say(ctx, f"no --index or --source-field: grounding checks answers against the tool results in their rows "
              f"({n} of {data.table.height} rows have them); the other rows are unverifiable (kept, not judged)")


def _unknown_ids(kw: dict[str, Any]) -> str:
    """A --source-id-field value the index lacks is a row problem like a malformed line: an
    error, or with --on-error skip an unverifiable row (counted, warned once)."""
    return "unverifiable" if kw.get("on_error") == "skip" else "error"


def _run_on_engine(pipeline: Any, data: Any, outdir: str, name: str | None, opts: dict[str, Any]) -> Any:
    from .engine import make_engine

    engine = make_engine(name, **opts)
    pipeline.engine = engine
    try:
        return pipeline.run(data, workdir=outdir)
    finally:
        engine.close()


@cli.command("calibrate", epilog="""\b
Example:
  curator calibrate my_labels.jsonl -o my_params.json --precision 0.9
  curator score pairs.jsonl --index docs --params my_params.json -o scored.jsonl""")
@click.argument("labelled")
@click.option("-o", "--out", required=True, help="Where to write the parameters (JSON).")
@click.option("--precision", "target_precision", type=float, default=None,
              help="Choose the threshold for this precision on the labelled data (default: 0.5).")
@click.option("--model", default=None, help="Embedding model (default: packaged all-MiniLM-L6-v2).")
@click.pass_context
def calibrate_cmd(ctx: click.Context, labelled: str, out: str, target_precision: float | None, model: str | None) -> None:
    """Refit the grounding combiner and threshold on your own labelled examples.

    LABELLED is JSONL/JSON/Parquet/CSV with source, response, hallucinated (0/1) and optionally
    prompt and dataset columns. Prints the in-sample AUROC (optimistic: hold data out to judge it)."""
    from .calibrate import calibrate
    from .embed import Embedder
    from .grounding import GroundingScorer

    scorer = GroundingScorer(embedder=Embedder(model, cache_dir=_cache_dir()))
    params = calibrate(labelled, out, scorer, target_precision)
    auc = params.meta.get("in_sample_auroc", float("nan"))
    _say(ctx, f"fitted on {params.meta['n']} rows; in-sample AUROC {auc:.3f}; "
              f"threshold {params.threshold:.2f} -> {out}")


@cli.group("eval", epilog="""\b
Example:
  curator eval grounding my_labels.jsonl""")
def eval_group() -> None:
    """Measure curator on your own labelled data."""


@eval_group.command("grounding", epilog="""\b
Example:
  curator eval grounding my_labels.jsonl
  curator eval grounding my_labels.jsonl --params my_params.json --json eval.json""")
@click.argument("labelled")
@click.option("--params", default=None, help="Grounding parameters JSON (default: the shipped ones).")
@click.option("--threshold", type=float, default=None, help="Flag threshold (default: the parameters' own).")
@verifier_option
@click.option("--model", default=None, help="Embedding model (default: packaged all-MiniLM-L6-v2).")
@click.option("--json", "json_out", default=None, help="Also write the metrics to this JSON file.")
@click.pass_context
def eval_grounding_cmd(ctx: click.Context, labelled: str, params: str | None, threshold: float | None,
                       verifier: str | None, model: str | None, json_out: str | None) -> None:
    """Score LABELLED against each row's own source and print, per dataset, AUROC of the
    hallucination probability and balanced accuracy, precision, recall and F1 of the flag.

    LABELLED has source, response, hallucinated (0/1) and optionally prompt and dataset columns
    (rows with hallucinated null are skipped)."""
    from .calibrate import evaluate
    from .embed import Embedder
    from .grounding import GroundingScorer
    from .io import write_json

    scorer = GroundingScorer(embedder=Embedder(model, cache_dir=_cache_dir()), params=params,
                             threshold=threshold, verifier=verifier)
    res = evaluate(labelled, scorer)
    click.echo(f"threshold {res['threshold']:.2f}")
    click.echo(f"{'dataset':<24} {'n':>6} {'halluc':>6} {'AUROC':>6} {'bal.acc':>7} {'P':>5} {'R':>5} {'F1':>5}")
    for name, m in [*res["datasets"].items(), *([("ALL", res["all"])] if len(res["datasets"]) > 1 else [])]:
        click.echo(f"{name:<24} {m['n']:>6} {m['hallucinated']:>6} {m['auroc']:>6.3f} {m['balanced_accuracy']:>7.3f} "
                   f"{m['precision']:>5.2f} {m['recall']:>5.2f} {m['f1']:>5.2f}")
    if json_out:
        write_json(json_out, res)


@cli.group("verifier", epilog="""\b
Example:
  curator verifier train my_labels.jsonl -o my_verifier""")
def verifier_group() -> None:
    """Train a grounding verifier (a cross-encoder) on your own labelled data."""


@verifier_group.command("train", epilog="""\b
Example:
  curator verifier train my_labels.jsonl -o my_verifier
  curator eval grounding held_out.jsonl --verifier my_verifier""")
@click.argument("labelled")
@click.option("-o", "--out", required=True, help="Folder to write the model to (safetensors + tokenizer).")
@click.option("--epochs", default=1, show_default=True)
@click.option("--batch-size", default=8, show_default=True)
@click.option("--lr", default=1e-4, show_default=True, help="Learning rate.")
@click.option("--max-length", default=192, show_default=True, help="Tokens per (evidence, claim) pair.")
@click.option("--seed", "random_state", default=0, show_default=True)
@click.pass_context
def verifier_train_cmd(ctx: click.Context, labelled: str, out: str, epochs: int, batch_size: int, lr: float,
                       max_length: int, random_state: int) -> None:
    """Fine-tune a one-logit cross-encoder from the packaged all-MiniLM-L6-v2 on LABELLED rows
    (source, response, hallucinated 0/1, optional prompt) on the CPU.

    Measure it on data it was not trained on (`curator eval grounding --verifier OUT`) before
    using it: the one trained on our four dev sets did not transfer (benchmarks/RESULTS.md)."""
    from .calibrate import load_labelled
    from .grounding import labelled_examples, train_verifier

    examples = labelled_examples(load_labelled(labelled))
    path = train_verifier(examples, out, epochs=epochs, batch_size=batch_size, lr=lr, max_length=max_length,
                          random_state=random_state)
    _say(ctx, f"trained on {len(examples)} examples -> {path}")


def _run_toml(ctx: click.Context, path: str, outdir: str | None, no_report: bool, engine: str | None = None,
              engine_opts: dict[str, Any] | None = None, device: str | None = None,
              backend: str | None = None, embed_workers: int | None = None, precision: str | None = None) -> None:
    from .config import load_pipeline
    from .embed import Embedder
    from .output import check_curator_field
    from .pipeline import GroundingStep, Pipeline

    spec = load_pipeline(path)
    if "path" not in spec.input:
        raise CuratorError(f"{path}: [input] path is missing.")
    outdir = outdir or spec.output.get("dir")
    if outdir is None:
        raise CuratorError(f"{path}: no [output] dir; set it or pass -o OUTDIR.")
    check_out_dir(outdir, "-o" if outdir != spec.output.get("dir") else "[output] dir")
    check_not_input(spec.input["path"], [Path(outdir) / f for f in RUN_OUTPUTS])
    # A grounding step's index is an explicit choice, like --index: a detected `context` field
    # must not win over it ([input] source_field still names one).
    index_ref = next((st.index for st in spec.steps if isinstance(st, GroundingStep) and st.index), None)
    for st in spec.steps:  # [input] on_error = "skip" covers unknown source ids too, as --on-error skip does
        if isinstance(st, GroundingStep) and st.unknown_source_id == "error":
            st.unknown_source_id = _unknown_ids(spec.input)
    data = _read(spec.input["path"], spec.input, index_ref)
    for note in data.notes:
        _say(ctx, f"warning: {note}")
    check_curator_field(data.table)
    embedder = Embedder(**{"cache_dir": _cache_dir(), **spec.embedder, **({"device": device} if device else {}),
                           **({"backend": backend} if backend else {}),
                           **({"workers": embed_workers} if embed_workers else {}),
                           **({"precision": precision} if precision else {})})
    # options on the command line win over the file's
    opts = {**spec.ray, **{k: v for k, v in (engine_opts or {}).items() if v is not None}}
    result = _run_on_engine(Pipeline(spec.steps, embedder=embedder, notify=_notifier(ctx)), data, outdir, engine or spec.engine, opts)
    paths = result.write(outdir, report=spec.output.get("report", True) and not no_report)
    _report(ctx, result, paths)


def main() -> None:
    """Entry point of the `curator` command."""
    try:
        cli.main(prog_name="curator")
    except KeyboardInterrupt:  # pragma: no cover
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
