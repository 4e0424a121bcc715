#!/usr/bin/env bash
# hack/certmanager/build-binaries.sh OUTDIR WORKDIR: builds cert-manager's controller, cainjector
# and webhook (CM_VERSION, by default CERT_MANAGER_VERSION of hack/versions.env) into OUTDIR from
# the Go module proxy alone; run by build.sh.
#
# Upstream's cmd/{controller,cainjector,webhook} are modules of their own that are not on the
# proxy, and the root module's zip leaves cmd/ out, so the mains are ours: hack/certmanager/cmbuild,
# a module whose path lies under github.com/cert-manager/cert-manager/ so that cert-manager's
# internal/ packages may be imported. Its go.mod pins cert-manager and has to agree with
# versions.env: a mismatch stops the build, since the committed go.sum and the mains belong to the
# pinned version (bump both in one change). An explicit CM_VERSION other than the pinned one is
# an experiment: go.mod is rewritten and tidied in the work copy only.
# The Venafi issuer needs a vcert (v5.13) that the proxy refuses, so go.mod replaces it with
# ./third_party/vcert: VCERT_FALLBACK (v5.12.3) plus the NGTS connector type and cmbuild/ngts as
# its pkg/venafi/ngts. NGTS issuers fail; SelfSigned and CA issuers, which DiLO uses, do not.
# When the proxy serves the wanted vcert, the work copy drops the replace instead.
#
# WORKDIR is regenerated on every run (the module and build caches are kept): the committed files
# are copied there, the vcert copy prepared, the Go files checked (gofmt) and built.
#
# To vet the Go files in place (make vet does): hack/certmanager/build-binaries.sh --vet
# It generates the gitignored cmbuild/third_party/vcert and runs gofmt -l and go vet ./... there;
# afterwards go vet, go build and gopls work in hack/certmanager/cmbuild as in any module.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
SRC=$ROOT/hack/certmanager/cmbuild
CM_VERSION=${CM_VERSION:-$CERT_MANAGER_VERSION}
VCERT_FALLBACK=${VCERT_FALLBACK:-v5.12.3}
export GOTOOLCHAIN=local GOFLAGS=-modcacherw CGO_ENABLED=0 GOWORK=off

# Downloads run in a module of their own, so that no go.mod around is read or written: not
# DiLO's, nor the work copy's, whose replace target does not exist yet.
SCRATCH=$(mktemp -d); trap 'rm -rf "$SCRATCH"' EXIT
printf 'module scratch\n' > "$SCRATCH/go.mod"
# download MODULE@VERSION FIELD: the FIELD (Dir, GoMod) of the downloaded module.
download() { go -C "$SCRATCH" mod download -json "$1" | sed -n "s/^\t\"$2\": \"\(.*\)\",\$/\1/p"; }

# prepare_vcert DIR: DIR/third_party/vcert, the target of go.mod's replace.
prepare_vcert() {
  local dst=$1/third_party/vcert
  rm -rf "$dst"; mkdir -p "$1/third_party"
  cp -r "$(download "github.com/Venafi/vcert/v5@$VCERT_FALLBACK" Dir)" "$dst"
  chmod -R u+w "$dst"
  # the Venafi issuer switches on ConnectorTypeNGTS, which came with v5.13
  sed -i 's/^\tConnectorTypeFirefly$/&\n\tConnectorTypeNGTS/' "$dst/pkg/endpoint/endpoint.go"
  grep -qxF $'\tConnectorTypeNGTS' "$dst/pkg/endpoint/endpoint.go" ||
    die "could not add ConnectorTypeNGTS to vcert $VCERT_FALLBACK's pkg/endpoint/endpoint.go"
  mkdir -p "$dst/pkg/venafi/ngts"; cp "$SRC/ngts/stub.go" "$dst/pkg/venafi/ngts/"
}

# check DIR [vet]: the module's own Go files (not the vcert copy's) are gofmt-ed and, with
# vet, pass go vet. The build does not vet: cold, that costs minutes the build then spends
# again (make vet runs --vet instead, where its result is cached).
check() {
  local unformatted
  unformatted=$(cd "$1" && gofmt -l cmd ngts)
  [ -z "$unformatted" ] || die "not gofmt-ed (in $1): $unformatted"
  [ -z "${2:-}" ] || { go -C "$1" vet ./...; log "go vet ok"; }
}

PINNED=$(awk '$1 == "github.com/cert-manager/cert-manager" {print $2}' "$SRC/go.mod")
# pinned: go.mod and versions.env name the same cert-manager.
pinned() {
  [ "$PINNED" = "$CERT_MANAGER_VERSION" ] ||
    die "hack/versions.env pins cert-manager $CERT_MANAGER_VERSION but hack/certmanager/cmbuild/go.mod requires $PINNED:" \
        "bump go.mod with it (after $0 --vet, which makes the replace target, in hack/certmanager/cmbuild:" \
        "go get github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION && go mod tidy)"
}

if [ "${1:-}" = --vet ]; then
  prepare_vcert "$SRC"
  pinned
  check "$SRC" vet
  exit
fi
pinned

OUTDIR=$(mkdir -p "${1:-./bin}" && cd "${1:-./bin}" && pwd)
WORK=${2:-${TMPDIR:-/tmp}/cm-build-work}
# WORKDIR is deleted whole: only an empty directory or an earlier work copy will do
if [ -e "$WORK" ] && [ -n "$(ls -A "$WORK")" ] &&
   ! grep -qs '^module github.com/cert-manager/cert-manager/cmbuild-binary$' "$WORK/go.mod"; then
  die "$WORK is neither empty nor a work copy of this script's: not deleting it"
fi
rm -rf "$WORK"; mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
cp -r "$SRC/go.mod" "$SRC/go.sum" "$SRC/cmd" "$SRC/ngts" "$WORK/"
cd "$WORK"
log "$(go version); cert-manager $CM_VERSION in $WORK"

tidy=
if [ "$CM_VERSION" != "$PINNED" ]; then
  log "cert-manager $CM_VERSION is not the pinned $PINNED: go.mod is rewritten and tidied in the work copy"
  go mod edit -require="github.com/cert-manager/cert-manager@$CM_VERSION"
  tidy=1
fi
want_vcert=$(awk '$1 == "github.com/Venafi/vcert/v5" {print $2}' "$(download "github.com/cert-manager/cert-manager@$CM_VERSION" GoMod)")
if go -C "$SCRATCH" mod download "github.com/Venafi/vcert/v5@$want_vcert" 2>/dev/null; then
  log "vcert $want_vcert is on the proxy: no replace"
  go mod edit -dropreplace=github.com/Venafi/vcert/v5
  tidy=1
else
  log "vcert $want_vcert is refused by the proxy: $VCERT_FALLBACK, patched, stands in"
  prepare_vcert "$WORK"
fi
[ -z "$tidy" ] || go mod tidy
check "$WORK"

# AppVersion is also the tag of the ACME HTTP-01 solver image the controller starts
LDFLAGS="-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$CM_VERSION"
go build -trimpath -ldflags="$LDFLAGS" -o "$OUTDIR/" ./cmd/controller ./cmd/cainjector ./cmd/webhook
log "built"
ls -l "$OUTDIR/controller" "$OUTDIR/cainjector" "$OUTDIR/webhook"
