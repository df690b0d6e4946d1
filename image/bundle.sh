#!/usr/bin/env bash
# Lays out the app as the image ships it in /app: dist/src/cli.js as one esbuild bundle (ESM,
# minified), examples/cluster-state.yaml beside it (src/paths.ts finds it at ../../examples)
# and the JSON Schemas. image/build.sh puts this in the image; `make bench` runs the webhook
# from it, so that what is measured is what ships.
#   bash image/bundle.sh OUT [ROOT]   ROOT: the checkout whose dist/ is bundled (default: this one)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: image/bundle.sh OUT [ROOT]}"
root="${2:-$here}"
[[ -f "$root/dist/src/cli.js" ]] || { echo "image/bundle.sh: $root/dist/src/cli.js is missing; run make build first" >&2; exit 1; }

mkdir -p "$out/dist/src" "$out/examples" "$out/schemas"
# The banner gives bundled CommonJS packages the `require` they expect.
"$here/node_modules/.bin/esbuild" "$root/dist/src/cli.js" --bundle --platform=node --format=esm --target=node24 \
  --minify --keep-names --legal-comments=external --log-level=warning \
  --banner:js="import { createRequire as __nbwRequire } from 'node:module'; const require = __nbwRequire(import.meta.url);" \
  --outfile="$out/dist/src/cli.js"
chmod 644 "$out/dist/src/"*
cp "$root/examples/cluster-state.yaml" "$out/examples/"
cp "$root/schemas/"*.json "$out/schemas/"
