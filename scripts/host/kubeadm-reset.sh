#!/usr/bin/env bash
# Tears the cluster down (`pulumi destroy` with host.allowReset: true). Safe to
# run on a host that has no cluster.
# Usage: kubeadm-reset.sh
set -euo pipefail
if command -v kubeadm >/dev/null && [[ -f /etc/kubernetes/kubelet.conf || -f /etc/kubernetes/admin.conf ]]; then
    kubeadm reset --force
fi
# kubeadm reset leaves the CNI configuration behind (it says so); the next init starts clean.
rm -rf /etc/cni/net.d
