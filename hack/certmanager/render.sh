#!/usr/bin/env bash
# hack/certmanager/render.sh: re-renders cert-manager.yaml (committed) from cert-manager v1.21.2's
# Helm chart in the root module's zip (deploy/charts/cert-manager), with helm v3.22.0 built from
# the module proxy. Run it only when changing the version or the values below; deploy applies
# the committed file and needs neither helm nor the chart.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${DILO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dilo}
CM_VERSION=v1.21.2 HELM_VERSION=v3.22.0
export GOPROXY=${GOPROXY:-https://proxy.golang.org} GOFLAGS=-modcacherw CGO_ENABLED=0
[ -x $CACHE/bin/helm ] || GOBIN=$CACHE/bin go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION
work=$(mktemp -d); trap 'rm -rf $work' EXIT
src=$(cd $work && go mod download -json github.com/cert-manager/cert-manager@$CM_VERSION | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
cp -r $src/deploy/charts/cert-manager $work/chart; chmod -R u+w $work/chart
# the chart's version placeholders would otherwise tag the images v0.0.0
sed -i "s/^version: v0.0.0$/version: $CM_VERSION/; s/^appVersion: v0.0.0$/appVersion: $CM_VERSION/" $work/chart/Chart.yaml
{
  echo "# cert-manager $CM_VERSION for DiLO's local and kind clusters: rendered by hack/certmanager/render.sh"
  echo "# from the chart in the cert-manager module zip (helm $HELM_VERSION). Images are the ones"
  echo "# hack/certmanager/build.sh builds and loads (localhost/..., never pulled); no startupapicheck Job;"
  echo "# no liveness probe on the controller (its thin main in build-binaries.sh serves no /livez)."
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cert-manager\n'
  $CACHE/bin/helm template cert-manager $work/chart -n cert-manager --kube-version 1.37.2 \
    --set crds.enabled=true --set startupapicheck.enabled=false --set livenessProbe.enabled=false \
    --set image.repository=localhost/cert-manager-controller --set image.pullPolicy=Never \
    --set webhook.image.repository=localhost/cert-manager-webhook --set webhook.image.pullPolicy=Never \
    --set cainjector.image.repository=localhost/cert-manager-cainjector --set cainjector.image.pullPolicy=Never \
    --set acmesolver.image.repository=localhost/cert-manager-acmesolver
} > $HERE/cert-manager.yaml   # the chart's output starts with "---"; the namespace is not in it
grep -E '^kind:' $HERE/cert-manager.yaml | sort | uniq -c >&2
