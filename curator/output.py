"""Writing the rows of a single-file command (``dedup``, ``select``, ``score``) in any container.

Every container holds the user's records as they were plus curator's columns:

* ``.jsonl`` / ``.json``: each record verbatim with one added ``curator`` object (``.json``: one
  list of those records).
* ``.parquet``: the user's columns, nested ones nested, plus one ``curator`` struct column. From
  a Parquet input the input's own rows are written back (every dtype as it was: binary images,
  dates, small ints); from other inputs the columns get one Parquet type each, found over every
  record. A record that lacks a field, or an object that lacks a key others have, reads back as
  null there (a table has every column in every row). Values one Parquet column cannot hold
  (``1`` in one row and ``"1"`` in another, an integer beyond 64 bits, an object with no keys) are
  refused before any work, naming the field and the line: write ``.jsonl`` or ``.json`` instead.
* ``.csv``: one column per user field, in first-seen order, then one ``curator.<name>`` column per
  curator column. A nested value (object or list) is its JSON text; ``true``/``false`` for booleans;
  an empty cell is null and ``""`` is the empty string.

>>> container_of("out/kept.parquet")
'parquet'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import records as R
from .errors import ConfigError
from .io import atomic_write, table_format, write_jsonl, write_parquet

CURATOR_KEY = "curator"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Records per piece while building a Parquet or CSV table (one piece of parsed records at a time).
CHUNK = 8192


def container_of(path: str | Path) -> str:
    """The container an output path asks for: jsonl, json, parquet or csv."""
    return table_format(Path(path))


@dataclass
class OutputSource:
    """What the writers need from the input beyond the pairs table.

    ``frame``: the input's own rows (a Parquet input), row ``i`` being ``row_id`` ``i``; None when
    the records are written from their JSON text."""

    frame: Any = None


# ---------------------------------------------------------------------------------------------
# checks before any work
# ---------------------------------------------------------------------------------------------
def _records(table: Any, chunk: int = 65536) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, the user's record) for every row of a pairs table, a slice at a time."""
    yield from zip(table[R.LINE].to_list(), R.record_dicts(table, chunk))


def check_curator_field(table: Any) -> None:
    """Refuse records whose ``curator`` field is not an object: every output puts curator's
    columns in that field, so its value would be lost (an object, e.g. an earlier run's, is
    merged instead)."""
    marked = table.filter(table[R.RECORD].str.contains(f'"{CURATOR_KEY}"', literal=True))
    for line, rec in _records(marked):
        value = rec.get(CURATOR_KEY)
        if CURATOR_KEY in rec and not isinstance(value, dict):
            raise ConfigError(
                f"line {line}: the records have a field {CURATOR_KEY!r} ({type(value).__name__}), the name curator "
                "writes its columns under; rename that field first (e.g. with jq) so it is not overwritten.")


def prepare_outputs(paths: Sequence[str | Path], data: Any, inputs: Sequence[Path]) -> OutputSource:
    """Check, before any work, that the pairs in ``data`` (a PairsData) can be written to every
    path in ``paths``, and gather what the writers need. ``inputs``: the files the pairs were read
    from, in order (those that were skipped left out).

    Raises ConfigError with one line naming the field, the line and the way out when a Parquet
    output cannot hold the records."""
    table = data.table
    check_curator_field(table)
    source = OutputSource()
    if not any(container_of(p) == "parquet" for p in paths):
        return source
    source.frame = _parquet_input(inputs, table.height)
    if source.frame is None:
        schema = Schema()
        for line, rec in _records(table):
            schema.add(rec, line)
        where = ", ".join(str(p) for p in paths if container_of(p) == "parquet")
        schema.check(where)
    return source


def _parquet_input(inputs: Sequence[Path], height: int) -> Any:
    """The input's own rows when every input file is Parquet (None otherwise)."""
    import polars as pl

    if not inputs or any(table_format(f) != "parquet" for f in inputs):
        return None
    try:
        frames = [pl.read_parquet(f) for f in inputs]
        frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    except Exception:  # noqa: BLE001 - shards whose schemas do not combine: write from the records
        return None
    return frame if frame.height == height else None


# ---------------------------------------------------------------------------------------------
# one Parquet type per column
# ---------------------------------------------------------------------------------------------
class _Conflict(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_NULL = ("null",)


def _kind(value: Any, field: str) -> tuple[Any, ...]:
    """The type signature of a JSON value: ("null",), ("bool",), ("int",), ("float",), ("str",),
    ("list", item signature) or ("struct", {key: signature})."""
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return ("bool",)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _Conflict(field, f"holds the integer {value}, beyond the 64-bit integers a Parquet column holds")
        return ("int",)
    if isinstance(value, float):
        return ("float",)
    if isinstance(value, str):
        return ("str",)
    if isinstance(value, list):
        item: tuple[Any, ...] = _NULL
        for v in value:
            item = _unify(item, _kind(v, f"{field}[]"), f"{field}[]")
        return ("list", item)
    if isinstance(value, dict):
        return ("struct", {k: _kind(v, f"{field}.{k}") for k, v in value.items()})
    raise _Conflict(field, f"holds a {type(value).__name__}, which has no Parquet type here")


_NAMES = {"null": "null", "bool": "a boolean", "int": "an integer", "float": "a number", "str": "a string",
          "list": "a list", "struct": "an object"}


def _unify(a: tuple[Any, ...], b: tuple[Any, ...], field: str) -> tuple[Any, ...]:
    if a == _NULL:
        return b
    if b == _NULL or a == b:
        return a
    if {a[0], b[0]} == {"int", "float"}:
        return ("float",)  # 1 and 2.5 share a float column: 1 reads back as 1.0 (equal)
    if a[0] == b[0] == "list":
        return ("list", _unify(a[1], b[1], f"{field}[]"))
    if a[0] == b[0] == "struct":
        merged = dict(a[1])
        for k, v in b[1].items():
            merged[k] = _unify(merged[k], v, f"{field}.{k}") if k in merged else v
        return ("struct", merged)
    raise _Conflict(field, f"holds {_NAMES[a[0]]} in one record and {_NAMES[b[0]]} in another; "
                           "a Parquet column has one type")


class Schema:
    """The Parquet type of every top-level field, unified over the records added."""

    def __init__(self) -> None:
        self.kinds: dict[str, tuple[Any, ...]] = {}
        self.error: str | None = None

    def add(self, rec: dict[str, Any], line: int) -> None:
        if self.error is not None:
            return
        try:
            for k, v in rec.items():
                sig = _kind(v, k)
                self.kinds[k] = _unify(self.kinds[k], sig, k) if k in self.kinds else sig
        except _Conflict as exc:
            self.error = f"field {exc.field!r} (line {line}) {exc}"

    def check(self, where: str) -> None:
        if self.error is None:
            for k, sig in self.kinds.items():
                try:
                    _check_struct(sig, k)
                except _Conflict as exc:
                    self.error = f"field {exc.field!r} {exc}"
                    break
        if self.error is not None:
            raise ConfigError(f"{where}: {self.error}. Write .jsonl or .json, which hold any record as it is.")

    def dtypes(self) -> dict[str, Any]:
        return {k: _dtype(sig) for k, sig in self.kinds.items()}

    def coerce(self, rec: dict[str, Any]) -> dict[str, Any]:
        """REC with its integers as floats wherever the unified type is a float (``[0, 0.0]``):
        polars builds a column strictly from the values, not from the schema it is given."""
        return {k: _coerce(v, self.kinds[k]) if k in self.kinds else v for k, v in rec.items()}


def _coerce(value: Any, sig: tuple[Any, ...]) -> Any:
    if value is None:
        return None
    if sig[0] == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if sig[0] == "list" and isinstance(value, list):
        return [_coerce(v, sig[1]) for v in value]
    if sig[0] == "struct" and isinstance(value, dict):
        return {k: _coerce(v, sig[1][k]) if k in sig[1] else v for k, v in value.items()}
    return value


def _check_struct(sig: tuple[Any, ...], field: str) -> None:
    if sig[0] == "list":
        _check_struct(sig[1], f"{field}[]")
    elif sig[0] == "struct":
        if not sig[1]:
            raise _Conflict(field, "is an object with no keys in every record, which Parquet cannot store")
        for k, v in sig[1].items():
            _check_struct(v, f"{field}.{k}")


def _dtype(sig: tuple[Any, ...]) -> Any:
    import polars as pl

    simple = {"null": pl.Null, "bool": pl.Boolean, "int": pl.Int64, "float": pl.Float64, "str": pl.String}
    if sig[0] in simple:
        return simple[sig[0]]
    if sig[0] == "list":
        return pl.List(_dtype(sig[1]))
    return pl.Struct({k: _dtype(v) for k, v in sig[1].items()})


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
def write_rows(path: str | Path, frame: Any, everything: Any, source: OutputSource | None = None) -> None:
    """Write the rows of ``frame`` (a slice of the pairs table ``everything``) to ``path`` in the
    container its suffix names: the user's records plus curator's columns (see the module)."""
    from .pipeline import iter_output_records

    source = source or OutputSource()
    fmt = container_of(path)
    if fmt == "jsonl":
        write_jsonl(path, iter_output_records(frame, everything), allow_nan=True)
    elif fmt == "json":
        atomic_write(path, _json_chunks(iter_output_records(frame, everything)))
    elif fmt == "csv":
        _write_csv(path, frame, everything)
    elif source.frame is not None:
        _write_parquet_from_input(path, frame, everything, source.frame)
    else:
        _write_parquet(path, frame, everything)


def _json_chunks(records: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """One JSON list of the records, a chunk at a time (the user's NaN/Infinity kept as tokens)."""
    yield b"["
    buf: list[str] = []
    first = True
    for rec in records:
        buf.append(("\n" if first else ",\n") + json.dumps(rec, ensure_ascii=False, allow_nan=True))
        first = False
        if len(buf) >= 2048:
            yield "".join(buf).encode("utf-8")
            buf = []
    buf.append("\n]\n" if not first else "]\n")
    yield "".join(buf).encode("utf-8")


def _write_parquet(path: str | Path, frame: Any, everything: Any) -> None:
    """Records -> one Parquet type per column (found over every record first), built a chunk of
    records at a time."""
    import polars as pl

    from .pipeline import iter_output_records

    schema = Schema()
    for off in range(0, frame.height, CHUNK):
        part = frame.slice(off, CHUNK)
        for line, rec in zip(part[R.LINE].to_list(), iter_output_records(part, everything)):
            schema.add(rec, line)
    schema.check(str(path))
    dtypes = schema.dtypes()
    pieces = [pl.DataFrame([schema.coerce(r) for r in iter_output_records(frame.slice(off, CHUNK), everything)],
                           schema=dtypes)
              for off in range(0, frame.height, CHUNK)]
    out = pl.concat(pieces, how="vertical") if pieces else pl.DataFrame(schema=dtypes)
    write_parquet(path, out)


def _write_parquet_from_input(path: str | Path, frame: Any, everything: Any, rows: Any) -> None:
    """The Parquet input's own rows (every dtype as it was) plus a ``curator`` struct column."""
    import polars as pl

    from .pipeline import iter_output_records

    curator = [rec.get(CURATOR_KEY) or {} for rec in iter_output_records(frame, everything)]
    schema = Schema()
    for line, c in zip(frame[R.LINE].to_list(), curator):
        schema.add({CURATOR_KEY: c}, line)
    schema.check(str(path))
    dtype = schema.dtypes().get(CURATOR_KEY, pl.Struct({R.ROW_ID: pl.Int64}))
    out = rows[frame[R.ROW_ID].to_list()]
    if CURATOR_KEY in out.columns:
        out = out.drop(CURATOR_KEY)  # its values are merged into the new one
    write_parquet(path, out.with_columns(pl.Series(CURATOR_KEY, curator, dtype=dtype)))


def cell_text(value: Any) -> str | None:
    """A value as CSV cell text: strings as they are, JSON for numbers, booleans and nested values.

    >>> [cell_text(v) for v in ("a", None, True, 12, 1.5, {"k": [1]})]
    ['a', None, 'true', '12', '1.5', '{"k": [1]}']
    """
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


def _write_csv(path: str | Path, frame: Any, everything: Any) -> None:
    """The user's fields as columns (first-seen order), then ``curator.<name>`` columns; the
    columns are found over every record first, then the table is built a chunk at a time."""
    import io as _io

    import polars as pl

    from .pipeline import iter_output_records

    def rows(part: Any) -> Iterator[dict[str, str | None]]:
        for rec in iter_output_records(part, everything):
            ours = rec.pop(CURATOR_KEY, None) or {}
            row = {k: cell_text(v) for k, v in rec.items()}
            # a CSV written by curator and read again: its curator.* columns are this run's now
            row.update({f"{CURATOR_KEY}.{k}": cell_text(v) for k, v in ours.items()})
            yield row

    user_cols: dict[str, None] = {}
    our_cols: dict[str, None] = {}
    # no rows (a run that dropped nothing): the header of all the rows, so the file reads back
    for rec in iter_output_records(frame if frame.height else everything, everything):
        for k in rec:
            if k != CURATOR_KEY:
                user_cols.setdefault(k, None)
        for k in rec.get(CURATOR_KEY) or {}:
            our_cols.setdefault(f"{CURATOR_KEY}.{k}", None)
    schema = {c: pl.String for c in [c for c in user_cols if c not in our_cols] + list(our_cols)}
    pieces = [pl.DataFrame(list(rows(frame.slice(off, CHUNK))), schema=schema) for off in range(0, frame.height, CHUNK)]
    df = pl.concat(pieces, how="vertical") if pieces else pl.DataFrame(schema=schema)
    buf = _io.BytesIO()
    df.write_csv(buf)
    atomic_write(path, buf.getvalue())
