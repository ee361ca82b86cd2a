# Linli — the two commands a newcomer needs:
#   make demo   set up everything and run the whole system on one machine
#   make test   set up everything and run the whole test suite
# Both work on a fresh Debian/Ubuntu machine as root; they install what is missing.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check venv system-deps clean help schema dashboards

help:
	@echo "make demo   - install what is missing and run the demo community"
	@echo "make test   - install what is missing and run every test"
	@echo "make lint   - ruff and mypy"
	@echo "make dashboards - write the Grafana dashboards (deploy/grafana/dashboards)"

# --- system packages (Debian's) -------------------------------------------------------
# A python3 with venv (skipped when the python3 on PATH already has it), Mosquitto, and
# PostgreSQL and InfluxDB (for the tests, which start throwaway servers of their own);
# Chromium and CJK fonts for the browser tests (Playwright drives Debian's /usr/bin/chromium);
# docker-compose (Debian's 1.29) to validate docker-compose.yml, which needs no engine.
system-deps:
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null \
	  || tools/ensure-debian-packages.sh python3 python3-venv python3-pip
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] \
	  || tools/ensure-debian-packages.sh mosquitto
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  || tools/ensure-debian-packages.sh postgresql
	@command -v influxd >/dev/null || tools/ensure-debian-packages.sh influxdb
	@tools/ensure-debian-packages.sh chromium fonts-noto-cjk docker-compose

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
	$(BIN)/python -m pytest -q -n auto $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# docs/*.schema.json: the JSON Schemas of the device-profile format, the wire protocol and the site file
dashboards: venv
	$(BIN)/python deploy/grafana/dashboards.py

schema: venv
	$(BIN)/linli profiles schema --of profile --output docs/profile.schema.json
	$(BIN)/linli profiles schema --of protocol --output docs/protocol.schema.json
	$(BIN)/linli profiles schema --of site --output docs/site.schema.json
	$(BIN)/linli profiles schema --of piece --output docs/piece.schema.json

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
