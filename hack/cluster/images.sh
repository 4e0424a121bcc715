#!/usr/bin/env bash
# hack/cluster/images.sh: the images every cluster of DiLO's runs besides DiLO's and
# cert-manager's, built from the Go module proxy: the pod sandbox registry.k8s.io/pause
# (PAUSE_VERSION) and CoreDNS localhost/coredns (COREDNS_VERSION), plus the local cluster's
# CRI client. Prints the directory holding pause.tar and cluster.tar last.
# Rebuilt when a pinned version changes (containerd would ask for a tag never imported).
set -euo pipefail
LOG_TAG=cluster-images
. "$(dirname "$0")/../lib/common.sh"
S=$CACHE/cluster
mkdir -p $S/bin $S/images
stamp="pause $PAUSE_VERSION coredns $COREDNS_VERSION"
if [ ! -s $S/images/cluster.tar ] || [ ! -s $S/images/pause.tar ] || [ ! -x $S/bin/cri ] ||
   [ "$(cat $S/images/.versions 2>/dev/null)" != "$stamp" ]; then
  log "building pause, CoreDNS and the CRI client (CoreDNS takes minutes cold)"
  (cd "$ROOT/hack/cluster" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o $S/bin/ ./pause ./coredns ./cri)
  (cd "$ROOT" && CGO_ENABLED=0 go build -o $S/bin/image ./hack/image)
  # the kubelet's sandbox image (containerd's sandbox_image); root, as upstream's pause
  $S/bin/image -out $S/images/pause.tar -user 0:0 -file /pause=$S/bin/pause -image registry.k8s.io/pause:$PAUSE_VERSION=/pause
  $S/bin/image -out $S/images/cluster.tar -file /coredns=$S/bin/coredns -image localhost/coredns:$COREDNS_VERSION=/coredns
  echo "$stamp" > $S/images/.versions
fi
echo $S/images
