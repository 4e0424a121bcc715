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
LOG_TAG=tmux
. "$(dirname "$0")/lib/common.sh"

BIN=/usr/bin/tmux
if [ ! -x "$BIN" ]; then
  log "installing tmux"
  apt_install tmux
fi
[ -x "$BIN" ] || die "$BIN missing after the install"
log "$("$BIN" -V)"
echo "$BIN"
