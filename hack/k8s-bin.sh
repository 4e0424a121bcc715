#!/usr/bin/env bash
# k8s-bin.sh [COMPONENT...]
#
# Builds the pinned Kubernetes binaries DiLO's tests run (kube-apiserver, etcd and
# kube-controller-manager by default; the local cluster adds kube-scheduler, kubelet and
# kube-proxy, a kind node kubeadm) from the Go module proxy alone, into a cache directory
# outside the repository, and prints that directory as its last line (it is
# KUBEBUILDER_ASSETS).
#
# Idempotent: a binary that already reports the pinned version is not rebuilt. The
# Kubernetes components missing are built by one `go build` (their shared packages compile
# once, the links run in parallel) with the providerless tag, which leaves out the in-tree
# cloud providers and cloud volume plugins no local or kind cluster uses.
set -euo pipefail
LOG_TAG=k8s-bin
. "$(dirname "$0")/lib/common.sh"

OUT=$K8S_BIN
WORK=$CACHE/k8s/build
[ $# -gt 0 ] || set -- kube-apiserver etcd kube-controller-manager
export CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$OUT" "$WORK"

version_of() { case $(basename "$1") in kubectl) "$1" version --client ;; kubeadm) "$1" version -o short ;; *) "$1" --version ;; esac 2>&1 | head -1; }
has_version() { [ -x "$1" ] && [[ $(version_of "$1") == *"$2"* ]]; }

# A wrapper module per upstream module, because both upstream go.mods carry replace
# directives that `go install mod@version` refuses: kubernetes replaces its staging
# modules k8s.io/* with ./staging (so we point them at their published v0.X.Y), etcd
# replaces its sibling modules with ../ paths (which a plain require ignores).
wrapper() { # dir module version replace-lines import
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

# k8s_build COMPONENT...: one go build into a scratch directory, each binary moved into
# $OUT only once all are built.
k8s_build() {
  local ldflags="-s -w" tmp
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION") -X $v.gitTreeState=clean"
  done
  tmp=$(mktemp -d "$OUT/.build.XXXXXX")
  (cd "$WORK/kubernetes" && go build -trimpath -tags providerless -ldflags="$ldflags" -o "$tmp/" "${@/#/k8s.io/kubernetes/cmd/}") ||
    { rm -rf "$tmp"; exit 1; }
  for c in "$@"; do mv -f "$tmp/$c" "$OUT/$c"; done
  rm -rf "$tmp"
}

k8s=()
for c in "$@"; do
  case $c in
    etcd)
      has_version "$OUT/etcd" "etcd Version: ${ETCD_VERSION#v}" && continue
      wrapper etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "" go.etcd.io/etcd/server/v3
      log "building etcd $ETCD_VERSION"
      (cd "$WORK/etcd" && go build -trimpath -ldflags="-s -w" -o "$OUT/.etcd.tmp" go.etcd.io/etcd/server/v3)
      mv -f "$OUT/.etcd.tmp" "$OUT/etcd"
      log "etcd: $(version_of "$OUT/etcd")" ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl|kubeadm)
      has_version "$OUT/$c" "$K8S_VERSION" || k8s+=("$c") ;;
    *) die "unknown component $c" ;;
  esac
done
if [ ${#k8s[@]} -gt 0 ]; then
  k8s_module
  log "building ${k8s[*]} $K8S_VERSION (cold on 2 cores: about 6 minutes for kube-apiserver and kube-controller-manager, 12 for all six and kubectl)"
  k8s_build "${k8s[@]}"
  for c in "${k8s[@]}"; do log "$c: $(version_of "$OUT/$c")"; done
fi
echo "$OUT"
