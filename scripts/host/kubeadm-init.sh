#!/usr/bin/env bash
# Creates the single-node cluster with kubeadm, once. Every run then checks that
# the running cluster has the configured address, ranges and kube-proxy choice
# (kubeadm cannot change them in place); on a second run it changes nothing.
# Usage: kubeadm-init.sh <API server address> <pod CIDR> <service CIDR> with-kube-proxy|without-kube-proxy
set -euo pipefail
address="$1"
pod_cidr="$2"
service_cidr="$3"
kube_proxy="$4"
manifests=/etc/kubernetes/manifests
export KUBECONFIG=/etc/kubernetes/admin.conf

# True when the static pod manifest $1 runs its command with --$2=$3.
has_flag() {
    awk -v want="--$2=$3" '$1 == "-" && $2 == want { found = 1 } END { exit !found }' "$1"
}

if [[ ! -f "$KUBECONFIG" ]]; then
    # No CNI is installed here: Cilium comes next. Without kube-proxy when Cilium replaces it
    # (Cilium's kube-proxy-free guide: kubeadm init --skip-phases=addon/kube-proxy).
    # The version is the installed kubeadm's own, so the control plane matches the held packages.
    #
    # The kubelet's --node-ip is the management address: on a host with two NICs the kubelet
    # would otherwise take the address of the default route's NIC, and the node's InternalIP
    # (what Cilium, MetalLB and the peer see) could be the service address. kubeadm passes
    # kubelet flags only from its config file, in the API version it prints itself
    # (v1beta3 up to Kubernetes 1.30: a map; v1beta4 from 1.31: a list of name/value).
    api="$(kubeadm config print init-defaults | awk '$1 == "apiVersion:" && $2 ~ /^kubeadm/ { print $2; exit }')"
    if [[ "$api" == kubeadm.k8s.io/v1beta3 ]]; then
        node_ip="    node-ip: \"${address}\""
    else
        node_ip=$'    - name: node-ip\n      value: "'"${address}"'"'
    fi
    skip=()
    [[ "$kube_proxy" == with-kube-proxy ]] || skip=(--skip-phases=addon/kube-proxy)
    write_file /etc/zta-testbed/kubeadm-init.yaml 0600 <<YAML || true
apiVersion: ${api}
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: "${address}"
nodeRegistration:
  kubeletExtraArgs:
${node_ip}
---
apiVersion: ${api}
kind: ClusterConfiguration
kubernetesVersion: "$(kubeadm version -o short)"
networking:
  podSubnet: "${pod_cidr}"
  serviceSubnet: "${service_cidr}"
YAML
    kubeadm init --config /etc/zta-testbed/kubeadm-init.yaml --skip-token-print "${skip[@]}"
fi

for _ in $(seq 60); do
    kubectl get --raw /readyz >/dev/null 2>&1 && break
    sleep 5
done
kubectl get --raw /readyz >/dev/null

# The cluster as it runs must be the configured one: kubeadm cannot change these in place.
problems=()
has_flag "$manifests/kube-apiserver.yaml" advertise-address "$address" || problems+=("API server address is not ${address}")
has_flag "$manifests/kube-controller-manager.yaml" cluster-cidr "$pod_cidr" || problems+=("pod CIDR is not ${pod_cidr}")
has_flag "$manifests/kube-apiserver.yaml" service-cluster-ip-range "$service_cidr" || problems+=("service CIDR is not ${service_cidr}")
node_address="$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')"
[[ "$node_address" == "$address" ]] || problems+=("the node's address (kubelet --node-ip) is ${node_address}, not ${address}")
running=with-kube-proxy
kubectl -n kube-system get daemonset kube-proxy >/dev/null 2>&1 || running=without-kube-proxy
[[ "$running" == "$kube_proxy" ]] || problems+=("it runs ${running}, the configuration says ${kube_proxy}")
if ((${#problems[@]} > 0)); then
    echo "the cluster on $(hostname) differs from the configuration, and kubeadm cannot change that in place:" >&2
    printf '  - %s\n' "${problems[@]}" >&2
    echo "set host.allowReset, destroy and deploy again, or put the old values back" >&2
    exit 1
fi

# One node runs everything: remove the control-plane taint...
if [[ "$(kubectl get nodes -o jsonpath='{.items[*].spec.taints[*].key}')" == *node-role.kubernetes.io/control-plane* ]]; then
    kubectl taint nodes --all node-role.kubernetes.io/control-plane-
fi
# ...and the label kubeadm puts on control-plane nodes that MetalLB (>= 0.14) honours:
# with it, the only node never answers ARP for LoadBalancer addresses (metallb#2274).
if [[ -n "$(kubectl get nodes -l node.kubernetes.io/exclude-from-external-load-balancers -o name)" ]]; then
    kubectl label nodes --all node.kubernetes.io/exclude-from-external-load-balancers-
fi
