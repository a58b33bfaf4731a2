#!/usr/bin/env bash
# Removes the issuer container and the files run.sh wrote (certificates, key,
# realm import) on `pulumi destroy`. Safe to run when there is none.
# Usage: remove.sh
set -euo pipefail
if command -v docker >/dev/null && docker inspect zta-issuer >/dev/null 2>&1; then
    docker rm -f zta-issuer
fi
rm -rf /var/lib/zta-issuer
