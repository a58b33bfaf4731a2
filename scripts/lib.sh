#!/usr/bin/env bash
# Shared by every host script: components/scripts.ts puts this file in front of
# the script's own text, and the host runs the two as one `bash -c` program.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Writes standard input to the file $1 (mode $2, default 0644) unless the file
# already holds exactly that text. Returns 0 when it wrote, 1 when nothing
# changed, so callers restart a service only after a real change. Errors exit
# the script even when called from an `if` (where `set -e` is off).
write_file() {
    local dest="$1" mode="${2:-0644}" tmp
    tmp="$(mktemp)" || exit 1
    cat >"$tmp" || exit 1
    if cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
        return 1
    fi
    if ! install -D -m "$mode" "$tmp" "$dest"; then
        echo "cannot write $dest" >&2
        exit 1
    fi
    rm -f "$tmp"
    echo "wrote $dest"
}

# True when the Debian package $1 is installed.
installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# Installs Debian's Docker engine and starts it at boot, unless that is done already.
ensure_docker() {
    if ! installed docker.io; then
        apt-get update -qq
        apt-get install -y -qq docker.io
    fi
    systemctl is-enabled -q docker || systemctl enable --now docker
}

# Runs the container $1 (`docker run -d --name $1 --restart always` with the
# remaining arguments) unless it already carries the spec label $2, a hash of
# everything it is made from: a different spec recreates it, an unchanged one is
# only started if it stopped. Returns 0 when it (re)created the container.
run_container() {
    local name="$1" spec="$2" current
    shift 2
    current="$(docker inspect -f '{{ index .Config.Labels "zta-testbed.spec" }}' "$name" 2>/dev/null || true)"
    if [[ "$current" == "$spec" ]]; then
        if [[ "$(docker inspect -f '{{ .State.Running }}' "$name")" != true ]]; then docker start "$name" || exit 1; fi
        return 1
    fi
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" --restart always --label "zta-testbed.spec=${spec}" "$@" || exit 1
}

# Fails, naming the fix, when the installed containerd cannot run Kubernetes $1
# (a minor, e.g. 1.36): Kubernetes 1.35 is the last release that supports the
# containerd 1.x series (SIG Node, Kubernetes v1.35 release notes), so from 1.36
# on the kubelet needs containerd 2.0 or later.
require_containerd_for() {
    local minor="$1" version
    version="$(containerd --version | awk '{ print $3 }')" || exit 1
    version="${version#v}"
    if [[ -z "$version" ]]; then
        echo "cannot read containerd's version on $(hostname) from 'containerd --version'" >&2
        exit 1
    fi
    if dpkg --compare-versions "$minor" ge 1.36 && dpkg --compare-versions "$version" lt 2.0; then
        echo "$(hostname) has containerd ${version}; Kubernetes ${minor} needs containerd 2.0 or later (1.35 was the last release to support containerd 1.x): install containerd 2.x on the host, or set versions.kubernetes to 1.35" >&2
        exit 1
    fi
}
