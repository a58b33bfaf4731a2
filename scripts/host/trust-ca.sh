#!/usr/bin/env bash
# Trusts the lab-services CA for the lab registry only, in containerd's host
# config for that one registry (/etc/containerd/certs.d/<host:port>/: ca.crt and
# hosts.toml, docs/hosts.md). Never the system trust store: apt, containerd for
# any other registry and every other TLS client on the node keep the OS roots.
# Usage: trust-ca.sh <registry host:port> add      (standard input: the CA, PEM)
#        trust-ca.sh <registry host:port> remove   (on destroy: removes what add wrote)
# Either way it first removes the lab root that versions before the lab-services
# CA put into the system store, and rebuilds the store, only if that file is there.
# (lib.sh is put in front of this file: write_file)
set -euo pipefail
registry="$1"
action="$2"
hosts_dir="/etc/containerd/certs.d/${registry}"

legacy_root=/usr/local/share/ca-certificates/zta-testbed-root-ca.crt
if [[ -e "$legacy_root" ]]; then
    rm -f "$legacy_root"
    update-ca-certificates
fi

case "$action" in
add)
    pem="$(cat)"
    if [[ "$pem" != *"-----BEGIN CERTIFICATE-----"* ]]; then
        echo "standard input is not a PEM certificate" >&2
        exit 1
    fi
    write_file "${hosts_dir}/ca.crt" <<<"$pem" || true
    write_file "${hosts_dir}/hosts.toml" <<TOML || true
server = "https://${registry}"

[host."https://${registry}"]
  capabilities = ["pull", "resolve"]
  ca = "${hosts_dir}/ca.crt"
TOML
    ;;
remove)
    rm -f "${hosts_dir}/hosts.toml" "${hosts_dir}/ca.crt"
    if [[ -d "$hosts_dir" ]]; then rmdir --ignore-fail-on-non-empty "$hosts_dir"; fi
    ;;
*)
    echo "usage: trust-ca.sh <registry host:port> add|remove" >&2
    exit 2
    ;;
esac
