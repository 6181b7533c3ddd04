#!/usr/bin/env bash
# A multi-host cctv-cluster on one machine: a master and N slaves, each in its own Linux
# network namespace, joined by a bridge over 10.77.0.0/24, so traffic crosses a real
# (virtual) network instead of loopback. Everything it creates is removed on exit.
#
# Usage (as root, from anywhere; INPUT paths are relative to the current directory):
#   deploy/local-cluster.sh [--slaves N] [--threads T] [--timeout S] [--keep-logs] [--] INPUT... [master options]
#
#   --slaves N     slave namespaces (default 2, at most 253; each slave is a Node process
#                  of ~100 MB plus T workers of ~250 MB, so size N x T to this machine)
#   --threads T    worker processes per slave (default 1)
#   --timeout S    stop the master after S seconds, exit 124 (default 3600; 0: no limit)
#   --keep-logs    keep the slaves' log files (printed at the end) instead of deleting them
#   everything else goes to `master run`, which this script starts with
#   --bind tcp://10.77.0.1:5570 --allow-insecure --local-slaves 0 (so do not pass those).
#
# Example:
#   deploy/local-cluster.sh --slaves 2 --threads 1 -- samples/faces --out /tmp/lc.jsonl --overwrite
#
# Exit status: the master's (0, 2, 3, 130, ...), 124 on --timeout, 2 on a usage error here.
# Layout: namespace cctvlc<PID>-hub holds the bridge cctvbr0; cctvlc<PID>-master (10.77.0.1)
# and cctvlc<PID>-slaveK (10.77.0.(K+1)) each get one veth pair into it. The bridge lives
# in its own namespace so nothing is added to the host's interfaces or routes.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" | sed -n '/^Usage/,/^Exit/p'; }
log() { printf '[local-cluster] %s\n' "$*" >&2; }
die_usage() { log "$*"; usage >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
slaves=2
threads=1
timeout_s=3600
keep_logs=0
readonly subnet=10.77.0 port=5570

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while [ $# -gt 0 ]; do
  case "$1" in
    --slaves) [ $# -ge 2 ] || die_usage "--slaves needs a value"; slaves="$2"; shift 2 ;;
    --slaves=*) slaves="${1#*=}"; shift ;;
    --threads) [ $# -ge 2 ] || die_usage "--threads needs a value"; threads="$2"; shift 2 ;;
    --threads=*) threads="${1#*=}"; shift ;;
    --timeout) [ $# -ge 2 ] || die_usage "--timeout needs a value"; timeout_s="$2"; shift 2 ;;
    --timeout=*) timeout_s="${1#*=}"; shift ;;
    --keep-logs) keep_logs=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
master_args=("$@")

if ! is_uint "$slaves" || [ "$slaves" -lt 1 ] || [ "$slaves" -gt 253 ]; then
  die_usage "--slaves must be 1..253 (one address each in $subnet.0/24)"
fi
if ! is_uint "$threads" || [ "$threads" -lt 1 ]; then die_usage "--threads must be a positive integer"; fi
is_uint "$timeout_s" || die_usage "--timeout must be a whole number of seconds"
[ "${#master_args[@]}" -gt 0 ] || die_usage "give at least one INPUT for the master"
for a in "${master_args[@]}"; do
  case "$a" in
    --bind|--bind=*|--allow-insecure|--allow-insecure=*|--no-allow-insecure|--local-slaves|--local-slaves=*|--local-threads|--local-threads=*)
      die_usage "$a is set by this script (the master binds $subnet.1:$port and starts no local slaves)" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || { log "must run as root (it creates network namespaces)"; exit 1; }
for cmd in ip node setsid; do
  command -v "$cmd" >/dev/null 2>&1 || { log "$cmd not found"; exit 1; }
done
[ -d "$repo/node_modules" ] || { log "$repo is not set up: run 'bash $repo/scripts/setup.sh' first"; exit 1; }

prefix="cctvlc$$"
hub="$prefix-hub"
master_ns="$prefix-master"
created_ns=()   # only namespaces this run created, in creation order
slave_pids=()
master_pid=""
logdir=""
rc=0
stop_count=0

# shellcheck disable=SC2317  # cleanup, wait_gone and on_signal run from traps
cleanup() {
  local status=$?
  set +e
  trap - INT TERM HUP
  [ "$rc" -ne 0 ] || rc=$status
  # The master first (it tells the slaves the batch is over), then the slaves.
  if [ -n "$master_pid" ] && kill -0 "$master_pid" 2>/dev/null; then
    log "stopping the master (pid $master_pid)"
    kill -TERM "$master_pid" 2>/dev/null
    wait_gone 15 "$master_pid"
  fi
  local live=() dead_logs=() k
  for ((k = 0; k < ${#slave_pids[@]}; k++)); do
    if kill -0 "${slave_pids[k]}" 2>/dev/null; then live+=("${slave_pids[k]}"); else dead_logs+=("$logdir/slave-$((k + 1)).log"); fi
  done
  if [ "${#live[@]}" -gt 0 ]; then
    log "stopping ${#live[@]} slave(s) (pids ${live[*]})"
    kill -TERM "${live[@]}" 2>/dev/null
    # Their --drain-timeout is 5 s; leave margin before SIGKILL.
    wait_gone 10 "${live[@]}"
  fi
  local i
  for ((i = ${#created_ns[@]} - 1; i >= 0; i--)); do
    # Deleting a namespace also deletes the veth ends and the bridge inside it.
    ip netns delete "${created_ns[i]}" 2>/dev/null || log "could not delete namespace ${created_ns[i]}"
  done
  [ "${#created_ns[@]}" -eq 0 ] || log "removed namespaces ${created_ns[*]}"
  if [ -n "$logdir" ]; then
    # A slave that exited on its own left the reason in its log (the first few suffice).
    for f in "${dead_logs[@]:0:3}"; do
      [ -s "$f" ] || continue
      log "a slave exited early; last lines of $f:"
      tail -n 15 "$f" >&2
    done
    [ "${#dead_logs[@]}" -le 3 ] || log "$((${#dead_logs[@]} - 3)) more slave(s) exited early"
    if [ "$keep_logs" -eq 1 ]; then log "slave logs kept in $logdir"; else rm -rf -- "$logdir"; fi
  fi
  exit "$rc"
}

# Waits up to $1 seconds for the PIDs to exit, then SIGKILLs the ones left.
# shellcheck disable=SC2317
wait_gone() {
  local limit=$(( $1 * 5 )) n=0 pid alive
  shift
  while :; do
    alive=()
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ "${#alive[@]}" -gt 0 ] || return 0
    if [ "$n" -ge "$limit" ]; then
      log "still running after $((limit / 5)) s, killing: ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null
      sleep 0.2
      return 0
    fi
    sleep 0.2
    n=$((n + 1))
  done
}

# shellcheck disable=SC2317
on_signal() {
  local sig=$1 code=$2
  if [ -z "$master_pid" ]; then
    log "SIG$sig during set-up: tearing down"
    rc=$code
    exit "$code"
  fi
  stop_count=$((stop_count + 1))
  # The master stops gracefully on the first signal and at once on the second.
  log "SIG$sig: forwarding SIGTERM to the master (signal $stop_count; a second one stops it at once)"
  kill -TERM "$master_pid" 2>/dev/null || true
}

trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

add_ns() {
  ip netns add "$1"
  created_ns+=("$1")
  ip -n "$1" link set lo up
}

# Connects namespace $1 to the bridge as $subnet.$2, via veth $3 (hub side) / eth0 (inside).
attach() {
  local ns=$1 host=$2 port_if=$3
  ip -n "$hub" link add "$port_if" type veth peer name eth0 netns "$ns"
  ip -n "$hub" link set "$port_if" master cctvbr0 up
  ip -n "$ns" addr add "$subnet.$host/24" dev eth0
  ip -n "$ns" link set eth0 up
}

# Bounded: a veth comes up in milliseconds; 5 s means something is wrong.
wait_link_up() {
  local ns=$1 n=0
  until [ "$(ip -n "$ns" -br link show dev eth0 2>/dev/null | awk '{print $2}')" = UP ]; do
    [ "$n" -lt 50 ] || { log "eth0 in $ns did not come up within 5 s"; return 1; }
    sleep 0.1
    n=$((n + 1))
  done
}

log "creating namespace $hub with bridge cctvbr0 ($subnet.0/24)"
add_ns "$hub"
ip -n "$hub" link add cctvbr0 type bridge
ip -n "$hub" link set cctvbr0 up

log "creating $master_ns ($subnet.1) and $slaves slave namespace(s) ($subnet.2-$subnet.$((slaves + 1)))"
add_ns "$master_ns"
attach "$master_ns" 1 m0
for ((k = 1; k <= slaves; k++)); do
  add_ns "$prefix-slave$k"
  attach "$prefix-slave$k" $((k + 1)) "s$k"
done
wait_link_up "$master_ns"
for ((k = 1; k <= slaves; k++)); do wait_link_up "$prefix-slave$k"; done

logdir="$(mktemp -d /tmp/cctv-local-cluster.XXXXXX)"
endpoint="tcp://$subnet.1:$port"

# setsid: terminal signals (Ctrl-C) must reach only this script, which forwards one
# SIGTERM; the master would otherwise get two signals and skip its graceful stop.
log "master: node bin/master.js run ${master_args[*]} --bind $endpoint --allow-insecure --local-slaves 0"
setsid ip netns exec "$master_ns" node "$repo/bin/master.js" run \
  --bind "$endpoint" --allow-insecure --local-slaves 0 "${master_args[@]}" &
master_pid=$!

for ((k = 1; k <= slaves; k++)); do
  setsid ip netns exec "$prefix-slave$k" node "$repo/bin/slave.js" \
    --connect "$endpoint" --threads "$threads" --slave-id "lc-slave$k" --drain-timeout 5000 \
    >"$logdir/slave-$k.log" 2>&1 &
  slave_pids+=($!)
done
log "slaves: ${slaves} x node bin/slave.js --connect $endpoint --threads $threads (pids ${slave_pids[*]}, logs in $logdir)"

# Poll rather than `wait`: it lets the loop notice dead slaves and the deadline too.
start=$SECONDS
stop_sent_at=""
timed_out=0
all_slaves_gone_reported=0
while kill -0 "$master_pid" 2>/dev/null; do
  if [ "$timeout_s" -gt 0 ] && [ "$timed_out" -eq 0 ] && [ $((SECONDS - start)) -ge "$timeout_s" ]; then
    log "--timeout $timeout_s s reached: stopping the master"
    timed_out=1
    kill -TERM "$master_pid" 2>/dev/null || true
  fi
  if [ "$all_slaves_gone_reported" -eq 0 ]; then
    slaves_alive=0
    for pid in "${slave_pids[@]}"; do kill -0 "$pid" 2>/dev/null && slaves_alive=$((slaves_alive + 1)); done
    if [ "$slaves_alive" -eq 0 ]; then
      # With --local-slaves 0 the master would otherwise wait for slaves forever.
      log "every slave has exited (see the logs below): stopping the master"
      all_slaves_gone_reported=1
      rc=1
      kill -TERM "$master_pid" 2>/dev/null || true
    fi
  fi
  if [ "$timed_out" -eq 1 ] || [ "$all_slaves_gone_reported" -eq 1 ] || [ "$stop_count" -gt 0 ]; then
    stop_sent_at=${stop_sent_at:-$SECONDS}
    if [ $((SECONDS - stop_sent_at)) -ge 15 ]; then
      log "master still running 15 s after SIGTERM: SIGKILL"
      kill -KILL "$master_pid" 2>/dev/null || true
    fi
  fi
  sleep 0.5
done
# The shell has reaped the master already; wait returns its saved status.
master_rc=0
wait "$master_pid" || master_rc=$?
log "master exited with status $master_rc"
if [ "$timed_out" -eq 1 ]; then rc=124
elif [ "$rc" -eq 0 ]; then rc=$master_rc
fi
exit "$rc"
