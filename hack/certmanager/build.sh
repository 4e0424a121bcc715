#!/usr/bin/env bash
# hack/certmanager/build.sh: builds cert-manager v1.21.2's controller, cainjector and webhook from
# the Go module proxy (build-binaries.sh: thin mains over the root module, since the upstream
# cmd modules are not published; Venafi's vcert v5.13 is refused by the proxy, so v5.12.3 plus an
# NGTS stub stands in: SelfSigned and CA issuers, which DiLO uses, are unaffected) and packs them
# as the images localhost/cert-manager-{controller,cainjector,webhook}:v1.21.2 (one shared
# layer) into ${DILO_CACHE:-~/.cache/dilo}/images/cert-manager.tar, whose path it prints last.
# Idempotent: binaries already built are kept.
set -euo pipefail
# Only the Go module proxy is reachable: never fall back to fetching from VCS hosts.
GOPROXY=$(printf '%s' "${GOPROXY:-https://proxy.golang.org}" | sed -E 's/(^|[,|])direct//g; s/^[,|]+//; s/[,|]+$//')
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${DILO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dilo}
CM_VERSION=v1.21.2
OUT=$CACHE/certmanager/$CM_VERSION
if [ ! -x $OUT/controller ] || [ ! -x $OUT/cainjector ] || [ ! -x $OUT/webhook ]; then
  echo "[certmanager] building cert-manager $CM_VERSION (cold: about 3 minutes on a quiet machine)" >&2
  CM_VERSION=$CM_VERSION "$ROOT/hack/certmanager/build-binaries.sh" $OUT $CACHE/certmanager/work >&2
fi
(cd "$ROOT" && CGO_ENABLED=0 go build -o $CACHE/bin/image ./hack/image)
$CACHE/bin/image -out $CACHE/images/cert-manager.tar \
  -file /controller=$OUT/controller -file /cainjector=$OUT/cainjector -file /webhook=$OUT/webhook \
  -image localhost/cert-manager-controller:$CM_VERSION=/controller \
  -image localhost/cert-manager-cainjector:$CM_VERSION=/cainjector \
  -image localhost/cert-manager-webhook:$CM_VERSION=/webhook
echo $CACHE/images/cert-manager.tar
