# faultline — `make test` runs every check; `make layer` builds the Lambda layer zips.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
CHECKOV_VENV ?= $(CURDIR)/.venv-checkov
NODE_RUNTIME ?= $(CURDIR)/.node-runtime
PYTHON ?= python3
CARGO ?= cargo
export FAULTLINE_VENV := $(VENV)
export FAULTLINE_CHECKOV_VENV := $(CHECKOV_VENV)
export FAULTLINE_NODE_RUNTIME := $(NODE_RUNTIME)

HOST_ARCH := $(shell uname -m | sed -e 's/aarch64/arm64/')

.PHONY: all venv build fmt-check clippy lint test unit-test layer layer-check wheel wheel-check demo demo-run demo-readme bench fuzz render clean

all: build

$(VENV)/.installed: scripts/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r scripts/requirements.txt
	touch $@

$(CHECKOV_VENV)/.installed: scripts/requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r scripts/requirements-checkov.txt
	touch $@

# Node.js 24 and aws-lambda-ric (the nodejs24.x runtime client), for the Node.js e2e tests.
$(NODE_RUNTIME)/.installed: scripts/node-runtime.sh scripts/node-runtime/package-lock.json
	scripts/node-runtime.sh $(NODE_RUNTIME)
	touch $@

venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(NODE_RUNTIME)/.installed

build:
	$(CARGO) build --workspace --all-targets --locked

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# The shell scripts and the exec wrapper (POSIX sh, in every function's start). The rendered
# Terraform gets `terraform fmt -check` and `validate` in deployer/tests/terraform.rs.
lint:
	shellcheck scripts/*.sh extension/layer/faultline-wrapper .ci/run

# The end-to-end tests run the Rust test function (an example) as a real binary, which
# `cargo test` alone does not build. --all-targets also runs the benchmark in its smoke mode.
unit-test: venv
	$(CARGO) build --workspace --examples --locked
	$(CARGO) test --workspace --all-targets --locked

test: fmt-check clippy lint unit-test fuzz layer-check wheel-check demo-run

layer: venv
	scripts/build-layer.sh $(ARCH)

# Builds both zips and checks their layout, modes and that each binary runs on its architecture.
layer-check: layer
	scripts/check-layer.sh

# The pip-installable wheel (deployer + both layer zips) for this machine's architecture;
# `make wheel ARCH=arm64` cross-builds the other (checked under qemu by wheel-check).
wheel: layer
	scripts/build-wheel.sh $(or $(ARCH),$(HOST_ARCH))

# Each built wheel's deployer runs (arm64 under qemu) and this machine's wheel installs with no
# Rust on PATH and publishes exactly make layer's zips to moto (deployer/tests/wheel.rs).
wheel-check: wheel
	CARGO=$(CARGO) scripts/check-wheel.sh

# The local demo: moto server as AWS, the project's Lambda emulator as Lambda, the deployer
# wiring a Python function and starting experiments (see the README). Builds this machine's layer
# and only the two programs the demo runs (the deployer and the demo), not every test target.
demo: venv
	scripts/build-layer.sh $(HOST_ARCH)
	$(CARGO) build --locked -p faultline-deployer --bin deployer -p faultline-testkit --bin demo
	$(CURDIR)/target/debug/demo

# The demo as `make test` runs it: built like `make unit-test` builds (all targets, so the same
# features), so after the tests this is no work.
demo-run: venv
	$(CARGO) build --quiet --locked --workspace --all-targets
	$(CURDIR)/target/debug/demo --check-readme $(CURDIR)/README.md

# Runs the demo and writes its table into the README (demo-run fails when they disagree).
demo-readme: demo
	$(CURDIR)/target/debug/demo --write-readme $(CURDIR)/README.md

# Every benchmark in one run → target/bench-all.md (machine, date, then each report).
bench: venv
	CARGO=$(CARGO) scripts/bench-report.sh

# The property tests of the config parser, the experiment matcher, the SDK endpoint body and
# the Runtime API relay fed arbitrary bytes from both sides, with many more cases than
# `make test` runs (256 each). --workspace, as unit-test builds: a `-p` selection resolves other
# features and builds every dependency a second time (minutes, and gigabytes under target/).
fuzz:
	PROPTEST_CASES=$${PROPTEST_CASES:-20000} $(CARGO) test --locked --workspace --lib -- never_panics any_body_is_answered_without_panic runtime_proxy::tests::fuzz

# Re-renders the committed cfn/, sam-templates/ and terraform/ from deployer/templates, and
# iam/deployer-policy.json from deployer/src/permissions.rs.
render:
	$(CARGO) run --quiet -p faultline-deployer --locked -- render cfn --out cfn
	$(CARGO) run --quiet -p faultline-deployer --locked -- render sam --out sam-templates
	$(CARGO) run --quiet -p faultline-deployer --locked -- render terraform --out terraform
	$(CARGO) run --quiet -p faultline-deployer --locked -- iam-policy > iam/deployer-policy.json

clean:
	$(CARGO) clean
	rm -rf dist
