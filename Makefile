# jepa-torus: the experiment graph.  `make test` and `make paper` install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test paper lean clean help

help:
	@echo "make test   - create .venv if needed, install, run the test suite"
	@echo "make paper  - run every experiment and build paper/main.pdf (PROFILE=cpu|gpu|smoke)"

# The venv is rebuilt only when the dependency list changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,paper]'
	@touch $@

test: $(STAMP)
	$(PY) -m pytest -q

paper:
	@echo "make paper: not built yet (see the issue on the paper pipeline)"; exit 1
