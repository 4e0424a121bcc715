#!/usr/bin/env bash
# chart.sh [--verify]
#
# Generates dist/chart, DiLO's Helm chart, from config/default with kubebuilder's
# helm/v2-alpha plugin: what `kubebuilder edit --plugins=helm/v2-alpha` does in a
# kubebuilder project, run in a scratch directory so that it touches nothing else.
# With --verify it generates into the scratch directory only and fails, naming the
# files, when dist/chart is stale.
#
# The plugin reads two things: the project's name from a PROJECT file (the chart's name
# and the prefix of its template helpers), and the rendered kustomize output. DiLO has
# no PROJECT file, so the scratch directory gets a minimal one, already listing the
# plugin so that the plugin does not take it for a first run and append Helm targets
# to a Makefile. The manifests are rendered from config/default here rather than read
# from dist/install.yaml, so that --verify also catches a config/ change whose
# dist/install.yaml was never regenerated.
#
# --force regenerates every file from the manifests, values.yaml included, except
# Chart.yaml: its version and appVersion are the release's to set, so the committed one
# is kept (the plugin never overwrites it). The plugin's GitHub workflow is not copied.
set -euo pipefail
LOG_TAG=chart
. "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

PROJECT_NAME=dilo
CHART=dist/chart
verify=false
[ "${1:-}" = --verify ] && verify=true

kubebuilder=$(hack/kubebuilder.sh | tail -1)
kubectl=$(hack/k8s-bin.sh kubectl | tail -1)/kubectl
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/PROJECT" <<EOF
layout:
- go.kubebuilder.io/v4
plugins:
  helm.kubebuilder.io/v2-alpha:
    manifests: install.yaml
    output: dist
projectName: $PROJECT_NAME
repo: github.com/dilo-operator/dilo
version: "3"
EOF
"$kubectl" kustomize config/default > "$tmp/install.yaml"
if [ -f "$CHART/Chart.yaml" ]; then
  mkdir -p "$tmp/$CHART"
  cp "$CHART/Chart.yaml" "$tmp/$CHART/Chart.yaml"
fi
if ! (cd "$tmp" && "$kubebuilder" edit --plugins=helm/v2-alpha --manifests=install.yaml --output-dir=dist --force) \
  > "$tmp/kubebuilder.log" 2>&1; then
  cat "$tmp/kubebuilder.log" >&2
  exit 1
fi

if ! $verify; then
  rm -rf "$CHART.tmp"
  cp -R "$tmp/$CHART" "$CHART.tmp"
  rm -rf "$CHART"
  mv "$CHART.tmp" "$CHART"
  exit 0
fi

stale=0
while read -r f; do
  if [ ! -e "$CHART/$f" ]; then
    echo "stale generated file: $CHART/$f (missing; run 'make generate')" >&2; stale=1
  elif ! cmp -s "$tmp/$CHART/$f" "$CHART/$f"; then
    echo "stale generated file: $CHART/$f (run 'make generate')" >&2; stale=1
  fi
done < <(cd "$tmp/$CHART" && find . -type f | sed 's|^\./||' | sort)
if [ -d "$CHART" ]; then
  while read -r f; do
    [ -e "$tmp/$CHART/$f" ] || { echo "stale generated file: $CHART/$f (no longer generated)" >&2; stale=1; }
  done < <(cd "$CHART" && find . -type f | sed 's|^\./||' | sort)
fi
exit $stale
