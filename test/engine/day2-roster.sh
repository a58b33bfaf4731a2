# Day 2 on the converged simulated lab, sourced by run.sh: a cluster leaves the running lab
# and joins it again, in the commands and run order of docs/deploy.md ("Remove a cluster",
# "Add a cluster"), on the clusters the first deployment built. Each step ends with
# `pulumi preview --expect-no-changes` on every stack of the lab it leaves, and prints a
# PASS line with its time and what each `pulumi up` of the stacks that were not the point
# of the step replaced (the page says: nothing). Uses run.sh's lab ($t2, the plan in
# $work/plan, $stacks, $root_stacks) and its helpers (pulumi_in, tool, timed, pass, fail).

day2_stacks=($stacks)
if [ ${#day2_stacks[@]} -lt 3 ]; then
  echo "SKIP: day 2, a cluster leaves and joins again: this lab of ${#day2_stacks[@]} stacks would be left with one (--lab examples/three-clusters runs it)"
  return 0
fi
roster_tool() { in_ns "$repo/node_modules/.bin/tsx" "$here/roster-tool.ts" "$@"; }
is_root() { case " $root_stacks " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
# The last peer-role stack leaves: the root stack cannot (docs/deploy.md, "Remove a cluster").
leaver=''
for s in $stacks; do is_root "$s" || leaver=$s; done
# The others, and the others in the deployment order: the peer-role stacks, then the root stack.
others='' others_order='' others_roots=''
for s in $stacks; do
  [ "$s" = "$leaver" ] && continue
  others+="${others:+ }$s"
  if is_root "$s"; then others_roots+=" $s"; else others_order+="${others_order:+ }$s"; fi
done
others_order+=$others_roots

day2_run=0
day2_up() { # step, plan dir, stack: `pulumi up --json`; records what it changed in $changed
  day2_run=$((day2_run + 1))
  local log=$work/day2-$1-up-$day2_run-$3.log
  changed=''
  if timed "up $3 ($1, run $day2_run)" "$log" pulumi_in "$t2" up --stack "$3" --yes --skip-preview --json \
    --policy-pack "$t2/policy" --policy-pack-config "$2/$3/policy-config.json"; then
    changed=$(roster_tool changes --log "$log") || true
    pass "$3: pulumi up ($1): $changed"
  else
    fail "$3: pulumi up ($1)"
    roster_tool errors --log "$log" | head -20 || true
  fi
}
replaced_in_others=''
count_replaced() { # stack: adds what its last day2_up replaced to $replaced_in_others; none expected
  local n=${changed##*replaced }
  replaced_in_others+="${replaced_in_others:+, }$1 ${n:-?}"
  [ "${n%% *}" = 0 ] || fail "$1 was not the point of the step, yet its pulumi up replaced ${n:-(no summary)}"
}
day2_converged() { # step, plan dir, stacks...: no changes left, the URNs of the plan, the outputs for check-lab
  local step=$1 plan=$2 stack
  shift 2
  for stack in "$@"; do
    if timed "preview $stack --expect-no-changes ($step)" "$work/day2-$step-preview-$stack.log" \
      pulumi_in "$t2" preview --stack "$stack" --expect-no-changes --diff --suppress-progress \
      --policy-pack "$t2/policy" --policy-pack-config "$plan/$stack/policy-config.json"; then
      pass "$stack: pulumi preview --expect-no-changes after the step ($step)"
    else
      fail "$stack: pulumi preview --expect-no-changes after the step ($step)"
      grep -E '^\s*[~+-]|error' "$work/day2-$step-preview-$stack.log" | head -30 || true
    fi
    pulumi_in "$t2" stack export --stack "$stack" >"$work/day2-$step-state-$stack.json"
    result < <(tool compare-urns --stack "$stack" --expected "$plan/$stack/resources.json" --state "$work/day2-$step-state-$stack.json")
    pulumi_in "$t2" stack output --stack "$stack" --json >"$work/day2-$step-outputs-$stack.json"
  done
}
check_step() { # step, what, the failure count before it, its start
  if [ "$failed" = "$3" ]; then
    pass "$1: $2: $((SECONDS - $4)) s; replaced in the others: $replaced_in_others"
  else
    fail "$1: $2: $((SECONDS - $4)) s, $((failed - $3)) checks failed; replaced in the others: $replaced_in_others"
  fi
}

echo "== 4. day 2: $leaver leaves the running lab ($stacks) and joins it again"
day2=$SECONDS

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
  count_replaced "$stack"
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
  count_replaced "$stack"
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
echo "  step 4, day 2 (shrink and grow): $((SECONDS - day2)) s"
