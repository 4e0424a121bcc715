#!/usr/bin/env bash
# hack/cluster/up.sh: a local single-node Kubernetes cluster (K8S_VERSION in hack/versions.env) for
# DiLO's demo and e2e tests, with no Docker, no systemd and no registry. Needs root and Go.
#
#   containerd + runc + CNI bridge (Debian packages, installed when missing), etcd, kube-apiserver,
#   kube-controller-manager, kube-scheduler, kubelet, kube-proxy (hack/k8s-bin.sh) and CoreDNS
#   (built from the module proxy, hack/cluster/coredns). Images are preloaded, never pulled:
#   every *.tar in $CACHE/cluster/images (pause, CoreDNS) and $CACHE/images (DiLO, cert-manager)
#   is imported, again whenever it changes.
#
# Idempotent: a component whose saved PID is alive is left alone; a second run takes seconds.
# Progress goes to stderr; the last line on stdout is the admin kubeconfig's path.
# State lives in $CACHE/cluster (CACHE=${DILO_CACHE:-~/.cache/dilo}). hack/cluster/down.sh undoes it.
#
# Why the odd settings (see each one below): this host is cgroup v1, lacks CAP_SYS_RESOURCE and
# must not send anything off the machine (no upstream DNS, no registry pulls, no pod egress).
set -euo pipefail
LOG_TAG=cluster-up
. "$(dirname "$0")/../lib/common.sh"
S=$CACHE/cluster

NODE_NAME=dilo-node
NODE_BR=dilonode0        # port-less bridge holding the node IP (the kernel has no dummy interfaces)
NODE_IP=10.251.0.1
POD_BR=dilobr0
POD_CIDR=10.245.0.0/16
NODE_POD_CIDR=10.245.0.0/24
SVC_CIDR=10.97.0.0/16
API_SVC_IP=10.97.0.1
DNS_SVC_IP=10.97.0.10
API_PORT=17443
ETCD_PORT=24790 ETCD_PEER_PORT=24800
KCM_PORT=21257 SCHED_PORT=21259
KUBELET_PORT=21250 KUBELET_HEALTHZ_PORT=21248
PROXY_METRICS_PORT=21249 PROXY_HEALTHZ_PORT=21256
CNI_BIN=/usr/lib/cni
CTRD_SOCK=$S/run/containerd.sock
ADMIN_KC=$S/kubeconfig/admin.kubeconfig

[ "$(id -u)" = 0 ] || die "must run as root"
# Two clusters at once would share ports, bridges and host settings: never.
if alive $CACHE/kind/run/dockerd.pid /run/dilo-docker && [ -n "$(docker ps -q --filter label=io.x-k8s.kind.cluster 2>/dev/null)" ]; then
  die "a kind cluster of DiLO's is up: stop it first (make kind-down)"
fi

# ---------------------------------------------------------------- prerequisites
missing=()
for b in containerd runc ctr iptables nft conntrack openssl curl; do command -v $b >/dev/null || missing+=($b); done
[ -x $CNI_BIN/bridge ] || missing+=(cni)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages (missing: ${missing[*]})"
  apt_install containerd runc containernetworking-plugins iptables nftables conntrack openssl curl
fi
# hack/k8s-bin.sh builds what is missing (asked only then: its version checks cost seconds)
BIN=$K8S_BIN need=()
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do [ -x $BIN/$b ] || need+=($b); done
if [ ${#need[@]} -gt 0 ]; then
  log "building ${need[*]} (cold: up to 12 minutes on 2 cores)"
  BIN=$("$ROOT/hack/k8s-bin.sh" "${need[@]}" | tail -1)
fi
KUBECTL="$BIN/kubectl --kubeconfig $ADMIN_KC"
mkdir -p $S/{bin,images,pki,kubeconfig,etc,logs,pids,run,data,created,kubelet,pod-logs,cni/net.d}
echo "$BIN" > $S/run/bin-dir
trap '[ $? = 0 ] || log "logs: $S/logs"' EXIT

# The cluster's own images (pause, CoreDNS) and the CRI client down.sh uses.
"$ROOT/hack/cluster/images.sh" >/dev/null

# ---------------------------------------------------------------- processes
# start keeps each process's PID in $S/pids/NAME.pid; alive checks that it still runs MATCH.
start() { # name match cmd...
  local name=$1 match=$2; shift 2
  if alive "$S/pids/$name.pid" "$match"; then return 0; fi
  setsid "$@" >>$S/logs/$name.log 2>&1 < /dev/null &
  echo $! > $S/pids/$name.pid
  log "started $name (pid $!)"
}
# Configs are written atomically and only when they change: containerd reloads the CNI dir on
# every write (a half-written file is an error) and kube-proxy exits when its config changes.
put() { local f=$1 tmp; tmp=$(mktemp "$(dirname "$f")/.put.XXXX"); cat > "$tmp"
  if cmp -s "$tmp" "$f"; then rm -f "$tmp"; return 1; fi; mv -f "$tmp" "$f"; }
restart_if_changed() { # name match changed
  [ "$3" = 1 ] && alive "$S/pids/$1.pid" "$2" || return 0
  log "$1's config changed: restarting it"
  stop_pid "$1" "$S/pids/$1.pid" "$2"
}

# ---------------------------------------------------------------- host
# The kubelet changes kernel.panic* and vm.overcommit_memory, we change ip_forward: down.sh restores them.
SYSCTLS="net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
if [ ! -s $S/created/sysctl.orig ]; then
  for k in $SYSCTLS; do echo "$k=$(sysctl -n $k)"; done > $S/created/sysctl.orig
fi
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
if ! ip link show $NODE_BR >/dev/null 2>&1; then ip link add $NODE_BR type bridge; touch $S/created/link-$NODE_BR; fi
ip link set $NODE_BR up
[[ "$(ip -4 addr show dev $NODE_BR)" == *"inet $NODE_IP/"* ]] || ip addr add $NODE_IP/24 dev $NODE_BR
# Nothing leaves this machine: unallocated ClusterIPs must not follow the default route, and pods
# may talk only to the pod bridge and the host (no forwarding out of any other interface).
ip route replace $SVC_CIDR dev $NODE_BR
nft -f - <<EOF
table inet dilo
delete table inet dilo
table inet dilo {
  chain forward {
    type filter hook forward priority 10; policy accept;
    ip saddr $POD_CIDR oifname != "$POD_BR" counter reject comment "no pod egress off the pod bridge"
  }
}
EOF
# Paths the kubelet, containerd 1.6 and libcni hard-code, and the iptables-nft tables: remember
# which ones did not exist before, so that down.sh removes exactly those.
[ -d /sys/fs/cgroup/memory/kubepods ] || [ -d /sys/fs/cgroup/kubepods ] || touch $S/created/cgroup-kubepods
tables=$(nft list tables)
for t in "ip filter" "ip nat" "ip mangle" "ip6 filter" "ip6 nat" "ip6 mangle"; do
  [[ "$tables" == *"table $t"* ]] || touch "$S/created/nft-${t// /-}"
done
for d in /run/containerd /var/lib/cni /var/lib/kubelet /usr/libexec/kubernetes /var/log/containers; do
  [ -e $d ] || echo $d > $S/created/path${d//\//_}
done

# ---------------------------------------------------------------- PKI and kubeconfigs
P=$S/pki
mkca() { # name cn
  [ -s $P/$1.crt ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $P/$1.key \
    -out $P/$1.crt -days 3650 -sha256 -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
}
mkcert() { # name subject serverAuth|clientAuth [san] [ca]
  local n=$1 ca=${5:-ca}
  [ -s $P/$n.crt ] && return 0
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $P/$n.key -out $P/$n.csr -subj "$2" 2>/dev/null
  { echo "basicConstraints=critical,CA:FALSE"; echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"; [ -z "${4:-}" ] || echo "subjectAltName=$4"; } > $P/$n.ext
  openssl x509 -req -in $P/$n.csr -CA $P/$ca.crt -CAkey $P/$ca.key -CAcreateserial -out $P/$n.crt -days 3650 \
    -sha256 -extfile $P/$n.ext 2>/dev/null
  rm -f $P/$n.csr $P/$n.ext
}
if [ ! -s $P/admin.crt ]; then
  mkca ca dilo-cluster-ca
  mkca front-proxy-ca dilo-front-proxy-ca
  mkcert apiserver /CN=kube-apiserver serverAuth "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$API_SVC_IP"
  mkcert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  mkcert front-proxy-client /CN=front-proxy-client clientAuth "" front-proxy-ca
  mkcert kube-controller-manager /CN=system:kube-controller-manager clientAuth
  mkcert kube-scheduler /CN=system:kube-scheduler clientAuth
  mkcert kube-proxy "/O=system:node-proxier/CN=system:kube-proxy" clientAuth
  mkcert kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  mkcert kubelet-serving /CN=$NODE_NAME serverAuth "DNS:$NODE_NAME,DNS:localhost,IP:$NODE_IP,IP:127.0.0.1"
  mkcert admin "/O=system:masters/CN=dilo-admin" clientAuth
  openssl genrsa -out $P/sa.key 2048 2>/dev/null; openssl rsa -in $P/sa.key -pubout -out $P/sa.pub 2>/dev/null
  chmod 600 $P/*.key
  log "generated the PKI"
fi
mkkc() { # name user cert
  [ -s $S/kubeconfig/$1.kubeconfig ] && return 0
  ( umask 077; cat > $S/kubeconfig/$1.kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dilo
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 < $P/ca.crt)
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 < $P/$3.crt)
    client-key-data: $(base64 -w0 < $P/$3.key)
contexts:
- name: dilo
  context: {cluster: dilo, user: "$2"}
current-context: dilo
EOF
  )
}
mkkc admin dilo-admin admin
mkkc kube-controller-manager system:kube-controller-manager kube-controller-manager
mkkc kube-scheduler system:kube-scheduler kube-scheduler
mkkc kubelet system:node:$NODE_NAME kubelet-client
mkkc kube-proxy system:kube-proxy kube-proxy
KC=$S/kubeconfig

# ---------------------------------------------------------------- containerd
C=1; put $S/etc/containerd.toml <<EOF || C=0
version = 2
root = "$S/data/containerd"
state = "$S/run/containerd-state"
# lowering oom_score_adj needs CAP_SYS_RESOURCE, which this host withholds
oom_score = 0
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:$PAUSE_VERSION"
    disable_apparmor = true
    # sandboxes (-998) and Guaranteed pods (-997) would get EACCES: clamp to containerd's own score
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    tolerate_missing_hugetlb_controller = true
    disable_hugetlb_controller = true
    enable_unprivileged_ports = true
    enable_unprivileged_icmp = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$CNI_BIN"
      conf_dir = "$S/cni/net.d"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".registry]
      # images are preloaded; pulls from the usual registries go to a closed loopback port
      config_path = "$S/etc/certs.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "$S/data/containerd-opt"
EOF
put $S/cni/net.d/10-dilo.conflist <<EOF || true
{
  "cniVersion": "1.0.0",
  "name": "dilo",
  "plugins": [
    {"type": "bridge", "bridge": "$POD_BR", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$NODE_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
              "dataDir": "$S/data/cni-ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
closed_registries $S/etc/certs.d
restart_if_changed containerd "$S/etc/containerd.toml" $C
start containerd "$S/etc/containerd.toml" containerd --config $S/etc/containerd.toml
retry containerd 30 ctr --address $CTRD_SOCK version
"$ROOT/hack/cluster/load.sh" $S/images/*.tar $(ls $CACHE/images/*.tar 2>/dev/null || true)

# ---------------------------------------------------------------- control plane
start etcd "$S/data/etcd" $BIN/etcd --name dilo --data-dir $S/data/etcd \
  --listen-client-urls http://127.0.0.1:$ETCD_PORT --advertise-client-urls http://127.0.0.1:$ETCD_PORT \
  --listen-peer-urls http://127.0.0.1:$ETCD_PEER_PORT --initial-advertise-peer-urls http://127.0.0.1:$ETCD_PEER_PORT \
  --initial-cluster dilo=http://127.0.0.1:$ETCD_PEER_PORT --unsafe-no-fsync --log-level warn
retry etcd 60 sh -c "curl -sf http://127.0.0.1:$ETCD_PORT/health | grep -q '\"health\":\"true\"'"

start kube-apiserver "secure-port=$API_PORT" $BIN/kube-apiserver \
  --etcd-servers=http://127.0.0.1:$ETCD_PORT \
  --bind-address=0.0.0.0 --secure-port=$API_PORT --advertise-address=$NODE_IP \
  --tls-cert-file=$P/apiserver.crt --tls-private-key-file=$P/apiserver.key --client-ca-file=$P/ca.crt \
  --kubelet-client-certificate=$P/apiserver-kubelet-client.crt --kubelet-client-key=$P/apiserver-kubelet-client.key \
  --kubelet-certificate-authority=$P/ca.crt --kubelet-preferred-address-types=InternalIP,Hostname \
  --service-cluster-ip-range=$SVC_CIDR \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file=$P/sa.pub --service-account-signing-key-file=$P/sa.key \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
  --requestheader-client-ca-file=$P/front-proxy-ca.crt --requestheader-allowed-names=front-proxy-client \
  --requestheader-extra-headers-prefix=X-Remote-Extra- --requestheader-group-headers=X-Remote-Group \
  --requestheader-username-headers=X-Remote-User \
  --proxy-client-cert-file=$P/front-proxy-client.crt --proxy-client-key-file=$P/front-proxy-client.key \
  --profiling=false --v=1
retry "kube-apiserver /readyz" 180 $KUBECTL get --raw /readyz

start kube-controller-manager "secure-port=$KCM_PORT" $BIN/kube-controller-manager \
  --kubeconfig=$KC/kube-controller-manager.kubeconfig \
  --authentication-kubeconfig=$KC/kube-controller-manager.kubeconfig \
  --authorization-kubeconfig=$KC/kube-controller-manager.kubeconfig \
  --bind-address=127.0.0.1 --secure-port=$KCM_PORT --leader-elect=false \
  --service-account-private-key-file=$P/sa.key --root-ca-file=$P/ca.crt \
  --cluster-signing-cert-file=$P/ca.crt --cluster-signing-key-file=$P/ca.key \
  --use-service-account-credentials=true \
  --allocate-node-cidrs=true --cluster-cidr=$POD_CIDR --node-cidr-mask-size=24 \
  --service-cluster-ip-range=$SVC_CIDR --v=1
start kube-scheduler "secure-port=$SCHED_PORT" $BIN/kube-scheduler \
  --kubeconfig=$KC/kube-scheduler.kubeconfig \
  --authentication-kubeconfig=$KC/kube-scheduler.kubeconfig --authorization-kubeconfig=$KC/kube-scheduler.kubeconfig \
  --bind-address=127.0.0.1 --secure-port=$SCHED_PORT --leader-elect=false --v=1

# ---------------------------------------------------------------- node
C=1; put $S/etc/kubelet.yaml <<EOF || C=0
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CTRD_SOCK
cgroupDriver: cgroupfs
# this host is cgroup v1, which kubelet >= 1.35 refuses unless told otherwise
failCgroupV1: false
failSwapOn: false
# no CAP_SYS_RESOURCE: the kubelet cannot lower its own oom_score_adj
oomScoreAdj: 0
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $P/kubelet-serving.crt
tlsPrivateKeyFile: $P/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$DNS_SVC_IP]
# pods never get the host's upstream resolver: nothing may leave this machine
resolvConf: ""
podLogsDir: $S/pod-logs
# images are preloaded and cannot be pulled again: never garbage-collect them
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
mergeDefaultEvictionSettings: false
serializeImagePulls: false
maxPods: 110
EOF
restart_if_changed kubelet "$S/etc/kubelet.yaml" $C
touch $S/run/kubelet-started   # down.sh then removes the kubelet's own iptables chains
KUBELET_T0=$(date -u +%s); alive "$S/pids/kubelet.pid" "$S/etc/kubelet.yaml" && KUBELET_T0=0
start kubelet "$S/etc/kubelet.yaml" $BIN/kubelet --config=$S/etc/kubelet.yaml \
  --kubeconfig=$KC/kubelet.kubeconfig --root-dir=$S/kubelet --cert-dir=$S/kubelet/pki \
  --hostname-override=$NODE_NAME --node-ip=$NODE_IP --v=1

C=1; put $S/etc/kube-proxy.yaml <<EOF || C=0
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KC/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
nodePortAddresses: ["$NODE_IP/32"]
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
oomScoreAdj: 0
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
restart_if_changed kube-proxy "$S/etc/kube-proxy.yaml" $C
start kube-proxy "$S/etc/kube-proxy.yaml" $BIN/kube-proxy --config=$S/etc/kube-proxy.yaml --v=1

retry "kubelet healthz" 60 curl -sf http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz
node_ready() { # Ready posted by this kubelet: a kept etcd still holds the last run's Ready
  local o; o=$($KUBECTL get node $NODE_NAME -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}') || return 1
  [ "${o%% *}" = True ] && [ "$(date -u -d "${o#* }" +%s)" -ge "$KUBELET_T0" ]
}
retry "node Ready" 120 node_ready
retry "kube-proxy healthz" 60 curl -sf http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz
retry "default service account" 60 $KUBECTL -n default get serviceaccount default

# ---------------------------------------------------------------- CoreDNS
sed "s/__DNS_SVC_IP__/$DNS_SVC_IP/; s/__COREDNS_VERSION__/$COREDNS_VERSION/" "$ROOT/hack/cluster/coredns.yaml" | $KUBECTL apply -f - >/dev/null
retry "CoreDNS rollout" 120 $KUBECTL -n kube-system rollout status deploy/coredns --timeout=5s

log "cluster up; containerd $CTRD_SOCK, logs $S/logs, stop with: make cluster-down"
echo "$ADMIN_KC"
