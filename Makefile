# Two entry points: `make ask` (install, index the bundled corpus, answer the sample question)
# and `make test` (install, run the tests); `make test-fast` runs the tests that neither load the
# real model nor start a process (markers applied by tests/tiers.py), in under a minute. Everything
# installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= How many people have died?
FAST_TIER := not model and not process

.PHONY: install ask test test-fast
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

ask: install
	$(BIN)/newsbot ask "$(QUESTION)"

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "$(FAST_TIER)"
