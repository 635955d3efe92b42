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
OPEN ?=

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

# pip's output goes to a log (shown on failure), like every step of `make up`.
LOCAL_STATE_DIR ?= .local
SETUP_LOG = $(LOCAL_STATE_DIR)/logs/setup-pip.log

$(VENV_STAMP): requirements-dev.txt
	@echo "setup: creating $(VENV) with the pinned dev dependencies (pip's output: $(SETUP_LOG))" >&2
	@mkdir -p $(dir $(SETUP_LOG))
	@{ $(PYTHON) -m venv $(VENV) && $(PY) -m pip install --upgrade pip \
	  && $(PY) -m pip install -r requirements-dev.txt; } > $(SETUP_LOG) 2>&1 \
	  || { echo "setup: pip failed; the end of $(SETUP_LOG):" >&2; tail -n 20 $(SETUP_LOG) >&2; exit 1; }
	@touch $@

.PHONY: FORCE
FORCE:

# Checked on every run (FORCE); rewritten (atomically: parallel makes share it) and announced
# only when TF_PLUGIN_DIR changed. tools/terraform_rc.py owns its content (the tools write the same
# file when run without make); it needs only the standard library, so $(PYTHON), not the venv.
$(TF_CLI_RC): FORCE
	@$(PYTHON) -m tools.terraform_rc "$(TF_PLUGIN_DIR)" --out $@

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
# `make test` runs its phases in two lanes side by side (make -j2), because one lane alone left a
# core idle: the emulator suites wait on terraform's and the emulator's polling while the checks
# are CPU-bound.
#   checks:    1 lint > 2 terraform test > 3 checkov > 4 JS client > 5 fast pytest > 6 browser
#   emulators: 7 pytest -m terraform > 8 pytest -m e2e
# Each phase says when it starts; its output follows in one block when it ends (--output-sync, so
# the lanes never interleave lines), closed by its result and time; the run ends with every
# phase's time. A failing phase fails the run, once the other lane's running phase has ended.
# It took 8 min 28 s on a 2-core machine from a fresh clone, venvs included (measured; 15 min 47 s
# one phase after the other, in the same conditions); each phase is also a target of its own.
ifndef TEST_START
TEST_START := $(shell date +%s)
endif
TEST_TIMES = $(LOCAL_STATE_DIR)/logs/make-test-phases.txt
test_elapsed = $$(( $$(date +%s) - $(TEST_START) ))
# $(call test_started,<title>): its own target, so --output-sync prints it at once.
test_started = @printf '==> make test [%s s elapsed] %s: started\n' "$(test_elapsed)" "$(1)"
# $(call test_run,<title>,<command>): the banner, the command, its result and time.
define test_run
@printf '\n==> make test %s\n' "$(1)"; began=$$(date +%s); \
if $(2); then result=passed; else result=FAILED; fi; \
line=$$(printf '%s: %s in %s s (ended at %s s)' "$(1)" "$$result" "$$(( $$(date +%s) - began ))" "$(test_elapsed)"); \
echo "<== make test $$line"; echo "$$line" >> $(TEST_TIMES); [[ $$result == passed ]]
endef

T1 := 1/8 lint: ruff and formatting; actionlint on the workflows
T2 := 2/8 terraform validate and terraform test: wiring and validation rules (mocked AWS)
T3 := 3/8 checkov on the Terraform
T4 := 4/8 JS client library: node --test clients/js
T5 := 5/8 pytest: unit / handler (moto) / fan-out / packaging / plan preview
T6 := 6/8 pytest: the board in headless Chromium against a fake API
T7 := 7/8 pytest: terraform apply on a private emulator
T8 := 8/8 pytest: end to end on the local stack (brings it up first)

.PHONY: test
test: setup setup-browser ## Run every suite, in two lanes side by side, a banner per phase (about 9 min on 2 cores)
	@echo "make test: two lanes side by side, (1) lint, terraform test, checkov, JS client, the fast and browser pytest suites and (2) the emulator pytest suites; about 9 minutes on a 2-core machine" >&2
	@mkdir -p $(dir $(TEST_TIMES)) && : > $(TEST_TIMES)
	@$(MAKE) --no-print-directory -j2 --output-sync=recurse TEST_START=$(TEST_START) test-lanes
	@sort -n $(TEST_TIMES) | sed 's/^/  /' >&2
	@echo "make test: every phase passed in $$(( $$(date +%s) - $(TEST_START) )) s" >&2

# The phases, for `make test` only: each one's .start waits for the phase before it in its lane.
.PHONY: test-lanes test/lint test/tftest test/checkov test/js test/fast test/browser test/terraform test/e2e
.PHONY: test/lint.start test/tftest.start test/checkov.start test/js.start test/fast.start
.PHONY: test/browser.start test/terraform.start test/e2e.start
test-lanes: test/browser test/e2e
test/lint.start:                        ; $(call test_started,$(T1))
test/lint: test/lint.start              ; $(call test_run,$(T1),$(MAKE) --no-print-directory lint)
test/tftest.start: test/lint            ; $(call test_started,$(T2))
test/tftest: test/tftest.start          ; $(call test_run,$(T2),$(MAKE) --no-print-directory tftest)
test/checkov.start: test/tftest         ; $(call test_started,$(T3))
test/checkov: test/checkov.start        ; $(call test_run,$(T3),$(MAKE) --no-print-directory checkov)
test/js.start: test/checkov             ; $(call test_started,$(T4))
test/js: test/js.start                  ; $(call test_run,$(T4),$(MAKE) --no-print-directory test-js)
test/fast.start: test/js                ; $(call test_started,$(T5))
test/fast: test/fast.start              ; $(call test_run,$(T5),$(PY) -m pytest -m "unit or handler or fanout or packaging or preview")
test/browser.start: test/fast           ; $(call test_started,$(T6))
test/browser: test/browser.start        ; $(call test_run,$(T6),$(PY) -m pytest -m browser)
test/terraform.start:                   ; $(call test_started,$(T7))
test/terraform: test/terraform.start    ; $(call test_run,$(T7),$(PY) -m pytest -m terraform)
test/e2e.start: test/terraform          ; $(call test_started,$(T8))
test/e2e: test/e2e.start                ; $(call test_run,$(T8),$(PY) -m pytest -m e2e)

.PHONY: test-unit
test-unit: setup ## Fast Python suites: unit (handlers' logic, local-stack tooling), handler (moto), fan-out, packaging
	$(PY) -m pytest -m "unit or handler or fanout or packaging"

# ---------------------------------------------------------------------------
# Browser client (clients/js) and live incident board (clients/board)
# ---------------------------------------------------------------------------
# Debian's Chromium and its WebDriver, for the board's real-browser tests (tests/browser). A
# Chromium already on PATH (chromium, chromium-browser or google-chrome, as on CI runner images)
# with its chromedriver, or CHROMIUM_BIN and CHROMEDRIVER_BIN, is used as it is.
BROWSER_PACKAGES := chromium chromium-driver

.PHONY: setup-browser
setup-browser: ## Install Chromium and chromedriver from the OS packages when missing (apt; root or sudo)
	@[[ -x "$${CHROMIUM_BIN:-}" && -x "$${CHROMEDRIVER_BIN:-}" ]] && exit 0; \
	if command -v chromedriver >/dev/null; then \
	  for b in chromium chromium-browser google-chrome; do command -v $$b >/dev/null && exit 0; done; fi; \
	what="Chromium and chromedriver are missing: install the OS packages '$(BROWSER_PACKAGES)' (Debian: apt-get install -y $(BROWSER_PACKAGES)), or set CHROMIUM_BIN and CHROMEDRIVER_BIN to a Chromium and the chromedriver of the same version"; \
	if [[ $$(id -u) -eq 0 ]]; then as_root=; elif sudo -n true 2>/dev/null; then as_root=sudo; \
	else echo "setup-browser: $$what (as root); then run make again" >&2; exit 1; fi; \
	command -v apt-get >/dev/null || { echo "setup-browser: no apt-get here. $$what" >&2; exit 1; }; \
	echo "setup-browser: apt-get install $(BROWSER_PACKAGES)" >&2; \
	{ $$as_root apt-get update -qq && $$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; } \
	  || { echo "setup-browser: apt-get failed. $$what" >&2; exit 1; }

.PHONY: test-js
test-js: ## Browser client library tests (node --test clients/js; Node 20+, no npm packages)
	node --test clients/js

.PHONY: test-browser
test-browser: setup setup-browser ## The live incident board in headless Chromium against a fake WebSocket API (pytest -m browser)
	$(PY) -m pytest -m browser tests/browser

.PHONY: board-screenshot
board-screenshot: setup setup-browser ## Re-take docs/images/board.png (the README's picture of the board)
	BOARD_SCREENSHOT=docs/images/board.png $(PY) -m pytest -m browser tests/browser -k screenshot


# ---------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------
# BENCH_ARGS=--quick for a smoke run (docs/benchmarks/fanout-quick.md), --only NAME... for some.
BENCH_ARGS ?=
.PHONY: bench
bench: setup ## Fan-out and sync-storm benchmarks, ours vs naive side by side; docs/benchmarks/fanout.md, sync.md
	PYTHONPATH=functions:. $(PY) -m tools.bench $(BENCH_ARGS)
	PYTHONPATH=functions:. $(PY) -m tools.bench.storm $(STORM_ARGS)

# STORM_ARGS=--clients 400 --naive-clients 40 for a smoke run (the default: 5,000 clients).
STORM_ARGS ?=
.PHONY: bench-sync
bench-sync: setup ## Sync reconnect storm alone: 5,000 full syncs of 1,000 incidents, ours vs naive; docs/benchmarks/sync.md
	PYTHONPATH=functions:. $(PY) -m tools.bench.storm $(STORM_ARGS)

PY_SPY ?= py-spy
PROFILE_ARGS ?=
.PHONY: bench-profile
bench-profile: setup ## Where a post's CPU goes: the warm fan-out under py-spy (pip install py-spy; PY_SPY=path; PROFILE_ARGS=--https)
	@command -v $(PY_SPY) >/dev/null || { echo "bench-profile needs py-spy: pip install py-spy (any environment), or PY_SPY=/path/to/py-spy" >&2; exit 2; }
	PYTHONPATH=functions:. $(PY_SPY) record -r 1000 -f raw -o .cache/fanout-profile.txt -- $(PY) -m tools.bench.profile run $(PROFILE_ARGS)
	PYTHONPATH=functions:. $(PY) -m tools.bench.profile summarize .cache/fanout-profile.txt

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
validate: setup $(TF_RC_DEP) ## terraform fmt -check and terraform validate (offline)
	$(TF) fmt -check -recursive -diff
	TF_DATA_DIR=$(TF_CHECK_DIR) $(TF) init -input=false -backend=false -test-directory=tests/tftest > /dev/null
	TF_DATA_DIR=$(TF_CHECK_DIR) $(TF) validate

# The terraform test directories: the root module's (tests/tftest, its common variables in
# terraform.tfvars there) and the child modules' (tests/tftest-modules: run blocks with
# module { source }, which take only their own variables). Each has its own working
# directory, since terraform init installs the run blocks' modules of one test directory.
TFTEST_DIRS := tests/tftest tests/tftest-modules

.PHONY: tftest
tftest: build validate ## terraform test: module wiring and every validation rule, mocked AWS (the TFTEST_DIRS)
	for dir in $(TFTEST_DIRS); do \
	  TF_DATA_DIR=$(TF_CHECK_DIR)-$$(basename $$dir) $(TF) init -input=false -backend=false -test-directory=$$dir > /dev/null; \
	  TF_DATA_DIR=$(TF_CHECK_DIR)-$$(basename $$dir) $(TF) test -test-directory=$$dir; \
	done

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
# Local stack: the whole stack on the embedded emulator (python -m tools.localenv)
# ---------------------------------------------------------------------------
# EMULATOR_PORT=<n> picks the emulator's port on 127.0.0.1 (default 4566), BOARD_PORT=<n> the
# board's (default 4580, else a free one); their pids and logs, the record of what `up` created
# and the full output of each step of `up` (logs/up-<step>.log) live in .local/ (LOCAL_STATE_DIR).
LOCALENV := $(PY) -m tools.localenv

.PHONY: up
up: setup $(TF_RC_DEP) ## Bring the whole stack up locally and serve the live board (emulator, terraform apply)
	@$(LOCALENV) up --arch $(LAMBDA_ARCH) --python $(LAMBDA_PYTHON)

.PHONY: board
board: setup ## Print the URL of the live incident board `make up` serves (OPEN=1 opens it)
	@$(LOCALENV) board $(if $(filter 1 yes true,$(OPEN)),--open)

.PHONY: down
down: setup ## Destroy and stop what `make up` started (the board's server too), nothing else
	@$(LOCALENV) down

.PHONY: status
status: setup ## Show whether the local stack is up, with its endpoints
	@$(LOCALENV) status

.PHONY: listen
listen: setup ## Print every WebSocket message as it arrives, syncing on open and after each reconnect (USER=alice ROLE=dispatcher AREAS=north,harbour FILTER='{"area":["north"]}')
	@$(LOCALENV) listen --user "$${USER:-local-user}" --role "$${ROLE:-viewer}" --areas "$${AREAS:-}" --filter "$${FILTER:-}"

TTL ?= 3600
.PHONY: token
token: setup ## Print a JWT the local stack's $connect authorizer accepts (USER=alice ROLE=viewer TTL=3600 AREAS=north,harbour)
	@$(LOCALENV) token --user "$${USER:-local-user}" --role "$${ROLE:-viewer}" --ttl "$(TTL)" --areas "$${AREAS:-}"

.PHONY: incident
incident: setup ## Create or update an incident (ID=INC-1 URGENCY=high STATUS=open TITLE='...')
	@[[ -n "$${ID:-}" ]] || { echo "usage: make incident ID=INC-1 [URGENCY=low|medium|high|critical] [STATUS=...] [TITLE='...']" >&2; exit 2; }
	@$(LOCALENV) incident --id "$$ID" --urgency "$${URGENCY:-}" --status "$${STATUS:-}" --title "$${TITLE:-}"

.PHONY: alerts
alerts: setup ## Show (and consume) the alerts the Notifier published to the local queue
	@$(LOCALENV) alerts

.PHONY: invoke
invoke: setup ## Invoke a deployed function (FUNCTION=notifier EVENT=events/stream-insert.json)
	@[[ -n "$${FUNCTION:-}" && -n "$${EVENT:-}" ]] || { echo "usage: make invoke FUNCTION=authorizer|connect|disconnect|broadcaster|notifier EVENT=events/<file>.json" >&2; exit 2; }
	@$(LOCALENV) invoke --function "$$FUNCTION" --event "$$EVENT"

.PHONY: test-e2e
test-e2e: setup ## End-to-end tests over a real WebSocket (brings the local stack up if needed)
	$(PY) -m pytest -m e2e tests/e2e

E2E_BENCH_N ?= 200
.PHONY: bench-e2e
bench-e2e: setup ## PutItem -> message-at-client latency on the local stack (E2E_BENCH_N=200)
	E2E_BENCH_N=$(E2E_BENCH_N) $(PY) -m pytest -m e2e tests/e2e -k latency

# ---------------------------------------------------------------------------
# Operations (docs/operations.md)
# ---------------------------------------------------------------------------
FUNCTION ?=
DRY_RUN ?=
TABLE ?=

.PHONY: backfill
backfill: setup $(if $(filter local,$(ENV)),,init) ## Fill ENV's state table from the Incidents table where it has no state (TABLE=name DRY_RUN=1); after the stream is bound
	PYTHONPATH=functions:. $(PY) -m tools.backfill --env $(ENV) $(if $(strip $(TABLE)),--table $(TABLE)) $(if $(strip $(DRY_RUN)),--dry-run)

.PHONY: redrive
redrive: setup init ## Replay ENV's dead-lettered stream records (FUNCTION=broadcaster|notifier DRY_RUN=1)
	$(PY) -m tools.redrive --env $(ENV) $(if $(strip $(FUNCTION)),--function $(FUNCTION)) $(if $(strip $(DRY_RUN)),--dry-run)

# ---------------------------------------------------------------------------
# Plan previews and CI workflows
# ---------------------------------------------------------------------------
# `make plan-preview ENV=<env>` prints the Markdown comment a pull request gets for ENV: for
# local, a plan of the stack `make up` runs (tools/plan_preview/local.py); for any other env,
# the CI workflow's own plan-and-render step (tools/plan_preview/ci.py) saves the plan where
# `make plan ENV=<env>` does, so `make apply ENV=<env>` then applies it as previewed.
# PLAN_JSON=<file> [PLAN_TEXT=<file>] renders any saved `terraform show -json` output (.gz too).
# Terraform's and make's own output go to stderr: stdout is the comment alone.
PLAN_JSON ?=
PLAN_TEXT ?=

.PHONY: plan-preview
plan-preview: setup $(TF_RC_DEP) ## Print ENV's plan as the PR comment Markdown (or render PLAN_JSON=file [PLAN_TEXT=file])
ifneq ($(strip $(PLAN_JSON)),)
	@$(PY) -m tools.plan_preview "$(PLAN_JSON)" $(if $(strip $(PLAN_TEXT)),--text "$(PLAN_TEXT)") --env "$(ENV)"
else ifeq ($(ENV),local)
	@$(PY) -m tools.plan_preview.local
else
	@$(MAKE) --no-print-directory build init ENV=$(ENV) >&2
	@TF_DATA_DIR=$(TF_ENV_DIR) $(PY) -m tools.plan_preview.ci --env "$(ENV)" --plan-file $(TF_PLAN) --terraform "$(TF)"
endif

.PHONY: actionlint
actionlint: setup ## Lint the GitHub workflows (actionlint, shellcheck on run: steps)
	# Explicit files: without them actionlint looks for a git checkout, and a source archive has none.
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/actionlint .github/workflows/*.yml

.PHONY: test-preview
test-preview: setup ## Plan preview renderer and workflow tests (recorded plans of this stack)
	$(PY) -m pytest -m preview tests/preview

.PHONY: preview-fixtures
preview-fixtures: build $(TF_RC_DEP) ## Re-record the plan preview fixtures from real plans on a private emulator
	$(PY) -m tools.plan_preview.record

.PHONY: clean
clean: ## Remove build output and caches (not the virtual environments)
	rm -rf build .pytest_cache .ruff_cache .mypy_cache

# Everything `make` generates: the virtual environments (~600 MB), terraform working dirs (plans
# and provider copies; never a remote state), the local stack's files, caches and build output.
# Refuses while the local stack runs: its emulator keeps its data in .local/.
.PHONY: distclean
distclean: clean ## Remove everything generated (venvs, .terraform/, .local/, .cache/); make down first
	@pid=$$(cat .local/ministack.pid 2>/dev/null || true); \
	if [[ -n "$$pid" ]] && kill -0 "$$pid" 2>/dev/null; then \
	  echo "the local stack is running (emulator pid $$pid): run 'make down' first" >&2; exit 2; fi
	rm -rf .venv .venv-checkov .venv-emulator .terraform .local .cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
