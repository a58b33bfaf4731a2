#!/usr/bin/env bash
# Creates the single-node cluster with kubeadm, once. On later runs it checks
# that the running cluster still has the configured address and ranges (kubeadm
# cannot change them in place) and changes nothing.
# Usage: kubeadm-init.sh <API server address> <pod CIDR> <service CIDR>
set -euo pipefail
address="$1"
pod_cidr="$2"
service_cidr="$3"
manifests=/etc/kubernetes/manifests
export KUBECONFIG=/etc/kubernetes/admin.conf

# True when the static pod manifest $1 runs its command with --$2=$3.
has_flag() {
    awk -v want="--$2=$3" '$1 == "-" && $2 == want { found = 1 } END { exit !found }' "$1"
}

if [[ -f "$KUBECONFIG" ]]; then
    problems=()
    has_flag "$manifests/kube-apiserver.yaml" advertise-address "$address" || problems+=("API server address is not ${address}")
    has_flag "$manifests/kube-controller-manager.yaml" cluster-cidr "$pod_cidr" || problems+=("pod CIDR is not ${pod_cidr}")
    has_flag "$manifests/kube-apiserver.yaml" service-cluster-ip-range "$service_cidr" || problems+=("service CIDR is not ${service_cidr}")
    if ((${#problems[@]} > 0)); then
        printf 'the cluster on %s already exists and its %s; kubeadm cannot change that in place: ' "$(hostname)" "${problems[*]}" >&2
        echo "set host.allowReset, destroy and deploy again, or put the old values back" >&2
        exit 1
    fi
else
    # No CNI is installed here (Cilium comes next) and kube-proxy is kept (README, "Hosts").
    # The version is the installed kubeadm's own, so the control plane matches the held packages.
    kubeadm init \
        --apiserver-advertise-address="$address" \
        --pod-network-cidr="$pod_cidr" \
        --service-cidr="$service_cidr" \
        --kubernetes-version="$(kubeadm version -o short)" \
        --skip-token-print
fi

for _ in $(seq 60); do
    kubectl get --raw /readyz >/dev/null 2>&1 && break
    sleep 5
done
kubectl get --raw /readyz >/dev/null

# One node runs everything: remove the control-plane taint...
if [[ "$(kubectl get nodes -o jsonpath='{.items[*].spec.taints[*].key}')" == *node-role.kubernetes.io/control-plane* ]]; then
    kubectl taint nodes --all node-role.kubernetes.io/control-plane-
fi
# ...and the label kubeadm puts on control-plane nodes that MetalLB (>= 0.14) honours:
# with it, the only node never answers ARP for LoadBalancer addresses (metallb#2274).
if [[ -n "$(kubectl get nodes -l node.kubernetes.io/exclude-from-external-load-balancers -o name)" ]]; then
    kubectl label nodes --all node.kubernetes.io/exclude-from-external-load-balancers-
fi
