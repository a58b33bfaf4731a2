#!/usr/bin/env bash
# Removes the registry's containers and network on `pulumi destroy`; the images
# under /var/lib/zta-registry/data stay. Safe to run when there is nothing to remove.
# Usage: remove.sh
set -euo pipefail
command -v docker >/dev/null || exit 0
for container in zta-registry-front zta-registry; do
    if docker inspect "$container" >/dev/null 2>&1; then docker rm -f "$container"; fi
done
if docker network inspect zta-registry >/dev/null 2>&1; then docker network rm zta-registry; fi
