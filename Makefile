# The two commands a newcomer needs:
#   make demo   runs the real function end to end locally and prints its answers
#   make test   runs every check and test (what CI runs through .ci/run)
# The fast inner loop is plain `cargo test` (unit, handler and binary tests, no Python needed).

SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
# Pinned tools from PyPI, installed once into the project-local virtualenv.
MOTO_VERSION := 5.2.5
CARGO_LAMBDA_VERSION := 1.9.2

.PHONY: test demo lint tools fast release clean-tools

## every check and test: format, lint, dependency guard, all tests including moto ones
test: tools lint
	MOTO_SERVER=$(CURDIR)/$(VENV)/bin/moto_server cargo test --locked --all-targets -- --include-ignored

## the fast loop: unit, handler and end-to-end binary tests that need no Python tools
fast:
	cargo test --all-targets

## the real function under cargo lambda watch, against loopback stand-ins, invoked with
## cargo lambda invoke; prints the answers and stops everything it started
demo: tools
	./scripts/demo/run.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
	./scripts/check-dependencies.sh

tools: $(VENV)/.installed

$(VENV)/.installed:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)' 'cargo-lambda==$(CARGO_LAMBDA_VERSION)'
	touch $@

## release build of the Lambda binary (x86_64 here; SAM builds arm64 with cargo-lambda)
release:
	cargo build --locked --release
	@ls -l target/release/bootstrap

clean-tools:
	rm -rf $(VENV)
