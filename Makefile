# Every target works on a fresh clone after `npm ci` (which `make install` runs).
NODE_BIN := node_modules/.bin
UNIT_TESTS := $(shell find src test/support -name '*.test.ts' 2>/dev/null | sed 's|^|dist/|; s|\.ts$$|.js|')
INTEGRATION_TESTS := $(shell find test/integration -name '*.test.ts' 2>/dev/null | sed 's|^|dist/|; s|\.ts$$|.js|')
E2E_TESTS := $(shell find test/e2e -name '*.e2e.test.ts' 2>/dev/null | sed 's|^|dist/|; s|\.ts$$|.js|')
IMAGE_TESTS := $(shell find test/image -name '*.test.ts' 2>/dev/null | sed 's|^|dist/|; s|\.ts$$|.js|')

# The tests run under the Node.js the image ships (24; image/node.sh fetches it once from the
# npm registry into $$HOME/.cache); where it cannot be had, under this machine's node, saying so.
NODE_TEST = node_dir=$$(bash image/node.sh) && test_node="$$node_dir/bin/node" || { \
	echo "make: the image's Node.js could not be fetched (image/node.sh); testing under this machine's node" >&2; \
	test_node=node; }; \
	echo "node --test under Node.js $$("$$test_node" --version)"; \
	"$$test_node" --test --test-reporter=spec

.PHONY: install build lint format start test unit integration e2e control-plane helm image demo bench clean

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
	$(NODE_TEST) $(UNIT_TESTS)

integration: build
	$(NODE_TEST) $(INTEGRATION_TESTS)

# Builds kube-apiserver, etcd and kubectl from Go modules once, cached in $$HOME/.cache.
control-plane:
	bash test/e2e/build-control-plane.sh >/dev/null

# Builds helm (helm.sh/helm/v4/cmd/helm, pinned) from Go modules once, cached beside it; the
# chart's tests (test/e2e/chart.e2e.test.ts) lint, render and install with it.
helm:
	bash test/e2e/build-helm.sh >/dev/null

# The OCI image (dist/image/), without a container engine: Debian's glibc, Node.js 24, the
# app bundle; amd64 and arm64. Needs umoci and skopeo (apt-get). See image/build.sh.
image: build
	bash image/build.sh

e2e: build control-plane helm image
	$(NODE_TEST) $(E2E_TESTS)

# The README's test command: everything, in one run of node's test runner.
test: lint build control-plane helm image
	$(NODE_TEST) $(UNIT_TESTS) $(INTEGRATION_TESTS) $(IMAGE_TESTS) $(E2E_TESTS)

demo: build control-plane
	bash test/e2e/demo.sh

# Load, latency, memory at 10,000 clusters, the live view, through the API server, a soak and
# the audit of 100,000 Jobs: about 28 minutes. Under the image's Node.js, as the tests run.
bench: build control-plane
	node_dir=$$(bash image/node.sh) && "$$node_dir/bin/node" dist/bench/run.js

clean:
	rm -rf dist
