#!/usr/bin/env bash
# tmux.sh
#
# Makes sure Debian's tmux is installed, for the terminal test of kubectl-dilo
# (internal/plugin: `kubectl dilo watch` in a tmux pane, read back with
# capture-pane, as a person sees it), and prints the binary's path as its last
# line:
#
#   TMUX_BIN=$(hack/tmux.sh | tail -1) go test ./internal/plugin/
#
# Idempotent: with /usr/bin/tmux present it installs nothing. The package lists
# are refreshed only when the install fails without them (a fresh machine has
# none, an old one may point at packages no longer served), since an update
# costs more than the install. Needs root, as apt-get does.
set -euo pipefail

BIN=/usr/bin/tmux
log() { printf '[tmux %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ ! -x "$BIN" ]; then
  export DEBIAN_FRONTEND=noninteractive
  install() { apt-get install -y -qq --no-install-recommends tmux >/dev/null; }
  log "installing tmux"
  if ! install 2>/dev/null; then
    log "refreshing the package lists"
    apt-get update -qq >/dev/null
    install
  fi
fi
[ -x "$BIN" ] || { log "FATAL: $BIN missing after the install"; exit 1; }
log "$("$BIN" -V)"
echo "$BIN"
