# Sourced by the hack/ scripts: the pinned versions, the cache directory, the module
# proxy settings and the few helpers every script wants. Set LOG_TAG before sourcing to
# name the script in its log lines.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../versions.env
. "$ROOT/hack/versions.env"
CACHE=${DILO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dilo}
K8S_BIN=$CACHE/k8s/$K8S_VERSION
# etcd's image tag as upstream spells it (registry.k8s.io/etcd:3.6.5-0), for kind's kubeadm
ETCD_IMAGE_TAG=${ETCD_VERSION#v}-0
# kind's networks (hack/kind): the bridge of docker's network kind, the Services', and the pods'
# (whose one node's bridge CNI config, in the node image, serves the first /24)
KIND_BRIDGE=dilokind0 KIND_SVC_SUBNET=10.96.0.0/16 KIND_DNS_SVC_IP=10.96.0.10
KIND_POD_SUBNET=10.244.0.0/16 KIND_NODE_POD_CIDR=10.244.0.0/24
_T0=$EPOCHREALTIME

# Only the Go module proxy is reachable: never fall back to fetching from VCS hosts.
GOPROXY=$(printf '%s' "${GOPROXY:-https://proxy.golang.org}" | sed -E 's/(^|[,|])direct//g; s/^[,|]+//; s/[,|]+$//')
export GOPROXY=${GOPROXY:-https://proxy.golang.org}

# log: a line on stderr, tagged with the script and the seconds since it started.
log() { printf '[%s %5.1fs] %s\n' "${LOG_TAG:-$(basename "$0" .sh)}" "$(awk "BEGIN{print $EPOCHREALTIME - $_T0}")" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# retry WHAT SECONDS CMD...: runs CMD until it succeeds, once a second; on timeout shows
# its last output and dies.
retry() {
  local what=$1 end=$((SECONDS + $2)) out; shift 2
  until out=$("$@" 2>&1); do
    [ $SECONDS -lt $end ] || { printf '%s\n' "$out" >&2; die "timed out waiting for $what"; }
    sleep 1
  done
  log "$what ok"
}

# alive PIDFILE MATCH: the PID saved in PIDFILE is alive and its command line holds MATCH
# (a recycled PID running something else does not count).
alive() {
  local p c
  [ -s "$1" ] || return 1
  p=$(cat "$1"); kill -0 "$p" 2>/dev/null || return 1
  c=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null); [[ "$c" == *"$2"* ]]
}

# stop_pid NAME PIDFILE MATCH [SECONDS]: stops NAME, the process PIDFILE names, when it is
# alive and runs MATCH: SIGTERM, then SIGKILL if it still runs after SECONDS (default 20).
# PIDFILE is removed either way.
stop_pid() {
  local p
  if alive "$2" "$3"; then
    p=$(cat "$2")
    kill -TERM "$p"
    for _ in $(seq $(( ${4:-20} * 5 ))); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$p" 2>/dev/null; then log "$1 ignored SIGTERM: SIGKILL"; kill -KILL "$p"; sleep 0.5; fi
    log "stopped $1 (pid $p)"
  fi
  rm -f "$2"
}

# apt_install PKG...: installs Debian packages, refreshing the package lists only when the
# install fails without them (a fresh machine has none; an update costs more than an install).
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
    { log "refreshing the package lists"; apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

# closed_registries DIR: containerd registry host configs (config_path) sending every pull
# from the usual registries to a loopback port where nothing listens: clusters of DiLO's
# run preloaded images only, and nothing may leave this machine. (containerd 1.6 ignores a
# hosts.toml without a [host] table and falls back to the real registry: each has one.)
closed_registries() {
  local r
  for r in docker.io registry-1.docker.io index.docker.io registry.k8s.io k8s.gcr.io gcr.io quay.io ghcr.io \
           mcr.microsoft.com public.ecr.aws registry.gitlab.com nvcr.io localhost dilo.local; do
    mkdir -p "$1/$r"
    printf 'server = "http://127.0.0.1:1"\n[host."http://127.0.0.1:1"]\n  capabilities = ["pull", "resolve"]\n' > "$1/$r/hosts.toml"
  done
}
