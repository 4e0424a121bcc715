#!/usr/bin/env bash
# hack/certmanager/render.sh: re-renders cert-manager.yaml (committed) from the pinned cert-manager's
# Helm chart in the root module's zip (deploy/charts/cert-manager), with the pinned helm
# (hack/helm.sh), for the pinned Kubernetes (the versions are in hack/versions.env). Run it only
# when changing a version or the values below; deploy applies the committed file and needs
# neither helm nor the chart.
set -euo pipefail
LOG_TAG=render
. "$(dirname "$0")/../lib/common.sh"
HERE=$ROOT/hack/certmanager
export GOFLAGS=-modcacherw CGO_ENABLED=0
helm=$("$ROOT/hack/helm.sh" | tail -1)
work=$(mktemp -d); trap 'rm -rf $work' EXIT
src=$(cd $work && go mod download -json github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
cp -r $src/deploy/charts/cert-manager $work/chart; chmod -R u+w $work/chart
# the chart's version placeholders would otherwise tag the images v0.0.0
sed -i "s/^version: v0.0.0$/version: $CERT_MANAGER_VERSION/; s/^appVersion: v0.0.0$/appVersion: $CERT_MANAGER_VERSION/" $work/chart/Chart.yaml
{
  echo "# cert-manager $CERT_MANAGER_VERSION for DiLO's local and kind clusters: rendered by hack/certmanager/render.sh"
  echo "# from the chart in the cert-manager module zip (helm $HELM_VERSION). Images are the ones"
  echo "# hack/certmanager/build.sh builds and loads (localhost/..., never pulled); no startupapicheck Job;"
  echo "# no liveness probe on the controller (its thin main in hack/certmanager/cmbuild serves no /livez)."
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cert-manager\n'
  "$helm" template cert-manager $work/chart -n cert-manager --kube-version ${K8S_VERSION#v} \
    --set crds.enabled=true --set startupapicheck.enabled=false --set livenessProbe.enabled=false \
    --set image.repository=localhost/cert-manager-controller --set image.pullPolicy=Never \
    --set webhook.image.repository=localhost/cert-manager-webhook --set webhook.image.pullPolicy=Never \
    --set cainjector.image.repository=localhost/cert-manager-cainjector --set cainjector.image.pullPolicy=Never \
    --set acmesolver.image.repository=localhost/cert-manager-acmesolver
} > $HERE/cert-manager.yaml   # the chart's output starts with "---"; the namespace is not in it
grep -E '^kind:' $HERE/cert-manager.yaml | sort | uniq -c >&2
