"""What a row holds besides its text: its media and the tools it offers (part of its dedup key).

Two rows with the same text are different rows when they show another image or offer other
tools: "<image>\\nWhat is shown in this image?" over a photo of a cat and over a photo of a
bridge, or "What is the weather in Lima?" offered a ``get_weather`` tool and offered none. Their
text cannot tell them apart, so :func:`context_keys` reads the user's record and gives each row
a key of

* its **media**: top-level media fields (``image``, ``images``, ``audio``, ``video``... the
  LLaVA / LLaMA-Factory names, see :data:`MEDIA_FIELDS`), any other top-level value that is a
  media file name or URL (``.jpg``, ``.png``, ``.wav``, ``.mp4``, ``data:image/...``), and the
  media content parts of messages anywhere in the record (OpenAI ``image_url``,
  ``input_audio``, ``input_image``, ``file``..., :data:`MEDIA_PART_TYPES`): their reference
  (path, URL or inline data),
* its **tools**: the schema of the tools offered (OpenAI ``tools``, legacy ``functions``;
  Glaive / LLaMA-Factory ``tools`` as a JSON string or a list: the same schema either way).

Rows with different keys are never exact, near or semantic duplicates; rows with the same text
and the same media and tools still are. Only the references are compared (a hash of each
value), never the image bytes: the same picture under two file names is two images here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

#: Top-level record fields that hold a row's media (a reference or a list of references).
MEDIA_FIELDS = frozenset({
    "image", "images", "image_url", "image_urls", "image_path", "image_paths", "img", "imgs",
    "image_file", "image_id", "audio", "audios", "audio_url", "audio_path", "audio_file",
    "video", "videos", "video_url", "video_path", "video_file", "media",
})
#: Top-level record fields that hold the tools a row offers the model.
TOOL_FIELDS = frozenset({"tools", "functions"})
#: Content-part types (OpenAI, Anthropic, Hugging Face chat templates) that carry media.
MEDIA_PART_TYPES = frozenset({
    "image", "image_url", "input_image", "image_file", "audio", "input_audio", "audio_url",
    "video", "video_url", "input_video", "file", "input_file", "document",
})
# A value that names a media file or holds one inline.
_MEDIA_VALUE_RE = re.compile(
    r"(?i)^(?:data:(?:image|audio|video)/\S+|\S+\.(?:jpe?g|png|gif|webp|bmp|tiff?|svg|heic|avif|"
    r"mp3|wav|flac|ogg|oga|m4a|aac|opus|mp4|m4v|avi|mov|mkv|webm)(?:[?#]\S*)?)$")
# Records whose JSON text cannot hold media or tools are not parsed at all.
_MAYBE_RE = re.compile(
    r'"(?:' + "|".join(sorted(MEDIA_FIELDS | TOOL_FIELDS)) + r')"|'
    r'"type":\s*"(?:' + "|".join(sorted(MEDIA_PART_TYPES)) + r')"|'
    r'\.(?i:jpe?g|png|gif|webp|bmp|tiff?|svg|heic|avif|mp3|wav|flac|ogg|oga|m4a|aac|opus|mp4|'
    r'm4v|avi|mov|mkv|webm)\b|data:(?:image|audio|video)/')


def _canonical(value: Any) -> str:
    """A value as canonical JSON; a string that holds JSON (Glaive's ``tools``) is parsed first,
    so the same schema written as text or as a list gives the same key."""
    if isinstance(value, str):
        s = value.strip()
        if s[:1] in ("[", "{"):
            try:
                value = json.loads(s)
            except ValueError:
                return s
        else:
            return s
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        s = value.strip()
        return not s or s in ("[]", "{}")
    return isinstance(value, (list, dict)) and not value


def _parts(value: Any, out: list[str], depth: int = 0) -> None:
    """Media content parts (dicts whose ``type`` is in :data:`MEDIA_PART_TYPES`) anywhere in
    ``value``: messages' content lists, at any depth."""
    if depth > 8:
        return
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str) and kind in MEDIA_PART_TYPES:
            # an image_url part: {"type": "image_url", "image_url": {"url": ...}}
            out.append(f"part:{kind}:{_canonical({k: v for k, v in value.items() if k != 'type'})}")
            return
        for v in value.values():
            _parts(v, out, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _parts(v, out, depth + 1)


def record_context(record: dict[str, Any]) -> str:
    """The media and tools of one record as one string ("" when it has none).

    >>> record_context({"image": "coco/1.jpg", "conversations": []})
    'media:image:coco/1.jpg'
    >>> record_context({"messages": [{"role": "user", "content": [
    ...     {"type": "text", "text": "What is this?"},
    ...     {"type": "image_url", "image_url": {"url": "https://x.org/a.png"}}]}]})
    'part:image_url:{"image_url": {"url": "https://x.org/a.png"}}'
    >>> record_context({"tools": '[{"name": "f"}]'}) == record_context({"tools": [{"name": "f"}]})
    True
    """
    out: list[str] = []
    for key in sorted(record):
        value = record[key]
        if key in MEDIA_FIELDS:
            if not _empty(value):
                out.append(f"media:{key}:{_canonical(value)}")
        elif key in TOOL_FIELDS:
            if not _empty(value):
                out.append(f"tools:{key}:{_canonical(value)}")
        elif isinstance(value, str):
            if _MEDIA_VALUE_RE.match(value.strip()):
                out.append(f"media:{key}:{value.strip()}")
        elif isinstance(value, (list, dict)):
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                if all(_MEDIA_VALUE_RE.match(v.strip()) for v in value):
                    out.append(f"media:{key}:{_canonical(value)}")
                continue
            _parts(value, out)
    return "\n".join(out)


def maybe_context(text: str) -> bool:
    """Whether a record's JSON text (or a value of it, as JSON) may hold media or tools: the
    cheap test :func:`context_keys` and :func:`has_media` apply before parsing a record."""
    return _MAYBE_RE.search(text) is not None


def has_media(record: str | dict[str, Any] | None) -> bool:
    """Whether a record (or its JSON text) holds media: an image/audio/video field, a media file
    name or ``data:`` URL, or a media content part.

    >>> has_media('{"image": "coco/1.jpg", "conversations": []}'), has_media({"tools": [{"name": "f"}]})
    (True, False)
    """
    if record is None:
        return False
    if isinstance(record, str):
        if not _MAYBE_RE.search(record):
            return False
        try:
            record = json.loads(record)
        except ValueError:
            return False
    if not isinstance(record, dict):
        return False
    return any(line.startswith(("media:", "part:")) for line in record_context(record).split("\n"))


def context_keys(records: Iterable[str | dict[str, Any] | None]) -> np.ndarray:
    """Per record (its JSON text, as the pairs table keeps it, or a dict): an int64 key of its
    media and tools; 0 for records with neither, equal keys for equal media and tools.

    >>> context_keys(['{"image": "a.jpg", "q": "What is it?"}', '{"image": "b.jpg"}',
    ...               '{"q": "x"}', '{"image": "a.jpg"}', None]).tolist()
    [1, 2, 0, 1, 0]
    """
    ids: dict[bytes, int] = {}
    out: list[int] = []
    for rec in records:
        if rec is None:
            out.append(0)
            continue
        if isinstance(rec, str):
            if not _MAYBE_RE.search(rec):
                out.append(0)
                continue
            try:
                rec = json.loads(rec)
            except ValueError:
                out.append(0)
                continue
        ctx = record_context(rec) if isinstance(rec, dict) else ""
        if not ctx:
            out.append(0)
            continue
        digest = hashlib.blake2b(ctx.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        out.append(ids.setdefault(digest, len(ids) + 1))
    return np.asarray(out, dtype=np.int64)
