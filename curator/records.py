"""The pairs table: canonical column names and the adapters that turn user records into it.

Every stage reads and adds columns named here, so a column name is written once.

>>> recs = [{"instruction": "Add 2 and 2.", "input": "", "output": "4"}]
>>> table = pairs_from_records(recs).table
>>> table.select(INSTRUCTION, RESPONSE).row(0)
('Add 2 and 2.', '4')
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, check_param
from .io import BadRecord, ReadResult, skip_advice

# -- identity and input ------------------------------------------------------------------------
ROW_ID = "row_id"          # 0-based position of the record in the input (stable key)
ID = "id"                  # the user's id if the data has one, else str(row_id)
LINE = "line"              # line (JSONL) or record number (other formats) in the input file
FILE = "file"              # the shard a row came from (only when reading several files)
INSTRUCTION = "instruction"
INPUT = "input"            # Alpaca's optional input; part of the prompt
RESPONSE = "response"
SOURCE = "source"          # inline source text the response should be grounded in (optional)
SOURCE_ID = "source_id"    # id of a document in the index the response should be grounded in
RECORD = "_record"         # the user's record as JSON text, less the fields held as columns (see record_texts)
TURNS = "turns"            # multi-turn: JSON list of {"prompt", "response"}, one per assistant turn
FIRST_REQUEST = "first_request"  # conversations: system prompt + first user turn only
# -- accounting --------------------------------------------------------------------------------
DROP_STAGE = "drop_stage"
DROP_REASON = "drop_reason"
DROP_DETAIL = "drop_detail"
# -- grounding ---------------------------------------------------------------------------------
GROUNDING = "grounding"              # support score in [0, 1] (1 = every sentence supported)
HALLUCINATION_PROB = "hallucination_prob"
HALLUCINATED = "hallucinated"
GROUNDING_VERDICT = "grounding_verdict"  # "supported" | "hallucinated" | "unverifiable"
N_SENTENCES = "n_sentences"
N_UNSUPPORTED = "n_unsupported"
WORST_SENTENCE = "worst_sentence"
CITATIONS = "citations"              # passage ids cited by the response's sentences
SENTENCES = "sentences"              # JSON list: per-sentence verdict, score, citation
EVIDENCE_MODE = "evidence_mode"      # "source" | "source_id" | "index" | "none"
UNVERIFIABLE_REASON = "unverifiable_reason"  # why an unverifiable row could not be judged (every one says)
# -- quality -----------------------------------------------------------------------------------
QUALITY = "quality"
QUALITY_REASON = "quality_reason"
# -- dedup -------------------------------------------------------------------------------------
CLUSTER_ID = "cluster_id"
CLUSTER_SIZE = "cluster_size"
DUPLICATE_OF = "duplicate_of"        # row_id of the kept member of the cluster
DUP_METHOD = "dup_method"
DUP_SIMILARITY = "dup_similarity"
# -- selection ---------------------------------------------------------------------------------
UTILITY = "utility"
SELECT_RANK = "select_rank"
SELECT_GAIN = "select_gain"
REDUNDANT_WITH = "redundant_with"

INSTRUCTION_KEYS = ("instruction", "prompt", "question", "query")
CONVERSATION_KEYS = ("messages", "conversations")
_USER_ROLES = {"user", "human", "prompter"}
_ASSISTANT_ROLES = {"assistant", "gpt", "bot", "model", "chatgpt"}
_SYSTEM_ROLES = {"system", "developer"}  # "developer": OpenAI's newer name for the system turn
RESPONSE_KEYS = ("output", "response", "answer", "completion")


@dataclass
class FieldMap:
    """Which record field holds what. ``None`` = detect from the first record."""

    instruction: str | None = None
    response: str | None = None
    input: str | None = None
    source: str | None = None
    source_id: str | None = None
    id: str | None = None
    #: LLaMA-Factory Alpaca: the system prompt and the earlier turns (a list of [instruction,
    #: response] pairs), read as a conversation's system turn and earlier turns.
    system: str | None = None
    history: str | None = None
    #: Take a ``context`` field as the source when none is named; False when the user chose an
    #: index (``--index`` / ``--source-id-field``): explicit flags win over detection.
    detect_source: bool = True


@dataclass
class PairsData:
    """The pairs table plus the fields it was read from (for messages and the summary)."""

    table: Any  # polars.DataFrame
    fields: FieldMap
    format: str
    n_bad: int = 0
    notes: list[str] = field(default_factory=list)
    skipped_shards: list[dict[str, str]] = field(default_factory=list)
    duplicate_ids: int = 0  # rows whose user id an earlier row already has


def _check_ids(data: PairsData, has_ids: bool | None = None) -> PairsData:
    """Count rows that repeat a user id and say so in ``notes`` (a one-line warning): ids name
    rows in outputs and in ``--must-include``, so a repeated one is worth knowing about. The rows
    are all kept and told apart by ``row_id``. ``has_ids``: whether any shard has an id field
    (default: the first one's fields say)."""
    if not (data.fields.id is not None if has_ids is None else has_ids) or data.table.height == 0:
        return data
    counts = data.table[ID].value_counts()
    dup = counts.filter(counts["count"] > 1)
    if dup.height:
        data.duplicate_ids = int(dup["count"].sum() - dup.height)
        examples = ", ".join(repr(x) for x in dup.sort(ID)[ID].to_list()[:3])
        data.notes.append(f"{data.duplicate_ids} rows repeat an id of an earlier row (e.g. {examples}); "
                          "every row is kept, row_id tells them apart")
    return data


def detect_fields(first: dict[str, Any], fields: FieldMap, where: str = "") -> tuple[FieldMap, str]:
    """Fill the unset entries of ``fields`` from the keys of a record; name the format."""
    keys = set(first)

    def pick(given: str | None, candidates: Sequence[str], role: str, flag: str) -> str:
        if given is not None:
            if given not in keys:
                raise InputError(
                    f"{where}field {given!r} ({role}) not found; the records have: "
                    f"{', '.join(sorted(keys)) or '(no fields)'}. Fix {flag}."
                )
            return given
        for c in candidates:
            if c in keys:
                return c
        raise InputError(
            f"{where}no {role} field found (looked for {', '.join(candidates)}); the records have: "
            f"{', '.join(sorted(keys)) or '(no fields)'}. Name it with {flag}."
        )

    out = FieldMap(**vars(fields))
    conv = fields.instruction if fields.instruction in CONVERSATION_KEYS else None
    if conv is None and fields.instruction is None and fields.response is None:
        conv = next((k for k in CONVERSATION_KEYS if k in keys and isinstance(first[k], list)), None)
    if conv is not None:
        out.instruction, out.response = conv, conv
        if fields.source is None and fields.source_id is None and fields.detect_source and "context" in keys:
            out.source = "context"
        if out.id is None and "id" in keys:
            out.id = "id"
        return out, "openai_messages" if conv == "messages" else "sharegpt"
    out.instruction = pick(fields.instruction, INSTRUCTION_KEYS, "instruction", "--instruction-field")
    out.response = pick(fields.response, RESPONSE_KEYS, "response", "--response-field")
    fmt = "plain"
    if out.instruction == "instruction" and out.response == "output":
        fmt = "alpaca"
    if fields.input is None and "input" in keys:
        out.input = "input"
    if fmt == "alpaca":  # LLaMA-Factory's Alpaca: optional system prompt and earlier turns
        for role in ("system", "history"):
            if getattr(fields, role) is None and role in keys:
                setattr(out, role, role)
    if (fields.source is None and fields.source_id is None and fields.detect_source and "context" in keys
            and out.response == "response"):
        out.source, fmt = "context", "dolly"  # Dolly: the context is the pair's own source
    for name, role, flag in ((out.input, "input", "--input-field"), (out.source, "source", "--source-field"),
                             (out.source_id, "source id", "--source-id-field"), (out.id, "id", "--id-field")):
        if name is not None and name not in keys:
            raise InputError(
                f"{where}field {name!r} ({role}) not found; the records have: "
                f"{', '.join(sorted(keys))}. Fix {flag}."
            )
    if out.source is not None and out.source == out.response:
        raise InputError(f"{where}--source-field {out.source!r} is the response field: every response would be "
                         "its own evidence (all supported). Name the field that holds the source text, or use --index.")
    if out.id is None and "id" in keys:
        out.id = "id"
    return out, fmt


class _TurnError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# Tool calling: a turn that calls a tool (ShareGPT/LLaMA-Factory `function_call`; OpenAI puts
# `tool_calls` on an assistant message) and a turn holding a tool's result (OpenAI `tool`, legacy
# `function`; ShareGPT/LLaMA-Factory `observation`).
_TOOL_CALL_ROLES = {"function_call", "tool_call", "tool_calls"}
_TOOL_RESULT_ROLES = {"tool", "function", "observation", "tool_response", "ipython"}
_TOOL_CALL_PART_TYPES = {"tool_call", "tool_calls", "function_call"}


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or a list of content parts (OpenAI
    ``{"type": "text", "text": ...}``, LLaMA-Factory v1 ``{"type": "text", "value": ...}``).
    Non-text parts (images, audio, tool calls) contribute nothing.

    >>> content_text([{"type": "text", "value": "Hello"}, {"type": "image_url", "image_url": {}}])
    'Hello'
    """
    if content is None:
        return ""
    if isinstance(content, list):
        texts = []
        for p in content:
            if isinstance(p, str):
                texts.append(p)
            elif isinstance(p, dict) and p.get("type", "text") in ("text", "input_text", "output_text"):
                t = p.get("text", p.get("value"))
                if t is not None:
                    texts.append(t if isinstance(t, str) else json.dumps(t, ensure_ascii=False))
        return " ".join(texts)
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


def _tool_calls_text(m: dict[str, Any], content: Any) -> str:
    """The tool calls of an assistant message as text, "" when it makes none: OpenAI
    ``tool_calls`` (and the legacy ``function_call``) and tool-call content parts."""
    calls: list[Any] = []
    if isinstance(m.get("tool_calls"), list):
        calls.extend(m["tool_calls"])
    if m.get("function_call"):
        calls.append(m["function_call"])
    if isinstance(content, list):
        calls.extend(p.get("value", p.get("tool_call", p.get("function_call"))) for p in content
                     if isinstance(p, dict) and p.get("type") in _TOOL_CALL_PART_TYPES)
    out = []
    for c in calls:
        f = c.get("function", c) if isinstance(c, dict) else c
        if isinstance(f, dict) and "name" in f:
            args = f.get("arguments", f.get("parameters", ""))
            out.append(f"{f['name']}({args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)})")
        elif f is not None:
            out.append(f if isinstance(f, str) else json.dumps(f, ensure_ascii=False))
    return "\n".join(out)


def conversation_turns(messages: Any) -> list[dict[str, Any]]:
    """Split a ShareGPT (``from``/``value``) or OpenAI (``role``/``content``) conversation into
    one (prompt, response) pair per assistant turn; the prompt is every preceding turn.

    Tool calling: an assistant turn that only calls tools is a turn with ``"tool_call": True``
    (its response is the call, not prose to ground); tool results are part of the following
    turns' prompt and the ``"context"`` (evidence) of the next assistant turn that answers.

    >>> conversation_turns([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}])
    [{'prompt': 'Hi', 'response': 'Hello!'}]
    >>> conversation_turns([{"from": "human", "value": "Weather in Lima?"},
    ...                     {"from": "function_call", "value": '{"name": "weather"}'},
    ...                     {"from": "observation", "value": "19 C"}, {"from": "gpt", "value": "19 C."}])[1]
    {'prompt': 'Weather in Lima?\\n\\n[tool call] {"name": "weather"}\\n\\n[tool result] 19 C', 'response': '19 C.', 'context': '19 C'}
    """
    if not isinstance(messages, list) or not messages:
        raise _TurnError("empty_conversation", "the conversation is empty or not a list")
    history: list[str] = []
    turns: list[dict[str, Any]] = []
    pending: list[str] = []  # tool results not yet answered by an assistant turn
    last = None  # kind of the previous turn: user, assistant, call, result (None after system)
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise _TurnError("bad_conversation", f"turn {i} is not an object")
        role = str(m.get("role", m.get("from", ""))).casefold()
        raw = m.get("content", m.get("value"))
        content = content_text(raw)
        if role in _ASSISTANT_ROLES or role in _TOOL_CALL_ROLES:
            if last not in ("user", "result"):
                raise _TurnError("roles_out_of_order",
                                 f"turn {i}: an assistant turn must follow a user turn or a tool result")
            call = content if role in _TOOL_CALL_ROLES else _tool_calls_text(m, raw)
            if role in _ASSISTANT_ROLES and (content.strip() or not call):
                turn: dict[str, Any] = {"prompt": "\n\n".join(history), "response": content}
                if pending:
                    turn["context"] = "\n\n".join(pending)
                    pending = []
                turns.append(turn)
                history.append(content)
            if call:
                turns.append({"prompt": "\n\n".join(history), "response": call, "tool_call": True})
                history.append(f"[tool call] {call}")
            last = "call" if call else "assistant"
        elif role in _TOOL_RESULT_ROLES:
            if last not in ("call", "result"):
                raise _TurnError("roles_out_of_order", f"turn {i}: a tool result must follow a tool call")
            history.append(f"[tool result] {content}")
            pending.append(content)
            last = "result"
        elif role in _USER_ROLES:
            if last == "user":
                raise _TurnError("roles_out_of_order", f"turn {i}: two user turns in a row")
            history.append(content)
            last = "user"
        elif role in _SYSTEM_ROLES:
            if i != 0:
                raise _TurnError("roles_out_of_order", f"turn {i}: a system turn after the start")
            history.append(content)
            last = None
        else:
            raise _TurnError("unknown_role", f"turn {i}: unknown role {role!r}")
    if not turns:
        raise _TurnError("no_assistant_turn", "the conversation has no assistant turn")
    return turns


def conversation_requests(messages: Any) -> list[str]:
    """The system prompt and every user turn of a conversation, in order: what the conversation
    asks for, and so what identifies it for dedup and selection.

    >>> conversation_requests([{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"},
    ...                        {"role": "user", "content": "Write a haiku."}])
    ['Hello', 'Write a haiku.']
    """
    out: list[str] = []
    for m in messages if isinstance(messages, list) else []:
        if not isinstance(m, dict):
            continue
        role = str(m.get("role", m.get("from", ""))).casefold()
        if role in _USER_ROLES or role in _SYSTEM_ROLES:
            out.append(content_text(m.get("content", m.get("value"))))
    return out


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # NaN: a missing value, as null
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


#: Rows per piece of the pairs table while reading: each piece's Python lists and parsed
#: records are freed once it is a polars table (a million rows never exist as Python objects).
READ_CHUNK = 32768
#: Good records whose keys (each with its first non-null value) decide the fields.
FIELD_SAMPLE = 1000

_SCHEMA_NAMES = (ROW_ID, ID, LINE, INSTRUCTION, INPUT, RESPONSE, SOURCE, SOURCE_ID, TURNS, FIRST_REQUEST,
                 RECORD, DROP_STAGE, DROP_REASON, DROP_DETAIL)


def _schema() -> dict[str, Any]:
    import polars as pl

    return {name: (pl.Int64 if name in (ROW_ID, LINE) else pl.String) for name in _SCHEMA_NAMES}


def pairs_from_records(
    records: Sequence[dict[str, Any] | BadRecord] | ReadResult,
    fields: FieldMap | None = None,
    on_error: str = "raise",
    path: str = "",
    chunk_rows: int = READ_CHUNK,
) -> PairsData:
    """Turn records into the pairs table. Every record becomes exactly one row.

    Rows that cannot be read (bad JSON, a missing field) get ``drop_stage="read"`` and a
    ``drop_reason`` when ``on_error="skip"``; with ``on_error="raise"`` they raise InputError.
    """
    if isinstance(records, ReadResult):
        return pairs_from_stream(zip(records.lines, records.items), fields, on_error, records.path, chunk_rows)
    return pairs_from_stream(enumerate(records, start=1), fields, on_error, path, chunk_rows)


def _drain(it: Iterator[Any]) -> None:
    for _ in it:
        pass


def pairs_from_stream(
    items: Iterable[tuple[int, dict[str, Any] | BadRecord]],
    fields: FieldMap | None = None,
    on_error: str = "raise",
    path: str = "",
    chunk_rows: int = READ_CHUNK,
) -> PairsData:
    """:func:`pairs_from_records` over ``(line, record or BadRecord)`` pairs as they come (e.g.
    :func:`curator.io.iter_table`): the table is built ``chunk_rows`` rows at a time, so only
    one chunk of parsed records is held, and the result is the same table.

    The fields are detected from the first FIELD_SAMPLE good records, which are held until then.
    With ``on_error="raise"`` the errors come in the order reading the whole input first gave:
    a line that cannot be read anywhere in the input is reported before a field the records
    lack (the rest of the input is read to find it)."""
    import polars as pl

    check_param("pairs_from_stream", "chunk_rows", chunk_rows, isinstance(chunk_rows, int) and chunk_rows > 0,
                "a positive int")
    it = iter(items)
    fields = fields or FieldMap()
    where = f"{path}: " if path else ""
    head: list[tuple[int, dict[str, Any] | BadRecord]] = []
    n_good = 0
    for pair in it:
        head.append(pair)
        if isinstance(pair[1], dict):
            n_good += 1
            if n_good >= FIELD_SAMPLE:
                break
    if not head:
        raise InputError(f"{where}no records found (the input is empty).")
    if not n_good:
        raise InputError(f"{where}no readable records (all {len(head)} lines are malformed).")
    # Detect fields from the first records together (a first record missing a field must not
    # decide the format for the whole file): each key with its first non-null value.
    sample: dict[str, Any] = {}
    for _, rec in head:
        if isinstance(rec, dict):
            for k, v in rec.items():
                if sample.get(k) is None:
                    sample[k] = v
    try:
        fmap, fmt = detect_fields(sample, fields, where)
    except InputError:
        if on_error == "raise":
            _drain(it)  # an unreadable line further on is the error to report
        raise

    schema = _schema()
    frames: list[Any] = []
    cols: dict[str, list[Any]] = {k: [] for k in _SCHEMA_NAMES}
    n_bad = 0
    row_id = 0

    def rows() -> Iterator[tuple[int, dict[str, Any] | BadRecord]]:
        yield from head
        head.clear()
        yield from it

    for line, item in rows():
        try:
            n_bad += _add_record(cols, row_id, item, line, fmap, fmt, on_error, path)
        except InputError:  # only with on_error="raise"
            _drain(it)  # an unreadable line further on is the error to report
            raise
        row_id += 1
        if len(cols[ROW_ID]) >= chunk_rows:
            frames.append(pl.DataFrame(cols, schema=schema))
            cols = {k: [] for k in _SCHEMA_NAMES}
    if cols[ROW_ID] or not frames:
        frames.append(pl.DataFrame(cols, schema=schema))
    # One chunk: a later gather (``table[rows]``) of a table in pieces copies every string
    # (+1.8 KiB per row measured at 100k rows); of one chunk it copies only the 16-byte views.
    # Rechunking string columns itself appends views and shares the pieces' string buffers.
    table = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical", rechunk=True)
    return _check_ids(PairsData(table=table, fields=fmap, format=fmt, n_bad=n_bad))


def _add_record(cols: dict[str, list[Any]], row_id: int, item: dict[str, Any] | BadRecord, line: int,
                fmap: FieldMap, fmt: str, on_error: str, path: str) -> bool:
    """Append one record's row to ``cols``; True when it is a bad row (read stage drop)."""
    stage = reason = detail = None
    values: dict[str, str | None] = {}
    if isinstance(item, BadRecord):
        stage, reason, detail = "read", item.reason, item.message
        record_text = json.dumps({"_raw": item.raw}, ensure_ascii=False)
    else:
        record_text = json.dumps(item, ensure_ascii=False, default=str)
        lone = _LONE_SURROGATE.search(record_text)
        if lone is not None:
            # half of a UTF-16 pair ("\ud83d", half an emoji): no UTF-8 file or table can hold it
            msg = (f"{path}:{line}: {_surrogate_field(item)} holds a lone UTF-16 surrogate "
                   f"(\\u{ord(lone.group()):04x}, half of a character such as an emoji), which UTF-8 cannot "
                   "encode. Fix the record (remove or complete the character)" + skip_advice(on_error, " or"))
            if on_error == "raise":
                raise InputError(msg)
            raw = json.dumps({"_raw": json.dumps(item, ensure_ascii=True, default=str)}, ensure_ascii=True)
            _append_row(cols, row_id, {}, line, raw, "read", "lone_surrogate", msg, None)
            return True
        if fmt in ("sharegpt", "openai_messages"):
            key = fmap.instruction or ""
            try:
                turns = conversation_turns(item.get(key))
            except _TurnError as exc:
                msg = f"{path}:{line}: {exc} in {key!r}. Fix the record" + skip_advice(on_error, " or")
                if on_error == "raise":
                    raise InputError(msg) from None
                stage, reason, detail, turns = "read", exc.reason, msg, []
            values = {
                # Dedup, selection and quality see every request (system prompt + user turns);
                # `first_request` keeps the opening one for `--on first_request`.
                **_conversation_values(item.get(key), turns),
                "source": _text(item.get(fmap.source)) if fmap.source else None,
                "id": _text(item.get(fmap.id)) if fmap.id else None,
            }
            # Several turns, tool calls or tool results: grounding reads the turns one by one.
            structured = len(turns) > 1 or any("context" in t or t.get("tool_call") for t in turns)
            turn_col = json.dumps(turns, ensure_ascii=False) if structured else None
            _append_row(cols, row_id, values, line, record_text, stage, reason, detail, turn_col, item, fmap)
            return stage is not None
        for role in ("instruction", "response"):
            key = getattr(fmap, role)
            # A null value (JSON null, an empty CSV cell) is there and empty, like "": the
            # quality step drops it as empty_response. Only an absent key is unreadable.
            if key not in item:
                msg = (f"{path}:{line}: missing field {key!r} ({role}). "
                       f"Fix the record{' or' if on_error == 'skip' else ','} map the field with "
                       f"--{role}-field" + skip_advice(on_error, ", or"))
                if on_error == "raise":
                    raise InputError(msg)
                stage, reason, detail = "read", f"missing_{role}", msg
        for role in ("instruction", "response", "input", "source", "source_id", "id"):
            key = getattr(fmap, role)
            values[role] = _text(item.get(key)) if key is not None else None
        if stage is None and (fmap.system or fmap.history):
            try:
                messages = alpaca_messages(item, fmap)
            except _TurnError as exc:
                msg = f"{path}:{line}: {exc}. Fix the record" + skip_advice(on_error, " or")
                if on_error == "raise":
                    raise InputError(msg) from None
                stage, reason, detail = "read", exc.reason, msg
            else:
                if messages is not None:  # earlier turns or a system prompt: read as the conversation it is
                    turns = conversation_turns(messages)
                    values.update(_conversation_values(messages, turns), input=None)
                    turn_col = json.dumps(turns, ensure_ascii=False) if len(turns) > 1 else None
                    _append_row(cols, row_id, values, line, record_text, stage, reason, detail, turn_col, item, fmap)
                    return False
    _append_row(cols, row_id, values, line, record_text, stage, reason, detail, None,
                item if isinstance(item, dict) else None, fmap)
    return stage is not None


def _conversation_values(messages: Any, turns: list[dict[str, Any]]) -> dict[str, str]:
    """The pairs-table texts of a conversation: dedup, selection and quality see every request
    (system prompt + user turns) and every response; `first_request` is the opening one."""
    return {"instruction": "\n\n".join(conversation_requests(messages)) if turns else "",
            "first_request": turns[0]["prompt"] if turns else "",
            "response": "\n\n".join(t["response"] for t in turns)}


def alpaca_messages(item: dict[str, Any], fmap: FieldMap) -> list[dict[str, Any]] | None:
    """A LLaMA-Factory Alpaca record with a system prompt or earlier turns as the conversation it
    is (OpenAI messages); None when it has neither (a plain pair).

    >>> fm = FieldMap("instruction", "output", "input", system="system", history="history")
    >>> [m["content"] for m in alpaca_messages({"instruction": "And the second?", "input": "", "output": "Lyon.",
    ...     "history": [["Name two French cities.", "Paris and Lyon."]]}, fm)]
    ['Name two French cities.', 'Paris and Lyon.', 'And the second?', 'Lyon.']
    """
    system = _text(item.get(fmap.system)) if fmap.system else None
    raw = item.get(fmap.history) if fmap.history else None
    if isinstance(raw, str) and raw.strip():  # a CSV cell holds the list as JSON text
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise _TurnError("bad_history", f"field {fmap.history!r} is text but not a JSON list of "
                                            "[instruction, response] pairs") from None
    elif isinstance(raw, str) or (isinstance(raw, float) and raw != raw):
        raw = None  # "" or NaN: no earlier turns
    if raw is not None and not isinstance(raw, list):
        raise _TurnError("bad_history", f"field {fmap.history!r} must be a list of [instruction, response] pairs, "
                                        f"got {type(raw).__name__}")
    history = raw or []
    if not history and not (system and system.strip()):
        return None
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system and system.strip() else []
    for i, pair in enumerate(history):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise _TurnError("bad_history", f"field {fmap.history!r}: turn {i} is not an [instruction, response] pair")
        messages += [{"role": "user", "content": _text(pair[0]) or ""},
                     {"role": "assistant", "content": _text(pair[1]) or ""}]
    prompt = prompt_text(_text(item.get(fmap.instruction or "")) or "", _text(item.get(fmap.input or "")) or "")
    return messages + [{"role": "user", "content": prompt},
                       {"role": "assistant", "content": _text(item.get(fmap.response or "")) or ""}]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_field(item: Any, where: str = "") -> str:
    """Which field of a record holds a lone surrogate, as "field 'a.b[2]'" ("a key" for a key)."""
    if isinstance(item, dict):
        for k, v in item.items():
            here = f"{where}.{k}" if where else str(k)
            if isinstance(k, str) and _LONE_SURROGATE.search(k):
                return f"a key of {'field ' + repr(where) if where else 'the record'}"
            found = _surrogate_field(v, here)
            if found:
                return found
    elif isinstance(item, list):
        for i, v in enumerate(item):
            found = _surrogate_field(v, f"{where}[{i}]")
            if found:
                return found
    elif isinstance(item, str) and _LONE_SURROGATE.search(item):
        return f"field {where!r}"
    return ""


def _append_row(cols: dict[str, list[Any]], row_id: int, values: dict[str, str | None], line: int,
                record_text: str, stage: str | None, reason: str | None, detail: str | None,
                turns: str | None, item: dict[str, Any] | None = None, fmap: FieldMap | None = None) -> None:
    if values.get("source") and is_no_input(values["source"]):
        # "<noinput>", "N/A": no source, as an empty one is (read once here for every format)
        values = {**values, "source": ""}
    if item is not None and fmap is not None:
        record_text = _held_once(item, record_text, values, fmap)
    cols[ROW_ID].append(row_id)
    cols[ID].append(values.get("id") or str(row_id))
    cols[LINE].append(line)
    cols[INSTRUCTION].append(values.get("instruction") or "")
    cols[INPUT].append(values.get("input") or "")
    cols[RESPONSE].append(values.get("response") or "")
    cols[SOURCE].append(values.get("source"))
    cols[SOURCE_ID].append(values.get("source_id"))
    cols[TURNS].append(turns)
    cols[FIRST_REQUEST].append(values.get("first_request"))
    cols[RECORD].append(record_text)
    cols[DROP_STAGE].append(stage)
    cols[DROP_REASON].append(reason)
    cols[DROP_DETAIL].append(detail)


# -- the record, held once ----------------------------------------------------------------------
# A field whose value the table holds as a column (instruction, input, response, source, source
# id) is not kept a second time in the record's text: RECORD then holds the record with that
# value replaced by a placeholder, behind a leading NUL (no JSON text starts with one), and
# record_dicts / record_texts put the column's value back. Only string values of at least
# HOLD_ONCE_MIN characters are replaced (a shorter one saves less than its placeholder costs).
HELD = "\x00"
HOLD_ONCE_MIN = 24
_ROLE_COLUMNS = {"instruction": INSTRUCTION, "input": INPUT, "response": RESPONSE, "source": SOURCE,
                 "source_id": SOURCE_ID}
_PLACEHOLDERS = {HELD + role: column for role, column in _ROLE_COLUMNS.items()}
#: The columns whose values RECORD may leave out.
HELD_COLUMNS = tuple(_ROLE_COLUMNS.values())


def _held_once(item: dict[str, Any], record_text: str, values: dict[str, str | None], fmap: FieldMap) -> str:
    """The text RECORD keeps for ``item``: its JSON text, or (when a field's value is a column's
    value) the record without that value, marked (see HELD)."""
    rest: dict[str, Any] | None = None
    for role in _ROLE_COLUMNS:
        key = getattr(fmap, role)
        value = item.get(key) if key is not None else None
        if (isinstance(value, str) and len(value) >= HOLD_ONCE_MIN and key != "curator"
                and value == values.get(role) and (rest is None or rest.get(key) == value)):
            if rest is None:
                if any(isinstance(v, str) and v.startswith(HELD) for v in item.values()):
                    return record_text  # a value that looks like a placeholder: kept whole
                rest = dict(item)
            rest[key] = HELD + role
    if rest is None:
        return record_text
    return HELD + json.dumps(rest, ensure_ascii=False, default=str)


def _restore(text: str, row: dict[str, Any]) -> dict[str, Any]:
    """The user's record from RECORD's ``text`` and the row's columns (``row``: column -> value)."""
    rec = json.loads(text[1:] if text.startswith(HELD) else text)
    if text.startswith(HELD) and isinstance(rec, dict):
        for k, v in rec.items():
            column = _PLACEHOLDERS.get(v) if isinstance(v, str) else None
            if column is not None:
                rec[k] = row[column]
    return rec


def _parts(table: Any, chunk: int) -> Iterator[tuple[list[str], dict[str, list[Any]] | None]]:
    """Slices of RECORD and, where a slice holds a marked record, the columns that restore it."""
    for off in range(0, table.height, chunk):
        part = table.slice(off, chunk)
        texts = part[RECORD].to_list()
        held = None
        if any(t.startswith(HELD) for t in texts if t):
            held = {c: part[c].to_list() for c in _ROLE_COLUMNS.values() if c in part.columns}
        yield texts, held


def record_dicts(table: Any, chunk: int = 4096) -> Iterator[dict[str, Any]]:
    """The user's records of a pairs table (or a slice of one, with its RECORD column and the
    columns of the fields it reads), parsed, as read: each row's RECORD restored with the
    values the table holds as columns. A slice at a time: a million parsed records never exist
    at once.

    >>> t = pairs_from_records([{"instruction": "Name three primary colours, please.", "output": "Red."}]).table
    >>> t[RECORD][0][:1] == HELD, next(record_dicts(t))["instruction"]
    (True, 'Name three primary colours, please.')
    """
    for texts, held in _parts(table, chunk):
        for i, text in enumerate(texts):
            if held is not None and text.startswith(HELD):
                yield _restore(text, {c: v[i] for c, v in held.items()})
            else:
                yield json.loads(text)


def record_texts(table: Any, maybe: Callable[[str], Any] | None = None, chunk: int = 4096) -> list[str]:
    """The user's records as JSON text, as read (``json.dumps(record, ensure_ascii=False)``),
    one per row: RECORD itself where it holds the whole record, restored where it holds the
    record without the values the table keeps as columns. ``maybe``: a test a reader applies to
    the text first (e.g. a regular expression's ``search``) and that a row failing it on its
    RECORD and on every one of its column values fails on its whole text too; such rows keep
    RECORD as it is (nothing parsed)."""
    out: list[str] = []
    for texts, held in _parts(table, chunk):
        for i, text in enumerate(texts):
            if held is None or not text.startswith(HELD):
                out.append(text)
                continue
            row = {c: v[i] for c, v in held.items()}
            if maybe is not None and not maybe(text) and not any(
                    isinstance(v, str) and maybe(json.dumps(v, ensure_ascii=False)) for v in row.values()):
                out.append(text)
                continue
            out.append(json.dumps(_restore(text, row), ensure_ascii=False))
    return out


#: What an Alpaca-style ``input`` holds when there is none: Alpaca's "", Self-Instruct's
#: "<noinput>", "No input.", "N/A", "none", "null". Compared without case, spaces and ASCII
#: punctuation (:func:`is_no_input`). Read as a source (``--source-field input``), such a value is
#: no source: the row is grounded as a row without one (retrieved evidence with an index, else
#: unverifiable), never checked against the placeholder.
NO_INPUT = frozenset({"", "noinput", "na", "none", "null"})
_NO_INPUT_STRIP = re.compile(r"[\s!-/:-@\[-`{-~]+")


def is_no_input(text: str | None) -> bool:
    """True for a value that says "no input" (:data:`NO_INPUT`): None, blank, "<noinput>", "N/A".

    >>> [is_no_input(t) for t in ("<noinput>", "No input.", " n/a ", "None", "", "No.", "Paris")]
    [True, True, True, True, True, False, False]
    """
    return text is None or (len(text) <= 32 and _NO_INPUT_STRIP.sub("", text).casefold() in NO_INPUT)


def prompt_text(instruction: str, input_text: str) -> str:
    """The full prompt a response answers: the instruction plus Alpaca's input, if any ("<noinput>",
    "N/A" are none: :data:`NO_INPUT`), as quality, grounding, dedup and selection read it.

    >>> prompt_text("Name a planet.", "<noinput>") == prompt_text("Name a planet.", "")
    True
    """
    return instruction if is_no_input(input_text) else f"{instruction}\n\n{input_text}"


def read_pairs(path: str | Path, fields: FieldMap | None = None, on_error: str = "raise") -> PairsData:
    """Read pairs from a file, a folder of shards or a glob (JSONL/JSON/Parquet/CSV, optionally
    .gz/.zst) into one pairs table; each shard's fields are detected on their own.

    A shard that cannot be read at all stops the read (``on_error="raise"``) or is skipped, named
    and counted in ``notes`` / ``skipped_shards`` (``on_error="skip"``).

    >>> data = read_pairs("examples/halueval_demo/pairs.jsonl")    # doctest: +SKIP
    >>> data.table.height                                            # doctest: +SKIP
    357
    """
    import polars as pl

    from .io import expand_inputs, iter_table

    files = expand_inputs(path)
    parts: list[PairsData] = []
    skipped: list[dict[str, str]] = []
    for f in files:
        try:
            parts.append(pairs_from_stream(iter_table(f, on_error=on_error), fields, on_error, path=str(f),
                                            chunk_rows=READ_CHUNK))
        except InputError as exc:
            if on_error == "raise" or len(files) == 1:
                raise
            skipped.append({"file": str(f), "error": str(exc)})
    if not parts:
        raise InputError(f"{path}: no shard could be read ({skipped[0]['error'] if skipped else 'none found'}).")
    if len(parts) == 1 and len(files) == 1:
        return parts[0]
    tables, offset = [], 0
    for f, part in zip([f for f in files if str(f) not in {s["file"] for s in skipped}], parts):
        t = part.table.with_columns((pl.col(ROW_ID) + offset).alias(ROW_ID), pl.lit(str(f)).alias(FILE))
        if part.fields.id is None:  # default ids are row ids: renumber them across shards
            t = t.with_columns(pl.col(ROW_ID).cast(pl.String).alias(ID))
        tables.append(t)
        offset += part.table.height
    table = pl.concat(tables, how="diagonal_relaxed", rechunk=True)  # one chunk: see pairs_from_stream
    notes = [f"skipped unreadable shard {s['file']}: {s['error']}" for s in skipped]
    formats = sorted({p.format for p in parts})
    # every shard's ids are checked together, also when the first shard has no id field
    return _check_ids(PairsData(table=table, fields=parts[0].fields, format="+".join(formats),
                                n_bad=sum(p.n_bad for p in parts), notes=notes, skipped_shards=skipped),
                      has_ids=any(p.fields.id is not None for p in parts))
