#!/usr/bin/env bash
# `make demo`: a real kube-apiserver and etcd on 127.0.0.1, the webhook in front of them,
# and a short kubectl session: accepted, mutated, denied, warned. Everything is torn down at
# the end, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d /tmp/nebula-br-demo.XXXXXX)
webhook_pid=""
cleanup() {
  [[ -n "$webhook_pid" ]] && kill "$webhook_pid" 2>/dev/null && wait "$webhook_pid" 2>/dev/null
  bash test/e2e/control-plane.sh down "$dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "# Starting etcd and kube-apiserver on 127.0.0.1 (the first run builds them: minutes)"
bash test/e2e/control-plane.sh up "$dir" >/dev/null
set -a; . "$dir/env"; set +a
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }
kc apply -f test/e2e/crds/common/ -f test/e2e/crds/v1.4-1.7/ >/dev/null
kc wait --for=condition=Established crd --all --timeout=60s >/dev/null
kc apply -f test/e2e/fixtures/cluster.yaml >/dev/null

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
node dist/src/cli.js serve --kubeconfig "$KUBECONFIG" --port "$port" --ca-out "$dir/ca.pem" >"$dir/logs/webhook.log" 2>&1 &
webhook_pid=$!
for _ in $(seq 100); do
  [[ -f "$dir/ca.pem" ]] && curl -fsS --cacert "$dir/ca.pem" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
node dist/test/e2e/render-webhooks.js "$port" "$dir/ca.pem" | kc apply -f - >/dev/null
echo "# Webhook on https://127.0.0.1:$port; clusters nebula/nebula (enableBR: true) and nebula/nebula-nobr (without)"
echo

show() {
  echo "\$ kubectl $*"
  kc "$@" 2>&1 || true
  echo
}
show apply -f examples/restore-accepted.yaml
show -n nebula get nebularestore restore1 -o 'jsonpath=concurrency={.spec.br.concurrency}{"\n"}'
show apply -f examples/restore-denied.yaml
show apply -f examples/backup-job-denied.yaml
show apply -f examples/backup-job-split-command.yaml
show apply -f examples/backup-job.yaml
show -n nebula get job nebula-full-backup -o 'jsonpath=imagePullSecrets={.spec.template.spec.imagePullSecrets[*].name}{"\n"}env={.spec.template.spec.containers[0].env}{"\n"}script={.spec.template.spec.containers[0].command[2]}{"\n"}'
echo "# Done; tearing down."
