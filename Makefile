# tinkertop: `make run` (the app on a live demo), `make test` (everything CI runs), `make bench`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the project's own modules compiled ahead, as pip does for installed packages but not for an editable
# install: where PYTHONDONTWRITEBYTECODE is set (containers often set it) every start compiled them again
# (~0.1 s of CPU before the first paint and during the full read). Stale files are compiled again.
BYTECODE := $(BIN)/python -m compileall -q runner tui

.PHONY: setup run demo app test lint unit bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), "tinkertop needs Python 3.11, got %s" % sys.version.split()[0]'
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# the CPU build of torch first, so nothing later pulls a CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: demo

demo: $(STAMP)
	@$(BYTECODE)
	$(BIN)/tinkertop demo

app: $(STAMP)
	@$(BYTECODE)
	$(BIN)/tinkertop

lint: $(STAMP)
	$(BIN)/ruff format --check runner tui tests bench
	$(BIN)/ruff check runner tui tests bench
	$(BIN)/mypy runner tui bench

test: lint
	@$(BYTECODE)
	$(BIN)/pytest -q

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

N_RUNS ?= 200
bench: $(STAMP)  # make bench N_RUNS=1000: the app benches on 1,000 runs; figures to bench/results.json and the README
	@$(BYTECODE)
	N_RUNS=$(N_RUNS) $(BIN)/python -m bench
	$(BIN)/python -m bench.results --readme

clean-venv:
	rm -rf $(VENV)
