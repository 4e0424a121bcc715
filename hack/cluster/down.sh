#!/usr/bin/env bash
# hack/cluster/down.sh [--purge]: stops exactly what hack/cluster/up.sh started (by saved PID)
# and restores the host: pod sandboxes (CNI DEL), kube-proxy and kubelet rules, mounts, links,
# the nft table, hard-coded directories it created, sysctls.
# Keeps the PKI, images and etcd so that the next cluster-up is fast; --purge also wipes etcd,
# the kubelet's directory and logs (the next cluster-up is an empty cluster).
set -uo pipefail
LOG_TAG=cluster-down
. "$(dirname "$0")/../lib/common.sh"
S=$CACHE/cluster
CTRD_SOCK=$S/run/containerd.sock
[ -d $S/pids ] || { log "no cluster state in $S"; exit 0; }
BIN=$(cat $S/run/bin-dir 2>/dev/null || echo $K8S_BIN)

stop() { stop_pid "$1" "$S/pids/$1.pid" "$2" "${3:-}"; } # name match [seconds]

# 1. nothing may recreate pods while they are torn down
stop kube-scheduler "$S/kubeconfig/kube-scheduler" & stop kube-controller-manager "$S/kubeconfig/kube-controller-manager" &
stop kubelet "$S/etc/kubelet.yaml" 30 & stop kube-proxy "$S/etc/kube-proxy.yaml" &
wait

# 2. every pod sandbox, through CRI (stops containers, runs CNI DEL, unmounts the netns)
if alive "$S/pids/containerd.pid" "$S/etc/containerd.toml"; then
  [ -x $S/bin/cri ] && { $S/bin/cri -r unix://$CTRD_SOCK rmp-all 2>&1 | sed 's/^/  /' >&2 || log "WARNING: cri rmp-all reported errors"; }
  CTR="ctr --address $CTRD_SOCK -n k8s.io"
  for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks kill -s SIGKILL $t >/dev/null 2>&1; done
  sleep 0.5
  for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks rm -f $t >/dev/null 2>&1; done
  for c in $($CTR containers ls -q 2>/dev/null); do $CTR containers rm $c >/dev/null 2>&1; done
fi
stop containerd "$S/etc/containerd.toml"
# our containerd's shims outlive it by design; they carry our socket's path in their argv
for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTRD_SOCK" || true); do
  log "killing leftover shim $p"; kill -TERM $p 2>/dev/null
done

# 3. control plane
stop kube-apiserver "$S/pki/apiserver.crt"
stop etcd "$S/data/etcd"

# 4. the host
[ -x $BIN/kube-proxy ] && $BIN/kube-proxy --cleanup >/dev/null 2>&1 && log "kube-proxy --cleanup done"
if [ -e $S/run/kubelet-started ]; then   # the chains the kubelet itself creates
  for ipt in iptables ip6tables; do
    $ipt -w -D INPUT -j KUBE-FIREWALL 2>/dev/null; $ipt -w -D OUTPUT -j KUBE-FIREWALL 2>/dev/null
    $ipt -w -F KUBE-FIREWALL 2>/dev/null; $ipt -w -X KUBE-FIREWALL 2>/dev/null
    for t in mangle nat filter; do $ipt -w -t $t -X KUBE-KUBELET-CANARY 2>/dev/null; done
    $ipt -w -t mangle -X KUBE-IPTABLES-HINT 2>/dev/null
  done
  rm -f $S/run/kubelet-started
  log "removed the kubelet's iptables chains"
fi
for m in $(awk -v s="$S/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
  umount -l "$m" 2>/dev/null && log "unmounted $m"
done
find /var/log/containers -maxdepth 1 -type l -lname "$S/*" -delete 2>/dev/null
nft delete table inet dilo 2>/dev/null && log "deleted nft table inet dilo"
ip link show dilobr0 >/dev/null 2>&1 && ip link del dilobr0 && log "deleted the pod bridge dilobr0"
for f in $S/created/link-*; do
  [ -e "$f" ] || continue
  l=${f##*/link-}; ip link del "$l" 2>/dev/null && log "deleted link $l"; rm -f "$f"
done
if [ -e $S/created/cgroup-kubepods ]; then   # the kubelet leaves its empty QoS cgroups behind
  for h in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do [ -d $h ] && find $h -depth -type d -exec rmdir {} + 2>/dev/null; done
  rm -f $S/created/cgroup-kubepods
fi
for f in $S/created/path_*; do   # hard-coded directories that did not exist before up.sh
  [ -s "$f" ] || continue
  d=$(cat "$f")
  case $d in /run/containerd|/var/lib/cni|/var/lib/kubelet|/usr/libexec/kubernetes|/var/log/containers)
    rm -rf "$d" && log "removed $d";; esac
  rm -f "$f"
done
for f in $S/created/nft-*; do   # iptables-nft tables that did not exist before: delete them if empty
  [ -e "$f" ] || continue
  t=${f##*/nft-}; t=${t/-/ }
  body=$(nft list table $t 2>/dev/null | grep -vE '^\s*(table |chain |type |\}|$)')
  [ -z "$body" ] && nft list table $t >/dev/null 2>&1 && nft delete table $t && log "deleted empty nft table $t"
  rm -f "$f"
done
if [ -s $S/created/sysctl.orig ]; then
  while IFS== read -r k v; do sysctl -qw "$k=$v" 2>/dev/null; done < $S/created/sysctl.orig
  rm -f $S/created/sysctl.orig
  log "restored sysctls"
fi
[ "${1:-}" = --purge ] && { rm -rf $S/data/etcd $S/kubelet $S/pod-logs $S/data/cni-ipam $S/logs ; log "purged the cluster's state"; }
log "down"
