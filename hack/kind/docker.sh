#!/usr/bin/env bash
# hack/kind/docker.sh [--stop]: a Docker engine for kind. When one already answers (docker
# info), it is used as it is. Otherwise Debian's docker.io is installed when missing and
# dockerd started on the default socket, with:
#   - runc behind DiLO's wrapper (hack/kind/runc) as the default runtime, so that kind's
#     --privileged nodes start on hosts whose capability bounding set lacks some
#     capabilities (on a full set the wrapper changes nothing);
#   - no iptables rules, no IP masquerading and no docker0: nothing it runs can reach
#     beyond this machine (hack/kind/up.sh also drops forwarding out of kind's network);
#   - its images and volumes in ${DILO_CACHE:-~/.cache/dilo}/kind/docker, so the node
#     image survives a restart.
# --stop stops that dockerd (only one this script started) and removes what it left.
set -euo pipefail
LOG_TAG=docker
. "$(dirname "$0")/../lib/common.sh"
D=$CACHE/kind
PIDFILE=$D/run/dockerd.pid
EXEC_ROOT=/run/dilo-docker

if [ "${1:-}" = --stop ]; then
  alive $PIDFILE "$EXEC_ROOT" || { log "no dockerd of ours is running"; exit 0; }
  stop_pid dockerd $PIDFILE "$EXEC_ROOT" 30
  # its containerd's state and the netns/mount points of stopped containers
  umount -R $EXEC_ROOT 2>/dev/null || true
  rm -rf $EXEC_ROOT
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root to start dockerd"
if docker info >/dev/null 2>&1; then
  alive $PIDFILE "$EXEC_ROOT" || log "using the Docker engine already running"
  exit 0
fi
command -v dockerd >/dev/null || { log "installing Debian's docker.io"; apt_install docker.io; }
mkdir -p $D/run $D/docker
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o $CACHE/bin/dilo-runc ./hack/kind/runc)
log "starting dockerd (data in $D/docker)"
setsid dockerd --data-root $D/docker --exec-root $EXEC_ROOT --pidfile $D/run/dockerd.pidfile \
  --add-runtime dilo-runc=$CACHE/bin/dilo-runc --default-runtime dilo-runc \
  --iptables=false --ip-masq=false --bridge=none --log-level warn \
  >>$D/run/dockerd.log 2>&1 </dev/null &
echo $! > $PIDFILE
retry dockerd 60 docker info
