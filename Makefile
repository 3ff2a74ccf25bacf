# Two entry points: `make ask` (install, index the bundled corpus, answer the sample question)
# and `make test` (install, run the tests; it installs Debian's redis-server first when it is missing, for the
# tests of state shared between bot replicas); `make test-fast` runs the tests that neither load the
# real model nor start a process (markers applied by tests/tiers.py), in under a minute. Everything
# installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= How many people have died?
FAST_TIER := not model and not process
# test-fast keeps its temporary folders in memory (/dev/shm, when it has 1 GB free): its index builds fsync,
# which on a disk busy with other jobs took over half its time (45-58 s against 19-21 s), and it leaves
# none behind. The fsync paths still run on disk in `make test`.
FAST_TMPDIR := $(shell [ -w /dev/shm ] && df -Pk /dev/shm | awk 'NR == 2 && $$4 > 1048576 {print "/dev/shm"}')

.PHONY: install ask test test-fast redis-server
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

ask: install
	$(BIN)/newsbot ask "$(QUESTION)"

test: install redis-server
	$(BIN)/python -m pytest

redis-server:
	.ci/install-redis-server

test-fast: install
	TMPDIR="$(or $(FAST_TMPDIR),$(TMPDIR))" $(BIN)/python -m pytest -m "$(FAST_TIER)" -o tmp_path_retention_policy=failed
