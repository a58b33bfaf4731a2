#!/usr/bin/env bash
# Trusts the lab root CA system-wide and tells containerd to verify the lab
# registry with it, so that images from comp1 pull over TLS without `insecure`.
# Usage: trust-ca.sh <registry host:port>    (standard input: the root CA, PEM)
# (lib.sh is put in front of this file: write_file)
set -euo pipefail
registry="$1"
pem="$(cat)"
if [[ "$pem" != *"-----BEGIN CERTIFICATE-----"* ]]; then
    echo "standard input is not a PEM certificate" >&2
    exit 1
fi

# update-ca-certificates picks up *.crt files under /usr/local/share/ca-certificates.
if write_file /usr/local/share/ca-certificates/zta-testbed-root-ca.crt <<<"$pem"; then
    update-ca-certificates
fi

# containerd's registry host config (docs/hosts.md): one directory per "host:port".
hosts_dir="/etc/containerd/certs.d/${registry}"
write_file "${hosts_dir}/ca.crt" <<<"$pem" || true
write_file "${hosts_dir}/hosts.toml" <<TOML || true
server = "https://${registry}"

[host."https://${registry}"]
  capabilities = ["pull", "resolve"]
  ca = "${hosts_dir}/ca.crt"
TOML
