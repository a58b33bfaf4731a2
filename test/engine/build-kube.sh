#!/usr/bin/env bash
# Builds what a simulated cluster runs, from Go modules (the only source this
# machine can reach): kube-apiserver, kube-controller-manager and kube-scheduler
# at the lab's Kubernetes minor, etcd, kwok (simulated nodes: pods become Ready
# without a kubelet) and MetalLB's controller at the lab's MetalLB version (it
# assigns LoadBalancer addresses from the IPAddressPool, as in the lab).
#
#   test/engine/build-kube.sh <kubernetes minor, e.g. 1.35> <metallb version, e.g. 0.16.1>
#
# Prints the folder that holds bin/. Cached under ${ZTA_KUBE_HOME:-~/.cache/zta-kube}/<versions>:
# a finished build leaves a stamp and is reused. Cold: about 8 minutes on 2 cores.
set -euo pipefail

minor=${1:?usage: build-kube.sh <kubernetes minor> <metallb version>}
metallb=${2:?usage: build-kube.sh <kubernetes minor> <metallb version>}
# The newest patch of each minor that the Go module proxy serves (checked 2026-11-30).
case "$minor" in
  1.34) kube=1.34.4 ;;
  1.35) kube=1.35.4 ;;
  1.36) kube=1.36.3 ;;
  *) echo "build-kube.sh: no served k8s.io/kubernetes release known for Kubernetes $minor (known: 1.34, 1.35, 1.36)" >&2; exit 2 ;;
esac
staging=0.${kube#1.}   # k8s.io/* staging modules are released as v0.<minor>.<patch>
etcd=3.6.16
kwok=v0.8.0

home=${ZTA_KUBE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/zta-kube}/k8s-$kube.etcd-$etcd.kwok-$kwok.metallb-$metallb
bin=$home/bin
if [ -f "$home/stamp" ]; then echo "$home"; exit 0; fi
command -v go >/dev/null || { echo "build-kube.sh: needs Go" >&2; exit 2; }

export GOFLAGS=-mod=mod CGO_ENABLED=0
GOPROXY=$(go env GOPROXY | sed 's/,direct//')   # only the module proxy is reachable
export GOPROXY
work=$home/work
rm -rf "$work"
mkdir -p "$work/kube" "$work/etcd" "$bin"
step() { echo "== $*" >&2; }

step "kube-apiserver, kube-controller-manager, kube-scheduler v$kube"
go mod download "k8s.io/kubernetes@v$kube"
cd "$work/kube"
{
  printf 'module zta.local/kube\n\ngo 1.25.0\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$kube"
  # k8s.io/kubernetes points its staging modules at ./staging; take their releases instead.
  grep -E '^\s*k8s.io/\S+ => \./staging' "$(go env GOMODCACHE)/k8s.io/kubernetes@v$kube/go.mod" |
    awk -v v="v$staging" '{ print "\t" $1 " => " $1 " " v }'
  printf ')\n'
} > go.mod
printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager"\n\t_ "k8s.io/kubernetes/cmd/kube-scheduler"\n)\n' > tools.go
nice go mod tidy >&2
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$kube -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor#1.} -X k8s.io/component-base/version.gitTreeState=clean"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  nice go build -trimpath -ldflags "$ldflags" -o "$bin/$c" "k8s.io/kubernetes/cmd/$c"
done

step "etcd v$etcd"
cd "$work/etcd"
{
  printf 'module zta.local/etcd\n\ngo 1.25.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n\nreplace (\n' "$etcd"
  for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do printf '\tgo.etcd.io/etcd/%s => go.etcd.io/etcd/%s v%s\n' "$m" "$m" "$etcd"; done
  printf ')\n'
} > go.mod
printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n' > tools.go
nice go mod tidy >&2
nice go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3

step "kwok $kwok, metallb controller v$metallb"
GOBIN=$bin nice go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$kwok"
GOBIN=$work/metallb nice go install -trimpath -ldflags "-s -w" "go.universe.tf/metallb/controller@v$metallb"
mv "$work/metallb/controller" "$bin/metallb-controller"

# kwok's stages (what a simulated node and its pods go through) ship in its module.
stages=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$kwok/kustomize/stage
[ -d "$stages" ] || go mod download "sigs.k8s.io/kwok@$kwok"
for s in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
  echo '---'; cat "$stages/$s.yaml"
done > "$home/kwok-stages.yaml"

rm -rf "$work"
date -u +%FT%TZ > "$home/stamp"
echo "$home"
