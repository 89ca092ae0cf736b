# The two commands a fresh machine needs: `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test test-fast lint install browser speech-tools deploy-tools qualify

# Re-installs only when pyproject.toml changed since the last install.
$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(INSTALLED)

# runportal migrates first; with no DATABASE_URL it starts the embedded PostgreSQL (data in var/postgres).
run: install speech-tools
	$(BIN)/python manage.py runportal

# The voices for languages the neural English voice lacks (Mandarin, French, ...) are Debian's espeak-ng; without it
# they are listed as not installed and their tests are skipped. Burned-in captions draw Chinese with Noto CJK.
speech-tools:
	@command -v espeak-ng >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && (apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null); } || \
	  echo "espeak-ng not installed: only the neural English voice can speak scripts"
	@[ -d /usr/share/fonts/opentype/noto ] || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && (apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-noto-cjk >/dev/null); } || \
	  echo "fonts-noto-cjk not installed: captions in Chinese cannot be burned in"

# Browser tests drive Debian's Chromium; without it (and without root to install it) they are skipped. Noto CJK lets
# it draw the Chinese pages (the portal ships no web font); without it their screenshots show boxes.
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh family 2>/dev/null | grep -q .; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && (apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null); } || \
	  echo "chromium or fonts-noto-cjk not installed: browser tests will be skipped or draw Chinese as boxes"

# The deploy/ checks (tests/deploy): KEDA's schemas run on Node.js (npm ci from the lock file), promtool comes with
# Debian's prometheus package; kubectl (with kustomize) must be on the machine.
KEDA_SCHEMA := deploy/schemas/keda
$(KEDA_SCHEMA)/node_modules/.installed: $(KEDA_SCHEMA)/package-lock.json
	npm ci --silent --no-audit --no-fund --prefix $(KEDA_SCHEMA)
	touch $@

deploy-tools: $(KEDA_SCHEMA)/node_modules/.installed
	@command -v promtool >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && (apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null); } || \
	  echo "promtool not installed: the alert rule checks will be skipped"

test: install browser speech-tools deploy-tools
	$(BIN)/pytest

# The quick loop while working: everything but browser walks, slow renders and drills (make test runs them all).
test-fast: install speech-tools deploy-tools
	$(BIN)/pytest -m "not browser and not slow and not drill" -q

# The model quality gate (README "Model quality gate"): renders the reference suite with the builtin backend at
# CI resolution and fails on any broken limit; the report (report.html, JSON, contact sheet, plots, strips, videos)
# lands in var/qualify.
qualify: install
	$(BIN)/python -m renderer qualify --report var/qualify

# ruff (lint and format), the import layers and cycles (pyproject.toml [tool.importlinter]), mypy (mypy.ini).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
