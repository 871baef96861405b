# touchstream: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# rustup's default place, for shells that did not source ~/.cargo/env.
export PATH := $(PATH):$(HOME)/.cargo/bin
# The compiled hot path (native/, Rust): built from its sources and crates.io by maturin, from PyPI.
NATIVE := native/pyproject.toml native/Cargo.toml native/Cargo.lock native/touchstream_native.pyi $(wildcard native/src/*.rs)

$(STAMP): pyproject.toml $(NATIVE)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@command -v cargo >/dev/null || { echo "make venv: cargo (Rust) is needed to build native/; see README"; exit 1; }
	@$(BIN)/python -m pip install -q ./native
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install the project with its dev tools

kafka-fetch: ## fetch the pinned Kafka jars from Maven Central (cached in deploy/kafka/lib)
	@deploy/kafka/kafka.sh fetch

kafka-up: ## start the local single-node Kafka (KRaft) on 127.0.0.1:$${KAFKA_PORT:-9092}
	@deploy/kafka/kafka.sh up

kafka-down: ## stop the local Kafka
	@deploy/kafka/kafka.sh down

run: venv kafka-fetch ## run the whole pipeline on embedded defaults (Ctrl-C stops everything)
	@deploy/run-local.sh

browser: ## make sure a headless Chromium is installed for the dashboard tests (apt-get, needs root)
	@deploy/browser.sh >/dev/null

test: venv kafka-fetch browser sdk-test ## run the whole test suite (starts its own Kafka and chDB)
	@$(BIN)/python -m pytest -q $(PYTEST_ARGS)

SDK := sdk/miniprogram

# npm ci writes node_modules/.package-lock.json: reinstall only when the lock file changes.
$(SDK)/node_modules/.package-lock.json: $(SDK)/package.json $(SDK)/package-lock.json
	@cd $(SDK) && npm ci --no-audit --no-fund --silent

sdk-test: $(SDK)/node_modules/.package-lock.json ## the mini-program SDK: typecheck, bundles, node unit tests
	@cd $(SDK) && npm test --silent

sdk-build: $(SDK)/node_modules/.package-lock.json ## build the SDK bundles into sdk/miniprogram/dist/
	@cd $(SDK) && npm run --silent build && ls -l dist/*.min.js

test-unit: venv sdk-test ## only the pure unit tests (no Kafka, no ClickHouse)
	@$(BIN)/python -m pytest -q -m "not integration" $(PYTEST_ARGS)

lint: venv ## ruff, mypy, import contracts, JSON Schemas up to date
	@$(BIN)/ruff check .
	@$(BIN)/mypy
	@$(BIN)/lint-imports
	@$(BIN)/touchstream schemas --check
	@cd native && cargo fmt --check && cargo clippy -q --release -- -D warnings
	@cd native && PYO3_PYTHON=$(abspath $(BIN)/python) cargo test -q --release

schemas: venv ## regenerate schemas/json from the pydantic models
	@$(BIN)/touchstream schemas

# BASELINE=/path/to/another/checkout: A/B against it (runs alternate); BENCH_ARGS: more options (--quick, ...).
# Data (broker logs, chDB folders) go to tmpfs when it has room; BENCH_SCRATCH=/some/dir puts them there instead.
BENCH_BASELINE = $(if $(BASELINE),--baseline $(BASELINE))
PEER_STAMP := $(VENV)/peer/.installed

# The Quix Streams peer has a virtualenv of its own: its pydantic pins conflict with the project's.
$(PEER_STAMP): loadtests/peer-requirements.txt
	@test -x $(VENV)/peer/bin/python || $(PYTHON) -m venv $(VENV)/peer
	@$(VENV)/peer/bin/python -m pip install -q -r loadtests/peer-requirements.txt
	@touch $(PEER_STAMP)

bench-collector: venv kafka-fetch ## collector events/s per core (1/10/100-event batches), ceiling and floor [BASELINE=dir]
	@$(BIN)/python -m loadtests.bench_collector $(BENCH_BASELINE) $(BENCH_ARGS)

bench-instructions: venv ## collector work in CPU instructions (callgrind; needs valgrind): ceiling, 1/10-event requests [BASELINE=dir]
	@$(BIN)/python -m loadtests.bench_instructions $(BENCH_BASELINE) $(BENCH_ARGS)

bench-stream: venv kafka-fetch $(PEER_STAMP) ## processor events per CPU-s: live, catch-up, floor, peer; latency [BASELINE=dir]
	@$(BIN)/python -m loadtests.bench_stream $(BENCH_BASELINE) $(BENCH_ARGS)

bench-processing: venv ## the processor's pure step alone (no Kafka, no ClickHouse), live or --catchup [BASELINE=dir]
	@$(BIN)/python -m loadtests.bench_processing $(BENCH_BASELINE) $(BENCH_ARGS)

bench-inserts: venv ## one chDB insert of the processor's rows: the engine's default settings against BENCH_ARGS="--settings k=v"
	@$(BIN)/python -m loadtests.bench_inserts $(BENCH_ARGS)

bench-catchup: venv ## the journey engine catching up on 20 days of event time, against full-scan eviction
	@$(BIN)/python -m loadtests.bench_catchup

demo: venv kafka-fetch ## a month of the retail case (seed 000) through the pipeline, then channel ROI per model
	@deploy/demo.sh $(DEMO_ARGS)

bench-reports: venv ## report latencies on the demo month (after `make demo`, with the pipeline stopped)
	@$(BIN)/python -m loadtests.bench_reports

clean: ## remove ./data (Kafka and ClickHouse data of `make run`)
	@deploy/kafka/kafka.sh down || true
	@rm -rf data

.PHONY: browser demo help venv kafka-fetch kafka-up kafka-down run test test-unit lint schemas bench-collector bench-stream bench-reports clean
.PHONY: sdk-test sdk-build bench-catchup bench-processing bench-instructions bench-inserts
