# Every task a developer or CI runs. CI (.ci/run) runs `make test`, exactly as the README says.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The hand-written code `make lint` runs ruff on, and what `make typecheck` runs mypy --strict on.
# tests/test_project.py reads both lists from here, so `make test` (CI) checks exactly the same.
HAND_WRITTEN := src generator release scripts tests benchmarks
TYPECHECKED := generated_client/itwin_mesh_export_generated src/itwin_mesh_export release scripts

.PHONY: install demo generate check-generated lint lint-spec typecheck test check build lock clean serve \
	check-release record-release publish bench

# Set-up: a virtual environment with the exact pins of requirements/dev.txt, the project itself
# (editable), and the JavaScript tools from package-lock.json. Re-runs only when a pin changes.
install: $(STAMP)
$(STAMP): requirements/dev.txt pyproject.toml package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

# The main job (README, first command): start the local Mesh Export service on free ports, then
# start -> wait -> download -> verify an export through the itwin-mesh-export CLI, print a summary,
# stop the service. The generated client is checked by `make test` and `make check-generated`.
demo: install
	$(PY) scripts/demo.py

# Replace generated_client/ with what the spec generates (run after every spec change).
generate: install
	$(PY) generator/generate.py generate

# Regenerate into a temporary directory; fail, printing the difference, on any change.
check-generated: install
	$(PY) generator/generate.py check

lint: install lint-spec
	$(BIN)/ruff check $(HAND_WRITTEN)
	$(BIN)/ruff format --check $(HAND_WRITTEN)

lint-spec: install
	node_modules/.bin/redocly lint openapi/mesh-export.yaml --format=stylish

typecheck: install
	$(BIN)/mypy --strict $(TYPECHECKED)

# The README's test command: installs everything, then runs every test. The tests include what
# lint, typecheck, check-generated and check-release do (tests/test_project.py, tests/spec,
# tests/generation, tests/publish/test_versions.py), so none of them runs again here.
test: install
	$(BIN)/pytest -n 2

# Everything `make test` runs covers lint, typecheck, check-generated and check-release: one run.
check: test

# The long reliability run (issue 8): the fault matrix in both clients, fuzzing, soak and kill/restart
# at thousands, then RELIABILITY.md from its figures. The same tests run small in `make test`.
.PHONY: reliability
reliability: install
	$(PY) -m tests.reliability.report --run

# The local Mesh Export service on 127.0.0.1:8080 (README, "The local Mesh Export service"); Ctrl-C stops it.
serve: install
	$(PY) -m itwin_mesh_export.testing --port 8080

# The benchmarks (issue 7, benchmarks/README.md): every measurement against its baseline in the same
# run, ~7 minutes on 2 cores; rewrites BENCHMARKS.md. The peer client is built under build/bench/.
bench: install
	$(PY) -m benchmarks

# sdist, then the wheel built from that sdist (python -m build does both), checked by twine.
build: install
	rm -rf dist
	$(PY) -m build --outdir dist
	$(BIN)/twine check --strict dist/*

# The version scheme (README, "Versions and releases"): the version in _version.py is recorded in
# release/versions.json with the spec and generated package committed now.
check-release: install
	$(PY) release/versions.py check

# Record the current version (after bumping _version.py and writing its CHANGELOG.md section).
# ARGS=--replace re-records the newest version: only for a version that was never published.
record-release: install
	$(PY) release/versions.py record $(ARGS)

# Upload dist/ to the index in TWINE_REPOSITORY_URL (with TWINE_USERNAME / TWINE_PASSWORD), only
# after every test passes (they include check-generated and check-release: the generated client
# and the release record), then the build; the script refuses a version the index already holds
# (release/publish.py).
publish: install
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory build
	$(PY) release/publish.py dist

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
