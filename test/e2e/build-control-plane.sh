#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from Go modules (no Docker, no
# download sites) into a cache directory outside the repository, keyed by
# versions. Idempotent: binaries that already exist are not rebuilt.
#
#   test/e2e/build-control-plane.sh        # progress on stderr, bin dir on stdout
#
# Environment:
#   NEBULA_BR_CACHE  cache root (default: $HOME/.cache/nebula-br-webhook)
#   GO               go command to use (default: go on PATH, else /usr/local/go/bin/go)
#
# GOMODCACHE and GOCACHE are left at Go's defaults (under $HOME), so a rebuild
# after the binaries were deleted is fast too.
set -euo pipefail

log() { printf '[build-control-plane] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
KUBE_MOD="$SCRIPT_DIR/controlplane/kube"
ETCD_MOD="$SCRIPT_DIR/controlplane/etcd"

GO=${GO:-}
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO=go
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else die "go not found (set GO or put go on PATH)"; fi
fi

# Versions come from the wrapper modules' go.mod files (single source of truth).
mod_version() { # file module
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1"
}
K8S_VERSION=$(mod_version "$KUBE_MOD/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(mod_version "$ETCD_MOD/go.mod" go.etcd.io/etcd/server/v3)
[[ -n "$K8S_VERSION" ]] || die "cannot read the k8s.io/kubernetes version from $KUBE_MOD/go.mod"
[[ -n "$ETCD_VERSION" ]] || die "cannot read the etcd version from $ETCD_MOD/go.mod"

K8S_SEMVER=${K8S_VERSION#v}
K8S_MAJOR=${K8S_SEMVER%%.*}
K8S_MINOR=${K8S_SEMVER#*.}; K8S_MINOR=${K8S_MINOR%%.*}

CACHE_ROOT=${NEBULA_BR_CACHE:-$HOME/.cache/nebula-br-webhook}
BIN_DIR="$CACHE_ROOT/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

have_all() {
  [[ -x "$BIN_DIR/kube-apiserver" && -x "$BIN_DIR/kubectl" && -x "$BIN_DIR/etcd" ]]
}

if have_all; then
  log "cached: $BIN_DIR"
  printf '%s\n' "$BIN_DIR"
  exit 0
fi

mkdir -p "$BIN_DIR"
# Serialise concurrent builds (two test runs starting at once).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$BIN_DIR/.lock"
  flock 9
fi

# -buildvcs=false: the etcd main package lives in this git repo; VCS stamping is
# useless here and fails when git refuses the directory (safe.directory).
# -trimpath and -s -w keep the binaries smaller and independent of paths.
GOFLAGS_BUILD=(-buildvcs=false -trimpath)
export CGO_ENABLED=0

TMP_OUT=$(mktemp -d "$BIN_DIR/.build.XXXXXX")
trap 'rm -rf "$TMP_OUT"' EXIT

if [[ -x "$BIN_DIR/kube-apiserver" && -x "$BIN_DIR/kubectl" ]]; then
  log "cached: kube-apiserver, kubectl $K8S_VERSION"
else
  log "building kube-apiserver and kubectl $K8S_VERSION (cold: many minutes and a few GB) ..."
  start=$SECONDS
  # Both client-go's and component-base's version packages are stamped, as
  # upstream's hack/lib/version.sh does, so /version and `kubectl version` are right.
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$K8S_MAJOR -X $pkg.gitMinor=$K8S_MINOR -X $pkg.gitTreeState=clean"
  done
  (cd "$KUBE_MOD" && "$GO" build "${GOFLAGS_BUILD[@]}" -ldflags "$ldflags" -o "$TMP_OUT/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl) >&2
  mv -f "$TMP_OUT/kube-apiserver" "$TMP_OUT/kubectl" "$BIN_DIR/"
  log "built kube-apiserver, kubectl in $((SECONDS - start))s"
fi

if [[ -x "$BIN_DIR/etcd" ]]; then
  log "cached: etcd $ETCD_VERSION"
else
  log "building etcd $ETCD_VERSION ..."
  start=$SECONDS
  (cd "$ETCD_MOD" && "$GO" build "${GOFLAGS_BUILD[@]}" -ldflags "-s -w" -o "$TMP_OUT/etcd" .) >&2
  mv -f "$TMP_OUT/etcd" "$BIN_DIR/"
  log "built etcd in $((SECONDS - start))s"
fi

have_all || die "binaries missing in $BIN_DIR after the build"
log "binaries in $BIN_DIR"
printf '%s\n' "$BIN_DIR"
