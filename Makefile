# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install, train the default experiment, write a report
#   make test   create .venv, install with test extras, lint and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: a bare "torch" requirement would pull a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/quotient train rotated-mnist --out runs/demo --overwrite
	@echo "report: runs/demo/report.html"

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	for b in benchmarks/[!_]*.py; do $(BIN)/python $$b || exit 1; done
	$(BIN)/python benchmarks/make_table.py

clean:
	rm -rf $(VENV) build src/*.egg-info
