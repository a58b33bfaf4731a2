# Day 2, a cluster leaves the running lab and joins it again (`--day2 shrink,grow`), sourced by
# day2.sh: in the commands and run order of docs/deploy.md ("Remove a cluster", "Add a
# cluster"), on the clusters the first deployment built. Each step ends with `pulumi preview
# --expect-no-changes` on every stack of the lab it leaves, and prints a PASS line with its
# time and what each `pulumi up` of the stacks that were not the point of the step replaced
# (the page says: nothing). Uses day2.sh's helpers (day2_up, expect_replaced, day2_converged).

day2_stacks=($stacks)
if [ ${#day2_stacks[@]} -lt 3 ]; then
  echo "SKIP: day 2, shrink and grow: this lab of ${#day2_stacks[@]} stacks would be left with one (--lab examples/three-clusters runs them)"
  return 0
fi
# The last peer-role stack leaves: the root stack cannot (docs/deploy.md, "Remove a cluster").
leaver=$day2_peer
# The others, and the others in the deployment order: the peer-role stacks, then the root stack.
others='' others_order='' others_roots=''
for s in $stacks; do
  [ "$s" = "$leaver" ] && continue
  others+="${others:+ }$s"
  if is_root "$s"; then others_roots+=" $s"; else others_order+="${others_order:+ }$s"; fi
done
others_order+=$others_roots

# ---------------------------------------------------------- shrink: docs/deploy.md, "Remove a cluster"
before=$failed step_start=$SECONDS replaced_in_others=''
cp "$t2/Pulumi.yaml" "$work/Pulumi.yaml.with-$leaver"
line=" *- \{stack: $leaver, clusterName: [^}]+\}"
leaver_cluster=$(grep -x -E "$line" "$t2/Pulumi.yaml" | sed 's/.*clusterName: \([^}]*\)}.*/\1/') || true
grep -v -x -E "$line" "$work/Pulumi.yaml.with-$leaver" >"$t2/Pulumi.yaml" || true
if [ "$(diff "$work/Pulumi.yaml.with-$leaver" "$t2/Pulumi.yaml" | grep -c '^[<>]')" = 1 ] && [ -n "$leaver_cluster" ]; then
  pass "shrink: $leaver's roster line ({stack: $leaver, clusterName: $leaver_cluster}) removed: one line of Pulumi.yaml"
else
  fail "shrink: Pulumi.yaml has no one-line roster entry for $leaver to remove ($line)"
fi
# Off the roster, the stack is refused before its program declares anything, with the way out.
if pulumi_in "$t2" preview --stack "$leaver" --suppress-progress >"$work/day2-shrink-refused.log" 2>&1; then
  fail "shrink: pulumi preview of $leaver, no longer on the roster, ran"
elif grep -q "has no entry for this stack, \"$leaver\".*pulumi destroy --stack $leaver" "$work/day2-shrink-refused.log"; then
  pass "shrink: pulumi preview of $leaver is refused: not on the roster, destroy it instead"
else
  fail "shrink: pulumi preview of $leaver failed, but not for the roster: $(grep -m1 -i error "$work/day2-shrink-refused.log" || true)"
fi
mapfile -t protected_urns < <(python3 -c 'import json, sys; [print(r["urn"]) for r in json.load(open(sys.argv[1])) if r.get("protect")]' "$work/plan/$leaver/resources.json")
if [ ${#protected_urns[@]} -gt 0 ]; then
  pulumi_in "$t2" state unprotect --yes --stack "$leaver" "${protected_urns[@]}" >"$work/day2-shrink-unprotect.log" 2>&1 ||
    fail "shrink: pulumi state unprotect of $leaver's ${protected_urns[*]##*::}"
fi
if timed "destroy $leaver (shrink)" "$work/day2-shrink-destroy-$leaver.log" pulumi_in "$t2" destroy --stack "$leaver" --yes --skip-preview --suppress-progress; then
  pass "$leaver: pulumi destroy (shrink)"
else
  fail "$leaver: pulumi destroy (shrink)"
  grep -E 'error' "$work/day2-shrink-destroy-$leaver.log" | head -10 || true
fi
without=$work/plan-without-$leaver
(cd "$t2" && in_ns node_modules/.bin/tsx offline/planner/plan.ts --config-dir "$t2" --stacks "${others// /,}" --out "$without" --quiet >"$work/day2-shrink-plan.log" 2>&1) ||
  fail "shrink: npm run plan -- --stacks ${others// /,}: $(tail -3 "$work/day2-shrink-plan.log")"
for stack in $others_order; do
  day2_up shrink "$without" "$stack"
  expect_replaced "$stack" ""
done
day2_converged shrink "$without" $others
day2_kubeconfigs=() day2_states=() day2_outputs=()
for stack in $others; do
  day2_kubeconfigs+=(--kubeconfig "$stack=$work/$stack/admin.kubeconfig")
  day2_states+=(--state "$stack=$work/day2-shrink-state-$stack.json")
  day2_outputs+=(--"outputs-$stack" "$work/day2-shrink-outputs-$stack.json")
done
result < <(roster_tool check-left --config-dir "$lab" --gone "$leaver" --plan "$without" "${day2_kubeconfigs[@]}" "${day2_states[@]}")
result < <(tool check-lab --plan "$without" "${day2_kubeconfigs[@]}" "${day2_outputs[@]}")
check_step shrink "$leaver left: its roster line, pulumi destroy $leaver, pulumi up $others_order, no changes left in $others" "$before" "$step_start"

# ---------------------------------------------------------- grow: docs/deploy.md, "Add a cluster"
before=$failed step_start=$SECONDS replaced_in_others=''
cp "$work/Pulumi.yaml.with-$leaver" "$t2/Pulumi.yaml"
pass "grow: $leaver's roster line back in Pulumi.yaml"
day2_up grow "$work/plan" "$leaver"
for stack in $others_order; do
  day2_up grow "$work/plan" "$stack"
  expect_replaced "$stack" ""
done
day2_up grow "$work/plan" "$leaver"
day2_converged grow "$work/plan" $stacks
day2_kubeconfigs=() day2_outputs=()
for stack in $stacks; do
  day2_kubeconfigs+=(--kubeconfig "$stack=$work/$stack/admin.kubeconfig")
  day2_outputs+=(--"outputs-$stack" "$work/day2-grow-outputs-$stack.json")
done
# Every cluster holds a remote secret for every other, whose token authenticates there: the first deployment's checks.
result < <(tool check-lab --plan "$work/plan" "${day2_kubeconfigs[@]}" "${day2_outputs[@]}")
check_step grow "$leaver joined again: its roster line, pulumi up $leaver $others_order $leaver, no changes left in $stacks" "$before" "$step_start"
