#!/usr/bin/env bash
# hack/image/build.sh: builds DiLO's image localhost/dilo:dev (/manager, /agent and
# /target, static, user 65532) as a docker-archive tarball, with no Docker and no
# registry, and prints the tarball's path last: ${DILO_CACHE:-~/.cache/dilo}/images/dilo.tar.
set -euo pipefail
LOG_TAG=images
. "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
IMAGE=${DILO_IMAGE:-localhost/dilo:dev}
BIN=$CACHE/images/bin
mkdir -p "$BIN"
export CGO_ENABLED=0 GOOS=linux
log "building manager, agent, target and the image tool"
go build -trimpath -ldflags='-s -w' -o "$BIN/" ./cmd/manager ./cmd/agent ./cmd/target
CGO_ENABLED=0 GOOS= go build -o "$CACHE/bin/image" ./hack/image
"$CACHE/bin/image" -out "$CACHE/images/dilo.tar" \
  -file /manager="$BIN/manager" -file /agent="$BIN/agent" -file /target="$BIN/target" \
  -image "$IMAGE=/manager"
echo "$CACHE/images/dilo.tar"
