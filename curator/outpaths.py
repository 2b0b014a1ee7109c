"""Output paths, checked before any work: a writable table or folder, never an input file, the
kept and dropped rows in two different files (the CLI calls these; so may a library caller)."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError, CuratorError


def check_out_file(out: str, option: str = "-o") -> None:
    """Fail before any work when OUT cannot be written as a table (no or unknown suffix, a
    compressed suffix, an existing folder, a parent that is a file)."""
    from .io import COMPRESSION_SUFFIXES, table_format

    path = Path(out)
    if path.is_dir():
        raise ConfigError(f"{option} {out}: is a folder; give a file such as {path / 'kept.jsonl'}.")
    if path.suffix.lower() in COMPRESSION_SUFFIXES:
        raise ConfigError(f"{option} {out}: outputs are written uncompressed; drop {path.suffix}.")
    try:
        table_format(path)
    except CuratorError as exc:
        raise ConfigError(f"{option} {out}: unknown output format; end the name in .jsonl, .parquet, "
                               ".csv or .json.") from exc
    _check_parent(path, option, out)


def check_out_dir(outdir: str, option: str = "-o") -> None:
    """Fail before any work when OUTDIR cannot be an output folder (`run -o x.jsonl`)."""
    from .io import COMPRESSION_SUFFIXES, TABLE_SUFFIXES

    path = Path(outdir)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {outdir}: is a file; give a folder for kept.jsonl, dropped.jsonl, ...")
    suffix = path.suffix.lower()
    if not path.exists() and suffix in TABLE_SUFFIXES + (".ndjson",) + COMPRESSION_SUFFIXES:
        raise ConfigError(f"{option} {outdir}: looks like a file, but this command writes a folder "
                               f"(kept.jsonl, dropped.jsonl, summary.json, ...); give e.g. -o {path.with_suffix('')}.")
    _check_parent(path, option, outdir)
    try:  # create it now: a folder that cannot be made must fail before the work, not after
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{option} {outdir}: cannot create the folder ({exc.strerror or exc}).") from exc


RUN_OUTPUTS = ("kept.jsonl", "dropped.jsonl", "scores.parquet", "summary.json", "timings.json", "report.html")


def dropped_path(out: str, dropped: str | None) -> Path:
    """Where the dropped rows of a single-file command go: --dropped, else OUT with .dropped."""
    out_path = Path(out)
    if dropped:
        return Path(dropped)
    return out_path.with_name(out_path.name.replace(out_path.suffix, f".dropped{out_path.suffix}", 1))


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: after normalisation (``./out.jsonl``, ``d/../out.jsonl``,
    symlinks) or as hard links of one existing file."""
    import os

    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_not_input(pairs: str, outputs: list[Path], option: str | list[str] = "-o") -> None:
    """Refuse, before any work, an output that would overwrite an input file: curator never
    destroys its input (`curator dedup data.jsonl -o data.jsonl`). ``option``: the option naming
    each output (one for all, or one per output)."""
    from .io import expand_inputs

    try:
        inputs = expand_inputs(pairs)
    except CuratorError:
        return  # a missing or empty input is reported by the reader with its own message
    options = option if isinstance(option, list) else [option] * len(outputs)
    for opt, out in zip(options, outputs):
        if any(same_file(out, f) for f in inputs):
            raise ConfigError(f"{opt} {out}: is an input file; curator never overwrites its input. "
                              "Write the output somewhere else.")


def check_single_outputs(pairs: str, out: str, dropped: str | None) -> None:
    """Before any work, the outputs of dedup/select: OUT and the dropped file are writable
    tables, two different files, and neither is an input."""
    check_out_file(out)
    if dropped:
        check_out_file(dropped, "--dropped")
    dpath = dropped_path(out, dropped)
    if same_file(Path(out), dpath):
        raise ConfigError(f"--dropped {dropped}: is the same file as -o {out}; the dropped rows would overwrite "
                          "the kept ones. Give two different files.")
    check_not_input(pairs, [Path(out), dpath], ["-o", "--dropped" if dropped else "-o (its .dropped file)"])


def _check_parent(path: Path, option: str, given: str) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option} {given}: {parent} is a file, not a folder.")
            break
