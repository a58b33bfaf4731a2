#!/usr/bin/env bash
# Removes the registry container on `pulumi destroy`; the images under
# /var/lib/zta-registry/data stay. Safe to run when there is no container.
# Usage: remove.sh
set -euo pipefail
if command -v docker >/dev/null && docker inspect zta-registry >/dev/null 2>&1; then
    docker rm -f zta-registry
fi
