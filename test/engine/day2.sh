# Day 2 on the converged simulated lab, sourced by run.sh after the first deployment's
# checks: the steps of `--day2` (default: every step this lab can run), in this order, on
# the clusters the first deployment built:
#   shrink, grow  a cluster leaves the running lab and joins it again (day2-roster.sh)
#   repair        cacerts and a remote secret deleted with the API; `pulumi up --refresh`
#   rotate        the intermediates renewed by a setting that forces it (docs/pki.md, "Rotation")
#   rebuild       a peer-role stack destroyed and built again with new keys (docs/pki.md)
#   upgrade       the charts from earlier versions and the SPIRE server's emptyDir (day2-upgrade.sh)
# Each step runs the commands and run order its docs page gives, ends with `pulumi preview
# --expect-no-changes` on every stack, and prints a PASS line with its time and what each
# `pulumi up` replaced in the stacks that were not the point of the step (expected: nothing,
# or what the page says). Uses run.sh's lab ($t2, the plan in $work/plan, $stacks,
# $root_stacks) and its helpers (pulumi_in, tool, timed, pass, fail, result).

roster_tool() { in_ns "$repo/node_modules/.bin/tsx" "$here/roster-tool.ts" "$@"; }
day2_tool() { in_ns "$repo/node_modules/.bin/tsx" "$here/day2-tool.ts" "$@"; }
is_root() { case " $root_stacks " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
# The plan of the lab as its files are now (a step that edits them plans again).
day2_plan=$work/plan

day2_run=0
day2_up() { # step, plan dir, stack, extra pulumi args...: `pulumi up --json`; records what it changed in $changed
  local step=$1 plan=$2 stack=$3
  shift 3
  day2_run=$((day2_run + 1))
  day2_log=$work/day2-$step-up-$day2_run-$stack.log
  changed=''
  if timed "up $stack ($step, run $day2_run)" "$day2_log" pulumi_in "$t2" up --stack "$stack" --yes --skip-preview --json \
    --policy-pack "$t2/policy" --policy-pack-config "$plan/$stack/policy-config.json" "$@"; then
    changed=$(roster_tool changes --log "$day2_log") || true
    pass "$stack: pulumi up ($step): $changed"
  else
    fail "$stack: pulumi up ($step)"
    roster_tool errors --log "$day2_log" | head -20 || true
  fi
}
replaced_in_others=''
expect_replaced() { # stack, what its docs page says its last day2_up replaces ("" for nothing: names, comma-separated, sorted)
  local n=${changed##*replaced } names=''
  case "$n" in *"("*) names=${n#*(} names=${names%)} ;; esac
  replaced_in_others+="${replaced_in_others:+, }$1 ${n:-?}"
  [ "$names" = "$2" ] || fail "$1: its pulumi up replaced ${n:-(no summary)}; the docs say: ${2:-nothing}"
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
day2_check_lab() { # step, plan dir: the first deployment's checks on every cluster (remote secrets that authenticate, cacerts)
  local step=$1 plan=$2 stack args=()
  for stack in $stacks; do
    args+=(--kubeconfig "$stack=$work/$stack/admin.kubeconfig" --"outputs-$stack" "$work/day2-$step-outputs-$stack.json")
  done
  result < <(tool check-lab --plan "$plan" "${args[@]}")
}
day2_kubeconfigs() { local stack; for stack in $stacks; do printf -- '--kubeconfig\n%s=%s\n' "$stack" "$work/$stack/admin.kubeconfig"; done; }
day2_replan() { # name: plans the lab as its files are now into $work/plan-<name>, the plan of the steps after
  if (cd "$t2" && in_ns node_modules/.bin/tsx offline/planner/plan.ts --config-dir "$t2" --out "$work/plan-$1" --quiet >"$work/day2-plan-$1.log" 2>&1); then
    day2_plan=$work/plan-$1
  else
    fail "$1: npm run plan on the edited stack files: $(tail -3 "$work/day2-plan-$1.log")"
  fi
}
check_step() { # step, what, the failure count before it, its start
  if [ "$failed" = "$3" ]; then
    pass "$1: $2: $((SECONDS - $4)) s; replaced in the others: ${replaced_in_others:-no other stack ran}"
  else
    fail "$1: $2: $((SECONDS - $4)) s, $((failed - $3)) checks failed; replaced in the others: ${replaced_in_others:-no other stack ran}"
  fi
}

# The peer-role stacks and the root-role ones, in the order their docs pages run them.
day2_peers='' day2_roots=''
for s in $stacks; do if is_root "$s"; then day2_roots+="${day2_roots:+ }$s"; else day2_peers+="${day2_peers:+ }$s"; fi; done
day2_peer=${day2_peers##* }   # the stack the single-stack steps work on: the last peer-role stack
day2_root=${day2_roots%% *}

# ---------------------------------------------------------- repair: docs/deploy.md, "Repair"
day2_repair() {
  local before=$failed step_start=$SECONDS stack=$day2_peer other peer_cluster
  replaced_in_others=''
  other=$day2_root
  peer_cluster=${other}_cluster_name
  local remote=istio-remote-secret-${!peer_cluster}
  for secret in istio-system/cacerts "istio-system/$remote"; do
    day2_tool delete-secret --kubeconfig "$work/$stack/admin.kubeconfig" --namespace "${secret%%/*}" --name "${secret#*/}"
  done
  # Without a refresh the state still holds them: nothing to do.
  if pulumi_in "$t2" preview --stack "$stack" --expect-no-changes --suppress-progress \
    --policy-pack "$t2/policy" --policy-pack-config "$day2_plan/$stack/policy-config.json" >"$work/day2-repair-preview.log" 2>&1; then
    pass "repair: $stack: without --refresh, pulumi preview sees no change (the state still holds what was deleted)"
  else
    fail "repair: $stack: pulumi preview without --refresh shows changes"
  fi
  if pulumi_in "$t2" preview --stack "$stack" --refresh --expect-no-changes --suppress-progress \
    --policy-pack "$t2/policy" --policy-pack-config "$day2_plan/$stack/policy-config.json" >"$work/day2-repair-preview-refresh.log" 2>&1; then
    fail "repair: $stack: pulumi preview --refresh sees no change, though two of its Secrets are gone"
  else
    pass "repair: $stack: pulumi preview --refresh shows the deleted Secrets to create"
  fi
  day2_up repair "$day2_plan" "$stack" --refresh
  expect_replaced "$stack" ""
  case "$changed" in
    "created 2,"*) pass "repair: $stack: pulumi up --refresh created the 2 deleted Secrets again" ;;
    *) fail "repair: $stack: pulumi up --refresh: $changed; expected it to create the 2 deleted Secrets" ;;
  esac
  local names
  names=$(day2_tool secret-names --kubeconfig "$work/$stack/admin.kubeconfig" --namespace istio-system)
  for secret in cacerts "$remote"; do
    if grep -qx "$secret" <<<"$names"; then pass "repair: $stack: istio-system/$secret is back"; else fail "repair: $stack: istio-system/$secret is still gone"; fi
  done
  day2_converged repair "$day2_plan" $stacks
  day2_check_lab repair "$day2_plan"
  check_step repair "istio-system/cacerts and $remote deleted in $stack's cluster, pulumi up --refresh --stack $stack" "$before" "$step_start"
}

# ---------------------------------------------------------- rotate: docs/pki.md, "Rotation"
day2_rotate() {
  local before=$failed step_start=$SECONDS stack file signers expected
  replaced_in_others=''
  mapfile -t kubeconfig_args < <(day2_kubeconfigs)
  day2_tool certs "${kubeconfig_args[@]}" --out "$work/day2-rotate-before.json"
  # The setting that forces it: a new validity is a new input of every intermediate the stack signs.
  # The root stack signs every cluster's in the shared model; in the federated model each stack its own.
  if [ "$trust_model" = shared ]; then signers=$day2_roots; else signers=$stacks; fi
  for stack in $signers; do
    file=$t2/Pulumi.$stack.yaml
    if grep -q '^  zta-testbed:pki:$' "$file"; then
      sed -i 's/^  zta-testbed:pki:$/&\n    intermediateValidityHours: 8759/' "$file"
    else
      printf '  zta-testbed:pki:\n    intermediateValidityHours: 8759\n' >>"$file"
    fi
  done
  day2_replan rotate
  # What docs/pki.md ("Rotation") says each run replaces: the signer its intermediates, and every
  # stack what holds or is signed by its cluster's intermediates (the provider replaces a Secret
  # whose data changes: deleted, then created under the same name).
  rotated_in() { # stack: its Secrets of the intermediates, and the ingress certificate its Istio intermediate signs
    local names=("$1-istio-cacerts" "$1-spire-upstream-ca")
    if grep -q "\"name\": \"$1-istio-ingress-tls-cert\"" "$day2_plan/$1/resources.json"; then
      names+=("$1-istio-ingress-tls-cert" "$1-istio-ingress-tls-credential")
    fi
    printf '%s\n' "${names[@]}"
  }
  for stack in $signers; do
    day2_up rotate "$day2_plan" "$stack"
    expected=$({
      rotated_in "$stack"
      if [ "$trust_model" = shared ]; then
        for s in $stacks; do c=${s}_cluster_name; printf '%s\n' "$stack-pki-${!c}-istio-cert" "$stack-pki-${!c}-spire-cert"; done
      else
        c=${stack}_cluster_name
        printf '%s\n' "$stack-pki-${!c}-istio-cert" "$stack-pki-${!c}-spire-cert"
      fi
    } | LC_ALL=C sort | paste -sd, | sed 's/,/, /g')
    expect_replaced "$stack" "$expected"
  done
  for stack in $stacks; do
    case " $signers " in *" $stack "*) continue ;; esac
    day2_up rotate "$day2_plan" "$stack"
    expect_replaced "$stack" "$(rotated_in "$stack" | LC_ALL=C sort | paste -sd, | sed 's/,/, /g')"
  done
  day2_converged rotate "$day2_plan" $stacks
  day2_tool certs "${kubeconfig_args[@]}" --out "$work/day2-rotate-after.json"
  result < <(day2_tool check-rotated --before "$work/day2-rotate-before.json" --after "$work/day2-rotate-after.json")
  day2_check_lab rotate "$day2_plan"
  check_step rotate "pki.intermediateValidityHours 8759 in $signers, pulumi up $signers then the others: new intermediates under the same root" "$before" "$step_start"
}

# ---------------------------------------------------------- rebuild: docs/pki.md, "Rebuilding a peer"
day2_rebuild() {
  local before=$failed step_start=$SECONDS stack=$day2_peer root=$day2_root cluster
  replaced_in_others=''
  cluster=${day2_peer}_cluster_name
  mapfile -t kubeconfig_args < <(day2_kubeconfigs)
  if timed "destroy $stack (rebuild)" "$work/day2-rebuild-destroy-$stack.log" pulumi_in "$t2" destroy --stack "$stack" --yes --skip-preview --suppress-progress; then
    pass "$stack: pulumi destroy (rebuild)"
  else
    fail "$stack: pulumi destroy (rebuild)"
    grep -E 'error' "$work/day2-rebuild-destroy-$stack.log" | head -10 || true
  fi
  # Run 1: new keys, while the root stack still exports certificates signed for the old ones.
  day2_up rebuild "$day2_plan" "$stack"
  if grep -q "signed this cluster's intermediates (${!cluster}) for other keys.*pulumi up --stack $root" "$day2_log"; then
    pass "rebuild: $stack's first run refuses $root's certificates for its old keys and names the run to do next"
  else
    fail "rebuild: $stack's first run did not say that $root's certificates are for other keys, with \`pulumi up --stack $root\`"
  fi
  result < <(day2_tool keys-match "${kubeconfig_args[@]}" --stage "rebuild, after $stack's first run")
  # Then every other stack in the deployment order (the peer-role stacks, then the root stack), as
  # when a cluster joins: each holds a remote secret for the rebuilt cluster, whose reader's token is
  # new (the provider replaces a Secret whose data changes); the root stack also re-signs the
  # rebuilt cluster's two intermediates. That is all the page says they replace.
  local s others_runs=''
  for s in $day2_peers; do [ "$s" = "$stack" ] || others_runs+="$s "; done
  others_runs+=$day2_roots
  for s in $others_runs; do
    day2_up rebuild "$day2_plan" "$s"
    if is_root "$s"; then
      expect_replaced "$s" "$s-pki-${!cluster}-istio-cert, $s-pki-${!cluster}-spire-cert, $s-remote-${!cluster}-secret"
    else
      expect_replaced "$s" "$s-remote-${!cluster}-secret"
    fi
  done
  day2_up rebuild "$day2_plan" "$stack"
  result < <(day2_tool keys-match "${kubeconfig_args[@]}" --stage "rebuild, converged")
  day2_converged rebuild "$day2_plan" $stacks
  day2_check_lab rebuild "$day2_plan"
  check_step rebuild "pulumi destroy $stack, pulumi up $stack $others_runs $stack: new keys, never a certificate for other keys" "$before" "$step_start"
}

day2_has() { case ",$day2_steps," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
day2=$SECONDS
echo "== 4. day 2 on the running lab ($stacks): ${day2_steps//,/, }"
# shellcheck source=test/engine/day2-roster.sh
if day2_has shrink || day2_has grow; then . "$here/day2-roster.sh"; fi
if day2_has repair; then day2_repair; fi
if day2_has rotate; then day2_rotate; fi
if day2_has rebuild; then
  if [ "$trust_model" = shared ] && [ -n "$day2_peers" ] && [ -n "$day2_roots" ]; then
    day2_rebuild
  else
    echo "SKIP: day 2, rebuild: it rebuilds a peer-role stack of the shared model; this lab has none"
  fi
fi
# shellcheck source=test/engine/day2-upgrade.sh
if day2_has upgrade; then . "$here/day2-upgrade.sh"; fi
echo "  step 4, day 2: $((SECONDS - day2)) s"
