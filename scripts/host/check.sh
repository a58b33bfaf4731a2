#!/usr/bin/env bash
# Connection gate: runs as the SSH user before anything else on the host, and
# fails early with a clear message when the host is not one HostPrep supports.
# Usage: check.sh
set -euo pipefail

# shellcheck source=/dev/null
. /etc/os-release
if [[ "${ID:-}" != ubuntu || ! "${VERSION_ID:-}" =~ ^(22\.04|24\.04)$ ]]; then
    echo "$(hostname) runs ${PRETTY_NAME:-an unknown OS}; HostPrep supports Ubuntu 22.04 and 24.04" >&2
    exit 1
fi
# kubelet refuses cgroup v1 from Kubernetes 1.35 on (Ubuntu 22.04 and 24.04 boot with v2
# unless told otherwise, e.g. systemd.unified_cgroup_hierarchy=0).
if [[ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]]; then
    echo "$(hostname) runs cgroup v1; the kubelet needs cgroup v2 (remove systemd.unified_cgroup_hierarchy=0 from the kernel command line and reboot)" >&2
    exit 1
fi
if ! sudo -n true 2>/dev/null; then
    echo "user $(id -un) on $(hostname) needs passwordless sudo" >&2
    exit 1
fi
echo "$(hostname): ${PRETTY_NAME}, $(uname -r)"
