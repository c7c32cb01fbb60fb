# fspatch — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FSPATCH_CACHE ?= $(HOME)/.cache/fspatch
export FSPATCH_CACHE

.PHONY: install demo tour test bench bench-truth demo-real lint man clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'

install: $(PY)

demo: $(PY)
	$(PY) scripts/demo.py demo-out

tour: $(PY)
	$(PY) scripts/tour.py tour

test: $(PY)
	$(PY) -m pytest

bench: $(PY)
	$(PY) bench/run.py

bench-truth: $(PY)
	$(PY) bench/bench_truth.py

demo-real: $(PY)
	PATH="$(abspath $(VENV))/bin:$$PATH" bash scripts/demo_real.sh

lint: $(PY)
	$(PY) -m pip install -q ruff mypy
	$(PY) -m ruff check fspatch tests
	$(PY) -m mypy fspatch tests

man: $(PY)
	$(PY) scripts/make_man.py man

clean:
	rm -rf demo-out tour man bench/out .pytest_cache
