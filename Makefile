# Realtime incident notification stack: build, test, plan and run it locally.
# `make` (or `make help`) lists every target.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
ENV ?= dev

# ---------------------------------------------------------------------------
# Terraform provider source
# ---------------------------------------------------------------------------
# Online, terraform installs hashicorp/aws from the registry as usual. Offline,
# set TF_PLUGIN_DIR to a provider mirror (a directory holding
# registry.terraform.io/hashicorp/aws/<version>/<os_arch>/) and every terraform
# call made through this Makefile, the tests included, installs from it.
TF_PLUGIN_DIR ?=
TF_CLI_RC := $(CURDIR)/.cache/terraform.rc
ifneq ($(strip $(TF_PLUGIN_DIR)),)
export TF_CLI_CONFIG_FILE := $(TF_CLI_RC)
TF_RC_DEP := $(TF_CLI_RC)
else
TF_RC_DEP :=
endif
export TF_IN_AUTOMATION := 1
export TF_INPUT := 0

.PHONY: help
help: ## List the targets with a one-line description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---------------------------------------------------------------------------
# Set-up
# ---------------------------------------------------------------------------
.PHONY: setup
setup: $(VENV_STAMP) $(TF_RC_DEP) ## Create the virtual environment with the pinned dev dependencies

$(VENV_STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

.PHONY: FORCE
FORCE:

# Checked on every run (FORCE); rewritten (atomically: parallel makes share it) and announced
# only when TF_PLUGIN_DIR changed.
$(TF_CLI_RC): FORCE
	@mkdir -p $(dir $@)
	@tmp=$@.$$$$; printf '%s\n' \
	  'provider_installation {' \
	  '  filesystem_mirror {' \
	  '    path    = "$(TF_PLUGIN_DIR)"' \
	  '    include = ["registry.terraform.io/*/*"]' \
	  '  }' \
	  '  direct {' \
	  '    exclude = ["registry.terraform.io/*/*"]' \
	  '  }' \
	  '}' > "$$tmp"; \
	if cmp -s "$$tmp" $@; then rm "$$tmp"; else mv "$$tmp" $@; \
	  echo "terraform: installing providers from $(TF_PLUGIN_DIR) ($@)" >&2; fi

# ---------------------------------------------------------------------------
# Python: lint, format, build
# ---------------------------------------------------------------------------
.PHONY: lint
lint: setup actionlint ## Lint Python (ruff), check formatting and types (mypy --strict); actionlint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

.PHONY: fmt
fmt: setup ## Format Python (ruff) and Terraform (terraform fmt)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	$(TF) fmt -recursive

# Lambda platform the zips are built for; keep in step with the Terraform variables
# lambda_architecture / lambda_runtime. The zips carry bytecode compiled by that Python
# (tools/build/bytecode.py: Pyodide's CPython through node/npm, or python3.X on PATH);
# LAMBDA_BYTECODE=0 in the environment builds without it.
LAMBDA_ARCH ?= x86_64
LAMBDA_PYTHON ?= 3.12

.PHONY: build
build: setup ## Build the Lambda zips into build/ (reproducible, with .pyc; LAMBDA_ARCH, LAMBDA_PYTHON)
	$(PY) -m tools.build --arch $(LAMBDA_ARCH) --python $(LAMBDA_PYTHON)

# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------
.PHONY: test
test: setup lint tftest checkov ## Run every test suite (lint, unit, handler, terraform, e2e)
	$(PY) -m pytest

.PHONY: test-unit
test-unit: setup ## Fast Python suites: unit (handlers' logic, local-stack tooling), handler (moto), fan-out, packaging
	$(PY) -m pytest -m "unit or handler or fanout or packaging"

.PHONY: bench-fanout
bench-fanout: setup ## Print broadcaster fan-out throughput against the fake management API
	$(PY) scripts/bench_fanout.py

# ---------------------------------------------------------------------------
# Terraform: environments, checks and tests
# ---------------------------------------------------------------------------
# ENV=<env> picks envs/<env>.tfvars and envs/<env>.s3.tfbackend; each environment
# keeps its own working directory (TF_DATA_DIR=.terraform/<env>) so backends and
# plans never mix. `make plan` saves the plan that `make apply` then applies.
TF ?= terraform
TF_ENV_DIR = .terraform/$(ENV)
TF_PLAN = $(TF_ENV_DIR)/plan.tfplan
# Backend-less working directory for validate and terraform test (offline).
TF_CHECK_DIR := .terraform/check
CONFIRM ?=
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: init
init: $(TF_RC_DEP) ## terraform init for ENV with the backend of envs/<env>.s3.tfbackend
	@[[ -f envs/$(ENV).tfvars && -f envs/$(ENV).s3.tfbackend ]] || { echo "unknown ENV=$(ENV): envs/$(ENV).tfvars and envs/$(ENV).s3.tfbackend must exist" >&2; exit 2; }
	TF_DATA_DIR=$(TF_ENV_DIR) $(TF) init -input=false -backend-config=envs/$(ENV).s3.tfbackend

.PHONY: plan
plan: build init ## Plan ENV with envs/<env>.tfvars into .terraform/<env>/plan.tfplan
	TF_DATA_DIR=$(TF_ENV_DIR) $(TF) plan -input=false -var-file=envs/$(ENV).tfvars -out=$(TF_PLAN)

.PHONY: apply
apply: init ## Apply the plan `make plan ENV=...` saved (review it first)
	@[[ -f $(TF_PLAN) ]] || { echo "no saved plan for ENV=$(ENV): run 'make plan ENV=$(ENV)' and review it first" >&2; exit 2; }
	TF_DATA_DIR=$(TF_ENV_DIR) $(TF) apply -input=false $(TF_PLAN)
	rm -f $(TF_PLAN)

.PHONY: destroy
destroy: build init ## Destroy ENV (asks for CONFIRM=<env>)
	@[[ "$(CONFIRM)" == "$(ENV)" ]] || { echo "this destroys every resource of ENV=$(ENV); run again with CONFIRM=$(ENV)" >&2; exit 2; }
	TF_DATA_DIR=$(TF_ENV_DIR) $(TF) destroy -input=false -auto-approve -var-file=envs/$(ENV).tfvars

.PHONY: providers-lock
providers-lock: ## Online: record provider hashes for Linux, macOS and Windows in .terraform.lock.hcl
	TF_DATA_DIR=$(TF_CHECK_DIR) $(TF) providers lock -platform=linux_amd64 -platform=linux_arm64 -platform=darwin_amd64 -platform=darwin_arm64 -platform=windows_amd64

.PHONY: validate
validate: setup $(TF_RC_DEP) ## terraform fmt -check, terraform validate (offline) and module READMEs up to date
	$(TF) fmt -check -recursive -diff
	TF_DATA_DIR=$(TF_CHECK_DIR) $(TF) init -input=false -backend=false -test-directory=tests/tftest > /dev/null
	TF_DATA_DIR=$(TF_CHECK_DIR) $(TF) validate
	$(PY) scripts/tf_docs.py --check

.PHONY: module-docs
module-docs: setup ## Rewrite the Inputs/Outputs tables of modules/*/README.md
	$(PY) scripts/tf_docs.py

.PHONY: tftest
tftest: build validate ## terraform test: module wiring and every validation rule, mocked AWS (tests/tftest)
	TF_DATA_DIR=$(TF_CHECK_DIR) $(TF) test -test-directory=tests/tftest

.PHONY: test-terraform
test-terraform: setup $(TF_RC_DEP) ## Apply the root module on a private emulator and check it (pytest -m terraform)
	$(PY) -m pytest -m terraform tests/terraform

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

.PHONY: checkov
checkov: $(CHECKOV_STAMP) ## checkov on the Terraform (own venv; skips are inline, with reasons)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

# ---------------------------------------------------------------------------
# Local stack: the whole stack on the embedded emulator (scripts/devstack.py)
# ---------------------------------------------------------------------------
# EMULATOR_PORT=<n> picks the emulator's port on 127.0.0.1 (default 4566); its pid
# and log, and the record of what `up` created, live in .local/ (LOCAL_STATE_DIR).
DEVSTACK := $(PY) scripts/devstack.py

.PHONY: up
up: build ## Bring the whole stack up locally (emulator, demo Incidents table, terraform apply)
	$(DEVSTACK) up --no-build

.PHONY: down
down: setup ## Destroy and stop what `make up` started, nothing else
	$(DEVSTACK) down

.PHONY: status
status: setup ## Show whether the local stack is up, with its endpoints
	@$(DEVSTACK) status

.PHONY: listen
listen: setup ## Print every WebSocket message as it arrives (USER=alice ROLE=dispatcher)
	@$(DEVSTACK) listen --user "$${USER:-local-user}" --role "$${ROLE:-viewer}"

.PHONY: incident
incident: setup ## Create or update an incident (ID=INC-1 URGENCY=high STATUS=open TITLE='...')
	@[[ -n "$${ID:-}" ]] || { echo "usage: make incident ID=INC-1 [URGENCY=low|medium|high|critical] [STATUS=...] [TITLE='...']" >&2; exit 2; }
	@$(DEVSTACK) incident --id "$$ID" --urgency "$${URGENCY:-}" --status "$${STATUS:-}" --title "$${TITLE:-}"

.PHONY: alerts
alerts: setup ## Show (and consume) the alerts the Notifier published to the local queue
	@$(DEVSTACK) alerts

.PHONY: invoke
invoke: setup ## Invoke a deployed function (FUNCTION=notifier EVENT=events/stream-insert.json)
	@[[ -n "$${FUNCTION:-}" && -n "$${EVENT:-}" ]] || { echo "usage: make invoke FUNCTION=connect|disconnect|broadcaster|notifier EVENT=events/<file>.json" >&2; exit 2; }
	@$(DEVSTACK) invoke --function "$$FUNCTION" --event "$$EVENT"

.PHONY: test-e2e
test-e2e: setup ## End-to-end tests over a real WebSocket (brings the local stack up if needed)
	$(PY) -m pytest -m e2e tests/e2e

E2E_BENCH_N ?= 200
.PHONY: bench-e2e
bench-e2e: setup ## PutItem -> message-at-client latency on the local stack (E2E_BENCH_N=200)
	E2E_BENCH_N=$(E2E_BENCH_N) $(PY) -m pytest -m e2e tests/e2e -k latency

# ---------------------------------------------------------------------------
# Plan previews and CI workflows
# ---------------------------------------------------------------------------
# `make plan-preview ENV=<env>` prints the Markdown comment a pull request gets for ENV: for
# local, a plan of the stack `make up` runs (scripts/plan_preview_local.py); for any other env,
# the plan `make plan ENV=<env>` saves, which `make apply ENV=<env>` then applies as previewed.
# PLAN_JSON=<file> [PLAN_TEXT=<file>] renders any saved `terraform show -json` output (.gz too).
# Terraform's and make's own output go to stderr: stdout is the comment alone.
PLAN_JSON ?=
PLAN_TEXT ?=

.PHONY: plan-preview
plan-preview: setup $(TF_RC_DEP) ## Print ENV's plan as the PR comment Markdown (or render PLAN_JSON=file [PLAN_TEXT=file])
ifneq ($(strip $(PLAN_JSON)),)
	@$(PY) scripts/plan_preview.py "$(PLAN_JSON)" $(if $(strip $(PLAN_TEXT)),--text "$(PLAN_TEXT)") --env "$(ENV)"
else ifeq ($(ENV),local)
	@$(PY) scripts/plan_preview_local.py
else
	@$(MAKE) --no-print-directory plan ENV=$(ENV) >&2
	@TF_DATA_DIR=$(TF_ENV_DIR) $(TF) show -json $(TF_PLAN) > $(TF_ENV_DIR)/plan.json
	@TF_DATA_DIR=$(TF_ENV_DIR) $(TF) show -no-color $(TF_PLAN) > $(TF_ENV_DIR)/plan.txt
	@$(PY) scripts/plan_preview.py $(TF_ENV_DIR)/plan.json --text $(TF_ENV_DIR)/plan.txt --env "$(ENV)"
endif

.PHONY: actionlint
actionlint: setup ## Lint the GitHub workflows (actionlint, shellcheck on run: steps)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/actionlint

.PHONY: test-preview
test-preview: setup ## Plan preview renderer and workflow tests (recorded plans of this stack)
	$(PY) -m pytest -m preview tests/preview

.PHONY: preview-fixtures
preview-fixtures: build $(TF_RC_DEP) ## Re-record the plan preview fixtures from real plans on a private emulator
	$(PY) tests/preview/regen_fixtures.py

.PHONY: clean
clean: ## Remove build output and caches (not the virtual environment)
	rm -rf build .pytest_cache .ruff_cache .mypy_cache
