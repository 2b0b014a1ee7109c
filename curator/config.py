"""Pipelines as TOML files: each ``[[steps]]`` table maps 1:1 onto a step class's constructor.

.. code-block:: toml

    engine = "local"          # or "ray": row-local work on a Ray cluster (pip install 'curator[ray]')

    [input]
    path = "examples/halueval_demo/pairs.jsonl"   # relative paths are relative to this file
    on_error = "raise"                            # or "skip"
    # instruction_field / response_field / input_field / source_field / source_id_field / id_field

    [output]
    dir = "out/demo"
    report = true

    [embedder]
    model = "sentence-transformers/all-MiniLM-L6-v2"   # optional
    device = "auto"                                    # CUDA when torch sees a GPU, else CPU

    [ray]                     # only with engine = "ray": RayEngine's constructor arguments
    address = "auto"          # an existing cluster; omit for a local one
    workers = 4

    [[steps]]
    type = "quality"

    [[steps]]
    type = "grounding"
    index = "demo"
    threshold = 0.5

    [[steps]]
    type = "dedup"
    on = "instruction"

    [[steps]]
    type = "select"
    budget = 100

Unknown keys and values of the wrong type are one-line :class:`ConfigError`\\ s naming the key.
"""

from __future__ import annotations

import inspect
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .steps import DedupStep, GroundingStep, QualityStep, SelectStep, Step

STEP_TYPES: dict[str, type[Step]] = {
    "quality": QualityStep, "grounding": GroundingStep, "dedup": DedupStep, "select": SelectStep,
}
INPUT_KEYS = {"path", "on_error", "instruction_field", "response_field", "input_field", "source_field",
              "source_id_field", "id_field"}
OUTPUT_KEYS = {"dir", "report"}
RAY_KEYS = {"address", "workers", "num_cpus", "num_gpus"}
EMBEDDER_KEYS = {"model", "batch_size", "device", "cache_dir", "backend", "workers", "precision"}


@dataclass
class PipelineSpec:
    """A parsed pipeline file."""

    input: dict[str, Any]
    output: dict[str, Any]
    embedder: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    engine: str = "local"
    ray: dict[str, Any] = field(default_factory=dict)


def _type_ok(value: Any, annotation: Any) -> bool:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def _describe(annotation: Any) -> str:
    return str(annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")


def build_step(table: dict[str, Any], where: str) -> Step:
    """Construct one step from its TOML table, checking keys and types against the constructor."""
    kind = table.get("type")
    if kind not in STEP_TYPES:
        raise ConfigError(f"{where}: unknown step type {kind!r}; use one of {', '.join(STEP_TYPES)}.")
    cls = STEP_TYPES[kind]
    hints = typing.get_type_hints(cls.__init__)
    params = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in table.items() if k != "type"}
    for key, value in kwargs.items():
        if key not in params or key == "self":
            allowed = ", ".join(p for p in params if p != "self")
            raise ConfigError(f"{where}: unknown key {key!r} for step {kind!r}; allowed: {allowed}.")
        if not _type_ok(value, hints.get(key, inspect.Parameter.empty)):
            raise ConfigError(f"{where}: key {key!r} of step {kind!r} must be {_describe(hints[key])}, "
                              f"got {type(value).__name__} {value!r}.")
    return cls(**kwargs)


def _check_keys(section: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in section:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(allowed))}.")


def load_pipeline(path: str | Path) -> PipelineSpec:
    """Parse a pipeline TOML file into steps plus input/output/embedder settings."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such pipeline file.")
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}).") from exc
    _check_keys(raw, {"input", "output", "embedder", "steps", "engine", "ray"}, str(path))
    from .engine import ENGINES

    engine = raw.get("engine", "local")
    if engine not in ENGINES:
        raise ConfigError(f"{path}: engine must be one of {', '.join(ENGINES)}, got {engine!r}.")
    ray_opts = raw.get("ray", {})
    _check_keys(ray_opts, RAY_KEYS, f"{path} [ray]")
    if ray_opts and engine != "ray":
        raise ConfigError(f"{path}: a [ray] table needs engine = \"ray\".")
    inp, out, emb = raw.get("input", {}), raw.get("output", {}), raw.get("embedder", {})
    _check_keys(inp, INPUT_KEYS, f"{path} [input]")
    _check_keys(out, OUTPUT_KEYS, f"{path} [output]")
    _check_keys(emb, EMBEDDER_KEYS, f"{path} [embedder]")
    for section, key in ((inp, "path"), (out, "dir")):
        if key in section:
            if not isinstance(section[key], str):
                raise ConfigError(f"{path}: key {key!r} must be a string.")
            p = Path(section[key])
            section[key] = str(p if p.is_absolute() else path.parent / p)
    steps_raw = raw.get("steps", [])
    if not isinstance(steps_raw, list) or not steps_raw:
        raise ConfigError(f"{path}: no [[steps]] given.")
    steps = [build_step(t, f"{path} [[steps]] #{i + 1}") for i, t in enumerate(steps_raw)]
    return PipelineSpec(inp, out, emb, steps, engine, ray_opts)
