"""Issue 22, item 2: a row whose answer may describe media curator does not read (an image, a
sound, a video) is unverifiable, never judged against text that is not about it; a row with media
that brings its own source text is judged as usual."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curator.dedup.context import has_media

from .cli_helpers import run

SOURCE = "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in 1889."


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


def _scores(out: Path) -> list[dict]:
    return [json.loads(x)["curator"] for x in out.read_text("utf-8").splitlines() if x.strip()]


@pytest.mark.parametrize("row", [
    {"image": "coco/000123.jpg", "instruction": "<image>\nWhat is shown in this image?",
     "output": "The Eiffel Tower was completed in 1925 in Rome."},                        # LLaVA-style field
    {"images": ["a.png", "b.png"], "instruction": "Compare the two pictures.",
     "output": "The Eiffel Tower was completed in 1925 in Rome."},                        # a list of images
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "When was this built?"},
                                               {"type": "image_url", "image_url": {"url": "https://x.org/t.png"}}]},
                  {"role": "assistant", "content": "The Eiffel Tower was completed in 1925 in Rome."}]},
    {"audio": "clips/7.wav", "instruction": "Transcribe and summarise.",
     "output": "The Eiffel Tower was completed in 1925 in Rome."},                        # audio
])
def test_media_rows_are_unverifiable_not_judged(tmp_path, demo_index_dir, row):
    src = _write(tmp_path / "in.jsonl", [row])
    code, out = run("score", src, "--index", demo_index_dir, "-o", tmp_path / "s.jsonl")
    assert code == 0, out
    (c,) = _scores(tmp_path / "s.jsonl")
    assert c["grounding_verdict"] == "unverifiable" and not c["hallucinated"]
    assert "media" in c["unverifiable_reason"]
    assert "hold media" in out


def test_a_media_row_with_its_own_source_text_is_judged(tmp_path):
    rows = [{"image": "t.jpg", "instruction": "When was it completed?", "context": SOURCE,
             "output": "It was completed in 1925."},
            {"image": "t.jpg", "instruction": "When was it completed?", "context": SOURCE,
             "output": "It was completed in 1889."}]
    src = _write(tmp_path / "in.jsonl", rows)
    code, out = run("score", src, "--source-field", "context", "-o", tmp_path / "s.jsonl")
    assert code == 0, out
    verdicts = [c["grounding_verdict"] for c in _scores(tmp_path / "s.jsonl")]
    assert verdicts == ["hallucinated", "supported"]


def test_text_rows_and_tools_are_not_media():
    assert not has_media('{"instruction": "Describe an image of a cat.", "output": "A cat."}')
    assert not has_media({"tools": [{"name": "get_image"}], "messages": []})
    assert has_media('{"video": "v/1.mp4"}') and has_media({"file": "scan.png"})
