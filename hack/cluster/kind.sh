#!/usr/bin/env bash
# hack/cluster/kind.sh: a kind cluster "dilo" (created when missing) with DiLO's image loaded
# (make deploy then installs cert-manager from its release manifest); prints its kubeconfig's path last.
# Needs docker and kind; the cluster's nodes pull cert-manager's images from quay.io.
set -euo pipefail
LOG_TAG=kind
. "$(dirname "$0")/../lib/common.sh"
NAME=${KIND_CLUSTER:-dilo}
for b in docker kind; do
  command -v $b >/dev/null || die "$b is not installed (make e2e-kind and DILO_KIND=1 need docker and kind)"
done
docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed)"
kind get clusters 2>/dev/null | grep -qx "$NAME" || kind create cluster --name "$NAME" --wait 120s >&2
mkdir -p $CACHE/kind
kind get kubeconfig --name "$NAME" > $CACHE/kind/kubeconfig
"$ROOT/hack/image/build.sh" >/dev/null
kind load image-archive --name "$NAME" $CACHE/images/dilo.tar >&2
echo $CACHE/kind/kubeconfig
