#!/usr/bin/env bash
# A real etcd + kube-apiserver on 127.0.0.1 for the e2e tests (no Docker).
#
#   test/e2e/control-plane.sh up DIR     # start; prints DIR/env on stdout (last line)
#   test/e2e/control-plane.sh down DIR   # stop (TERM, then KILL); safe to call twice
#   test/e2e/control-plane.sh restart-apiserver DIR   # same port, same etcd
#
# `up` builds (or reuses) the binaries with build-control-plane.sh, generates
# certificates with openssl, starts etcd and kube-apiserver on free loopback
# ports, waits for /readyz and for the default namespace, then writes:
#   DIR/kubeconfig   admin (O=system:masters) client certificate, data embedded
#   DIR/env          KEY=value lines, shell-sourceable (`set -a; . DIR/env; set +a`):
#                    KUBECONFIG KUBECTL APISERVER_URL ETCD_URL ETCD_PID APISERVER_PID
#                    KUBE_BIN_DIR CONTROL_PLANE_DIR
#   DIR/pki/         CAs, serving/admin certificates, service-account key pair
#   DIR/logs/        etcd.log, kube-apiserver.log
#   DIR/etcd.pid, DIR/kube-apiserver.pid
# Each `up` starts from an empty etcd data dir and fresh certificates.
#
# Environment: CONTROL_PLANE_TIMEOUT (seconds, default 60) for the readiness
# wait; NEBULA_BR_CACHE is passed through to build-control-plane.sh;
# EXTRA_APISERVER_FLAGS (whitespace-separated, e.g.
# "--admission-control-config-file=/path/admission.yaml") are added to kube-apiserver's
# arguments, and kept for restart-apiserver. Unset: nothing changes.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

log() { printf '[control-plane] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { echo "usage: $0 up|down|restart-apiserver DIR" >&2; exit 2; }

# --- process helpers -------------------------------------------------------

# alive PID DIR: the process exists, is not a zombie, and is one of ours
# (its command line mentions DIR), so a reused PID is never touched.
alive() {
  local pid=$1 dir=$2 state
  [[ -n "$pid" && "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/stat" ]] || return 1
  state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ "$state" != Z && "$state" != X ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir"
}

read_pid() { if [[ -f "$1" ]]; then tr -dc '0-9' <"$1"; fi; }

# start_apiserver DIR BIN_DIR: runs kube-apiserver with the arguments saved in DIR.
start_apiserver() {
  local dir=$1 bin_dir=$2 args=()
  mapfile -t args <"$dir/kube-apiserver.args"
  "$bin_dir/kube-apiserver" "${args[@]}" </dev/null >>"$dir/logs/kube-apiserver.log" 2>&1 &
  echo "$!" >"$dir/kube-apiserver.pid"
}

stop_pid() { # name pidfile dir
  local name=$1 pid i
  pid=$(read_pid "$2")
  if ! alive "$pid" "$3"; then
    log "$name: not running"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do # 10s
    alive "$pid" "$3" || { log "$name: stopped"; return 0; }
    sleep 0.2
  done
  log "$name: still running after TERM, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 25; i++)); do
    alive "$pid" "$3" || { log "$name: killed"; return 0; }
    sleep 0.2
  done
  log "$name: pid $pid did not exit"
  return 1
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, one per line.
free_ports() {
  local n=$1
  if command -v python3 >/dev/null 2>&1 && python3 - "$n" <<'PY' 2>/dev/null; then return 0; fi
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
  if command -v node >/dev/null 2>&1; then
    node -e '
      const net = require("net"); const n = +process.argv[1]; const out = [];
      (function next() {
        if (out.length === n) { console.log(out.map(s => s.address().port).join("\n")); out.forEach(s => s.close()); return; }
        const s = net.createServer(); s.listen(0, "127.0.0.1", () => { out.push(s); next(); });
      })();' "$n"
    return
  fi
  die "need python3 or node to pick free ports"
}

# http_ok URL: GET over plain HTTP returns 200 (bash /dev/tcp, no curl needed).
http_ok() {
  local hostport=${1#http://} path
  path=/${hostport#*/}; hostport=${hostport%%/*}
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c '
    exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$2" "$1" >&3
    IFS= read -r status <&3
    [[ "$status" == *" 200 "* ]]' _ "$hostport" "$path" 2>/dev/null
}

# --- certificates ----------------------------------------------------------

gen_certs() { # pki dir
  local pki=$1
  command -v openssl >/dev/null 2>&1 || die "openssl not found (apt-get install openssl)"
  mkdir -p "$pki"
  (
    cd "$pki"
    umask 077
    ossl() { # quiet unless it fails
      local err
      if ! err=$(openssl "$@" 2>&1 >/dev/null); then
        printf 'openssl %s failed:\n%s\n' "$1" "$err" >&2
        return 1
      fi
    }
    newkey() { ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
    ca() { # name CN
      newkey "$1.key"
      ossl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/CN=$2" -out "$1.crt" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    }
    leaf() { # name subject ca extfile-content
      newkey "$1.key"
      ossl req -new -key "$1.key" -subj "$2" -out "$1.csr"
      printf '%s\n' "$4" >"$1.ext"
      ossl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -sha256 -days 3650 \
        -extfile "$1.ext" -out "$1.crt"
      rm -f "$1.csr" "$1.ext"
    }
    ca ca nebula-e2e-serving-ca
    leaf apiserver "/CN=kube-apiserver" ca \
"basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
    ca client-ca nebula-e2e-client-ca
    leaf admin "/O=system:masters/CN=admin" client-ca \
"basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    newkey sa.key
    ossl pkey -in sa.key -pubout -out sa.pub
    chmod 644 ./*.crt sa.pub
  )
}

b64() { base64 <"$1" | tr -d '\n'; }

write_kubeconfig() { # file url pki
  local f=$1 url=$2 pki=$3
  (umask 077 && : >"$f")
  cat >"$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $url
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: e2e
  context:
    cluster: e2e
    user: admin
current-context: e2e
EOF
}

# --- subcommands -----------------------------------------------------------

cmd_up() {
  local dir=$1 bin_dir timeout=${CONTROL_PLANE_TIMEOUT:-60} t0=$SECONDS
  mkdir -p "$dir"
  dir=$(cd -- "$dir" && pwd -P)

  if alive "$(read_pid "$dir/etcd.pid")" "$dir" || alive "$(read_pid "$dir/kube-apiserver.pid")" "$dir"; then
    die "a control plane from $dir is still running: run '$0 down $dir' first"
  fi

  bin_dir=$("$SCRIPT_DIR/build-control-plane.sh" | tail -n 1)
  [[ -x "$bin_dir/kube-apiserver" && -x "$bin_dir/kubectl" && -x "$bin_dir/etcd" ]] \
    || die "build-control-plane.sh gave no usable bin dir ('$bin_dir')"
  local kubectl="$bin_dir/kubectl"

  local pki="$dir/pki" logs="$dir/logs" data="$dir/etcd-data"
  rm -rf "$data" "$pki"
  mkdir -p "$logs" "$data"
  chmod 700 "$data"
  log "generating certificates in $pki"
  gen_certs "$pki"

  local ports etcd_port peer_port api_port
  ports=$(free_ports 3)
  { read -r etcd_port; read -r peer_port; read -r api_port; } <<<"$ports"
  [[ -n "$etcd_port" && -n "$peer_port" && -n "$api_port" ]] || die "could not pick free ports"
  local etcd_url="http://127.0.0.1:$etcd_port" api_url="https://127.0.0.1:$api_port"

  # stdin/stdout/stderr are detached from the caller (logs go to files), so a
  # caller that waits for this script's output (e.g. Node's execFile) returns.
  log "starting etcd on $etcd_url"
  "$bin_dir/etcd" \
    --name=e2e \
    --data-dir="$data" \
    --listen-client-urls="$etcd_url" \
    --advertise-client-urls="$etcd_url" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="e2e=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync=true \
    </dev/null >"$logs/etcd.log" 2>&1 &
  local etcd_pid=$!
  echo "$etcd_pid" >"$dir/etcd.pid"

  local deadline=$((SECONDS + timeout))
  until http_ok "$etcd_url/health"; do
    if ! alive "$etcd_pid" "$dir"; then
      tail -n 30 "$logs/etcd.log" >&2 || true
      die "etcd exited during startup (log: $logs/etcd.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$logs/etcd.log" >&2 || true
      stop_pid etcd "$dir/etcd.pid" "$dir" || true
      die "etcd not healthy after ${timeout}s (log: $logs/etcd.log)"
    fi
    sleep 0.2
  done
  log "etcd healthy (pid $etcd_pid)"

  log "starting kube-apiserver on $api_url"
  # Kept so that `restart-apiserver` starts the same server again.
  printf '%s\n' \
    "--etcd-servers=$etcd_url" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    "--secure-port=$api_port" \
    "--tls-cert-file=$pki/apiserver.crt" \
    "--tls-private-key-file=$pki/apiserver.key" \
    "--client-ca-file=$pki/client-ca.crt" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --allow-privileged=true \
    --authorization-mode=RBAC \
    --disable-admission-plugins=ServiceAccount \
    "--service-account-issuer=$api_url/" \
    "--service-account-key-file=$pki/sa.pub" \
    "--service-account-signing-key-file=$pki/sa.key" \
    >"$dir/kube-apiserver.args"
  local extra_flags=()
  read -r -a extra_flags <<<"${EXTRA_APISERVER_FLAGS:-}"
  if ((${#extra_flags[@]} > 0)); then
    log "extra kube-apiserver flags: ${extra_flags[*]}"
    printf '%s\n' "${extra_flags[@]}" >>"$dir/kube-apiserver.args"
  fi
  start_apiserver "$dir" "$bin_dir"
  local api_pid
  api_pid=$(read_pid "$dir/kube-apiserver.pid")

  local kubeconfig="$dir/kubeconfig"
  write_kubeconfig "$kubeconfig" "$api_url" "$pki"

  fail() {
    log "$1"
    log "last lines of $logs/kube-apiserver.log:"
    tail -n 40 "$logs/kube-apiserver.log" >&2 || true
    stop_pid kube-apiserver "$dir/kube-apiserver.pid" "$dir" || true
    stop_pid etcd "$dir/etcd.pid" "$dir" || true
    exit 1
  }
  deadline=$((SECONDS + timeout))
  local out=""
  until out=$("$kubectl" --kubeconfig="$kubeconfig" --request-timeout=5s get --raw=/readyz 2>&1); do
    alive "$api_pid" "$dir" || fail "kube-apiserver exited during startup"
    ((SECONDS < deadline)) || fail "kube-apiserver /readyz not 200 after ${timeout}s: $(tail -n 5 <<<"$out")"
    sleep 0.5
  done
  until "$kubectl" --kubeconfig="$kubeconfig" --request-timeout=5s get ns default >/dev/null 2>&1; do
    alive "$api_pid" "$dir" || fail "kube-apiserver exited during startup"
    ((SECONDS < deadline)) || fail "namespace default not there after ${timeout}s"
    sleep 0.5
  done

  {
    printf 'KUBECONFIG=%q\n' "$kubeconfig"
    printf 'KUBECTL=%q\n' "$kubectl"
    printf 'KUBE_BIN_DIR=%q\n' "$bin_dir"
    printf 'APISERVER_URL=%q\n' "$api_url"
    printf 'ETCD_URL=%q\n' "$etcd_url"
    printf 'ETCD_PID=%q\n' "$etcd_pid"
    printf 'APISERVER_PID=%q\n' "$api_pid"
    printf 'CONTROL_PLANE_DIR=%q\n' "$dir"
  } >"$dir/env.tmp"
  mv -f "$dir/env.tmp" "$dir/env"
  log "ready in $((SECONDS - t0))s: $api_url (etcd pid $etcd_pid, kube-apiserver pid $api_pid)"
  printf '%s\n' "$dir/env"
}

cmd_down() {
  local dir=$1 rc=0
  if [[ ! -d "$dir" ]]; then
    log "$dir does not exist: nothing to stop"
    return 0
  fi
  dir=$(cd -- "$dir" && pwd -P)
  stop_pid kube-apiserver "$dir/kube-apiserver.pid" "$dir" || rc=1
  stop_pid etcd "$dir/etcd.pid" "$dir" || rc=1
  return "$rc"
}

# restart-apiserver DIR: stops kube-apiserver and starts it again on the same port, with
# the same etcd (so the cluster's objects survive): a control-plane restart for the tests.
cmd_restart_apiserver() {
  local dir
  dir=$(cd -- "$1" && pwd -P)
  [[ -f "$dir/env" && -f "$dir/kube-apiserver.args" ]] || die "$dir holds no running control plane"
  local KUBECTL KUBE_BIN_DIR KUBECONFIG
  KUBECTL=$(sed -n 's/^KUBECTL=//p' "$dir/env")
  KUBE_BIN_DIR=$(sed -n 's/^KUBE_BIN_DIR=//p' "$dir/env")
  KUBECONFIG=$(sed -n 's/^KUBECONFIG=//p' "$dir/env")
  stop_pid kube-apiserver "$dir/kube-apiserver.pid" "$dir"
  start_apiserver "$dir" "$KUBE_BIN_DIR"
  local deadline=$((SECONDS + ${CONTROL_PLANE_TIMEOUT:-60}))
  until "$KUBECTL" --kubeconfig="$KUBECONFIG" --request-timeout=5s get --raw=/readyz >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "kube-apiserver not ready again after restart"
    sleep 0.3
  done
  log "kube-apiserver restarted (pid $(read_pid "$dir/kube-apiserver.pid"))"
}

[[ $# -eq 2 ]] || usage
case $1 in
  up) cmd_up "$2" ;;
  down) cmd_down "$2" ;;
  restart-apiserver) cmd_restart_apiserver "$2" ;;
  *) usage ;;
esac
