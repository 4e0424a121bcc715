#!/usr/bin/env bash
# hack/cluster/demo.sh: DiLO end to end on a fresh Linux machine with Go and root.
#   1. images (DiLO, cert-manager) and a cluster: the local one (hack/cluster/up.sh), or kind
#      with DILO_KIND=1 (hack/kind/up.sh);
#   2. cert-manager and DiLO (hack/cluster/deploy.sh), the manager running in the cluster;
#   3. the demo target behind Service nginx and the tutorial's LoadTest, in namespace default;
#   4. the LoadTest's progress (kubectl get ld -w, bounded) and its merged results.
# Everything is left running; `make cluster-down` (`make kind-down`) cleans up.
set -euo pipefail
LOG_TAG=demo
. "$(dirname "$0")/../lib/common.sh"
say() { printf '\n=== %s\n' "$*" >&2; }

say "building DiLO's image"
"$ROOT/hack/image/build.sh" >/dev/null
if [ "${DILO_KIND:-0}" = 1 ]; then
  say "kind cluster"
  KUBECONFIG=$("$ROOT/hack/kind/up.sh" | tail -1)
else
  say "cert-manager's images"
  "$ROOT/hack/certmanager/build.sh" >/dev/null
  say "local cluster"
  KUBECONFIG=$("$ROOT/hack/cluster/up.sh" | tail -1)
fi
export KUBECONFIG
KUBECTL=$K8S_BIN/kubectl
[ -x $KUBECTL ] || KUBECTL=$("$ROOT/hack/k8s-bin.sh" kubectl | tail -1)/kubectl

say "cert-manager and DiLO"
"$ROOT/hack/cluster/deploy.sh"

say "the demo target (Service nginx in namespace default)"
$KUBECTL -n default apply -f "$ROOT/hack/cluster/demo-target.yaml"
$KUBECTL -n default rollout status deploy/nginx --timeout=120s

say "the tutorial's LoadTest (5 pods, 10 GETs each)"
cat "$ROOT/e2e/testdata/example-02.yaml"
$KUBECTL -n default delete loadtest example-02 --ignore-not-found --wait >/dev/null
$KUBECTL -n default apply -f "$ROOT/e2e/testdata/example-02.yaml"

say "progress (kubectl get ld example-02 -w)"
timeout 300 $KUBECTL -n default get ld example-02 -w &
watcher=$!
state=
for _ in $(seq 300); do
  state=$($KUBECTL -n default get ld example-02 -o jsonpath='{.status.state}' 2>/dev/null || true)
  case $state in finished|failed) break;; esac
  sleep 1
done
sleep 2; kill $watcher 2>/dev/null || true; wait $watcher 2>/dev/null || true

say "merged results of example-02 ($state)"
$KUBECTL -n default get ld example-02 -o yaml | sed -n '/^status:/,$p'
cat >&2 <<EOF

DiLO keeps running. Try:
  export KUBECONFIG=$KUBECONFIG
  $KUBECTL get ld,pods -n default
  $KUBECTL -n dilo-system logs deploy/dilo-controller-manager
Clean up: $( [ "${DILO_KIND:-0}" = 1 ] && echo "make kind-down" || echo "make cluster-down")   (make undeploy removes DiLO alone)
EOF
[ "$state" = finished ]
