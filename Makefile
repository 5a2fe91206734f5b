# Two entry points: `make demo` (screen the example patients against the seed trials) and
# `make test`. Both create .venv and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/criteria check rules/
	$(BIN)/criteria screen rules/ examples/

test: $(STAMP)
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/criteria check rules/ criteria_lang/stdlib/
	$(BIN)/criteria lint rules/
	$(BIN)/criteria fmt --check rules/

bench: $(STAMP)
	$(BIN)/python bench/generate.py --patients 2000 --out bench/out/patients.jsonl
	$(BIN)/python bench/bench_screen.py --data bench/out/patients.jsonl

clean:
	rm -rf $(VENV)
