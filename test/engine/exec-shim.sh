#!/usr/bin/env bash
# What kwok's local exec runs for a container of a pod whose process the engine tier runs
# (kwok-exec.sh puts this file at the paths `npm run verify` execs): the same command in that
# container's namespaces, root, working directory and environment, as a container runtime's
# exec would. kwok's ClusterExec for the container sets ZTA_EXEC_PID_FILE, the file run.sh
# wrote the container's PID to.
set -euo pipefail
pid=$(cat "${ZTA_EXEC_PID_FILE:?set by the ClusterExec of the container}")
mapfile -d '' environment <"/proc/$pid/environ"
# $0 is the path kwok ran (/usr/local/bin/pilot-discovery, /opt/spire/bin/spire-server): in the
# container's root it is the image's entrypoint, the real binary.
exec nsenter --target "$pid" --mount --net --root --wd -- /usr/bin/env -i "${environment[@]}" "$0" "$@"
