#!/usr/bin/env bash
# hack/certmanager/build.sh: builds the pinned cert-manager's (CERT_MANAGER_VERSION, hack/versions.env)
# controller, cainjector and webhook from the Go module proxy (build-binaries.sh: our thin mains in cmbuild/
# over the root module, since the upstream cmd modules are not published; Venafi's vcert v5.13 is refused by
# the proxy, so v5.12.3 plus an NGTS stub stands in: SelfSigned and CA issuers, which DiLO uses, are
# unaffected) and packs them as the images localhost/cert-manager-{controller,cainjector,webhook}
# tagged with that version (one shared layer) into ${DILO_CACHE:-~/.cache/dilo}/images/cert-manager.tar,
# whose path it prints last.
# Idempotent: binaries already built are kept.
set -euo pipefail
LOG_TAG=certmanager
. "$(dirname "$0")/../lib/common.sh"
OUT=$CACHE/certmanager/$CERT_MANAGER_VERSION
if [ ! -x $OUT/controller ] || [ ! -x $OUT/cainjector ] || [ ! -x $OUT/webhook ]; then
  log "building cert-manager $CERT_MANAGER_VERSION (cold: about 3 minutes on 2 quiet cores)"
  CM_VERSION=$CERT_MANAGER_VERSION "$ROOT/hack/certmanager/build-binaries.sh" $OUT $CACHE/certmanager/work >&2
fi
(cd "$ROOT" && CGO_ENABLED=0 go build -o $CACHE/bin/image ./hack/image)
$CACHE/bin/image -out $CACHE/images/cert-manager.tar \
  -file /controller=$OUT/controller -file /cainjector=$OUT/cainjector -file /webhook=$OUT/webhook \
  -image localhost/cert-manager-controller:$CERT_MANAGER_VERSION=/controller \
  -image localhost/cert-manager-cainjector:$CERT_MANAGER_VERSION=/cainjector \
  -image localhost/cert-manager-webhook:$CERT_MANAGER_VERSION=/webhook
echo $CACHE/images/cert-manager.tar
