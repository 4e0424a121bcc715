#!/usr/bin/env bash
# hack/cluster/kind.sh: a kind cluster "dilo" (created when missing) with DiLO's image loaded
# (make deploy then installs cert-manager from its release manifest); prints its kubeconfig's path last.
# Needs docker and kind; the cluster's nodes pull cert-manager's images from quay.io.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${DILO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dilo}
NAME=${KIND_CLUSTER:-dilo}
for b in docker kind; do
  command -v $b >/dev/null || { echo "kind.sh: $b is not installed (make e2e-kind and DILO_KIND=1 need docker and kind)" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "kind.sh: no Docker engine answers (docker info failed)" >&2; exit 1; }
kind get clusters 2>/dev/null | grep -qx "$NAME" || kind create cluster --name "$NAME" --wait 120s >&2
mkdir -p $CACHE/kind
kind get kubeconfig --name "$NAME" > $CACHE/kind/kubeconfig
"$ROOT/hack/image/build.sh" >/dev/null
kind load image-archive --name "$NAME" $CACHE/images/dilo.tar >&2
echo $CACHE/kind/kubeconfig
