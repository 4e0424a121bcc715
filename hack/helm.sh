#!/usr/bin/env bash
# helm.sh
#
# Builds the pinned helm (test/chart lints and renders dist/chart with it) from the Go
# module proxy alone, into a cache directory outside the repository, and prints the
# binary's path as its last line (it is HELM for `make test`).
#
# Idempotent: a binary that already reports the pinned version is not rebuilt.
# Cold, 5 to 7 minutes on 2 busy cores (the first run also downloads its modules);
# cached, under a tenth of a second.
set -euo pipefail
LOG_TAG=helm
. "$(dirname "$0")/lib/common.sh"

OUT=$CACHE/helm/$HELM_VERSION

export CGO_ENABLED=0 GOFLAGS=-modcacherw
unset GOWORK || true

version_of() { "$1" version --template '{{.Version}}' 2>/dev/null || true; }

if [ -x "$OUT/helm" ] && [ "$(version_of "$OUT/helm")" = "$HELM_VERSION" ]; then
  echo "$OUT/helm"
  exit 0
fi

# What helm's own Makefile stamps in: its version, and the Kubernetes version of the
# client-go it builds against (helm template's and helm lint's default KubeVersion).
gomod=$(cd "${TMPDIR:-/tmp}" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
k8s_minor=$(awk '$1 == "k8s.io/client-go" {split($2, v, "."); print v[2]}' "$gomod")
[ -n "$k8s_minor" ] || die "no k8s.io/client-go in $gomod"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$k8s_minor"
done

log "building helm $HELM_VERSION (cold, minutes)"
mkdir -p "$OUT"
tmp=$(mktemp -d "$OUT/.build.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && GOBIN=$tmp go install -trimpath -ldflags="$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
mv -f "$tmp/helm" "$OUT/helm"
log "helm: $(version_of "$OUT/helm")"
echo "$OUT/helm"
