# Thin wrappers over a few short commands. Every target that needs Python
# creates the virtualenv first, so each works on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

BUF := npx --yes @bufbuild/buf@1.75.0
# What `make lint` type-checks (mypy.ini holds the settings).
MYPY_TARGETS := gateway/gateway services/vault_service/vault_service libs/common/ucf_common \
                services/connector_service/connector_service protos/generate.py

.PHONY: install run test proto proto-check lint openapi api-key bench clean

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

# Whole system on this machine (SecantusDB, vault, connector service, gateway);
# ports and settings from the environment, e.g. `make run GATEWAY_PORT=8080`.
run: $(STAMP)
	$(PY) tools/devstack.py

# Unit and integration tests. pytest's exit code 5 (no test collected) fails too.
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) || { rc=$$?; [ $$rc -ne 5 ] || echo "pytest collected no tests" >&2; exit $$rc; }

proto-check: $(STAMP)
	$(PY) -m pytest -q tests/protos/test_generated_code.py

# ruff (rules and format), buf's proto rules, mypy over $(MYPY_TARGETS); generated code is skipped.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(BUF) lint protos
	$(PY) -m mypy $(MYPY_TARGETS)

openapi: $(STAMP)
	$(PY) -m gateway.generate_openapi

# make api-key TENANT=acme SCOPES=connectors:read,connections:read [NAME=ci]
# (into the database `make run` uses: MONGODB_URL, else SecantusDB on MONGO_PORT)
api-key: $(STAMP)
	@test -n "$(TENANT)" && test -n "$(SCOPES)" || { echo "usage: make api-key TENANT=t SCOPES=a,b [NAME=n]" >&2; exit 2; }
	@MONGODB_URL="$$($(PY) tools/devstack.py mongodb-url)" \
	    $(PY) -m connector_service api-keys create --tenant "$(TENANT)" --scopes "$(SCOPES)" $(if $(NAME),--name "$(NAME)")

bench: $(STAMP)
	@set -e; for script in benchmarks/*_bench.py; do \
	    [ -e "$$script" ] || { echo "no benchmarks/*_bench.py yet"; break; }; \
	    echo "== $$script"; $(PY) "$$script"; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# --- vault ---
# Key administration of a running vault (defaults: the `make run` stack and its
# .data/vault-client-token; under mTLS pass VAULT_ADMIN_ARGS="--ca ca.crt --cert
# vault-admin.crt --key vault-admin.key --server-name vault"). See services/vault_service/README.md.
VAULT_CLIENT_TOKEN_FILE ?= .data/vault-client-token
CERTS_DIR ?= .data/certs
VAULT_CLI = VAULT_CLIENT_TOKEN_FILE=$(VAULT_CLIENT_TOKEN_FILE) $(PY) -m vault_service

.PHONY: vault-keygen vault-status vault-rewrap vault-retire vault-audit-verify certs

vault-keygen: $(STAMP)
	@$(PY) -m vault_service keygen $(if $(KEY_ID),--id "$(KEY_ID)")

vault-status: $(STAMP)
	@$(VAULT_CLI) status $(VAULT_ADMIN_ARGS)

vault-rewrap: $(STAMP)
	@$(VAULT_CLI) rewrap $(VAULT_ADMIN_ARGS)

# make vault-retire KEY=dev1
vault-retire: $(STAMP)
	@test -n "$(KEY)" || { echo "usage: make vault-retire KEY=key-id" >&2; exit 2; }
	@$(VAULT_CLI) retire "$(KEY)" $(VAULT_ADMIN_ARGS)

vault-audit-verify: $(STAMP)
	@$(VAULT_CLI) verify-audit

# Development CA + vault / connector-service / vault-admin certificates (CERTS_DIR=certs for docker-compose).
certs: $(STAMP)
	@$(PY) -m vault_service certs --out "$(CERTS_DIR)" $(if $(FORCE),--force)
