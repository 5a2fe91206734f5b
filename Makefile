# Two entry points: `make demo` (screen the example patients against the seed trials) and
# `make test`. Both create .venv and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint check bench bench-report screenshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/criteria check rules/
	mkdir -p out
	$(BIN)/criteria screen rules/ examples/ --html out/report.html
	@echo "The report of this screen, to open in a browser: out/report.html"

# On every core (pytest-xdist; workers steal queued tests, so the slow Spark and browser tests
# do not leave a core idle at the end). PYTEST_ARGS adds options, e.g. PYTEST_ARGS="-x -k fhir".
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist worksteal $(PYTEST_ARGS)

# The code's habits (ruff, formatting, mypy --strict, import layers, complexity, module sizes):
# what CI enforces (.ci/lint says how to fix each).
lint: $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,lint]"
	BIN=$(BIN) .ci/lint

check: $(STAMP)
	$(BIN)/criteria check rules/ criteria_lang/stdlib/
	$(BIN)/criteria lint rules/
	$(BIN)/criteria fmt --check rules/

bench: $(STAMP)
	$(BIN)/python bench/generate.py --patients 2000 --out bench/out/patients.jsonl
	$(BIN)/python bench/bench_screen.py --data bench/out/patients.jsonl

# 100,000 synthetic patients: generated and screened on the first run (cached in bench/out/).
bench-report: $(STAMP)
	$(BIN)/python bench/bench_report.py --patients 100000

# docs/img/report*.png: the browser test's screenshots of the example patients' reports
# (needs Debian's chromium and chromium-driver).
screenshot: $(STAMP)
	CRITERIA_SCREENSHOT_DIR=docs/img CRITERIA_REQUIRE_BROWSER=1 $(BIN)/python -m pytest \
		tests/test_report_browser.py

clean:
	rm -rf $(VENV)
