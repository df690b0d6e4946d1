# Every target works on a fresh clone after `npm ci` (which `make install` runs).
NODE_BIN := node_modules/.bin
UNIT_TESTS := $(shell find src -name '*.test.ts' 2>/dev/null | sed 's|^src/|dist/src/|; s|\.ts$$|.js|')
INTEGRATION_TESTS := $(shell find test/integration -name '*.test.ts' 2>/dev/null | sed 's|^|dist/|; s|\.ts$$|.js|')

.PHONY: install build lint format start test unit integration e2e demo bench clean

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

test: lint unit integration

clean:
	rm -rf dist
