#!/usr/bin/env bash
# Builds the webhook's OCI image with no container engine and no container registry:
#   - Debian 12's glibc, libstdc++, libgcc and CA certificates (apt-get download + dpkg-deb -x),
#   - Node.js 24 LTS from the npm registry (image/node.sh),
#   - the built app as one esbuild bundle, the example cluster state and the JSON Schemas,
# as three layers assembled with umoci, for amd64 and arm64 under one OCI image index, written
# with skopeo as an oci-archive, with an SPDX SBOM beside it. No shell, no package manager;
# runs as 65532:65532. Run through `make image` (after `make build`):
#   dist/image/nebula-br-webhook.oci.tar     the image (index: linux/amd64, linux/arm64)
#   dist/image/nebula-br-webhook.spdx.json   its SBOM
#   dist/image/build-info.json               digests, sizes, build time
# Downloads are cached in $HOME/.cache/nebula-br-webhook/image; a build whose inputs have not
# changed reuses the archive. NBW_IMAGE_ARCHS="amd64" builds one architecture.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

name=nebula-br-webhook
out=dist/image
cache="${NBW_IMAGE_CACHE:-$HOME/.cache/nebula-br-webhook/image}"
read -r -a archs <<<"${NBW_IMAGE_ARCHS:-amd64 arm64}"
# The Debian packages the base layer is made of: what bin/node links against (gcc-12-base holds
# the licence of libgcc and libstdc++), the CA bundle, and base-files for /etc/os-release (so
# image scanners know the distribution).
debs=(libc6 libgcc-s1 libstdc++6 gcc-12-base ca-certificates base-files)

fail() {
  echo "image/build.sh: $*" >&2
  exit 1
}
if ! command -v umoci >/dev/null 2>&1 || ! command -v skopeo >/dev/null 2>&1; then
  # A fresh machine: the README's `make test` builds the image, so bring the tools in as root.
  [[ $EUID -eq 0 ]] || fail "umoci and skopeo are missing; install them: apt-get install -y umoci skopeo"
  echo "image/build.sh: apt-get install umoci skopeo" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends umoci skopeo >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends umoci skopeo >/dev/null; }
fi
for tool in umoci skopeo dpkg-deb apt-get flock; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing"
done
[[ -f dist/src/cli.js ]] || fail "dist/src/cli.js is missing; run make build first"

mkdir -p "$out" "$cache/debs"
exec 9>"$out/.lock"
flock 9 # one build at a time (test files may ask for the image together)

work="$(mktemp -d "$out/.work-XXXXXX")"
trap 'rm -rf "$work"' EXIT

version="$(node -p 'require("./package.json").version')"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ "$revision" != unknown && -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  revision="$revision-dirty"
fi
# Every timestamp in the image is the last commit's, so that the same tree builds the same image.
epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
created="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"

# --- the app, laid out as in /app (image/bundle.sh: one esbuild bundle, examples, schemas).
app="$work/app"
bash image/bundle.sh "$app/app"
node -e '
  const p = require("./package.json");
  const manifest = { name: p.name, version: p.version, description: p.description, license: p.license, type: "module", private: true };
  process.stdout.write(JSON.stringify(manifest, null, 2) + "\n");
' >"$app/app/package.json"

# --- the Debian packages: lists for every architecture, then each .deb once into the cache.
for arch in "${archs[@]}"; do
  if [[ "$arch" != "$(dpkg --print-architecture)" ]] &&
    ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    echo "image/build.sh: dpkg --add-architecture $arch" >&2
    dpkg --add-architecture "$arch"
  fi
done
# One apt-get call for all (each call reads the lists for a second or two): the candidate
# .deb of every package, printed as 'URI' FILE SIZE HASH; Architecture: all packages (such as
# ca-certificates) are asked for without :arch.
candidates() {
  local wanted=()
  for arch in "${archs[@]}"; do
    for pkg in "${debs[@]}"; do
      [[ "$pkg" == ca-certificates ]] || wanted+=("$pkg:$arch")
    done
  done
  apt-get download --print-uris "${wanted[@]}" ca-certificates 2>/dev/null
}
if ! uris="$(candidates)" || [[ -z "$uris" ]]; then
  echo "image/build.sh: apt-get update (no package lists for ${archs[*]})" >&2
  apt-get update -qq
  uris="$(candidates)" || fail "apt-get download --print-uris ${debs[*]} failed for ${archs[*]}"
fi
declare -A deb_files
missing=()
while read -r uri file _; do
  [[ -n "$file" ]] || continue
  IFS=_ read -r pkg _ file_arch <<<"${file%.deb}"
  [[ -s "$cache/debs/$file" ]] || missing+=("$pkg$([[ "$file_arch" == all ]] || echo ":$file_arch")")
  for arch in "${archs[@]}"; do
    if [[ "$file_arch" == "$arch" || "$file_arch" == all ]]; then
      deb_files[$arch]+="$cache/debs/$file"$'\n'
    fi
  done
done <<<"$uris"
if ((${#missing[@]})); then
  # apt-get checks each download against the package lists' hash.
  (cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >/dev/null)
fi
for arch in "${archs[@]}"; do
  [[ "$(grep -c . <<<"${deb_files[$arch]:-}")" -eq "${#debs[@]}" ]] ||
    fail "expected ${#debs[@]} packages for $arch, found: ${deb_files[$arch]:-none}"
  while read -r file; do
    [[ -z "$file" || -s "$file" ]] || fail "apt-get download did not give $file"
  done <<<"${deb_files[$arch]}"
done

# --- reuse the last build when nothing that goes into it changed.
key="$(
  {
    cat image/build.sh image/bundle.sh image/oci.mjs package.json package-lock.json
    find "$app" -type f | LC_ALL=C sort | xargs sha256sum | sed "s|$app||"
    for arch in "${archs[@]}"; do echo "$arch" "${deb_files[$arch]}"; done | sed "s|$cache||g"
    bash image/node.sh --version
    echo "$revision $epoch"
  } | sha256sum | cut -d' ' -f1
)"
archive="$out/$name.oci.tar"
if [[ -s "$archive" && -f "$out/build-info.json" ]] &&
  grep -q "\"inputs\": \"$key\"" "$out/build-info.json"; then
  echo "image/build.sh: $archive is up to date ($((SECONDS - started)) s)"
  exit 0
fi

# --- the three layers' trees, per architecture.
stamp() { find "$1" -exec touch -h -d "@$epoch" {} +; }
stamp "$app"
for arch in "${archs[@]}"; do
  base="$work/base-$arch"
  mkdir -p "$base"
  while read -r file; do
    [[ -n "$file" ]] || continue
    if [[ "$(basename "$file")" == base-files_* ]]; then
      dpkg-deb --fsys-tarfile "$file" | tar -x -C "$base" ./usr/lib/os-release ./usr/share/doc/base-files/copyright
    else
      dpkg-deb -x "$file" "$base"
    fi
    # What dpkg would record, so that scanners see the packages (as distroless images do).
    pkg="$(dpkg-deb -f "$file" Package)"
    mkdir -p "$base/var/lib/dpkg/status.d"
    dpkg-deb -f "$file" Package Version Architecture Maintainer Source Homepage Description \
      >"$base/var/lib/dpkg/status.d/$pkg"
  done <<<"${deb_files[$arch]}"
  # The CA bundle that update-ca-certificates would write, from every certificate shipped.
  mkdir -p "$base/etc/ssl/certs"
  find "$base/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | xargs sed -e '$a\' \
    >"$base/etc/ssl/certs/ca-certificates.crt"
  # Nothing a shell-less runtime reads: converters, docs but the licences, scripts, man pages.
  rm -rf "$base"/usr/lib/*/gconv "$base"/usr/share/{ca-certificates,gcc,gdb,lintian,man} \
    "$base/usr/sbin" "$base/etc/ca-certificates"
  find "$base/usr/share/doc" -type f ! -name copyright -delete
  find "$base/usr/share/doc" -type d -empty -delete
  ln -s ../usr/lib/os-release "$base/etc/os-release"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$base/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$base/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$base/etc/nsswitch.conf"
  mkdir -p "$base/tmp" "$base/root" "$base/home/nonroot"
  chmod 1777 "$base/tmp"
  chmod 700 "$base/root" "$base/home/nonroot"
  stamp "$base"
  [[ $EUID -eq 0 ]] && chown -R 0:0 "$base" && chown -h 65532:65532 "$base/home/nonroot"

  node_arch="$arch"
  [[ "$arch" == amd64 ]] && node_arch=x64
  node_dir="$(bash image/node.sh "$node_arch")"
  runtime="$work/node-$arch"
  mkdir -p "$runtime/usr/local/bin" "$runtime/usr/local/share/doc/node"
  cp "$node_dir/bin/node" "$runtime/usr/local/bin/node"
  cp "$node_dir/LICENSE" "$runtime/usr/local/share/doc/node/LICENSE"
  chmod 755 "$runtime/usr/local/bin/node"
  stamp "$runtime"
done
[[ $EUID -eq 0 ]] && chown -R 0:0 "$app"

# --- assemble: one image per architecture in an OCI layout, then the index over them.
layout="$work/oci"
umoci init --layout "$layout"
node_version="$(bash image/node.sh --version)"
for arch in "${archs[@]}"; do
  image="$layout:$arch"
  umoci new --image "$image"
  umoci config --image "$image" --no-history --architecture "$arch" --os linux --created "$created"
  insert() {
    umoci insert --image "$image" --history.created "$created" --history.created_by "image/build.sh: $2" "$1" /
  }
  insert "$work/base-$arch" "Debian 12 ${debs[*]} (dpkg-deb -x), /etc/passwd with nonroot 65532"
  insert "$work/node-$arch" "Node.js $node_version (npm node-linux-*) in /usr/local/bin"
  insert "$app" "the app bundle (esbuild) in /app"
  labels=(
    "org.opencontainers.image.title=$name"
    "org.opencontainers.image.description=$(node -p 'require("./package.json").description')"
    "org.opencontainers.image.version=$version"
    "org.opencontainers.image.revision=$revision"
    "org.opencontainers.image.created=$created"
    "org.opencontainers.image.licenses=$(node -p 'require("./package.json").license')"
  )
  config_args=()
  for label in "${labels[@]}"; do config_args+=(--config.label "$label" --manifest.annotation "$label"); done
  # Idle memory (issue 11: RSS under 100 MiB; measured 124 MiB without these; with them at
  # most 91.9 MiB on the embedded state and 95.3 MiB with a live cluster view, over 6 runs):
  #   - glibc's mmap_threshold at 32 KiB: V8's compiler zones (45 MiB at their peak while the
  #     bundle is compiled at start-up) are then mapped and unmapped instead of left behind as
  #     holes in the main heap, which glibc never gives back (-25 MiB). Setting it also stops
  #     glibc from raising it on its own. No measurable cost per admission.
  #   - --expose-gc: serve runs one memory-reducing collection at the end of start-up, before
  #     its port opens (src/cli/serve-command.ts), which drops what only start-up needed
  #     (-10 MiB: 99.7 against 89.5 MiB, from the bundle, 2026-11-27).
  #   - --max-semi-space-size=16, Node.js 20's young generation: 24's grows larger while the
  #     view's first list arrives and keeps it; with 10,000 NebulaClusters the peak RSS was 228-232
  #     MiB and idle 163-216 MiB with 24's default, 188.6 and 146.9 MiB with 16 (run from dist/;
  #     from this bundle, as the bench now runs it: 158.6 and 122.1 MiB, bench/README.md).
  #     Idle RSS in the image is the same (90.9-91.8 MiB).
  # Not --max-semi-space-size=1: it saved only 2 MiB more (89.9 / 93.5 MiB at most) and cost
  # 10-15% throughput on guarded requests, through more frequent scavenges.
  # --max-old-space-size-percentage=50: in a pod, Node.js sizes V8's heap from the container's
  # memory limit, and under the chart's 256 MiB it allowed a 259 MiB old space (measured):
  # more than the whole container, so V8 never collected for lack of room before the kernel's
  # OOM killer would. Half the limit leaves the rest to the young generation (48 MiB), code and
  # buffers. serve's audit of 100,000 br-ent Jobs in a 256 MiB cgroup, two runs each way:
  # 207.8-218.2 MiB RSS, 149.6-156.5 anonymous, against 220.8-243.1 and 182.1 without it
  # (bench/README.md). Outside a container it is half the machine's memory, above V8's own
  # default: no change.
  # The Deployment's args replace only the command (serve), so these stay.
  umoci config --image "$image" --created "$created" --history.created "$created" \
    --history.created_by "image/build.sh: user 65532, entrypoint node /app/dist/src/cli.js serve" \
    --config.user 65532:65532 --config.workingdir /app \
    --config.entrypoint /usr/local/bin/node --config.entrypoint --max-semi-space-size=16 \
    --config.entrypoint --expose-gc --config.entrypoint --max-old-space-size-percentage=50 \
    --config.entrypoint /app/dist/src/cli.js \
    --config.cmd serve --config.exposedports 8443/tcp \
    --config.env PATH=/usr/local/bin --config.env NODE_ENV=production \
    --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --config.env GLIBC_TUNABLES=glibc.malloc.mmap_threshold=32768 \
    "${config_args[@]}"
done
umoci gc --layout "$layout"
node image/oci.mjs index "$layout" "$version" "${labels[@]}"

rm -f "$archive.partial"
skopeo copy --quiet --all --preserve-digests "oci:$layout:$version" "oci-archive:$archive.partial:$version"
mv "$archive.partial" "$archive"

# --- the SBOM: the production npm packages the bundle is made of (npm sbom --omit dev), plus
# Node.js and the Debian packages.
npm sbom --sbom-format spdx --sbom-type application --omit dev >"$work/npm.spdx.json"
for arch in "${archs[@]}"; do
  node_arch="$arch"
  [[ "$arch" == amd64 ]] && node_arch=x64
  echo "npm node-linux-$node_arch $node_version $arch"
  while read -r file; do
    [[ -n "$file" ]] && dpkg-deb --show --showformat='deb ${Package} ${Version} ${Architecture}\n' "$file"
  done <<<"${deb_files[$arch]}"
done >"$work/components.txt"
node image/oci.mjs sbom "$work/npm.spdx.json" "$work/components.txt" "$created" "$key" \
  >"$out/$name.spdx.json"

seconds=$((SECONDS - started))
node image/oci.mjs info "$layout" "$archive" "$key" "$seconds" "$work" >"$out/build-info.json"
node image/oci.mjs summary "$out/build-info.json"
