#!/usr/bin/env bash
# The lab's private image registry on comp1: Docker from Ubuntu's packages and
# one `registry` container serving TLS with a certificate from the lab-services CA,
# its data on a host directory, restarted always. Idempotent: the container is
# recreated only when its image, address, port or certificate changed.
# Usage: run.sh <image> <listen address> <port>
#        (standard input: the server certificate, then its private key, PEM)
# (lib.sh is put in front of this file: write_file, installed)
set -euo pipefail
image="$1"
address="$2"
port="$3"
base=/var/lib/zta-registry
name=zta-registry

ensure_docker

bundle="$(cat)"
certificate="$(awk '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/' <<<"$bundle")"
key="$(awk '/-----BEGIN [A-Z ]*KEY-----/,/-----END [A-Z ]*KEY-----/' <<<"$bundle")"
if [[ -z "$certificate" || -z "$key" ]]; then
    echo "standard input must hold the certificate and the private key (PEM)" >&2
    exit 1
fi
install -d -m 0700 "$base/certs"
install -d -m 0755 "$base/data"
write_file "$base/certs/tls.crt" 0644 <<<"$certificate" || true
write_file "$base/certs/tls.key" 0600 <<<"$key" || true

# Everything the container is made from, as one label: a change means recreate.
spec="$(printf '%s\n' "$image" "$address" "$port" "$certificate" "$key" | sha256sum | cut -d' ' -f1)"
# Registry settings as environment variables (distribution's configuration docs).
if run_container "$name" "$spec" \
    -p "${address}:${port}:5000" \
    -v "$base/certs:/certs:ro" \
    -v "$base/data:/var/lib/registry" \
    -e REGISTRY_HTTP_ADDR=0.0.0.0:5000 \
    -e REGISTRY_HTTP_TLS_CERTIFICATE=/certs/tls.crt \
    -e REGISTRY_HTTP_TLS_KEY=/certs/tls.key \
    "$image"; then
    echo "registry ${image} listening on https://${address}:${port}"
fi
