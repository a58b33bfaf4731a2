#!/usr/bin/env bash
# `npm test`: the static checks (tsc, ESLint, Prettier) and jest. The checks are
# single-threaded and independent of the tests (jest transpiles without type
# checking), so they run beside jest rather than before it: on two cores that is
# about a fifth less wall time. Their output is printed after jest's, and any
# failure fails the run. Arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d "${TMPDIR:-/tmp}/zta-checks.XXXXXX")
checks=(typecheck lint format:check)
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
stop_checks() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$logs"
}
trap stop_checks EXIT
for check in "${checks[@]}"; do
    npm run -s "$check" >"$logs/$check" 2>&1 &
    pids+=($!)
done
status=0
node_modules/.bin/jest "$@" || status=$?
for i in "${!checks[@]}"; do
    if ! wait "${pids[$i]}"; then
        echo "npm run ${checks[$i]} failed:" >&2
        cat "$logs/${checks[$i]}" >&2
        status=1
    fi
done
pids=()
exit "$status"
