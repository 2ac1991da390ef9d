# Thin wrappers over a few short commands. Every target that needs Python
# creates the virtualenv first, so each works on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install proto proto-check lint test

$(STAMP): protos/pyproject.toml libs/common/pyproject.toml services/vault_service/pyproject.toml \
          services/connector_service/pyproject.toml gateway/pyproject.toml requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e protos -e libs/common -e services/vault_service \
	    -e services/connector_service -e gateway -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

proto: $(STAMP)
	$(PY) protos/generate.py

test: $(STAMP)
	$(PY) -m pytest
