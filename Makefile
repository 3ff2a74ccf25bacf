# Two entry points: `make ask` (install, index the bundled corpus, answer the sample question)
# and `make test` (install, run the tests). Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= How many people have died?

.PHONY: install ask test
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

ask: install
	$(BIN)/newsbot ask "$(QUESTION)"

test: install
	$(BIN)/python -m pytest
