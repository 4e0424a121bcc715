#!/usr/bin/env bash
# hack/cluster/load.sh TAR...: imports docker-archive image tarballs into the local cluster's
# containerd (namespace k8s.io, where the kubelet looks). A tarball already imported with the
# same checksum is skipped, so this is cheap to repeat.
set -euo pipefail
LOG_TAG=load
. "$(dirname "$0")/../lib/common.sh"
S=$CACHE/cluster
CTR="ctr --address $S/run/containerd.sock -n k8s.io"
$CTR version >/dev/null 2>&1 || die "the local cluster's containerd is not running (make cluster-up)"
mkdir -p $S/data/imported
have=$($CTR images ls -q)
for t in "$@"; do
  [ -s "$t" ] || continue
  refs=$(tar xOf "$t" manifest.json | grep -oE '"RepoTags":\[[^]]*\]' | grep -oE '"[^"]+"' | tr -d '"' | grep -v RepoTags || true)
  sum=$(sha256sum "$t" | cut -d' ' -f1) stamp=$S/data/imported/$(basename "$t").sha256
  need=0; for r in $refs; do grep -qxF "$r" <<<"$have" || need=1; done
  [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ] || need=1
  [ $need = 1 ] || continue
  $CTR images import "$t" >/dev/null
  echo "$sum" > "$stamp"
  log "imported $(basename "$t"):" $refs
done
