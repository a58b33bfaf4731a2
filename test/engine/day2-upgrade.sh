# Day 2, the upgrade (`--day2 upgrade`), sourced by day2.sh: the converged lab taken back to
# the earlier releases the chart mirror holds and to the SPIRE server of a program before
# commit 238f2cc (an emptyDir datastore), then upgraded as docs/upgrade.md ("In place") says:
# the pins of Pulumi.yaml set once, `pulumi up` on the root stack first, then the others.
# Ends with `pulumi preview --expect-no-changes` on every stack, the first deployment's
# checks, and the SPIRE server's StatefulSet with the claim template of the pins, read from
# the API server. Uses day2.sh's helpers (day2_up, expect_replaced, day2_converged,
# day2_check_lab, day2_replan, check_step) and run.sh's ($t2, $charts, $work, in_ns, pulumi_in).

before=$failed step_start=$SECONDS replaced_in_others=''
# The earlier releases of ../shared/charts. Kubernetes "1.35": the support matrix
# (stacks/support.ts) runs Cilium 1.19 on Kubernetes 1.32 to 1.35 only, and docs/upgrade.md's
# step 6 (Cilium 1.20, SPIRE 0.30) starts from a lab at "1.35". On the simulated lab the API
# servers stay what run.sh built; versions.kubernetes is what the stacks declare and export.
upgrade_old='{"kubernetes": "1.35", "cilium": "1.19.6", "metallb": "0.14.9", "spireCrds": "0.5.0", "spire": "0.24.5"}'
upgrade_spire_chart=$charts/spire-0.24.5.tgz
upgrade_helm=${HELM:-$HOME/.cache/zta-helm/v3.20.2/helm}
if [ ! -x "$upgrade_helm" ]; then
  GOBIN=$(dirname "$upgrade_helm") GOFLAGS=-mod=mod go install helm.sh/helm/v3/cmd/helm@v3.20.2 >"$work/day2-upgrade-helm-build.log" 2>&1 ||
    fail "upgrade: building helm v3.20.2 into $(dirname "$upgrade_helm"): $(tail -3 "$work/day2-upgrade-helm-build.log")"
fi
upgrade_helm_in() { # stack, helm args...: helm inside the test's namespace, on the stack's cluster as its admin
  local stack=$1
  shift
  in_ns env HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" HELM_DATA_HOME="$work/helm/data" \
    "$upgrade_helm" --kubeconfig "$work/$stack/admin.kubeconfig" "$@"
}
upgrade_versions() { # file, versions JSON: sets those keys of zta-testbed:versions, each on its own line, and says how many lines changed
  python3 - "$1" "$2" <<'EOF'
import json, re, sys
path, versions = sys.argv[1], json.loads(sys.argv[2])
lines, inside, changed = open(path).read().split("\n"), False, 0
for i, line in enumerate(lines):
    if re.match(r"^  zta-testbed:versions:$", line):
        inside = True
        continue
    if inside and re.match(r"^  \S", line):
        break
    m = re.match(r"^(      )(\w+): (.*)$", line) if inside else None
    if m and m.group(2) in versions:
        new = f'{m.group(1)}{m.group(2)}: {json.dumps(versions[m.group(2)])}'
        changed += new != line
        lines[i] = new
open(path, "w").write("\n".join(lines))
print(changed)
EOF
}

# ---------------------------------------------------------- 1. the lab as the earlier versions made it
cp "$t2/Pulumi.yaml" "$work/Pulumi.yaml.pins"
n=$(upgrade_versions "$t2/Pulumi.yaml" "$upgrade_old")
if [ "$n" = 5 ]; then pass "upgrade: Pulumi.yaml's versions set to the earlier releases: $upgrade_old"; else fail "upgrade: $n of 5 versions changed in Pulumi.yaml"; fi
day2_replan upgrade-old
# A stack behind a peer is refused (stacks/peer-checks.ts), so no order of `pulumi up` takes a
# converged lab back: whichever stack runs first is behind the others. A lab the earlier versions
# made had every peer export them: each peer-role stack's identity output says so before the
# root's run, as that lab's state would (each peer's own run below writes the same again).
for stack in $day2_peers; do
  pulumi_in "$t2" stack export --stack "$stack" >"$work/day2-upgrade-export-$stack.json"
  if day2_tool set-identity-versions --state "$work/day2-upgrade-export-$stack.json" --versions "$upgrade_old" \
    --out "$work/day2-upgrade-import-$stack.json" >"$work/day2-upgrade-identity-$stack.log" &&
    pulumi_in "$t2" stack import --stack "$stack" --file "$work/day2-upgrade-import-$stack.json" >>"$work/day2-upgrade-identity-$stack.log" 2>&1; then
    pass "upgrade: $stack's state exports the earlier versions, as the lab they made"
  else
    fail "upgrade: $stack's identity output: $(tail -2 "$work/day2-upgrade-identity-$stack.log")"
  fi
done
# spire 0.30's server publishes the trust bundle itself (bundlePublisher.k8sConfigMap, the chart's
# default there): the ConfigMap spire-system/spire-bundle it made is nobody's release, and the 0.24.5
# chart, which renders it, refuses to take it over ("exists and cannot be imported into the current
# release"). In a lab 0.24.5 built, the chart made it: it goes, and the run below creates it again.
for stack in $stacks; do
  result < <(day2_tool delete-configmap --kubeconfig "$work/$stack/admin.kubeconfig" --namespace spire-system --name spire-bundle)
done
for stack in $day2_roots $day2_peers; do
  day2_up upgrade-old "$day2_plan" "$stack"
  expect_replaced "$stack" ""
done

# The SPIRE server of a program before commit 238f2cc: `spire-server.persistence.type: emptyDir`
# (git show 238f2cc), in the cluster and in the state, for every stack.
for stack in $stacks; do
  # A StatefulSet's volumeClaimTemplates cannot change, so Helm could not take the server from a
  # claim to an emptyDir either: the StatefulSet goes first, its pod orphaned (the server keeps
  # running), and Helm's upgrade creates it as the old chart values render it, with no claim
  # template; the new StatefulSet adopts the pod and rolls it onto the emptyDir.
  result < <(day2_tool orphan-statefulset --kubeconfig "$work/$stack/admin.kubeconfig" --namespace spire-server --name spire-server)
  # The release's other values are the ones the program gave it (--reuse-values): that commit
  # changed nothing else of the release. Same chart (0.24.5), so only the persistence differs.
  if timed "helm upgrade spire $stack (emptyDir)" "$work/day2-upgrade-helm-$stack.log" upgrade_helm_in "$stack" upgrade spire "$upgrade_spire_chart" \
    --namespace spire-server --reuse-values --set spire-server.persistence.type=emptyDir --wait --timeout 5m; then
    pass "upgrade: $stack: helm upgrade spire --set spire-server.persistence.type=emptyDir"
  else
    fail "upgrade: $stack: helm upgrade spire (emptyDir): $(tail -3 "$work/day2-upgrade-helm-$stack.log")"
  fi
  # An emptyDir lab never had the server's claim: it goes, and its volume is free for the next
  # claim (the simulated cluster has no provisioner; its volumes hold no data).
  result < <(day2_tool drop-claim --kubeconfig "$work/$stack/admin.kubeconfig" --namespace spire-server --claim spire-data-spire-server-0)
  # The state as that program's `pulumi up` left it: the release's values (inputs and outputs)
  # with persistence {type: emptyDir}, nothing else of it. Without this edit the state would
  # claim the pvc values, the diff would be empty and the upgrade would not touch the release.
  pulumi_in "$t2" stack export --stack "$stack" --show-secrets >"$work/day2-upgrade-export-$stack.json"
  if day2_tool old-spire-state --state "$work/day2-upgrade-export-$stack.json" --release "$stack-spire-chart" \
    --out "$work/day2-upgrade-import-$stack.json" >"$work/day2-upgrade-state-$stack.log" &&
    pulumi_in "$t2" stack import --stack "$stack" --file "$work/day2-upgrade-import-$stack.json" >>"$work/day2-upgrade-state-$stack.log" 2>&1; then
    pass "upgrade: $stack's state holds the spire release with persistence {type: emptyDir}"
  else
    fail "upgrade: $stack's state of $stack-spire-chart: $(tail -2 "$work/day2-upgrade-state-$stack.log")"
  fi
  claims=$(day2_tool statefulset-claims --kubeconfig "$work/$stack/admin.kubeconfig" --namespace spire-server --name spire-server) || true
  case "$claims" in
    '{"volumeClaimTemplates":[],'*'"name":"spire-data","emptyDir":true'*) pass "upgrade: $stack: the SPIRE server's StatefulSet keeps its data on an emptyDir, no claim template: $claims" ;;
    *) fail "upgrade: $stack: the SPIRE server's StatefulSet is not the emptyDir one: $claims" ;;
  esac
done

# ---------------------------------------------------------- 2. the upgrade: docs/upgrade.md, "In place"
cp "$work/Pulumi.yaml.pins" "$t2/Pulumi.yaml"
day2_replan upgrade
# The root stack first: its run warns that the others still run the earlier versions.
for stack in $day2_roots $day2_peers; do
  day2_up upgrade "$day2_plan" "$stack"
  # docs/upgrade.md: the spire release is replaced (its persistence changes), nothing else.
  expect_replaced "$stack" "$stack-spire-chart"
done
day2_converged upgrade "$day2_plan" $stacks
day2_check_lab upgrade "$day2_plan"
for stack in $stacks; do
  claims=$(day2_tool statefulset-claims --kubeconfig "$work/$stack/admin.kubeconfig" --namespace spire-server --name spire-server) || true
  case "$claims" in
    '{"volumeClaimTemplates":[{"name":"spire-data",'*'"storage":"1Gi"}],'*) pass "upgrade: $stack: the SPIRE server's StatefulSet has the pins' claim template: $claims" ;;
    *) fail "upgrade: $stack: the SPIRE server's StatefulSet after the upgrade: $claims; expected the claim template spire-data of 1Gi" ;;
  esac
done
check_step upgrade "versions from $upgrade_old and the SPIRE server's emptyDir to the pins: pulumi up $day2_roots $day2_peers" "$before" "$step_start"
