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

# DiLO's and cert-manager's images build while the cluster comes up: on a cold machine
# the Kubernetes build alone leaves a core idle for minutes (its largest packages and
# links compile one at a time). Both are loaded by deploy.sh, after they are waited for.
say "building DiLO's and cert-manager's images, beside the cluster (logs in $CACHE/demo)"
mkdir -p $CACHE/demo
(cd "$ROOT" && CGO_ENABLED=0 go build -o $CACHE/bin/image ./hack/image)  # shared by both builds
"$ROOT/hack/image/build.sh" >$CACHE/demo/image.log 2>&1 & image_build=$!
"$ROOT/hack/certmanager/build.sh" >$CACHE/demo/certmanager.log 2>&1 & cm_build=$!
built() { # pid log what
  wait "$1" || { tail -20 "$2" >&2; die "building $3 failed (log $2)"; }
}
if [ "${DILO_KIND:-0}" = 1 ]; then
  say "kind cluster"
  built $image_build $CACHE/demo/image.log "DiLO's image"
  built $cm_build $CACHE/demo/certmanager.log "cert-manager's images"
  KUBECONFIG=$("$ROOT/hack/kind/up.sh" | tail -1)
else
  say "local cluster"
  KUBECONFIG=$("$ROOT/hack/cluster/up.sh" | tail -1)
  built $image_build $CACHE/demo/image.log "DiLO's image"
  built $cm_build $CACHE/demo/certmanager.log "cert-manager's images"
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
