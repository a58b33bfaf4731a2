#!/usr/bin/env bash
# The lab's OIDC issuer on comp1: one Keycloak container (Docker from Ubuntu's
# packages), HTTPS only with a certificate from the lab-services CA, the realm and
# its clients imported from a file on every start, no state kept between
# containers, and no admin: the admin console and admin REST API are switched
# off, so there is no bootstrap admin and no admin password anywhere.
# Idempotent: the container is recreated only when its image, address, port,
# realm, certificate, key or clients changed.
# Usage: run.sh <image> <listen address> <port> <realm>
#        (standard input: the server certificate, the lab-services CA certificate, the
#        private key (PEM), then a line "realm: <realm import JSON>")
# (lib.sh is put in front of this file: write_file, installed)
set -euo pipefail
image="$1"
address="$2"
port="$3"
realm="$4"
base=/var/lib/zta-issuer
name=zta-issuer
# The Keycloak image runs as uid 1000 (its Dockerfile's USER): the files it reads belong to it.
keycloak_uid=1000

ensure_docker

input="$(cat)"
certificates="$(awk '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/' <<<"$input")"
leaf="$(awk '/-----BEGIN CERTIFICATE-----/ { n++ } n == 1' <<<"$certificates")"
root="$(awk '/-----BEGIN CERTIFICATE-----/ { n++ } n == 2' <<<"$certificates")"
key="$(awk '/-----BEGIN [A-Z ]*KEY-----/,/-----END [A-Z ]*KEY-----/' <<<"$input")"
realm_json="$(sed -n 's/^realm: //p' <<<"$input")"
if [[ -z "$leaf" || -z "$root" || -z "$key" || -z "$realm_json" ]]; then
    echo "standard input must hold the certificate, the root certificate, the private key and a realm: line" >&2
    exit 1
fi

install -d -m 0700 -o "$keycloak_uid" -g 0 "$base" "$base/certs" "$base/import"
write_file "$base/certs/tls.crt" 0644 <<<"$leaf" || true
write_file "$base/certs/tls.key" 0600 <<<"$key" || true
write_file "$base/certs/root.crt" 0644 <<<"$root" || true
write_file "$base/import/${realm}-realm.json" 0600 <<<"$realm_json" || true
# An earlier version kept a bootstrap admin password here: it must not outlive that version.
rm -f "$base/admin.env"
chown "$keycloak_uid:0" "$base/certs/tls.crt" "$base/certs/tls.key" "$base/import/${realm}-realm.json"

# Everything the container is made from, as one label: a change means recreate.
spec="$(printf '%s\n' "$image" "$address" "$port" "$realm" "$input" | sha256sum | cut -d' ' -f1)"
# Keycloak's server options (keycloak.org, "All configuration"): production mode (`start`),
# HTTPS only, on 8443 in the container; the hostname is the issuer URL's origin, so `iss` is
# https://<address>:<port>/realms/<realm>. The database is named, not left to a default:
# dev-file, Keycloak's embedded H2 in the container's own layer, because the issuer keeps
# nothing worth keeping (the realm is re-imported on every start; a new container is a fresh
# issuer by design) and a database server on comp1 would be one more service to run and
# secure for no state (docs/zero-trust.md). `admin` (the console) and `admin-api` (the REST
# API it calls) are switched off (keycloak.org, "Enabling and disabling features"): nobody
# administers this Keycloak, so nothing admin-facing is served to the LAN.
if run_container "$name" "$spec" \
    -p "${address}:${port}:8443" \
    -v "$base/certs:/opt/keycloak/conf/zta:ro" \
    -v "$base/import:/opt/keycloak/data/import:ro" \
    "$image" start \
    --db=dev-file \
    --features-disabled=admin,admin-api \
    --import-realm \
    --http-enabled=false \
    --https-port=8443 \
    --https-certificate-file=/opt/keycloak/conf/zta/tls.crt \
    --https-certificate-key-file=/opt/keycloak/conf/zta/tls.key \
    --hostname="https://${address}:${port}"; then
    echo "Keycloak ${image} starting on https://${address}:${port}"
fi

# istiod fetches the keys once it starts: wait until the realm serves them, verified against the lab-services CA.
discovery="https://${address}:${port}/realms/${realm}/.well-known/openid-configuration"
for _ in $(seq 60); do
    curl -sf --cacert "$base/certs/root.crt" "$discovery" >/dev/null && break
    sleep 5
done
if ! curl -sf --cacert "$base/certs/root.crt" "$discovery" >/dev/null; then
    echo "Keycloak did not serve ${discovery} within 5 minutes; see \`docker logs ${name}\`" >&2
    exit 1
fi
echo "issuer https://${address}:${port}/realms/${realm} is up"
