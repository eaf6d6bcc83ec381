# Every target bootstraps .venv itself; dependencies are re-installed only when pyproject.toml or
# requirements.lock change (their hash is kept in .venv/.spec-hash).
SHELL := /bin/bash
PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
EDGEBENCH := $(VENV)/bin/edgebench
SPEC_HASH := $(shell cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
STAMP := $(VENV)/.spec-$(SPEC_HASH)
PLAN ?= quick
PYTEST_ARGS ?=

.PHONY: setup benchmark dashboard test test-all lint format perf ci-report system-deps mediapipe-env lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	@echo "Installing pinned dependencies into $(VENV) (first time: a few minutes)..."
	@$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	@$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@rm -f $(VENV)/.spec-* && touch $(STAMP)

## The main job: the default plan, from data to stored results.
benchmark: $(STAMP)
	$(EDGEBENCH) benchmark --plan $(PLAN)

## The dashboard on http://127.0.0.1:8501 (store: STORE=URL, else $$EDGEBENCH_STORE, else results/edgebench.sqlite).
## A viewer's toolbar (no Deploy button, no developer menu); DEV=1 shows Streamlit's developer toolbar.
STORE ?=
DEV ?=
dashboard: $(STAMP)
	$(VENV)/bin/streamlit run dashboard/app.py --server.address 127.0.0.1 --server.port 8501 \
		--server.headless true --browser.gatherUsageStats false \
		--client.toolbarMode $(if $(DEV),developer,viewer) $(if $(STORE),-- --store '$(STORE)')

## The default (fast) suite; `make test-all` adds the slow tests.
test: $(STAMP)
	$(PY) -m pytest -m "not slow and not device and not macos" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest -m "not device and not macos" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Performance checks (perf/, not shipped): scripts that print figures and PASS/FAIL lines.
perf: $(STAMP)
	$(PY) -m perf.perf_timing
	$(PY) -m perf.perf_dashboard --store work/perf/dashboard_100k.sqlite
	$(PY) -m perf.perf_int8
	$(PY) -m perf.perf_rounds

## CI regression report: the newest run against BASELINE (a run id or git ref); Markdown, JUnit and JSON in $(REPORT_DIR).
BASELINE ?= main
CHECKS ?=
REPORT_DIR ?= work/ci-report
ci-report: $(STAMP)
	$(EDGEBENCH) compare --baseline '$(BASELINE)' $(if $(CHECKS),--checks '$(CHECKS)') \
		--markdown $(REPORT_DIR)/report.md --junit $(REPORT_DIR)/junit.xml --json $(REPORT_DIR)/report.json

## System packages some tests use (headless Chromium for the dashboard, OpenSSH for the SSH runner).
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=""; \
		test -x /usr/bin/chromium || missing="$$missing chromium"; \
		test -x /usr/sbin/sshd || missing="$$missing openssh-server openssh-client"; \
		ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
		if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; fi; \
	else echo "system-deps: not root or no apt-get; tests needing chromium, sshd or PostgreSQL will be skipped"; fi

## The separate MediaPipe 0.10.14 environment (.venv-mediapipe): TFLite metadata and its ObjectDetector test.
mediapipe-env: $(STAMP)
	$(PY) -c "from converters.mediapipe_env import env_python; print(env_python())"

## Re-lock transitive dependencies after changing pyproject.toml.
lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^edgebench' > requirements.lock

clean:
	rm -rf $(VENV) work build *.egg-info
