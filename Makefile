# Two commands set curator up on a fresh machine:
#   make demo   # venv + torch CPU + curator, then the full pipeline on the bundled demo
#   make test   # the test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-all lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU torch first (from local disk); otherwise pip resolves a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	# ray: the Ray engine's tests run in the default suite on a local cluster
	$(PY) -m pip install -q -e '.[dev,ray,onnx,openvino]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/curator index build examples/halueval_demo/sources.jsonl --name demo --id-field id --force
	$(BIN)/curator run examples/halueval_demo/pairs.jsonl --index demo --budget 100 -o out/demo
	@echo "outputs: out/demo/{kept.jsonl,dropped.jsonl,scores.parquet,summary.json,report.html}"

test: install
	$(PY) -m pytest

test-all: install
	$(PY) -m pytest -m ''

lint: install
	$(BIN)/ruff check curator tests benchmarks
	$(BIN)/mypy curator

# One script per question (benchmarks/README.md); the measured numbers are in benchmarks/RESULTS.md.
# Hours on 2 cores. The verifier needs a trained model first: benchmarks/verifier_train.py, then
# benchmarks/verifier.py --model DIR.
bench: install
	$(PY) benchmarks/grounding.py --parts dev,floor,ood
	$(PY) benchmarks/dedup.py --parts pairs,pairs-near,throughput
	$(PY) benchmarks/selection.py
	$(PY) benchmarks/scale.py

clean:
	rm -rf out indexes .pytest_cache
