# Two commands a user needs: `make demo` and `make test`. Both create .venv when missing and
# install the package with the exact versions in constraints.txt, so every machine runs what the
# tests ran. `make test` also installs Debian's chromium for the browser test when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test install install-test browser lint bench clean

# The browser test drives Debian's chromium at this path (tests/test_browser.py).
CHROMIUM := /usr/bin/chromium
# Test processes: one per core (pytest-xdist), each taking whole files so that a module's shared
# fixtures (an analysis, a rendered report) are computed once; tests/conftest.py keeps each
# process on one BLAS thread. `make test TEST_WORKERS=0` runs everything in one process.
TEST_WORKERS ?= auto

# $(call apt_install,PACKAGE,WHY): install a Debian package with apt-get when running as root;
# anyone else is told which package to install and why, and make stops. (No commas in WHY.)
define apt_install
if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
    echo "make: Debian's $(1) package is missing ($(2)); install it (as root: apt-get install $(1)) then run make again." >&2; \
    exit 1; \
fi; \
echo "Installing Debian's $(1) with apt-get ($(2))"; \
export DEBIAN_FRONTEND=noninteractive; \
apt-get update -qq || exit 1; \
apt-get install -y -qq --no-install-recommends $(1) >/dev/null || exit 1
endef

# Debian ships Python's venv module separately (python3.X-venv): installed here when missing,
# as root; anyone else is told the package to install.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "alliance needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	@if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
	    package=$$($(PYTHON) -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])'); \
	    $(call apt_install,$$package,$(PYTHON) cannot create a virtual environment without it); \
	fi
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[test,dask]'
	@touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/alliance demo --out alliance-demo

lint: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# Installs chromium only when it is missing, and only as root; anyone else is told what to install
# (the browser test is never skipped).
browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	$(call apt_install,chromium,the browser test of make test opens the report in it); \
	[ -x $(CHROMIUM) ] || { echo "make test: apt-get did not install $(CHROMIUM)" >&2; exit 1; }

test: browser lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

bench: install-test
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) alliance-demo build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
