#!/usr/bin/env bash
# Prepares an Ubuntu server for a single-node kubeadm cluster: swap off, kernel
# modules and sysctls for bridged pod traffic, containerd with the systemd cgroup
# driver, and kubelet/kubeadm/kubectl of one Kubernetes version, held there.
# Idempotent: every step checks before it changes, so a second run changes nothing.
# Usage: prepare.sh <minor, e.g. 1.32> <package version prefix, e.g. "1.32." or "1.32.4-"> [local volume directory...]
# (lib.sh is put in front of this file: write_file, installed, require_containerd_for)
set -euo pipefail
minor="$1"
version_prefix="$2"
shift 2

# --- swap: the kubelet refuses to start with swap on (kubeadm install guide) ---
if [[ -n "$(swapon --show --noheadings)" ]]; then
    swapoff -a
    echo "swap turned off"
fi
# ...and kept off across reboots: comment out swap entries in fstab.
if grep -Eq '^[^#][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]]' /etc/fstab; then
    sed -Ei.zta-backup 's/^([^#][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$/# \1  # off for the kubelet (zta-testbed)/' /etc/fstab
    echo "swap entries in /etc/fstab commented out"
fi

# --- kernel modules and sysctls for container networking ---
write_file /etc/modules-load.d/zta-kubernetes.conf <<'CONF' || true
overlay
br_netfilter
CONF
for module in overlay br_netfilter; do
    [[ -d "/sys/module/$module" ]] || modprobe "$module"
done
sysctls=/etc/sysctl.d/99-zta-kubernetes.conf
write_file "$sysctls" <<'CONF' || true
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
CONF
for key in net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv4.ip_forward; do
    if [[ "$(sysctl -n "$key")" != 1 ]]; then
        sysctl -q -p "$sysctls"
        break
    fi
done

# --- containerd from Ubuntu's packages ---
missing=()
# conntrack and socat: kubeadm's preflight checks look for them.
for package in ca-certificates curl gpg conntrack socat containerd; do
    installed "$package" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi
# Before anything of Kubernetes is installed: a containerd too old for this minor stops here.
require_containerd_for "$minor"
# The default config with two changes: the systemd cgroup driver (what kubeadm
# configures the kubelet with) and registry hosts read from /etc/containerd/certs.d,
# where trust-ca.sh puts the lab registry's CA. containerd 2.x already reads that
# directory; 1.7 needs config_path set.
config="$(containerd config default |
    sed -E 's/^([[:space:]]*SystemdCgroup = )false/\1true/' |
    sed -E '/\.registry\]$/,/^[[:space:]]*\[/ s|^([[:space:]]*config_path = )""|\1"/etc/containerd/certs.d"|')"
mkdir -p /etc/containerd/certs.d
if write_file /etc/containerd/config.toml <<<"$config"; then
    systemctl restart containerd
fi
systemctl is-enabled -q containerd || systemctl enable --now containerd

# --- Kubernetes packages from pkgs.k8s.io, one repository per minor ---
repo="https://pkgs.k8s.io/core:/stable:/v${minor}/deb/"
keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
repo_changed=false
write_file /etc/apt/sources.list.d/kubernetes.list <<<"deb [signed-by=${keyring}] ${repo} /" && repo_changed=true
if [[ "$repo_changed" == true || ! -s "$keyring" ]]; then
    install -d -m 0755 /etc/apt/keyrings
    curl -fsSL "${repo}Release.key" | gpg --dearmor --yes -o "$keyring"
fi

current="$(dpkg-query -W -f='${Version}' kubeadm 2>/dev/null || true)"
if [[ -f /etc/kubernetes/admin.conf && -n "$current" && "$current" != "${minor}."* ]]; then
    echo "kubeadm ${current} runs this cluster; moving it to ${minor} needs 'kubeadm upgrade', which HostPrep does not do" >&2
    exit 1
fi
outdated=false
for package in kubelet kubeadm kubectl; do
    [[ "$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || true)" == "${version_prefix}"* ]] || outdated=true
done
if [[ "$outdated" == true ]]; then
    apt-get update -qq
    # Newest package version with the prefix (madison lists newest first).
    version="$(apt-cache madison kubeadm | awk -v p="$version_prefix" 'index($3, p) == 1 { print $3; exit }')"
    if [[ -z "$version" ]]; then
        echo "no kubeadm package version starting with ${version_prefix} in ${repo}" >&2
        exit 1
    fi
    apt-get install -y -qq --allow-change-held-packages --allow-downgrades \
        "kubelet=${version}" "kubeadm=${version}" "kubectl=${version}"
    echo "installed kubelet, kubeadm and kubectl ${version}"
fi
# Held so that an unattended upgrade never moves the cluster's version.
holds="$(apt-mark showhold)"
for package in kubelet kubeadm kubectl; do
    grep -qx "$package" <<<"$holds" || apt-mark hold "$package" >/dev/null
done
systemctl is-enabled -q kubelet || systemctl enable kubelet

# --- directories of local PersistentVolumes (the SPIRE server's datastore and keys) ---
# A local volume's path must exist before the pod that uses it starts; the kubelet then
# gives its group to the pod's fsGroup. Root-only otherwise. Never removed here: the data
# is meant to outlive pods, `kubeadm reset` and re-runs.
for dir in "$@"; do
    if [[ ! -d "$dir" ]]; then
        install -d -m 0700 "$dir"
        echo "created ${dir}"
    fi
done
