"""Reading and writing tables: JSONL / JSON / Parquet / CSV, with line-accurate errors.

Every reader returns *all* input records in order. A malformed line either stops the read with
an :class:`InputError` naming the file and line (``on_error="raise"``, the default) or is kept as a
:class:`BadRecord` so the caller can account for it as a dropped row (``on_error="skip"``).
Nothing is silently lost.
"""

from __future__ import annotations

import gzip
import io as _io
import json
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ConfigError, InputError

TABLE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".csv")
ON_ERROR = ("raise", "skip")


@dataclass(frozen=True)
class BadRecord:
    """A line that could not be read: where it was, why, and its raw text (for dropped.jsonl)."""

    path: str
    line: int
    reason: str
    message: str
    raw: str


@dataclass
class ReadResult:
    """Records in input order; ``items[i]`` is a dict, or a BadRecord when it could not be read."""

    items: list[dict[str, Any] | BadRecord]
    lines: list[int]
    path: str

    @property
    def bad(self) -> list[BadRecord]:
        return [r for r in self.items if isinstance(r, BadRecord)]


COMPRESSION_SUFFIXES = (".gz", ".zst")


def table_format(path: Path) -> str:
    """The format of a table file from its suffix (``.gz``/``.zst`` allowed on JSONL/JSON/CSV)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix == ".ndjson":
        suffix = ".jsonl"
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"{path}: unknown table format {suffix or '(no suffix)'!r}; use one of "
            f"{', '.join(TABLE_SUFFIXES)}."
        )
    return suffix.lstrip(".")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file. Check the path.")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file.")


def read_bytes(path: Path) -> bytes:
    """The bytes of a file, decompressed when it ends in ``.gz`` or ``.zst``.

    Every gzip member and every zstd frame is read (``cat a.zst b.zst`` and pzstd write several
    frames; pzstd also writes skippable frames). A file that ends inside a member or a frame is a
    damaged file: an :class:`InputError` naming it, never a silently shorter read.
    """
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: not a valid gzip file ({exc}).") from exc
    elif path.suffix.lower() == ".zst":
        data = _zstd_decompress(path, data)
    return data


def _zstd_decompress(path: Path, data: bytes) -> bytes:
    import zstandard

    # One decompressobj per frame: it stops at the frame's end (``eof``) and hands back what
    # follows (``unused_data``); a frame that never reaches ``eof`` was cut off. zstandard's
    # stream_reader(read_across_frames=True) reads every frame too, but returns a truncated
    # frame's partial output without a word.
    out: list[bytes] = []
    rest, frame = data, 0
    while rest:
        frame += 1
        dobj = zstandard.ZstdDecompressor().decompressobj()
        try:
            out.append(dobj.decompress(rest))
        except zstandard.ZstdError as exc:
            raise InputError(f"{path}: not a valid zstd file (frame {frame}: {exc}).") from exc
        if not dobj.eof:
            raise InputError(
                f"{path}: truncated zstd file (frame {frame} ends early, after "
                f"{sum(map(len, out))} decompressed bytes); the file was cut off while being "
                "written or copied: recompress or re-download it.")
        rest = dobj.unused_data
    return b"".join(out)


def _decode(path: Path, data: bytes, where: str = "", skip: bool = False) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(_encoding_message(path, data, exc.start, where, skip)) from exc
    return text.removeprefix("\ufeff")


def _is_surrogate(data: bytes, at: int) -> bool:
    """Bytes ED A0..BF xx: a UTF-16 surrogate encoded on its own (CESU-8 / WTF-8), half an emoji."""
    return data[at] == 0xED and at + 1 < len(data) and data[at + 1] >= 0xA0


def _encoding_message(path: Path, data: bytes, at: int, where: str = "", skip: bool = False) -> str:
    line = data.count(b"\n", 0, at) + 1
    if _is_surrogate(data, at):
        what, fix = ("a lone UTF-16 surrogate (half of a character such as an emoji)",
                     "Remove or complete the character")
    else:
        what, fix = "not UTF-8 text", f"Re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 {path.name} > fixed.{path.name}`"
    return (f"{path}{where}:{line}: {what} (byte 0x{data[at]:02x} at offset {at}). {fix}"
            + (" or pass --on-error skip to drop the rows holding it." if skip else "."))


def expand_inputs(spec: str | Path) -> list[Path]:
    """A file, a folder (its table files, recursively, sorted) or a glob pattern -> files."""
    import glob

    s = str(spec)
    if any(c in s for c in "*?["):
        files = sorted(Path(p) for p in glob.glob(s, recursive=True) if Path(p).is_file())
        if not files:
            raise InputError(f"{s}: the pattern matches no files.")
        return files
    path = Path(s)
    if path.is_dir():
        files = sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith(".")
                       and _is_table(f))
        if not files:
            raise InputError(f"{path}: folder holds no {'/'.join(TABLE_SUFFIXES)} files.")
        return files
    return [path]


def _is_table(path: Path) -> bool:
    try:
        table_format(path)
    except InputError:
        return False
    return True


def read_table(path: str | Path, on_error: str = "raise") -> ReadResult:
    """Read a table file into records (dicts), in order.

    >>> res = read_table("examples/halueval_demo/pairs.jsonl")  # doctest: +SKIP
    >>> res.items[0]["question"]                                 # doctest: +SKIP
    """
    path = _checked(path, on_error)
    fmt = table_format(path)
    if fmt == "jsonl":
        return _read_jsonl(path, on_error)
    if fmt == "json":
        return _read_json(path)
    return _read_columnar(path, fmt, on_error)


def iter_table(path: str | Path, on_error: str = "raise") -> Iterator[tuple[int, dict[str, Any] | BadRecord]]:
    """``(line, record or BadRecord)`` for each record of a table file, in order: what
    :func:`read_table` returns, one record at a time. A plain JSONL file is read line by line, so
    a million-row file is never held whole (nor its list of lines, nor every parsed record);
    the other formats (and compressed JSONL, whose damage must be found before any row is
    used) are read whole first. Errors are raised as :func:`read_table` raises them, when the
    line that causes them is reached."""
    path = _checked(path, on_error)
    if table_format(path) == "jsonl":
        return _iter_jsonl(path, on_error)
    res = read_table(path, on_error)
    return zip(res.lines, res.items)


def _checked(path: str | Path, on_error: str) -> Path:
    if on_error not in ON_ERROR:
        raise ConfigError(f"The 'on_error' parameter must be one of {ON_ERROR}. Got {on_error!r}.")
    path = Path(path)
    _check_file(path)
    return path


def skip_advice(on_error: str, joiner: str = ",", why: str = "") -> str:
    """The end of an error message: advise ``--on-error skip`` only when it was not given (the
    message of a skipped row becomes its ``drop_detail``, read by someone who did pass it)."""
    return f"{joiner} pass --on-error skip{why}." if on_error == "raise" else "."


def _read_jsonl(path: Path, on_error: str) -> ReadResult:
    items: list[dict[str, Any] | BadRecord] = []
    lines: list[int] = []
    for lineno, item in _iter_jsonl(path, on_error):
        items.append(item)
        lines.append(lineno)
    return ReadResult(items, lines, str(path))


def _jsonl_lines(path: Path) -> Iterator[bytes]:
    """The lines of a JSONL file without their ``\\n`` (what ``data.split(b"\\n")`` gives,
    blank ones too). A plain file is read as it goes; a compressed one is decompressed whole
    first, so a damaged file is an error before any of its rows is used."""
    # BytesIO shares the decompressed bytes (no second copy) and splits them on b"\n" only, as
    # a file opened in binary mode does.
    compressed = path.suffix.lower() in COMPRESSION_SUFFIXES
    with _io.BytesIO(read_bytes(path)) if compressed else open(path, "rb") as fh:
        for raw in fh:
            yield raw[:-1] if raw.endswith(b"\n") else raw


def _iter_jsonl(path: Path, on_error: str) -> Iterator[tuple[int, dict[str, Any] | BadRecord]]:
    for lineno, raw in enumerate(_jsonl_lines(path), start=1):
        if not raw.strip():
            continue
        bad: BadRecord | None = None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = (f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[exc.start]:02x}). "
                   "Re-encode the file as UTF-8 (e.g. with iconv)" + skip_advice(on_error, " or"))
            bad = BadRecord(str(path), lineno, "bad_encoding", msg, raw.decode("utf-8", "replace"))
        else:
            if lineno == 1:
                text = text.removeprefix("\ufeff")
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                msg = (f"{path}:{lineno}: malformed JSON ({_json_where(exc)}). "
                       "Fix the line" + skip_advice(on_error, " or", " to drop it with a reason"))
                bad = BadRecord(str(path), lineno, "malformed_json", msg, text)
            else:
                if not isinstance(obj, dict):
                    msg = (f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}. "
                           "Each line must be one {...} record" + skip_advice(on_error, ";"))
                    bad = BadRecord(str(path), lineno, "not_an_object", msg, text)
        if bad is not None:
            if on_error == "raise":
                raise InputError(bad.message)
            yield lineno, bad
        else:
            yield lineno, obj


def _read_json(path: Path) -> ReadResult:
    text = _decode(path, read_bytes(path))
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}: malformed JSON ({_json_where(exc)}). "
            "A .json file must hold one list of records; use .jsonl for one record per line."
        ) from exc
    if isinstance(obj, dict):
        lists = [v for v in obj.values() if isinstance(v, list)]
        if len(lists) == 1:
            obj = lists[0]
    if not isinstance(obj, list):
        raise InputError(f"{path}: expected a JSON list of records (or an object holding one list).")
    items: list[dict[str, Any] | BadRecord] = []
    for i, rec in enumerate(obj):
        if not isinstance(rec, dict):
            raise InputError(f"{path}: record {i + 1} is a {type(rec).__name__}, expected an object.")
        items.append(rec)
    return ReadResult(items, list(range(1, len(items) + 1)), str(path))


def _read_columnar(path: Path, fmt: str, on_error: str = "raise") -> ReadResult:
    import polars as pl

    bad_bytes: int | None = None  # offset of the first byte that is not UTF-8 (CSV under skip)
    ragged = _Ragged([], 0)
    try:
        if fmt == "parquet":
            df = pl.read_parquet(path)
        else:
            data = read_bytes(path)
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                # a clear encoding error before polars'; under skip the rows holding such bytes
                # are dropped with the reason, when they can be told apart (the file holds no
                # U+FFFD of its own, which is what polars' lossy read puts in their place)
                if on_error == "raise" or "\ufffd".encode() in data:
                    raise InputError(_encoding_message(path, data, exc.start, skip=on_error == "raise")) from exc
                bad_bytes = exc.start
            ragged = _ragged_rows(path, data, on_error)
            # Polars reads the decompressed bytes (it knows no zstd); every cell stays text: no
            # lossy casts. An empty cell is null, like a JSON null: both are an empty value.
            df = pl.read_csv(_io.BytesIO(data), infer_schema=False, truncate_ragged_lines=bool(ragged),
                             encoding="utf8" if bad_bytes is None else "utf8-lossy")
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - polars raises many types for broken files
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: could not read {fmt.upper()} ({first}).") from exc
    items: list[dict[str, Any] | BadRecord] = list(df.to_dicts())
    if ragged:
        if len(items) != ragged.n_records:  # polars and the csv module split the rows differently
            raise InputError(f"{ragged.bad[0].message[:-1]} (--on-error skip cannot drop it alone: "
                             "the rows of this file could not be told apart).")
        for bad in ragged.bad:
            items[bad.line - 1] = bad
    if bad_bytes is not None:
        surrogate = _is_surrogate(data, bad_bytes)
        for i, rec in enumerate(items):
            if isinstance(rec, dict) and any("\ufffd" in str(k) or (isinstance(v, str) and "\ufffd" in v)
                                             for k, v in rec.items()):
                what = ("a lone UTF-16 surrogate (half of a character such as an emoji) or other bytes that are not "
                        "UTF-8" if surrogate else "bytes that are not UTF-8 text")
                items[i] = BadRecord(str(path), i + 1, "bad_encoding",
                                     f"{path}: record {i + 1}: {what} (shown as U+FFFD). Re-encode the file as UTF-8.",
                                     json.dumps(rec, ensure_ascii=False))
    return ReadResult(items, list(range(1, len(items) + 1)), str(path))


@dataclass
class _Ragged:
    """The CSV records whose number of fields is not the header's, as BadRecords (``line`` is the
    record number, as :class:`ReadResult` counts them), and how many records the file holds."""

    bad: list[BadRecord]
    n_records: int

    def __bool__(self) -> bool:
        return bool(self.bad)


def _ragged_rows(path: Path, data: bytes, on_error: str) -> _Ragged:
    """Find the records with more or fewer fields than the header (a stray comma, a lost quote,
    a cut-off line). Polars would fail on a longer one without saying where and silently pad a
    shorter one with nulls (its response then read as empty): each is instead an
    :class:`InputError` naming the file line (``on_error="raise"``) or a ``wrong_field_count``
    BadRecord (``on_error="skip"``), as a malformed JSONL line is. A blank line is not counted:
    it stays the empty record it always was (a one-column file's empty cell)."""
    import csv

    text = data.decode("utf-8", "replace").removeprefix("\ufeff")
    # Polars ends a line at "\n" only; a lone "\r" (a stray one, old Mac line ends) is text to it,
    # and must not end a record here either: it is counted as a space (the fields stay the same).
    scan = text.replace("\r\n", "\n").replace("\r", " ") if "\r" in text else text
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # a long response is one field, not an error (a C long everywhere)
    bad: list[BadRecord] = []
    lines: list[str] = []
    n_records, start = 0, 1
    try:
        reader = csv.reader(_io.StringIO(scan, newline=""))
        header = next(reader, None)
        if header is None:
            return _Ragged([], 0)
        start = reader.line_num + 1
        for row in reader:
            n_records += 1
            if row and len(row) != len(header):
                more = len(row) > len(header)
                msg = (f"{path}:{start}: {len(row)} field{'s' * (len(row) != 1)} where the header has "
                       f"{len(header)} ({'a comma too many or a quote missing' if more else 'a field missing or a line cut off'})"
                       ". Fix the line" + skip_advice(on_error, " or", " to drop it with a reason"))
                if on_error == "raise":
                    raise InputError(msg)
                if not lines:  # split as the reader splits (at "\n"), once
                    lines = _io.StringIO(text, newline="\n").readlines()
                raw = "".join(lines[start - 1:reader.line_num]).rstrip("\r\n")
                bad.append(BadRecord(str(path), n_records, "wrong_field_count", msg, raw))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"{path}:{start}: malformed CSV ({exc}).") from exc
    finally:
        csv.field_size_limit(limit)
    return _Ragged(bad, n_records)


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
def atomic_write(path: str | Path, data: bytes | Iterable[bytes] | Callable[[BinaryIO], Any]) -> None:
    """Write bytes (or an iterable of byte chunks, written as they come, or what a function
    writes to the open file) to ``path`` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, (bytes, bytearray, memoryview)):
                fh.write(data)
            elif callable(data):
                data(fh)
            else:
                for part in data:
                    fh.write(part)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _jsonl_line(rec: dict[str, Any], allow_nan: bool) -> str:
    return json.dumps(rec if allow_nan else _clean(rec), ensure_ascii=False, allow_nan=allow_nan)


def dumps_jsonl(records: Iterable[dict[str, Any]], allow_nan: bool = False) -> bytes:
    """Serialise records as JSONL bytes (UTF-8, no ASCII escaping).

    By default NaN is written as null and an infinity is an error (curator's own numbers). With
    ``allow_nan=True`` NaN, Infinity and -Infinity are written as those tokens: what the user's
    own records held (Python's json, pandas and polars read them), written back as they were,
    not silently turned into null.
    """
    out = [_jsonl_line(rec, allow_nan) for rec in records]
    return ("\n".join(out) + ("\n" if out else "")).encode("utf-8")


def clean_nan(value: Any) -> Any:
    """``value`` with every NaN float (nested too) replaced by None."""
    return _clean(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]], allow_nan: bool = False) -> None:
    """:func:`dumps_jsonl` streamed to the file in chunks of lines (same bytes): memory does not
    grow with the number of records when they come from an iterator."""

    def chunks() -> Iterator[bytes]:
        buf: list[str] = []
        for rec in records:
            buf.append(_jsonl_line(rec, allow_nan))
            if len(buf) >= 2048:
                yield ("\n".join(buf) + "\n").encode("utf-8")
                buf = []
        if buf:
            yield ("\n".join(buf) + "\n").encode("utf-8")

    atomic_write(path, chunks())


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays, paths: what stage statistics may contain."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: str | Path, obj: Any) -> None:
    text = json.dumps(_clean(obj), indent=2, ensure_ascii=False, default=_json_default)
    atomic_write(path, (text + "\n").encode("utf-8"))


#: Rows per Parquet row group: polars encodes a row group whole, so one group of a million-row
#: table held ~2.2 KiB per row at once (measured at 100k rows); 16k rows bound it.
PARQUET_ROW_GROUP = 16384


def write_parquet(path: str | Path, df: Any) -> None:
    """A polars DataFrame as zstd Parquet in row groups of PARQUET_ROW_GROUP rows, written
    straight into the temp file that becomes ``path`` (no in-memory copy of the file)."""
    atomic_write(path, lambda fh: df.write_parquet(fh, compression="zstd", statistics=False,
                                                   row_group_size=PARQUET_ROW_GROUP))


def write_table(path: str | Path, df: Any) -> None:
    """Write a polars DataFrame by suffix: .parquet, .jsonl, .csv, .json."""
    path = Path(path)
    fmt = table_format(path)
    buf = _io.BytesIO()
    if fmt == "parquet":
        write_parquet(path, df)
    elif fmt == "jsonl":
        write_jsonl(path, df.to_dicts())
    elif fmt == "json":
        write_json(path, df.to_dicts())
    else:
        flat = df.select([c for c, t in df.schema.items() if not t.is_nested()])
        flat.write_csv(buf)
        atomic_write(path, buf.getvalue())


def _json_where(exc: json.JSONDecodeError) -> str:
    """"Expecting ',' delimiter at column 7"; Python's "Unterminated string starting at" already
    ends in "at"."""
    return f"{exc.msg}{'' if exc.msg.endswith(' at') else ' at'} column {exc.colno}"
