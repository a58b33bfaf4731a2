#!/usr/bin/env bash
# Prints the cluster's admin kubeconfig with its server set to the host's
# reachable address (what the Pulumi provider and the peer dial). Changes nothing.
# Usage: kubeconfig.sh <API server address>
set -euo pipefail
address="$1"
admin=/etc/kubernetes/admin.conf
if [[ ! -f "$admin" ]]; then
    echo "$admin does not exist on $(hostname): kubeadm-init.sh has not run" >&2
    exit 1
fi
sed -E "s#^([[:space:]]*server: )https://[^[:space:]]+#\1https://${address}:6443#" "$admin"
