# Every target works on a fresh clone after `npm ci` (which `make install` runs).
NODE_BIN := node_modules/.bin
UNIT_TESTS := $(shell find src -name '*.test.ts' 2>/dev/null | sed 's|^src/|dist/src/|; s|\.ts$$|.js|')
INTEGRATION_TESTS := $(shell find test/integration -name '*.test.ts' 2>/dev/null | sed 's|^|dist/|; s|\.ts$$|.js|')
E2E_TESTS := $(shell find test/e2e -name '*.e2e.test.ts' 2>/dev/null | sed 's|^|dist/|; s|\.ts$$|.js|')

.PHONY: install build lint format start test unit integration e2e control-plane demo bench clean

install: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

build: install
	$(NODE_BIN)/tsc -p tsconfig.json

lint: install
	$(NODE_BIN)/biome check .
	$(NODE_BIN)/tsc -p tsconfig.json --noEmit

format: install
	$(NODE_BIN)/biome check --write .

start: build
	node dist/src/cli.js serve

unit: build
	node --test --test-reporter=spec $(UNIT_TESTS)

integration: build
	node --test --test-reporter=spec $(INTEGRATION_TESTS)

# Builds kube-apiserver, etcd and kubectl from Go modules once, cached in $$HOME/.cache.
control-plane:
	bash test/e2e/build-control-plane.sh >/dev/null

e2e: build control-plane
	node --test --test-reporter=spec $(E2E_TESTS)

# The README's test command: everything, in one run of node's test runner.
test: lint build control-plane
	node --test --test-reporter=spec $(UNIT_TESTS) $(INTEGRATION_TESTS) $(E2E_TESTS)

demo: build control-plane
	bash test/e2e/demo.sh

# Load, latency, memory at 10,000 clusters, live informer, 5-minute soak: about 10 minutes.
bench: build control-plane
	node dist/bench/run.js

clean:
	rm -rf dist
