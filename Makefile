# Glueflow. `make synth` and `make test` work on a fresh clone: each installs what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(abspath $(VENV)/bin)
# The MWAA Airflow version is one value (mwaa/AIRFLOW_VERSION); its package list, read from the
# MWAA image's bill of materials, is mwaa/packages/airflow-<version>.txt.
AIRFLOW_VERSION := $(strip $(file < mwaa/AIRFLOW_VERSION))
CONSTRAINTS ?= mwaa/packages/airflow-$(AIRFLOW_VERSION).txt
# A version is supported when its package list is in mwaa/packages/ (and the suite passes on it).
SUPPORTED_AIRFLOW := $(patsubst mwaa/packages/airflow-%.txt,%,$(wildcard mwaa/packages/airflow-*.txt))
ENV ?= dev
JOBS_DIR ?=
STAMP := $(VENV)/.installed
SPARK4 := $(VENV)/spark/4.1

# The venv comes first, so its Node (when the system one is too old) and its Python are the ones
# jsii and the cdk CLI use. Everything runs offline and without AWS credentials.
export PATH := $(BIN):$(abspath node_modules/.bin):$(PATH)
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true
export PYTHONDONTWRITEBYTECODE := 1

# The CLI from node_modules directly: through npx, each call paid about 0.9 s more to start.
CDK := $(abspath node_modules/.bin/cdk)
# Where make synth writes the cloud assembly.
OUT ?= cdk.out
CDK_CONTEXT := -c env=$(ENV) $(if $(JOBS_DIR),-c jobs_dir=$(JOBS_DIR))
# Every stack of the environment: the app puts them in a CDK Stage whose id is ENV, so a plain
# `--all` selects none of them ("No stack found in the main cloud assembly").
STACKS := $(ENV)/*
# deploy and diff act on this assembly. Empty: synthesize ENV into OUT (cdk.out) first. A path: use
# that assembly as it is, as a pipeline deploys the artifact it reviewed.
ASSEMBLY ?=
TARGET_ASSEMBLY := $(or $(ASSEMBLY),$(OUT))
# The local run (make demo, make run-local): the Airflow API's port (0: any free one) and
# where its outputs, logs and summary go.
PORT ?= 0
LOCAL_DIR ?= build/local/$(ENV)
LOCAL := $(BIN)/python -m glueflow_local --assembly $(TARGET_ASSEMBLY) --env $(ENV) \
	--workdir $(LOCAL_DIR) --port $(PORT)

.PHONY: help install airflow-version synth test test-fast lint actionlint format validate schema new-job try try-args synth-if-changed stop-local bench stacks diff deploy clean \
	demo run-local run-local-args review redrive replay scenario scenario-args query query-args \
	source-args source-policy deploy-source

help: ## List the targets (variables: ENV=dev, JOBS_DIR=path, ASSEMBLY=path, NAME=job)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'
	@echo ""
	@echo "  ENV=name       environment, configs/environments/<name>.yaml (default dev)"
	@echo "  JOBS_DIR=path  read jobs from another folder (default configs/jobs)"
	@echo "  ASSEMBLY=path  diff/deploy an already synthesized cloud assembly"
	@echo "  OUT=path       where make synth writes the cloud assembly (default cdk.out)"
	@echo "  NAME=job       the job make new-job scaffolds"
	@echo "  SOURCE=key     the external bucket make source-policy and make deploy-source act on"
	@echo "  SYNTH_ONLY=1   make deploy-source synthesizes into SOURCE_OUT (cdk.out-source) only"
	@echo "  JOB=, FILE=    the job and file make run-local runs; FILE= the scenario (or folder) make scenario runs"
	@echo "  PORT=n         the local Airflow API's port (default 0: any free port)"
	@echo "  BASE=ref       what make review compares with (default origin/main); FORMAT=markdown, FAIL_ON=destructive,access,network"

install: $(STAMP) ## Build .venv (Python deps under MWAA's constraints, Node 22+ if needed, aws-cdk CLI)

$(STAMP): requirements.txt requirements-dev.txt requirements-spark4.txt requirements-node.txt mwaa/plugins.txt package.json package-lock.json $(wildcard $(CONSTRAINTS)) | airflow-version
	@test -n "$(PYTHON)" || { echo "error: python3.11 not found" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c "$(CONSTRAINTS)" -r requirements-dev.txt
	@# The wheels MWAA lacks (mwaa/plugins.txt, by hash): into the venv for the local runs, and
	@# as files for synth to put in plugins.zip.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r mwaa/plugins.txt
	rm -rf $(VENV)/mwaa-plugins
	$(BIN)/pip download --quiet --disable-pip-version-check --no-deps --require-hashes --only-binary=:all: -d $(VENV)/mwaa-plugins -r mwaa/plugins.txt
	@# Glue 6.x jobs run locally on Spark 4.1: its own tree, first on PYTHONPATH for those runs
	@# (glueflow_local/spark.py). Replaced whole, so a changed pin leaves nothing stale.
	rm -rf $(SPARK4)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile --target $(SPARK4) -r requirements-spark4.txt
	@if ! node -e 'process.exit(+process.versions.node.split(".")[0] < 22)' 2>/dev/null; then \
		echo "system Node is missing or older than 22: installing Node from PyPI into $(VENV)"; \
		$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-node.txt; \
	fi
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Runs before every install, even when the venv is up to date, so a changed value is caught.
airflow-version:
	@test -f "$(CONSTRAINTS)" || { echo "error: mwaa/AIRFLOW_VERSION is '$(AIRFLOW_VERSION)', which Glueflow does not support; supported: $(SUPPORTED_AIRFLOW)" >&2; exit 1; }

synth: $(STAMP) ## Validate configs, synthesize ENV (default dev) into OUT (cdk.out), print the summary
	@$(BIN)/python -m configs validate --env $(ENV) $(if $(JOBS_DIR),--jobs-dir $(JOBS_DIR))
	@# With --quiet and several stacks, the CLI ends with "Supply a stack id (...) to display
	@# its template.", meant for an interactive synth; it is dropped, the exit status kept.
	@echo "cdk synth $(CDK_CONTEXT) --quiet$(if $(filter-out cdk.out,$(OUT)), --output $(OUT))"
	@set -o pipefail; $(CDK) synth $(CDK_CONTEXT) --quiet --output $(OUT) 2>&1 | sed '/^Supply a stack id (/d'
	@$(BIN)/python -m stacks.summary --assembly $(OUT) --env $(ENV)
	@$(BIN)/python -m glueflow_local.synth_cache --assembly $(OUT) --env $(ENV) $(if $(JOBS_DIR),--jobs-dir $(JOBS_DIR)) record

# The synth, only when something it reads changed since the last one of ENV into OUT
# (glueflow_local/synth_cache.py): what run-local, scenario and demo start from. Decided when
# make reads this file, and only for those goals, so that no second make runs (a sub-make
# would not get the caller's -o flags).
ifneq ($(filter run-local scenario demo synth-if-changed,$(MAKECMDGOALS)),)
SYNTH_CURRENT := $(shell $(BIN)/python -m glueflow_local.synth_cache --assembly $(OUT) --env $(ENV) $(if $(JOBS_DIR),--jobs-dir $(JOBS_DIR)) check 2>/dev/null)
endif
synth-if-changed: $(if $(SYNTH_CURRENT),,synth)
	@$(if $(SYNTH_CURRENT),echo "$(SYNTH_CURRENT)",:)

test: $(STAMP) lint ## Lint, validate the example configs, run every test
	$(BIN)/python -m configs validate
	$(BIN)/python -m configs schema --check
	$(BIN)/pytest

# The edit loop: what `make test` runs less the tests marked slow (pyproject.toml's markers:
# the big synths and the apps a test synthesizes for itself, the cdk CLI and make, Airflow's
# processes and DAG runs, Spark, clones, the end-to-end run). `make test` and CI still run
# everything.
test-fast: $(STAMP) lint ## Lint, validate the configs, run the tests not marked slow (under a minute)
	$(BIN)/python -m configs validate
	$(BIN)/pytest -m "not slow"

lint: $(STAMP) ## ruff lint and format check; zizmor (and actionlint, once installed) on the workflows
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/zizmor --offline --no-progress .github/workflows
	@if [ -x $(BIN)/actionlint ]; then echo "$(BIN)/actionlint"; $(BIN)/actionlint; \
	else echo "actionlint: not installed, skipped (make actionlint installs it where GitHub is reachable)"; fi

actionlint: $(STAMP) ## Install actionlint into .venv (its build downloads the binary from GitHub)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-actionlint.txt

format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

validate: $(STAMP) ## Validate every job against every environment
	$(BIN)/python -m configs validate $(if $(JOBS_DIR),--jobs-dir $(JOBS_DIR))

schema: $(STAMP) ## Regenerate configs/*.schema.json from the models
	$(BIN)/python -m configs schema

new-job: $(STAMP) ## Scaffold a job: make new-job NAME=my_job
	@test -n "$(NAME)" || { echo "usage: make new-job NAME=my_job" >&2; exit 2; }
	$(BIN)/python -m configs new-job $(NAME)

demo: $(STAMP) $(if $(ASSEMBLY),,synth-if-changed) ## Run the example pipeline on this machine, end to end (no AWS, no Docker)
	$(LOCAL) demo

run-local-args:
	@test -n "$(JOB)" -a -n "$(FILE)" || { echo "usage: make run-local JOB=name FILE=path [ENV=dev]" >&2; exit 2; }
	@# JOB and FILE against the configs, before the synth and anything else starts.
	@$(LOCAL) check --job "$(JOB)" --file "$(FILE)"

run-local: $(STAMP) run-local-args $(if $(ASSEMBLY),,synth-if-changed) ## Run one job on your file locally: make run-local JOB=name FILE=path [KEEP=1]
	$(LOCAL) run --job "$(JOB)" --file "$(FILE)" $(if $(KEEP),--keep)

stop-local: $(STAMP) ## Stop the local platform that make run-local KEEP=1 left up
	$(LOCAL) stop

try-args:
	@test -n "$(JOB)" -a -n "$(FILE)" || { echo "usage: make try JOB=name FILE=path [ENV=dev]" >&2; exit 2; }

try: $(STAMP) try-args ## The job's script on your file, in seconds (no synth, Airflow or AWS): make try JOB=name FILE=path
	$(LOCAL) try --job "$(JOB)" --file "$(FILE)"

scenario-args:
	@test -n "$(FILE)" || { echo "usage: make scenario FILE=scenarios/burst.yaml (or a folder) [ENV=dev]" >&2; exit 2; }

scenario: $(STAMP) scenario-args $(if $(ASSEMBLY),,synth-if-changed) ## Run a fault scenario locally, check its counts: make scenario FILE=path
	$(LOCAL) scenario --file "$(FILE)"

query-args:
	@test -n "$(SQL)" || { echo 'usage: make query SQL="select ..." [ENV=dev]' >&2; exit 2; }

query: $(STAMP) query-args ## SQL over the tables the last local run published: make query SQL="select ..."
	$(LOCAL) query --sql "$(SQL)"

# make review: BASE is the ref to compare with; ENV on the command line limits it to one
# environment (otherwise every environment); FORMAT=markdown for a pull-request comment;
# FAIL_ON=destructive,access,network exits 1 on such findings.
BASE ?= origin/main
review: $(STAMP) ## What the working tree changes against BASE, per environment: make review BASE=origin/main
	$(BIN)/python -m review --base "$(BASE)" $(if $(filter command line,$(origin ENV)),--env $(ENV)) \
		$(if $(FORMAT),--format $(FORMAT)) $(if $(FAIL_ON),--fail-on $(FAIL_ON))

redrive: $(STAMP) ## Send the trigger's dead letters back through its intake queue: make redrive ENV=name
	$(BIN)/python -m glueflow_ops redrive --env $(ENV)

replay: $(STAMP) ## A job's archived arrivals again: make replay ENV=name JOB=name SINCE=time [UNTIL=time] [REPROCESS=1]
	@test -n "$(JOB)" && test -n "$(SINCE)" || { echo "usage: make replay ENV=name JOB=name SINCE=2026-12-01T06:00 [UNTIL=time] [REPROCESS=1]" >&2; exit 2; }
	$(BIN)/python -m glueflow_ops replay --env $(ENV) --job "$(JOB)" --since "$(SINCE)" --until "$(UNTIL)" --reprocess "$(REPROCESS)"

bench: $(STAMP) ## Benchmarks (see benchmarks/)
	$(BIN)/python -m benchmarks

# Lists the stacks STACKS selects in the assembly, and fails loudly when it selects none: cdk
# itself exits 0 on a selector that matches nothing.
define select_stacks
	@selected="$$($(CDK) ls --app $(TARGET_ASSEMBLY) '$(STACKS)' 2>/dev/null)"; \
	if [ -z "$$selected" ]; then \
		echo "error: no stack of environment '$(ENV)' ($(STACKS)) in $(TARGET_ASSEMBLY); run make synth ENV=$(ENV)" >&2; \
		exit 1; \
	fi; \
	echo "$$selected"
endef

stacks: $(STAMP) ## List the stacks of ENV that diff and deploy act on (reads ASSEMBLY or cdk.out)
	$(select_stacks)

diff: $(STAMP) $(if $(ASSEMBLY),,synth) ## cdk diff of every stack of ENV against AWS (needs credentials)
	$(select_stacks)
	$(CDK) diff --app $(TARGET_ASSEMBLY) '$(STACKS)'

deploy: $(STAMP) $(if $(ASSEMBLY),,synth) ## cdk deploy every stack of ENV, in dependency order (needs credentials)
	$(select_stacks)
	$(CDK) deploy --app $(TARGET_ASSEMBLY) '$(STACKS)' $(DEPLOY_FLAGS)

# An external bucket's side (docs/architecture.md, decision 19): what the owner of ENV's
# external bucket SOURCE (its key under external_buckets) applies or deploys in its own account.
# Its own assembly, SOURCE_OUT, which holds that one stack and none of ENV's.
SOURCE ?=
SOURCE_OUT ?= cdk.out-source
SOURCE_SIDE := $(BIN)/python -m stacks.source_side --env $(ENV) --source "$(SOURCE)" \
	$(if $(JOBS_DIR),--jobs-dir $(JOBS_DIR))

source-args:
	@test -n "$(SOURCE)" || { echo "usage: make source-policy|deploy-source ENV=name SOURCE=key (an external_buckets key of ENV)" >&2; exit 2; }
	@# ENV and SOURCE checked before anything else: one line naming what is accepted, exit 2.
	@$(SOURCE_SIDE) --check

source-policy: $(STAMP) source-args ## Print, as JSON, what an external bucket's owner applies: make source-policy ENV=name SOURCE=key
	@$(SOURCE_SIDE)

deploy-source: $(STAMP) source-args ## Synthesize and deploy an external bucket's stack in its account: make deploy-source ENV=name SOURCE=key [SYNTH_ONLY=1]
	@echo "cdk synth $(CDK_CONTEXT) -c source=$(SOURCE) --quiet --output $(SOURCE_OUT)"
	@$(CDK) synth $(CDK_CONTEXT) -c source=$(SOURCE) --quiet --output $(SOURCE_OUT)
	@# The assembly holds the source's stack alone, so --all selects exactly it. Deploying needs
	@# credentials of the source's account, which the owner has and this environment does not.
	$(if $(SYNTH_ONLY),,$(CDK) deploy --app $(SOURCE_OUT) --all $(DEPLOY_FLAGS))
	@$(SOURCE_SIDE) --summary $(if $(SYNTH_ONLY),synthesized,deployed)

clean: ## Remove build output (keeps .venv)
	rm -rf cdk.out $(SOURCE_OUT) build .pytest_cache .ruff_cache
