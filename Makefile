# Linli — the two commands a newcomer needs:
#   make demo   set up everything and run the whole system on one machine
#   make test   set up everything and run the whole test suite
# Both work on a fresh Debian/Ubuntu machine as root; they install what is missing.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_UPDATED := /tmp/.linli-apt-updated

.PHONY: demo test lint typecheck check venv system-deps clean help

help:
	@echo "make demo   - install what is missing and run the demo community"
	@echo "make test   - install what is missing and run every test"
	@echo "make lint   - ruff and mypy"

# --- system packages (Debian's) -------------------------------------------------------
define apt_install
	@if [ "$$(id -u)" != 0 ]; then echo "need root to install Debian packages: $(1)"; exit 1; fi
	@[ -f $(APT_UPDATED) ] || { apt-get update -qq && touch $(APT_UPDATED); }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1)
endef

system-deps:
	@command -v $(PYTHON) >/dev/null && $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null \
	  || { $(call apt_install,python3 python3-venv python3-pip) ; }
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] \
	  || { $(call apt_install,mosquitto) ; }

# --- the virtualenv ------------------------------------------------------------------
venv: $(STAMP)

$(STAMP): pyproject.toml | system-deps
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# --- the two commands ----------------------------------------------------------------
demo: system-deps venv
	$(BIN)/linli demo $(ARGS)

test: system-deps venv lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
