#!/usr/bin/env bash
# Builds helm from Go modules (helm.sh/helm/v4/cmd/helm at a pinned version; no download
# site) into a cache directory outside the repository, beside the control plane. Idempotent:
# a binary that already exists is not rebuilt; concurrent runs wait for the first (flock).
#
#   test/e2e/build-helm.sh        # progress on stderr, the helm binary's path on stdout
#
# Environment:
#   NEBULA_BR_CACHE  cache root (default: $HOME/.cache/nebula-br-webhook)
#   GO               go command to use (default: go on PATH, else /usr/local/go/bin/go)
#
# Measured on 2 cores: 285 s wall and 1 GB peak RSS with the modules already downloaded and
# an empty build cache; the module download adds minutes. With Go's module and build caches
# warm (GOMODCACHE/GOCACHE stay at Go's defaults, under $HOME), seconds. 67 MB binary.
set -euo pipefail

# The one place the version is pinned. helm v4 needs Go 1.26.
HELM_VERSION=v4.3.1

log() { printf '[build-helm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

CACHE_ROOT=${NEBULA_BR_CACHE:-$HOME/.cache/nebula-br-webhook}
BIN_DIR="$CACHE_ROOT/bin/helm-$HELM_VERSION"
HELM="$BIN_DIR/helm"

if [[ -x "$HELM" ]]; then
  log "cached: $HELM"
  printf '%s\n' "$HELM"
  exit 0
fi

GO=${GO:-}
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO=go
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else die "go not found (set GO or put go on PATH)"; fi
fi

mkdir -p "$BIN_DIR"
# Serialise concurrent builds: a second run waits here, then finds the binary.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$BIN_DIR/.lock"
  flock 9
fi
if [[ -x "$HELM" ]]; then
  log "built meanwhile by another run: $HELM"
  printf '%s\n' "$HELM"
  exit 0
fi

TMP_OUT=$(mktemp -d "$BIN_DIR/.build.XXXXXX")
trap 'rm -rf "$TMP_OUT"' EXIT

log "building helm $HELM_VERSION from helm.sh/helm/v4/cmd/helm (cold: about 5 minutes, more to download modules) ..."
start=$SECONDS
# `go install pkg@version` builds outside any module of ours, with helm's own go.mod and
# go.sum. The version is stamped as helm's Makefile does, so `helm version` says it.
# -buildvcs=false, -trimpath, -s -w: as for the control plane.
GOBIN="$TMP_OUT" CGO_ENABLED=0 "$GO" install -buildvcs=false -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2
mv -f "$TMP_OUT/helm" "$HELM"
log "built helm $HELM_VERSION in $((SECONDS - start))s: $HELM"
printf '%s\n' "$HELM"
