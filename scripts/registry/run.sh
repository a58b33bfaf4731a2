#!/usr/bin/env bash
# The lab's private image registry on comp1: Docker from Ubuntu's packages, one
# `registry` container (CNCF distribution) on a Docker network of its own, and an
# nginx container in front that serves TLS with a certificate from the lab-services
# CA and asks for the push account (HTTP basic, bcrypt htpasswd) on everything
# but reads: distribution's own htpasswd auth would also close pulls, and the
# nodes pull anonymously (docs/hosts.md). Both restarted always. Idempotent: a
# container is recreated only when what it is made from changed.
# Usage: run.sh <registry image> <front image> <listen address> <port>
#        (standard input: the server certificate, then its private key, PEM,
#        then one line `htpasswd: <user>:<bcrypt hash>`)
# (lib.sh is put in front of this file: write_file, installed, run_container)
set -euo pipefail
image="$1"
front_image="$2"
address="$3"
port="$4"
base=/var/lib/zta-registry
name=zta-registry
network=zta-registry

ensure_docker

bundle="$(cat)"
certificate="$(awk '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/' <<<"$bundle")"
key="$(awk '/-----BEGIN [A-Z ]*KEY-----/,/-----END [A-Z ]*KEY-----/' <<<"$bundle")"
htpasswd="$(sed -n 's/^htpasswd: //p' <<<"$bundle")"
if [[ -z "$certificate" || -z "$key" || "$htpasswd" != *:\$2[aby]\$* ]]; then
    echo "standard input must hold the certificate, the private key (PEM) and 'htpasswd: <user>:<bcrypt hash>'" >&2
    exit 1
fi
install -d -m 0700 "$base/certs"
install -d -m 0755 "$base/data" "$base/front"
write_file "$base/certs/tls.crt" 0644 <<<"$certificate" || true
write_file "$base/certs/tls.key" 0600 <<<"$key" || true
# nginx's workers (uid and gid 101 in the nginx image) read the user file at each request.
install -d -m 0750 -g 101 "$base/auth"
write_file "$base/auth/htpasswd" 0640 <<<"$htpasswd" || true
chgrp 101 "$base/auth/htpasswd"

# Reads (GET, HEAD) are open, every other method needs the push account. The
# /v2/ ping is closed too: docker and crane ping it first and send credentials
# only to a registry that asks for them there; containerd pulls without a ping.
# The layout follows distribution's nginx recipe (docs/content/recipes/nginx.md).
write_file "$base/front/default.conf" 0644 <<EOF_CONF || true
server {
    listen 443 ssl;
    ssl_certificate /certs/tls.crt;
    ssl_certificate_key /certs/tls.key;
    client_max_body_size 0;
    chunked_transfer_encoding on;
    proxy_set_header Host \$http_host;
    proxy_set_header X-Forwarded-Proto https;
    proxy_read_timeout 900;
    location = /v2/ {
        auth_basic "zta-testbed registry push";
        auth_basic_user_file /auth/htpasswd;
        add_header Docker-Distribution-Api-Version registry/2.0 always;
        proxy_pass http://${name}:5000;
    }
    location /v2/ {
        limit_except GET HEAD {
            auth_basic "zta-testbed registry push";
            auth_basic_user_file /auth/htpasswd;
        }
        proxy_pass http://${name}:5000;
    }
    location / {
        return 404;
    }
}
EOF_CONF

docker network inspect "$network" >/dev/null 2>&1 || docker network create "$network" >/dev/null

# Everything a container is made from, as one label: a change means recreate.
# Registry settings as environment variables (distribution's configuration docs);
# relative URLs because the client sees the front's address, not the registry's.
registry_spec="$(printf '%s\n' "$image" "$network" | sha256sum | cut -d' ' -f1)"
run_container "$name" "$registry_spec" \
    --network "$network" \
    -v "$base/data:/var/lib/registry" \
    -e REGISTRY_HTTP_ADDR=0.0.0.0:5000 \
    -e REGISTRY_HTTP_RELATIVEURLS=true \
    "$image" || true

# The front resolves the registry's name when it starts: a new registry container means a new front.
front_spec="$(cat - "$base/front/default.conf" <<<"$registry_spec $front_image $address $port $certificate $key $htpasswd" | sha256sum | cut -d' ' -f1)"
if run_container "${name}-front" "$front_spec" \
    --network "$network" \
    -p "${address}:${port}:443" \
    -v "$base/certs:/certs:ro" \
    -v "$base/auth:/auth:ro" \
    -v "$base/front/default.conf:/etc/nginx/conf.d/default.conf:ro" \
    "$front_image"; then
    echo "registry ${image} behind ${front_image} on https://${address}:${port}: pulls open, pushes need the push account"
fi
