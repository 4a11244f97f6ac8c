# milab: two commands do everything on a fresh machine (see README.md).
#   make scenarios  - every scenario against the embedded emulator; writes reports/
#   make test       - the project's own tests and the scenarios
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.milab-installed
SYSTEM_STAMP := $(VENV)/.milab-system
WORKERS ?= 2
APT_PACKAGES := curl shellcheck python3-venv libodbc2 libltdl7 libgssapi-krb5-2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps scenarios test bench nightly clean

NPM_STAMP := infra/node_modules/.milab-installed
# The Azure CLI the page runner runs (milab/pages/az.py): pinned, in its own virtual environment
# because its dependency pins clash with the project's; reinstalled only when the pin changes.
AZ_CLI_PIN := 2.91.0
AZ_VENV ?= .venv-az
AZ_STAMP := $(AZ_VENV)/.milab-azure-cli-$(AZ_CLI_PIN)

deps: $(SYSTEM_STAMP) $(STAMP) $(NPM_STAMP) $(AZ_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e .
	touch $@

# Debian packages the harness runs: curl (in-VM steps), shellcheck (docs gate), libodbc2, libltdl7
# and libgssapi-krb5-2 (what ODBC Driver 18 from the mssql-python-odbc wheel links, for pyodbc and
# mssql-python; `ldd` on libmsodbcsql-18.*.so lists them).
$(SYSTEM_STAMP): Makefile
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@mkdir -p $(VENV) && touch $@

# Azurite (the blob engine behind the storage gateway), @vercel/cosmosdb-server (bench/cosmos.py's
# reference), the Node SDKs guests run (@azure/cosmos, @azure/identity) and the Node 22 they need
# (npm's "node" package; Debian 12 ships Node 18), pinned by infra/package-lock.json.
$(NPM_STAMP): infra/package.json infra/package-lock.json
	npm ci --prefix infra --no-audit --no-fund --loglevel=error
	touch $@

$(AZ_STAMP):
	rm -f $(AZ_VENV)/.milab-azure-cli-*
	$(PYTHON) -m venv $(AZ_VENV)
	$(AZ_VENV)/bin/python -m pip install -q --disable-pip-version-check "azure-cli==$(AZ_CLI_PIN)"
	touch $@

scenarios: deps
	$(PY) -m pytest scenarios -n $(WORKERS) -p no:cacheprovider

test: deps
	$(PY) -m pytest tests scenarios -n $(WORKERS) -p no:cacheprovider

# The nightly run against a sandbox subscription (AZURE_SUBSCRIPTION_ID and an operator credential
# in the environment); then sweep what earlier crashed runs left behind.
nightly: deps
	$(PY) -m pytest scenarios --target azure -n 4 -p no:cacheprovider; status=$$?; \
	$(PY) -m milab janitor; exit $$status

bench: deps
	$(PY) bench/emulator.py
	$(PY) bench/blob.py
	$(PY) bench/keyvault.py
	$(PY) bench/cosmos.py
	$(PY) bench/guests.py
	$(PY) bench/connections.py
	$(PY) bench/sql.py

clean:
	rm -rf $(VENV) $(AZ_VENV) reports/*.xml reports/*.html reports/*.md reports/*.json reports/pages
