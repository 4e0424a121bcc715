#!/usr/bin/env bash
# chromium.sh
#
# Makes sure Debian's chromium is installed, for the browser test of the HTML
# report (internal/htmlreport), and prints the binary's path as its last line:
#
#   CHROMIUM=$(hack/chromium.sh | tail -1) go test ./internal/htmlreport/
#
# Idempotent: with /usr/bin/chromium present it installs nothing. The package
# lists are refreshed only when the install fails without them (a fresh
# machine has none, an old one may point at packages no longer served), since
# an update costs more than the install. Needs root, as apt-get does.
set -euo pipefail

BIN=/usr/bin/chromium
log() { printf '[chromium %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ ! -x "$BIN" ]; then
  export DEBIAN_FRONTEND=noninteractive
  install() { apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; }
  log "installing chromium"
  if ! install 2>/dev/null; then
    log "refreshing the package lists"
    apt-get update -qq >/dev/null
    install
  fi
fi
[ -x "$BIN" ] || { log "FATAL: $BIN missing after the install"; exit 1; }
log "$("$BIN" --version 2>/dev/null || echo chromium)"
echo "$BIN"
