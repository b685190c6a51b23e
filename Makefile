# hrlrec: `make run` runs the pipeline end to end; `make test` runs the tests.
# Both start with `make setup`, which builds .venv from the pins only when it is
# missing or older than pyproject.toml / constraints.txt.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hrlrec-setup
WORKSPACE ?= .work/demo

.PHONY: setup run test test-fast lint bench lock clean services device-kit

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "hrlrec needs Python 3.11, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(BIN)/python -m hrlrec.demo --workspace $(WORKSPACE)

test: setup lint services
	$(BIN)/pytest

# What the tests start for real, installed from Debian's packages only when missing: chromium +
# chromedriver (the report's browser test) and PostgreSQL (the real-scheduler test).
services:
	bash scripts/install-chromium.sh
	bash scripts/postgres.sh install

test-fast: setup
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff check dags/ --select AIR3

bench: setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/serve.py --workspace $(WORKSPACE)

# The GPU check's packages for a lent device machine, in parts that fit its calls, and the calls to make
# (scripts/device_kit.py; README, Benchmarks).
device-kit: setup
	$(BIN)/python scripts/device_kit.py build

# Re-resolve the pins in a scratch venv and rewrite constraints.txt.
lock:
	rm -rf .work/lock-venv && $(PYTHON) -m venv .work/lock-venv
	.work/lock-venv/bin/pip install --quiet -e '.[dev]'
	.work/lock-venv/bin/pip freeze --exclude-editable | sed -E 's/\+(cpu|cu[0-9]+)$$//' > constraints.txt
	rm -rf .work/lock-venv

clean:
	rm -rf $(VENV) .work
