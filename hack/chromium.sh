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
LOG_TAG=chromium
. "$(dirname "$0")/lib/common.sh"

BIN=/usr/bin/chromium
if [ ! -x "$BIN" ]; then
  log "installing chromium"
  apt_install chromium fonts-liberation
fi
[ -x "$BIN" ] || die "$BIN missing after the install"
log "$("$BIN" --version 2>/dev/null || echo chromium)"
echo "$BIN"
