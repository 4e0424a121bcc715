#!/usr/bin/env bash
# kubebuilder.sh
#
# Builds the pinned kubebuilder (its helm/v2-alpha plugin writes dist/chart) from the Go
# module proxy alone, into a cache directory outside the repository, and prints the
# binary's path as its last line.
#
# Idempotent: a binary that already reports the pinned version is not rebuilt.
# Cold, about 1.5 minutes on 2 busy cores (seconds after hack/helm.sh, which builds
# most of the same packages); cached, under a tenth of a second.
set -euo pipefail
LOG_TAG=kubebuilder
. "$(dirname "$0")/lib/common.sh"

OUT=$CACHE/kubebuilder/$KUBEBUILDER_VERSION

export CGO_ENABLED=0 GOFLAGS=-modcacherw
unset GOWORK || true

# kubebuilder reports the module version go install stamps into its build info.
version_of() { "$1" version 2>/dev/null | awk '$1 == "KubeBuilder:" {print $2}'; }

if [ -x "$OUT/kubebuilder" ] && [ "$(version_of "$OUT/kubebuilder")" = "$KUBEBUILDER_VERSION" ]; then
  echo "$OUT/kubebuilder"
  exit 0
fi

log "building kubebuilder $KUBEBUILDER_VERSION (cold, a minute or two)"
mkdir -p "$OUT"
tmp=$(mktemp -d "$OUT/.build.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && GOBIN=$tmp go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kubebuilder/v4@$KUBEBUILDER_VERSION")
mv -f "$tmp/kubebuilder" "$OUT/kubebuilder"
log "kubebuilder: $(version_of "$OUT/kubebuilder")"
echo "$OUT/kubebuilder"
