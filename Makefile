# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install, train the default experiment, write a report
#   make test   create .venv, install with test extras, lint, run the test suite (tutorials and
#               the wheel included) and build the documentation site in strict mode
# A third, optional one:
#   make docs   build the documentation site into site/ (open site/index.html)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The tutorials run once, in pytest, rendered where the docs build finds them.
TUTORIALS_OUT := build/docs-gen/tutorials

.PHONY: demo test lint docs bench clean

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
	QUOTIENT_TUTORIALS_OUT=$(TUTORIALS_OUT) $(BIN)/python -m pytest
	$(MAKE) docs

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	$(BIN)/python scripts/check_site.py site
	@echo "documentation: site/index.html"

bench: $(STAMP)
	for b in benchmarks/[!_]*.py; do $(BIN)/python $$b || exit 1; done
	$(BIN)/python benchmarks/make_table.py

clean:
	rm -rf $(VENV) build site src/*.egg-info
