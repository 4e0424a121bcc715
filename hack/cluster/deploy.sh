#!/usr/bin/env bash
# hack/cluster/deploy.sh [--undeploy]: installs DiLO (config/default) in the cluster $KUBECONFIG
# names, with cert-manager first when it is missing, and waits until both admission webhooks
# answer. --undeploy removes DiLO (its LoadTests and SimpleDeployments first, while the manager
# can still finalize them), and leaves cert-manager.
#
# The images must already be in the cluster: on the local cluster (hack/cluster/up.sh) this
# script imports ${DILO_CACHE}/images/*.tar itself; DiLO's kind cluster (hack/kind/up.sh) has
# them loaded; elsewhere, load them yourself. cert-manager comes from
# hack/certmanager/cert-manager.yaml (images built by hack/certmanager/build.sh) on those two
# clusters, from its upstream release manifest elsewhere, or from CERT_MANAGER_MANIFEST.
set -euo pipefail
LOG_TAG=deploy
. "$(dirname "$0")/../lib/common.sh"
: "${KUBECONFIG:?set KUBECONFIG to the cluster to deploy to (make cluster-up prints one)}"
K8S=$K8S_BIN
[ -x $K8S/kubectl ] || K8S=$("$ROOT/hack/k8s-bin.sh" kubectl | tail -1)
KUBECTL=$K8S/kubectl

if [ "${1:-}" = --undeploy ]; then
  if $KUBECTL get crd loadtests.example.org >/dev/null 2>&1; then
    $KUBECTL delete loadtests.example.org,simpledeployments.example.org --all -A --wait --timeout=120s >&2 || true
  fi
  $KUBECTL delete -k "$ROOT/config/default" --ignore-not-found --wait --timeout=180s >&2
  log "DiLO removed (cert-manager stays)"
  exit 0
fi

is_local=0; [ "$(realpath -m "$KUBECONFIG")" = "$(realpath -m $CACHE/cluster/kubeconfig/admin.kubeconfig)" ] && is_local=1
is_kind=0; [ "$(realpath -m "$KUBECONFIG")" = "$(realpath -m $CACHE/kind/kubeconfig)" ] && is_kind=1

# ---------------------------------------------------------------- cert-manager
# the rendered manifest's images exist only where hack/cluster/load.sh put them
manifest=$ROOT/hack/certmanager/cert-manager.yaml
[ $is_local = 1 ] || [ $is_kind = 1 ] || manifest=https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml
manifest=${CERT_MANAGER_MANIFEST:-$manifest}
if ! $KUBECTL -n cert-manager get deploy cert-manager-webhook >/dev/null 2>&1; then
  if [ $is_local = 1 ] && [ -z "${CERT_MANAGER_MANIFEST:-}" ]; then
    "$ROOT/hack/certmanager/build.sh" >/dev/null
  fi
  log "installing cert-manager from $manifest"
  [ $is_local = 0 ] || "$ROOT/hack/cluster/load.sh" $CACHE/images/*.tar
  $KUBECTL apply --server-side -f "$manifest" >/dev/null
fi
[ $is_local = 0 ] || "$ROOT/hack/cluster/load.sh" $CACHE/images/*.tar
for d in cert-manager cert-manager-cainjector cert-manager-webhook; do
  retry "cert-manager deployment $d" 300 $KUBECTL -n cert-manager rollout status deploy/$d --timeout=10s
done
# The webhook answers once cainjector has put its CA in the webhook configurations.
issuer='{"apiVersion":"cert-manager.io/v1","kind":"Issuer","metadata":{"name":"dilo-probe","namespace":"default"},"spec":{"selfSigned":{}}}'
retry "cert-manager webhook" 300 sh -c "echo '$issuer' | $KUBECTL create --dry-run=server -f -"

# ---------------------------------------------------------------- DiLO
[ -f "$ROOT/config/default/kustomization.yaml" ] || die "config/default is missing"
log "applying config/default"
$KUBECTL apply --server-side --force-conflicts -k "$ROOT/config/default" >/dev/null
# a new image under the same tag: restart the manager so that it runs the one just loaded
loaded= deployed=
[ $is_local = 0 ] || { loaded=$CACHE/cluster/data/imported/dilo.tar.sha256 deployed=$CACHE/cluster/run/deployed; }
[ $is_kind = 0 ] || { loaded=$CACHE/kind/run/loaded-${KIND_CLUSTER:-dilo}-dilo.tar deployed=$CACHE/kind/run/deployed-${KIND_CLUSTER:-dilo}; }
if [ -n "$loaded" ] && [ -e "$deployed" ] && [ "$loaded" -nt "$deployed" ]; then
  $KUBECTL -n dilo-system rollout restart deploy/dilo-controller-manager >/dev/null
fi
[ -z "$deployed" ] || touch "$deployed"
retry "DiLO manager rollout" 300 $KUBECTL -n dilo-system rollout status deploy/dilo-controller-manager --timeout=10s
# The webhooks answer a server-side dry run once the CA is injected and the Service has endpoints.
# (A SimpleDeployment: a LoadTest's admission also needs its target Service to exist.)
probe='{"apiVersion":"example.org/v1","kind":"SimpleDeployment","metadata":{"name":"dilo-probe","namespace":"default"},"spec":{"sleepytime":1}}'
retry "DiLO webhook" 300 sh -c "echo '$probe' | $KUBECTL create --dry-run=server -f -"
log "DiLO deployed"
