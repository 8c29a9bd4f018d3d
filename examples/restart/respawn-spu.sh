#!/usr/bin/env bash
# A restart command for SPUs that run as plain processes on this machine, such as those of
# `fluvio cluster start --local`: restarts the `fluvio-run spu` process of SPU $SPU_ID with
# the very command line, working directory and environment it runs with, and returns once
# the new process listens again. Use it as
#
#   fluvio-endpoints apply -f zones/local.toml --restart-command examples/restart/respawn-spu.sh
#
# (or `restart_command = "examples/restart/respawn-spu.sh"` under [policy]). Its output goes
# to $SPU_RESPAWN_LOG (default: ~/.fluvio/log/spu_log_$SPU_ID.log, where a local cluster's
# SPUs log). Needs bash, pgrep and ss (procps, iproute2).
set -euo pipefail
: "${SPU_ID:?SPU_ID is set by fluvio-endpoints}"
log=${SPU_RESPAWN_LOG:-$HOME/.fluvio/log/spu_log_$SPU_ID.log}

# the SPU process: `fluvio-run spu ... -i ID` or `--id ID`
pid=$(pgrep -f -- "fluvio-run spu .*(-i|--id)[ =]$SPU_ID( |$)" | head -n 1 || true)
if [ -z "$pid" ]; then
  echo "respawn-spu: no running 'fluvio-run spu' process for SPU $SPU_ID" >&2
  exit 1
fi
mapfile -d '' args </proc/"$pid"/cmdline
mapfile -d '' environ </proc/"$pid"/environ
cwd=$(readlink /proc/"$pid"/cwd)

kill "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -9 "$pid" 2>/dev/null || true

mkdir -p "$(dirname "$log")"
cd "$cwd"
# its own session, so that nothing of this command's (or of fluvio-endpoints') ends it
setsid env -i "${environ[@]}" "${args[@]}" >>"$log" 2>&1 </dev/null &
new=$!
for _ in $(seq 1 600); do
  if ss -ltnpH 2>/dev/null | grep -q "pid=$new,"; then
    exit 0
  fi
  kill -0 "$new" 2>/dev/null || { echo "respawn-spu: SPU $SPU_ID exited at start; see $log" >&2; exit 1; }
  sleep 0.1
done
echo "respawn-spu: SPU $SPU_ID does not listen 60 s after its restart; see $log" >&2
exit 1
