#!/usr/bin/env bash
# Runs MetalLB's own controller for one simulated cluster, standing in for the
# chart's controller pod (which kwok only marks Ready). It starts once the chart's
# CRDs and controller pod exist (it owns its status objects through that pod) and
# is started again whenever it exits. Runs inside the test's network namespace;
# run.sh stops it by PID.
#   metallb-controller.sh <controller binary> <kubeconfig> <metrics port> <health port> <lab-tool command...>
set -uo pipefail
controller=$1 kubeconfig=$2 metrics=$3 health=$4
shift 4
while :; do
  pod=$("$@" pod-name --kubeconfig "$kubeconfig" --namespace metallb-system --selector app.kubernetes.io/name=metallb,app.kubernetes.io/component=controller 2>/dev/null)
  if [[ $pod =~ ^[a-z0-9][a-z0-9.-]*$ ]]; then
    KUBECONFIG=$kubeconfig "$controller" --namespace metallb-system --pod-name "$pod" --webhook-mode disabled \
      --disable-cert-rotation --port "$metrics" --health-probe-port "$health" --log-level warn
  fi
  sleep 2
done
