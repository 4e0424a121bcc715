#!/usr/bin/env bash
# k8s-bin.sh [COMPONENT...]
#
# Builds the pinned Kubernetes binaries DiLO's tests run (kube-apiserver, etcd and
# kube-controller-manager by default; the local cluster adds kube-scheduler, kubelet and
# kube-proxy) from the Go module proxy alone, into a cache directory outside the
# repository, and prints that directory as its last line (it is KUBEBUILDER_ASSETS).
#
# Idempotent: a binary that already reports the pinned version is not rebuilt.
# Cold, kube-apiserver alone takes about 16 minutes on 2 cores; cached, a second.
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
CACHE=${DILO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dilo}
OUT=$CACHE/k8s/$K8S_VERSION
WORK=$CACHE/k8s/build
[ $# -gt 0 ] || set -- kube-apiserver etcd kube-controller-manager

export CGO_ENABLED=0 GOFLAGS=-mod=mod
# Only the module proxy is reachable: never fall back to fetching from VCS hosts.
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
GOPROXY=$(printf '%s' "$GOPROXY" | sed -E 's/(^|[,|])direct//g; s/^[,|]+//; s/[,|]+$//'); export GOPROXY

mkdir -p "$OUT" "$WORK"
log() { printf '[k8s-bin %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
version_of() { case $(basename "$1") in kubectl) "$1" version --client ;; *) "$1" --version ;; esac 2>&1 | head -1; }
has_version() { [ -x "$1" ] && [[ $(version_of "$1") == *"$2"* ]]; }

# A wrapper module per upstream module, because both upstream go.mods carry replace
# directives that `go install mod@version` refuses: kubernetes replaces its staging
# modules k8s.io/* with ./staging (so we point them at their published v0.X.Y), etcd
# replaces its sibling modules with ../ paths (which a plain require ignores).
wrapper() { # dir module version [replace-lines]
  local dir=$WORK/$1 want
  mkdir -p "$dir"
  want=$(printf 'module local/%s\n\ngo 1.26\n\nrequire %s %s\n%s\n' "$1" "$2" "$3" "${4:-}")
  if [ "$want" != "$(cat "$dir/go.mod.want" 2>/dev/null)" ] || [ ! -s "$dir/go.sum" ]; then
    log "resolving $2@$3"
    printf '%s\n' "$want" > "$dir/go.mod.want"; cp "$dir/go.mod.want" "$dir/go.mod"; rm -f "$dir/go.sum"
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$5" > "$dir/tools.go"
    (cd "$dir" && go mod tidy)
  fi
}

k8s_module() {
  local gomod staging replaces
  gomod=$(cd "$WORK" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  # The staging modules that kubernetes requires at v0.0.0 and replaces with ./staging/src/...
  staging=$(awk '/=> \.\/staging\//{print ($1=="replace" ? $2 : $1)}' "$gomod" | sort -u |
    while read -r m; do grep -qE "^[[:space:]]*(require[[:space:]]+)?${m//./\\.} v0\.0\.0" "$gomod" && echo "$m"; done || true)
  replaces="replace ("$'\n'
  for m in $staging; do replaces+=$'\t'"$m => $m v0.${K8S_VERSION#v1.}"$'\n'; done
  replaces+=")"
  wrapper kubernetes k8s.io/kubernetes "$K8S_VERSION" "$replaces" k8s.io/kubernetes/cmd/kube-apiserver
}

build() { # component
  local c=$1 ldflags="-s -w" pkg
  case $c in
    etcd)
      has_version "$OUT/etcd" "etcd Version: ${ETCD_VERSION#v}" && return 0
      wrapper etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "" go.etcd.io/etcd/server/v3
      pkg=go.etcd.io/etcd/server/v3 dir=$WORK/etcd ;;
    *)
      has_version "$OUT/$c" "$K8S_VERSION" && return 0
      k8s_module
      for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION") -X $v.gitTreeState=clean"
      done
      pkg=k8s.io/kubernetes/cmd/$c dir=$WORK/kubernetes ;;
  esac
  log "building $c (cold builds take minutes; kube-apiserver about 16 on 2 cores)"
  (cd "$dir" && go build -trimpath -ldflags="$ldflags" -o "$OUT/.$c.tmp" "$pkg")
  mv -f "$OUT/.$c.tmp" "$OUT/$c"
  log "$c: $(version_of "$OUT/$c")"
}

for c in "$@"; do build "$c"; done
echo "$OUT"
