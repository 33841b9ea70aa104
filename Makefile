# amumo — two commands do all set-up: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.amumo-installed
PORT ?= 8888

.PHONY: install demo test test-fast lint lint-js js chromium benchmarks clean

$(PY):
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3 (>=3.10)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Re-install only when the package metadata changed.
# (pip warns once per package about local index folders it does not use; hide that noise)
$(STAMP): pyproject.toml | $(PY)
	set -o pipefail; $(PIP) install --quiet -e ".[models,widgets,dev,scale,hf]" 2>&1 \
		| { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@touch $(STAMP)

# The venv lives inside this checkout, whose package.json says "type": "module". Node takes
# a .js file's module type from the nearest package.json, so without one of its own in the
# venv it would load the venv's CommonJS scripts as ES modules: JupyterLab runs its bundled
# yarn.js (jupyter_builder) at every start and printed a 14 KB minified trace ("Fail to get
# yarn configuration ... Dynamic require of "util" is not supported") before anything else.
$(VENV)/package.json: | $(PY)
	@echo '{"type": "commonjs", "private": true}' > $@

install: $(STAMP) $(VENV)/package.json

js: node_modules/.package-lock.json
	npm run --silent build

# ESLint (flat config in eslint.config.js) over js/, the build scripts and the config itself.
lint-js: node_modules/.package-lock.json
	node_modules/.bin/eslint --max-warnings=0 js scripts eslint.config.js

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

chromium:
	@command -v /usr/bin/chromium >/dev/null || { \
		echo "installing Debian chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# As root (containers), JupyterLab refuses to start without --allow-root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

demo: install
	$(VENV)/bin/jupyter lab --port=$(PORT) $(ROOT_FLAG) notebooks/getting_started.ipynb

test: install chromium js lint-js
	@git diff --quiet -- amumo/static || { echo "error: amumo/static differs from a fresh build of js/; run 'make js' and commit amumo/static"; git --no-pager diff --stat -- amumo/static; exit 1; }
	$(VENV)/bin/ruff check amumo tests benchmarks
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not browser and not notebooks"

lint: install
	$(VENV)/bin/ruff check amumo tests benchmarks

benchmarks: install
	$(PY) benchmarks/analysis.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache
