#!/usr/bin/env bash
# generate.sh [--verify]
#
# Generates, from the kubebuilder markers in the Go code, everything DiLO never writes
# by hand: deepcopy functions (api/v1), CRDs (config/crd/bases), the manager's RBAC
# role (config/rbac/role.yaml) and the webhook configurations (config/webhook/manifests.yaml).
# With --verify it generates into a scratch directory instead and fails, naming the
# files, when the committed ones are stale.
set -euo pipefail
LOG_TAG=generate
. "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

out_object=api/v1 out_crd=config/crd/bases out_rbac=config/rbac out_webhook=config/webhook
if [ "${1:-}" = --verify ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  out_object=$tmp/object out_crd=$tmp/crd out_rbac=$tmp/rbac out_webhook=$tmp/webhook
fi

go tool controller-gen \
  object:headerFile=hack/boilerplate.go.txt output:object:dir="$out_object" \
  crd output:crd:artifacts:config="$out_crd" \
  rbac:roleName=manager-role output:rbac:artifacts:config="$out_rbac" \
  webhook output:webhook:artifacts:config="$out_webhook" \
  paths="{./api/...,./internal/...,./cmd/...}"

[ "${1:-}" = --verify ] || exit 0
stale=0
check() { # generated committed
  if ! diff -q "$1" "$2" >/dev/null 2>&1; then echo "stale generated file: $2 (run 'make generate')" >&2; stale=1; fi
}
check "$tmp/object/zz_generated.deepcopy.go" api/v1/zz_generated.deepcopy.go
for f in "$tmp"/crd/*.yaml; do check "$f" "config/crd/bases/$(basename "$f")"; done
for f in config/crd/bases/*.yaml; do [ -e "$tmp/crd/$(basename "$f")" ] || { echo "stale generated file: $f (no longer generated)" >&2; stale=1; }; done
for f in "$tmp"/rbac/*.yaml "$tmp"/webhook/*.yaml; do
  [ -e "$f" ] || continue
  check "$f" "config/$(basename "$(dirname "$f")")/$(basename "$f")"
done
exit $stale
