# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test demo lint typecheck unit bench soak clean docs params mutation

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy actors ollama_actor

unit: $(BIN)/.installed
	$(BIN)/pytest

test: lint typecheck unit

# The Ollama at OLLAMA_HOST with MODEL (else its first model that can generate), or the emulator.
demo: $(BIN)/.installed
	$(BIN)/python -m ollama_actor.demo $(if $(MODEL),--model '$(MODEL)')

# docs/api.md from the public names' docstrings (a test fails when it is stale).
docs: $(BIN)/.installed
	$(BIN)/python docs/gen_api.py

# ollama_actor/_params.py, the endpoints' typed keyword arguments, from their schemas (a test
# fails when it is stale).
params: $(BIN)/.installed
	$(BIN)/python -m ollama_actor._gen_params

# The long soak plus the fault matrix; writes docs/reliability.md (a bounded soak is in make test).
soak: $(BIN)/.installed
	$(BIN)/python -m tests.reliability.report --streams 20000 --concurrency 5000

# B1-B7 against the official client, raw Pykka, a pool of hosts and Ray; writes docs/benchmarks.md.
# B1 runs again in .venv-plain: a plain `pip install .` (no extras) beside the official client;
# its dependencies are what it is for (the benchmarks import the code from this checkout).
PLAIN := .venv-plain
$(PLAIN)/.installed: pyproject.toml
	test -x $(PLAIN)/bin/python || $(PYTHON) -m venv $(PLAIN)
	$(PLAIN)/bin/python -m pip install --quiet --upgrade pip
	$(PLAIN)/bin/python -m pip install --quiet . 'ollama==0.6.3'
	touch $@

bench: $(BIN)/.installed $(PLAIN)/.installed
	$(BIN)/python -m bench --plain-python $(PLAIN)/bin/python

# Mutation testing of the modules listed in pyproject.toml's [tool.mutmut]: all of them take
# long; MUTANTS scopes a run to a group, e.g. make mutation MUTANTS='ollama_actor._accumulate.*'
# (mutmut's names: module.function__mutmut_N). The survivors: .venv/bin/mutmut results.
mutation: $(BIN)/.installed
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) $(PLAIN) .mypy_cache .pytest_cache .ruff_cache mutants
