#!/usr/bin/env bash
# Starts kwok (inside the test's network namespace, run under `unshare --mount --propagation
# private`) so that `kubectl exec` into the control plane's pods reaches their processes: kwok's
# local exec runs the command as given, so the paths `npm run verify` execs (pilot-discovery on
# PATH, /opt/spire/bin/spire-server) are exec-shim.sh in kwok's own view of the filesystem, in
# overlays of /usr and /opt whose upper layers are under <scratch>. Nothing is written on the
# machine's own filesystem.
#   kwok-exec.sh <scratch dir> <command...>
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scratch=$1
shift
for top in usr opt; do
  mkdir -p "$scratch/$top/upper" "$scratch/$top/work"
  mount -t overlay overlay -o "lowerdir=/$top,upperdir=$scratch/$top/upper,workdir=$scratch/$top/work" "/$top"
done
mkdir -p /usr/local/bin /opt/spire/bin
install -m 0755 "$here/exec-shim.sh" /usr/local/bin/pilot-discovery
install -m 0755 "$here/exec-shim.sh" /opt/spire/bin/spire-server
exec "$@"
