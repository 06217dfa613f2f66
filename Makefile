# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# SCF's oldest supported Python runtime; pyenv's bare python3.9 shim refuses, so name the version.
PY39_VERSION := $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.9\.[0-9]+$$' | tail -1)
PY310_VERSION := $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.10\.[0-9]+$$' | tail -1)
# Tests of the deployed code (handlers/, lib/; tests/emulated runs lib/ over the emulator) that must also pass on
# Python 3.9; the security suite drives both.
DEPLOYED_TESTS := tests/lib tests/emulated tests/handlers tests/security tests/inventory

.PHONY: help venv test lint pytest test39 demo visual bench soak package package-check lock clean

help:
	@echo "make demo           run the whole loop (timer -> batch job -> inspection -> report) on the local emulator"
	@echo "make test           lint + every test (+ the deployed code's tests on Python 3.9)"
	@echo "make lint           ruff over the tree"
	@echo "make pytest         every test, on the venv's Python"
	@echo "make test39         the deployed code's tests on Python 3.9 (SCF's oldest runtime; skipped without pyenv's 3.9)"
	@echo "make soak           the property-based reliability and security tests with many more examples"
	@echo "make visual         the demo's HTML report as PNGs (phone and desktop width) in build/, via headless Chromium"
	@echo "make bench          benchmarks, written to docs/benchmarks.md"
	@echo "make package        build the SCF deployment zip in build/ from the lock (RUNTIME=3.9 for Python3.9)"
	@echo "make package-check  build for Python 3.9 and 3.10 and run each unpacked zip's handlers against the emulator"
	@echo "make lock           re-resolve the SCF package's dependencies and rewrite deploy/requirements-scf-py*.lock"
	@echo "make clean          remove the venvs, build/ and the caches"

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: lint pytest test39

lint: $(STAMP)
	$(VENV)/bin/ruff check .

pytest: $(STAMP)
	$(PY) -m pytest

test39:
ifeq ($(PY39_VERSION),)
	@echo "SKIPPED: no Python 3.9 under pyenv here (pyenv versions --bare); the 3.9 leg of the deployed code's tests did not run."
else
	@test -x .venv39/bin/python || PYENV_VERSION=$(PY39_VERSION) python3.9 -m venv .venv39
	@test -f .venv39/.installed || (.venv39/bin/python -m pip install -q --upgrade pip && \
		.venv39/bin/python -m pip install -q -e '.[dev]' && touch .venv39/.installed)
	@echo "== Python $(PY39_VERSION): $(DEPLOYED_TESTS)"
	.venv39/bin/python -m pytest -p no:cacheprovider $(DEPLOYED_TESTS)
endif

demo: $(STAMP)
	$(PY) -m emulator.demo

# Not part of `make test`: a person looks at the PNGs (each the whole page, 390 and 1280 px wide); it exits 1 when
# the page is wider than the window or a table scrolls sideways. Chromium is Debian's: apt-get install -y chromium.
visual: demo
	@page=$$(find .demo/bucket -name '*.html' | sort | tail -1); \
	$(PY) -m emulator.visual "$$page" --out build

# The package is rebuilt first so the deployment-tree figure measures the code being benchmarked.
bench: $(STAMP)
	$(PY) -m deploy.package --python $(RUNTIME)
	$(PY) -m bench

soak: $(STAMP)
	HYPOTHESIS_PROFILE=soak $(PY) -m pytest tests/reliability tests/security tests/detector/test_detector_fp_real_images.py

# SCF's runtime for the package: 3.10 by default, RUNTIME=3.9 for Python3.9 functions.
RUNTIME ?= 3.10
package: $(STAMP)
	$(PY) -m deploy.package --python $(RUNTIME) --smoke

# Builds for Python 3.9 and 3.10, resolves serverless.yml's handler strings from each unpacked zip as SCF does, and
# runs one submit and one report against the emulator (a runtime pyenv lacks is skipped with a reason).
package-check: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider -rs tests/deploy/test_package.py

# Re-resolves the package's dependencies for each SCF runtime and pins each file by hash: commit the changed locks.
lock: $(STAMP)
	$(PY) -m deploy.package --lock

clean:
	rm -rf $(VENV) .venv39 .venv310 build dist .pytest_cache .ruff_cache
