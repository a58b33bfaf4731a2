#!/usr/bin/env bash
# npm run test:engine: the program under the real Pulumi engine (docs/testing.md,
# "The real engine").
# `--lab DIR` (default: the repository's own stack files) runs it on the lab whose
# Pulumi.yaml and Pulumi.<stack>.yaml are in DIR, e.g. examples/three-clusters.
#   1. `pulumi preview` of every stack in host mode, with the policy pack and the
#      pack config the offline plan writes: the URNs the engine previews equal the
#      offline plan's; without the config the pack refuses to run.
#   2. A simulated lab: a real control plane per stack with a kwok node, the program in
#      bring-your-own-kubeconfig mode, charts from a local mirror. `pulumi up` in
#      the first-deployment order, `preview --expect-no-changes` (also after a
#      refresh), checks through the API servers, the day-2 steps of `--day2` (test/engine/day2.sh),
#      and the teardown of docs/deploy.md.
# Everything that runs or dials a cluster runs inside a network namespace made
# here (only lo, which also holds the lab's host addresses); every
# process is stopped by its PID and the namespace is deleted on exit, failure or
# timeout. Needs root, Go and `pulumi` on PATH or ../shared/engine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=${ZTA_SHARED:-$repo/../shared}
charts=${ZTA_CHARTS:-$shared/charts}
lab=$repo
# --stop-after-control-plane: end after the control plane's checks (no destroy), to iterate on them.
stop_after_control_plane=false
# --day2 STEPS: the day-2 steps to run on the converged lab (test/engine/day2.sh), comma-separated, or none.
all_day2_steps=shrink,grow,repair,rotate,rebuild,upgrade
day2_steps=$all_day2_steps
while [ $# -gt 0 ]; do
  case $1 in
    --lab)
      [ -d "${2:-}" ] || { echo "test:engine: --lab needs a directory with the lab's stack files" >&2; exit 2; }
      lab=$(cd "$2" && pwd)
      shift 2
      ;;
    --stop-after-control-plane) stop_after_control_plane=true; shift ;;
    --day2)
      day2_steps=${2:-}
      for step in ${day2_steps//,/ }; do
        case ",$all_day2_steps,none," in *",$step,"*) ;; *) echo "test:engine: --day2 $day2_steps: no step \"$step\" (the steps: $all_day2_steps, or none)" >&2; exit 2 ;; esac
      done
      [ -n "$day2_steps" ] || { echo "test:engine: --day2 needs steps ($all_day2_steps) or none" >&2; exit 2; }
      shift 2
      ;;
    *) echo "test:engine: unknown argument $1 (usage: npm run test:engine [-- --lab DIR] [--day2 STEPS|none] [--stop-after-control-plane])" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "test:engine: needs root (it creates a network namespace)" >&2; exit 2; }
[ -f "$charts/index.yaml" ] || { echo "test:engine: no Helm repository at $charts (set ZTA_CHARTS)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/zta-engine.XXXXXX")
ns=zta-engine-$$
pids=()
pod_netns=()   # the network namespaces of the pods whose processes run (3. below)
passed=0
failed=0
started=$SECONDS

stop_pid() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  # Whatever is left in the namespace (plugins of an interrupted pulumi, a restarted controller): by PID.
  for n in "${pod_netns[@]}" "$ns"; do
    for pid in $(ip netns pids "$n" 2>/dev/null); do stop_pid "$pid"; done
    ip netns del "$n" 2>/dev/null
  done
  if [ "${ZTA_ENGINE_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then echo "logs and state kept in $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { ip netns exec "$ns" "$@"; }
result() { # PASS/FAIL lines from a command's output, counted
  local line
  while IFS= read -r line; do
    echo "$line"
    case "$line" in PASS:*) passed=$((passed + 1)) ;; FAIL:*) failed=$((failed + 1)) ;; esac
  done
}
pass() { result <<<"PASS: $*"; }
fail() { result <<<"FAIL: $*"; }
timed() { # name, log file, command...: runs it, prints its time, returns its status
  local name=$1 log=$2 s=$SECONDS rc=0
  shift 2
  "$@" >"$log" 2>&1 || rc=$?
  printf '  %-44s %4d s%s\n' "$name" $((SECONDS - s)) "$([ "$rc" = 0 ] || echo "  (exit $rc, log: $log)")"
  return "$rc"
}
tool() { in_ns "$repo/node_modules/.bin/tsx" "$here/lab-tool.ts" "$@"; }

# ---------------------------------------------------------------- the engine
if command -v pulumi >/dev/null; then
  echo "engine: pulumi on PATH ($(command -v pulumi)), its plugins from ${PULUMI_HOME:-~/.pulumi}"
else
  [ -x "$shared/engine/build.sh" ] || { echo "test:engine: no pulumi on PATH and no $shared/engine/build.sh" >&2; exit 2; }
  s=$SECONDS
  eval "$("$shared/engine/build.sh" --env)"
  export PULUMI_HOME=$work/pulumi-home
  "$shared/engine/build.sh" --install-plugins >"$work/plugins.log" 2>&1
  echo "engine: $("$shared/engine/build.sh" --versions), built from ../shared/engine ($((SECONDS - s)) s)"
fi
export PULUMI_CONFIG_PASSPHRASE=zta-engine-test   # throwaway state of a throwaway lab
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PULUMI_SKIP_CONFIRMATIONS=true

# The mesh's control plane (istiod, the SPIRE server and its controller manager), built from
# upstream sources by ../shared/mesh/build.sh (cached); without it, step 3 says SKIP.
mesh_bin=''
if [ -x "$shared/mesh/build.sh" ]; then
  s=$SECONDS
  mesh_bin=$("$shared/mesh/build.sh")
  echo "control plane: $("$shared/mesh/build.sh" --versions), from $mesh_bin ($((SECONDS - s)) s)"
fi

# The lab as the stack files describe it: stacks, first-deployment order, host addresses, versions.
order='' stacks='' root_stacks='' kubernetes_minor='' metallb_version='' cilium_version='' trust_model=''
(cd "$repo" && node_modules/.bin/tsx "$here/lab-tool.ts" info --config-dir "$lab" --out "$work/lab.sh" >"$work/info.log" 2>&1) ||
  { cat "$work/info.log"; exit 2; }
# shellcheck source=/dev/null
. "$work/lab.sh"
s=$SECONDS
kube=$("$here/build-kube.sh" "$kubernetes_minor" "$metallb_version")
echo "clusters: Kubernetes $kubernetes_minor, MetalLB controller $metallb_version, from $kube ($((SECONDS - s)) s)"
# The CRDs the Cilium operator registers at start-up, from its Go module at the lab's version.
cilium_crds=$(GOFLAGS=-mod=mod go mod download -json "github.com/cilium/cilium@v$cilium_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')/pkg/k8s/apis/cilium.io/client/crds
[ -d "$cilium_crds/v2" ] || { echo "test:engine: no Cilium CRDs at $cilium_crds" >&2; exit 2; }

# A copy of the project per tier, so `pulumi stack init` writes into the copy's stack files, not
# the checkout's; with --lab, the lab's Pulumi.yaml and stack files in place of the checkout's.
project_copy() {
  mkdir -p "$1"
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$1"
  ln -s "$repo/node_modules" "$1/node_modules"
  if [ "$lab" != "$repo" ]; then
    rm -f "$1"/Pulumi.*.yaml
    cp "$lab"/Pulumi.yaml "$lab"/Pulumi.*.yaml "$1/"
  fi
}

ip netns add "$ns"
in_ns ip link set lo up
# The lab's host addresses exist only here, on the namespace's own loopback device (this
# kernel has no dummy interfaces), so the API servers sit where the stack files say they do.
for stack in $stacks; do
  address_var=${stack}_address
  in_ns ip addr add "${!address_var}/32" dev lo
done

pulumi_in() { # project dir, pulumi args...
  local dir=$1
  shift
  in_ns env PULUMI_BACKEND_URL="file://$dir/.state" timeout "${ZTA_ENGINE_STEP_TIMEOUT:-900}" pulumi --cwd "$dir" --non-interactive --color never "$@"
}

# ------------------------------------------------------------ 1. preview, host mode
echo "== 1. pulumi preview of every stack ($stacks) in host mode, with the policy pack"
t1=$work/host
project_copy "$t1"
mkdir -p "$t1/.state"
tool first-run-urns --config-dir "$lab" --out "$work/first-run-urns.json" >"$work/first-run-urns.log" 2>&1 ||
  { cat "$work/first-run-urns.log"; exit 2; }
# The pack's config per stack, as a user gets it: `npm run plan` writes <stack>/policy-config.json.
(cd "$repo" && node_modules/.bin/tsx offline/planner/plan.ts --config-dir "$lab" --out "$work/host-plan" --quiet >"$work/host-plan.log" 2>&1) ||
  { cat "$work/host-plan.log"; exit 2; }
for stack in $stacks; do
  pulumi_in "$t1" stack init "$stack" --secrets-provider passphrase >/dev/null
  # Never used: nothing is created in a preview, and no host address is reachable from here.
  echo "test-only stand-in, not a key" | pulumi_in "$t1" config set --secret --stack "$stack" zta-testbed:sshPrivateKey >/dev/null
done
# Without its config the pack refuses to run, before the program does, naming what it lacks.
first_stack=${stacks%% *}
if pulumi_in "$t1" preview --stack "$first_stack" --policy-pack "$t1/policy" --suppress-progress >"$work/preview-no-config.log" 2>&1; then
  fail "$first_stack: pulumi preview with the policy pack but no --policy-pack-config ran; the pack should have refused"
elif grep -q 'labRegistry is required' "$work/preview-no-config.log"; then
  pass "$first_stack: without --policy-pack-config the engine refuses the pack, naming its required config"
else
  fail "$first_stack: pulumi preview without --policy-pack-config failed, but not for the pack's config: $(grep -m1 -i error "$work/preview-no-config.log")"
fi
for stack in $stacks; do
  if timed "preview $stack (host mode)" "$work/preview-host-$stack.log" \
    pulumi_in "$t1" preview --stack "$stack" --policy-pack "$t1/policy" --policy-pack-config "$work/host-plan/$stack/policy-config.json" --json --suppress-progress; then
    pass "$stack: pulumi preview in host mode with the policy pack"
    # --json writes the preview to stdout; the engine's own messages go to stderr, both in the log.
    sed -n '/^{/,/^}/p' "$work/preview-host-$stack.log" >"$work/preview-host-$stack.json"
    result < <(tool compare-urns --stack "$stack" --expected "$work/first-run-urns.json" --preview "$work/preview-host-$stack.json")
  else
    fail "$stack: pulumi preview in host mode with the policy pack"
    tail -20 "$work/preview-host-$stack.log"
  fi
done

# ------------------------------------------------------------ 2. the simulated lab
echo "== 2. a simulated lab: $stacks on real API servers with kwok nodes"
charts_port=18479
in_ns python3 -m http.server --bind 127.0.0.1 --directory "$charts" "$charts_port" >"$work/charts.log" 2>&1 &
pids+=($!)

start_cluster() { # stack, index
  local stack=$1 index=$2 address_var=${1}_address cidr_var=${1}_service_cidr
  local address=${!address_var} cidr=${!cidr_var} dir=$work/$1 base=$((20000 + $2 * 100))
  local pki=$dir/pki etcd=127.0.0.1:$((base + 79))
  mkdir -p "$pki" "$dir/logs"
  # The cluster's own PKI (never the lab's: that is what the program builds).
  local svc_ip
  svc_ip=$(python3 -c "import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1])[1])" "$cidr")
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 2 -subj "/CN=$stack-simulated-ca" 2>/dev/null
  issue() { # name, subject, extensions
    openssl req -newkey rsa:2048 -nodes -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "$2" 2>/dev/null
    printf '%s\n' "$3" >"$pki/$1.ext"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 2 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
  }
  issue apiserver /CN=kube-apiserver "$(printf 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:%s,IP:127.0.0.1,IP:%s,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc' "$address" "$svc_ip")"
  issue admin "/O=system:masters/CN=admin" extendedKeyUsage=clientAuth
  issue controller-manager /CN=system:kube-controller-manager extendedKeyUsage=clientAuth
  issue scheduler /CN=system:kube-scheduler extendedKeyUsage=clientAuth
  # kwok serves the node's kubelet endpoint (exec) on the host address, as a kubelet would.
  issue kwok /CN=kwok "$(printf 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:%s' "$address")"
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  for user in admin controller-manager scheduler; do
    cat >"$dir/$user.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $stack
  cluster: {server: "https://$address:6443", certificate-authority-data: $(base64 -w0 "$pki/ca.crt")}
users:
- name: $user
  user: {client-certificate-data: $(base64 -w0 "$pki/$user.crt"), client-key-data: $(base64 -w0 "$pki/$user.key")}
contexts:
- name: $stack
  context: {cluster: $stack, user: $user}
current-context: $stack
EOF
  done

  in_ns nice "$kube/bin/etcd" --name "$stack" --data-dir "$dir/etcd" \
    --listen-client-urls "http://$etcd" --advertise-client-urls "http://$etcd" \
    --listen-peer-urls "http://127.0.0.1:$((base + 80))" --initial-advertise-peer-urls "http://127.0.0.1:$((base + 80))" \
    --initial-cluster "$stack=http://127.0.0.1:$((base + 80))" >"$dir/logs/etcd.log" 2>&1 &
  pids+=($!)
  # No webhook backend can run here: the admission webhooks are off, so nothing is ever dialled.
  in_ns nice "$kube/bin/kube-apiserver" --etcd-servers "http://$etcd" \
    --bind-address "$address" --advertise-address "$address" --secure-port 6443 --endpoint-reconciler-type none \
    --service-cluster-ip-range "$cidr" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local --authorization-mode Node,RBAC --allow-privileged \
    --kubelet-preferred-address-types InternalIP \
    --disable-admission-plugins MutatingAdmissionWebhook,ValidatingAdmissionWebhook --profiling=false >"$dir/logs/kube-apiserver.log" 2>&1 &
  pids+=($!)
}

start_controllers() { # stack, index: once its API server is ready (they exit if RBAC is not bootstrapped yet)
  local dir=$work/$1 base=$((20000 + $2 * 100)) cidr_var=${1}_service_cidr
  local pki=$dir/pki cidr=${!cidr_var}
  in_ns nice "$kube/bin/kube-controller-manager" --kubeconfig "$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/controller-manager.kubeconfig" --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port $((base + 57)) --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --service-cluster-ip-range "$cidr" --controllers '*' >"$dir/logs/kube-controller-manager.log" 2>&1 &
  pids+=($!)
  in_ns nice "$kube/bin/kube-scheduler" --kubeconfig "$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/scheduler.kubeconfig" --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port $((base + 59)) --leader-elect=false >"$dir/logs/kube-scheduler.log" 2>&1 &
  pids+=($!)
  # Pod addresses from the stack's pod CIDR (kwok's --cidr takes the first address and the prefix).
  local pod_cidr_var=${1}_pod_cidr kwok_cidr
  kwok_cidr=$(python3 -c "import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); print(f'{n[1]}/{n.prefixlen}')" "${!pod_cidr_var}")
  # Exec into the pods whose processes run (step 3) reaches them: kwok's local exec with the
  # container's PID file (kwok-exec.sh, exec-shim.sh).
  local address_var=${1}_address
  {
    cat "$kube/kwok-stages.yaml"
    for target in istio-system:istiod:discovery spire-server:spire-server:spire-server; do
      IFS=: read -r namespace pod container <<<"$target"
      printf -- '---\nkind: ClusterExec\napiVersion: kwok.x-k8s.io/v1alpha1\nmetadata: {name: %s}\nspec:\n  selector: {matchNamespaces: [%s]}\n' "$pod" "$namespace"
      printf '  execs:\n  - containers: [%s]\n    local: {envs: [{name: ZTA_EXEC_PID_FILE, value: "%s"}]}\n' "$container" "$work/pods/$1-$pod/$container.pid"
    done
  } >"$dir/kwok.yaml"
  in_ns unshare --mount --propagation private "$here/kwok-exec.sh" "$dir/kwok-overlay" nice "$kube/bin/kwok" -c "$dir/kwok.yaml" \
    --kubeconfig "$dir/admin.kubeconfig" --manage-all-nodes=true --cidr "$kwok_cidr" --node-lease-duration-seconds 40 \
    --node-ip "${!address_var}" --node-port $((base + 47)) --server-address "${!address_var}:$((base + 47))" \
    --tls-cert-file "$pki/kwok.crt" --tls-private-key-file "$pki/kwok.key" >"$dir/logs/kwok.log" 2>&1 &
  pids+=($!)
  # MetalLB's own controller assigns LoadBalancer addresses from the stack's pool, as in the lab.
  in_ns "$here/metallb-controller.sh" "$kube/bin/metallb-controller" "$dir/admin.kubeconfig" $((base + 20)) $((base + 21)) \
    "$repo/node_modules/.bin/tsx" "$here/lab-tool.ts" >"$dir/logs/metallb-controller.log" 2>&1 &
  pids+=($!)
}

api_ready() { # stack, path
  local dir=$work/$1 address_var=${1}_address
  in_ns curl -sf --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" "https://${!address_var}:6443$2" >/dev/null 2>&1
}

wait_cluster() { # stack, index
  local dir=$work/$1
  for _ in $(seq 1 600); do api_ready "$1" /readyz && break; sleep 0.2; done
  start_controllers "$1" "$2"
  for _ in $(seq 1 600); do
    if api_ready "$1" /api/v1/namespaces/default/serviceaccounts/default; then
      tool cluster --kubeconfig "$dir/admin.kubeconfig" --name "$1" --crds "$cilium_crds/v2" --crds "$cilium_crds/v2alpha1"
      return 0
    fi
    sleep 0.2
  done
  echo "the API server of $1 did not come up in 120 s:"
  tail -20 "$dir/logs/kube-apiserver.log"
  return 1
}

s=$SECONDS
index=0
for stack in $stacks; do
  index=$((index + 1))
  start_cluster "$stack" "$index"
done
index=0
for stack in $stacks; do
  index=$((index + 1))
  wait_cluster "$stack" "$index"
done
echo "  $(wc -w <<<"$stacks") control planes with a kwok node each, ready in $((SECONDS - s)) s"

t2=$work/byo
project_copy "$t2"
mkdir -p "$t2/.state"
tool byo --config-dir "$lab" --out "$t2" --mirror "http://127.0.0.1:$charts_port"
(cd "$t2" && in_ns node_modules/.bin/tsx offline/planner/plan.ts --config-dir "$t2" --out "$work/plan" --quiet >"$work/plan.log" 2>&1)
for stack in $stacks; do
  pulumi_in "$t2" stack init "$stack" --secrets-provider passphrase >/dev/null
  pulumi_in "$t2" config set --secret --stack "$stack" zta-testbed:kubeconfig <"$work/$stack/admin.kubeconfig" >/dev/null
  # What the cluster holds before the program touches it: the teardown must leave it so (step 5).
  tool snapshot --kubeconfig "$stack=$work/$stack/admin.kubeconfig" --out "$work/$stack/baseline.json"
done

# The pods whose processes run (step 3): test/engine/pods.ts writes what their containers see,
# each runs in a network namespace of its own joined to the test's by a veth pair (the test's
# end answers for 169.254.1.1, the pods' default route; nothing links to the machine's own
# namespace), on the address kwok gave the pod, each container in a mount namespace of its own.
pod_pids=()
start_pod() { # stack, namespace, label selector, tag, extra addresses of the pod...
  local stack=$1 namespace=$2 selector=$3 dir=$work/pods/$1-$4 pod_ns=$ns-$1-$4 veth=pod$((${#pod_netns[@]} + 1))
  shift 4
  mkdir -p "$dir" "$work/claims/$stack"
  if ! in_ns "$repo/node_modules/.bin/tsx" "$here/pods.ts" materialize --kubeconfig "$work/$stack/admin.kubeconfig" --namespace "$namespace" \
    --selector "$selector" --dir "$dir" --bin "$mesh_bin" --claims "$work/claims/$stack" >"$dir/materialize.log" 2>&1; then
    result <"$dir/materialize.log"
    return 0
  fi
  cat "$dir/materialize.log"
  local pod_name='' pod_ip='' containers=''
  # shellcheck source=/dev/null
  . "$dir/pod.sh"
  if [ ${#pod_netns[@]} = 0 ]; then
    in_ns ip addr add 169.254.1.1/32 dev lo
    in_ns sysctl -qw net.ipv4.ip_forward=1   # pod to pod (a peer's bundle endpoint), inside the test's namespace only
  fi
  ip netns add "$pod_ns"
  pod_netns+=("$pod_ns")
  ip -n "$pod_ns" link set lo up
  ip -n "$ns" link add "$veth" type veth peer name eth0 netns "$pod_ns"
  ip -n "$ns" link set "$veth" up
  ip -n "$pod_ns" link set eth0 up
  for address in "$pod_ip" "$@"; do
    ip -n "$pod_ns" addr add "$address/32" dev eth0
    ip -n "$ns" route add "$address/32" dev "$veth"
  done
  ip -n "$pod_ns" route add 169.254.1.1 dev eth0 scope link
  ip -n "$pod_ns" route add default via 169.254.1.1 dev eth0
  for container in $containers; do
    ip netns exec "$pod_ns" unshare --mount --propagation private "$dir/$container.sh" >"$dir/$container.log" 2>&1 &
    pids+=($!)
    pod_pids+=($!)
    echo $! >"$dir/$container.pid"   # what kwok's exec into the container enters (exec-shim.sh)
  done
  echo "  $stack: $namespace/$pod_name ($containers) on $pod_ip$([ $# = 0 ] || echo " and $*")"
}
stop_pods() { # before destroy: the control plane's processes by PID, then their namespaces
  for pid in "${pod_pids[@]}"; do stop_pid "$pid"; done
  for n in "${pod_netns[@]}"; do
    for pid in $(ip netns pids "$n" 2>/dev/null); do stop_pid "$pid"; done
    ip netns del "$n"
  done
  pod_pids=()
  pod_netns=()
}
cp_tool() { in_ns "$repo/node_modules/.bin/tsx" "$here/control-plane.ts" "$@"; }

converged=true
kubeconfigs=()
run=0
for stack in $order; do
  run=$((run + 1))
  if timed "up $stack (run $run of the first deployment)" "$work/up-$run-$stack.log" \
    pulumi_in "$t2" up --stack "$stack" --yes --skip-preview --policy-pack "$t2/policy" --policy-pack-config "$work/plan/$stack/policy-config.json" --suppress-progress; then
    pass "$stack: pulumi up, run $run of the first deployment"
  else
    fail "$stack: pulumi up, run $run of the first deployment"
    grep -E 'error|Error' "$work/up-$run-$stack.log" | head -20
    converged=false
    break
  fi
done

if $converged; then
  for stack in $stacks; do
    for refresh in "" --refresh; do
      if timed "preview $stack --expect-no-changes $refresh" "$work/converged-$stack$refresh.log" \
        pulumi_in "$t2" preview --stack "$stack" --expect-no-changes $refresh --policy-pack "$t2/policy" --policy-pack-config "$work/plan/$stack/policy-config.json" --diff --suppress-progress; then
        pass "$stack: converged: pulumi preview --expect-no-changes $refresh"
      else
        fail "$stack: converged: pulumi preview --expect-no-changes $refresh"
        grep -E '^\s*[~+-]|error' "$work/converged-$stack$refresh.log" | head -30
      fi
    done
    pulumi_in "$t2" stack export --stack "$stack" >"$work/state-$stack.json"
    result < <(tool compare-urns --stack "$stack" --expected "$work/plan/$stack/resources.json" --state "$work/state-$stack.json")
    pulumi_in "$t2" stack output --stack "$stack" --json >"$work/outputs-$stack.json"
  done
  outputs=()
  for stack in $stacks; do
    kubeconfigs+=(--kubeconfig "$stack=$work/$stack/admin.kubeconfig")
    outputs+=(--"outputs-$stack" "$work/outputs-$stack.json")
  done
  result < <(tool check-lab --plan "$work/plan" "${kubeconfigs[@]}" "${outputs[@]}")

  # ---------------------------------------------------------- 3. the control plane runs
  if [ -z "$mesh_bin" ]; then
    echo "SKIP: the control plane's checks (istiod, SPIRE): no $shared/mesh/build.sh to build their binaries"
  else
    echo "== 3. the control plane runs: istiod, the SPIRE server and its controller manager of $stacks"
    step3=$SECONDS
    s=$SECONDS
    for stack in $stacks; do
      federation_var=${stack}_federation_address
      federation=${!federation_var}
      start_pod "$stack" istio-system app=istiod istiod
      # The server pod's labels (charts/spire-server/templates/server-resource.yaml, release spire, nameOverride server).
      start_pod "$stack" spire-server app.kubernetes.io/name=server,app.kubernetes.io/instance=spire,app.kubernetes.io/component=server spire-server ${federation:+"$federation"}
    done
    echo "  $((${#pod_netns[@]})) pods' processes started in $((SECONDS - s)) s"
    cp_args=(--pods "$work/pods" --netns-prefix "$ns" --bin "$mesh_bin")
    for stack in $stacks; do cp_args+=(--kubeconfig "$stack=$work/$stack/admin.kubeconfig" --outputs "$stack=$work/outputs-$stack.json"); done
    s=$SECONDS
    result < <(cp_tool check "${cp_args[@]}")
    echo "  control-plane checks: $((SECONDS - s)) s"
    s=$SECONDS
    result < <(cp_tool broken "${cp_args[@]}")
    echo "  the broken remote secret: $((SECONDS - s)) s"
    # npm run verify against the simulated lab, through the Automation API on the tier's state:
    # what it reads from the API server alone must pass; the rest cannot run here (reasons below).
    s=$SECONDS
    for stack in $stacks; do
      (cd "$t2" && in_ns env PULUMI_BACKEND_URL="file://$t2/.state" node_modules/.bin/tsx verify/cli.ts --stack "$stack" \
        --only gateway-addresses,istiod-remote-cluster,istiod-network-gateways,spire-entries) >"$work/verify-$stack.log" 2>&1 || true
      for id in gateway-addresses istiod-remote-cluster istiod-network-gateways spire-entries; do
        line=$(grep -m1 -E "^(PASS|FAIL|SKIP)  $id " "$work/verify-$stack.log" || true)
        case "$line" in
          PASS*) pass "$stack: npm run verify: $line" ;;
          *) fail "$stack: npm run verify $id: ${line:-no result, see $work/verify-$stack.log: $(grep -m1 -E 'could not|cannot' "$work/verify-$stack.log")}" ;;
        esac
      done
    done
    echo "  npm run verify on $stacks: $((SECONDS - s)) s"
    echo "SKIP: npm run verify pods-ready: kube-system has no pods here (no kube-proxy, CoreDNS or Cilium runs)"
    echo "SKIP: npm run verify workload-certificate, cross-cluster-traffic, mtls-client-identity, cross-domain-identity, network-segmentation, workload-flows, ingress-jwt: they need Envoy (and a CNI for network-segmentation)"
    if $stop_after_control_plane; then
      echo "stopped after the control plane's checks (--stop-after-control-plane): no destroy"
      echo "total: $((SECONDS - started)) s"
      echo "$passed passed, $failed failed"
      [ "$failed" = 0 ]
      exit
    fi
    stop_pods
    echo "  step 3, the control plane: $((SECONDS - step3)) s"
  fi
fi

# ------------------------------------------------------------ 4. day 2 on the running lab
# shellcheck source=test/engine/day2.sh
if $converged && [ "$day2_steps" != none ]; then . "$here/day2.sh"; fi

# ------------------------------------------------------------ 5. teardown
# docs/deploy.md ("Tearing down") verbatim: its block for the lab's trust model, run as a user
# runs it (`pulumi` on PATH is the engine on this lab's state), when the lab's stacks are the
# ones it names (comp2, comp3). Any other lab is torn down the same way from its plan: the
# peer-role stacks first, the root-role stack last, and before each destroy that stack's
# protected resources unprotected by URN, nothing else. Then nothing of ours may be left:
# what each cluster holds is compared with what it held before the first `pulumi up`.
teardown_block() { # the ```sh block under docs/deploy.md's "### <heading>"
  awk -v h="### $1" '$0 == h { f = 1; next } f && /^### / { exit } f && /^```sh$/ { c = 1; next } f && c && /^```$/ { exit } f && c' "$repo/docs/deploy.md"
}
teardown=$SECONDS teardown_failed=$failed
destroyed=true
if [ "$(tr ' ' '\n' <<<"$stacks" | sort | paste -sd ' ')" = "comp2 comp3" ]; then
  heading="The $trust_model model"
  teardown_block "$heading" >"$work/teardown.sh"
  mkdir -p "$work/bin"
  printf '#!/usr/bin/env bash\nexec env PULUMI_BACKEND_URL="file://%s/.state" %q --cwd %q --non-interactive --color never "$@"\n' \
    "$t2" "$(command -v pulumi)" "$t2" >"$work/bin/pulumi"
  chmod +x "$work/bin/pulumi"
  if [ ! -s "$work/teardown.sh" ]; then
    fail "teardown: docs/deploy.md has no sh block under \"### $heading\""
    destroyed=false
  elif timed "teardown: docs/deploy.md, $heading, verbatim" "$work/teardown.log" \
    in_ns env PATH="$work/bin:$PATH" timeout 1800 bash -euo pipefail "$work/teardown.sh"; then
    pass "teardown: docs/deploy.md's \"$heading\" block ran verbatim ($(grep -c . "$work/teardown.sh") lines)"
  else
    fail "teardown: docs/deploy.md's \"$heading\" block failed"
    grep -iE 'error' "$work/teardown.log" | head -10
    destroyed=false
  fi
else
  for stack in $(for s in $stacks; do case " $root_stacks " in *" $s "*) ;; *) echo "$s" ;; esac; done) $root_stacks; do
    mapfile -t protected_urns < <(python3 -c 'import json, sys; [print(r["urn"]) for r in json.load(open(sys.argv[1])) if r.get("protect")]' "$work/plan/$stack/resources.json")
    if [ ${#protected_urns[@]} -gt 0 ]; then
      if pulumi_in "$t2" state unprotect --yes --stack "$stack" "${protected_urns[@]}" >"$work/unprotect-$stack.log" 2>&1; then
        pass "$stack: unprotected its ${#protected_urns[@]} protected resources by URN: ${protected_urns[*]##*::}"
      else
        fail "$stack: pulumi state unprotect of ${protected_urns[*]}"
        tail -5 "$work/unprotect-$stack.log"
      fi
    fi
    if timed "destroy $stack" "$work/destroy-$stack.log" pulumi_in "$t2" destroy --stack "$stack" --yes --skip-preview --suppress-progress; then
      pass "$stack: pulumi destroy"
    else
      fail "$stack: pulumi destroy"
      grep -E 'error' "$work/destroy-$stack.log" | head -10
      destroyed=false
    fi
  done
fi
if $destroyed; then
  result < <(tool check-gone --plan "${day2_plan:-$work/plan}" "${kubeconfigs[@]}" --baseline-dir "$work")
  if [ "$failed" = "$teardown_failed" ]; then pass "teardown: $((SECONDS - teardown)) s, nothing of ours left"; else fail "teardown: $((SECONDS - teardown)) s, $((failed - teardown_failed)) checks failed"; fi
fi

# The SDKs are pinned to the plugins' versions: the engine must not complain about either.
if grep -l 'expected to have version\|is older than\|newer version of' "$work"/*.log >/dev/null 2>&1; then
  fail "the engine warned about plugin versions: $(grep -h 'expected to have version\|is older than\|newer version of' "$work"/*.log | sort -u | head -3)"
else
  pass "no plugin version warning in any engine log"
fi

echo "total: $((SECONDS - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
