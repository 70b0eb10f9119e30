# Every task a developer or CI runs. CI (.ci/run) runs `make test`, exactly as the README says.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo generate check-generated lint lint-spec typecheck test check build lock clean serve

# Set-up: a virtual environment with the exact pins of requirements/dev.txt, the project itself
# (editable), and the JavaScript tools from package-lock.json. Re-runs only when a pin changes.
install: $(STAMP)
$(STAMP): requirements/dev.txt pyproject.toml package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

# The main job. Until the local service exists: regenerate the client from the spec into a
# temporary directory, prove it equals the committed one, and type-check it.
demo: install check-generated typecheck
	@echo "demo: the committed client is what the committed spec generates, and it type-checks."

# Replace generated_client/ with what the spec generates (run after every spec change).
generate: install
	$(PY) generator/generate.py generate

# Regenerate into a temporary directory; fail, printing the difference, on any change.
check-generated: install
	$(PY) generator/generate.py check

lint: install lint-spec
	$(BIN)/ruff check src generator tests
	$(BIN)/ruff format --check src generator tests

lint-spec: install
	node_modules/.bin/redocly lint openapi/mesh-export.yaml --format=stylish

typecheck: install
	$(BIN)/mypy --strict generated_client/itwin_mesh_export_generated
	$(BIN)/mypy --strict -p itwin_mesh_export

# The README's test command: installs everything, then runs every test (spec, generation, ...).
test: install check-generated
	$(BIN)/pytest -n 2

check: lint typecheck check-generated test

# The local Mesh Export service on 127.0.0.1:8080 (README, "The local Mesh Export service"); Ctrl-C stops it.
serve: install
	$(PY) -m itwin_mesh_export.testing --port 8080

build: install
	rm -rf dist
	$(PY) -m build --outdir dist

# Re-pin requirements/dev.txt from the ranges in pyproject.toml, in a throwaway environment.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	{ sed -n '1,2p' requirements/dev.txt; .lock-venv/bin/pip freeze --exclude-editable | grep -v -E '^(pip|setuptools)=='; } > requirements/dev.txt.new
	mv requirements/dev.txt.new requirements/dev.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) node_modules dist build .pytest_cache .mypy_cache .ruff_cache
