#!/usr/bin/env bash
# agent_overhead.sh: measures the real prov-agent's own CPU and memory while it reports to a real
# provd on loopback, on this machine's /proc and /sys and on a synthetic node (fixture).
#
#   tools/bench/agent_overhead.sh                       # both setups, 10 s interval, 120 s each
#   tools/bench/agent_overhead.sh --seconds 60 --interval 5s --setups fixture
#   tools/bench/agent_overhead.sh --bin-dir build/bench/bin --processes 800
#
# For each setup: start provd (fresh temporary --data-dir, --insecure, port 0), start prov-agent
# against it, let it run one interval plus 5 s (start-up excluded), then sample
# /proc/<agent>/stat (utime+stime) and /proc/<agent>/status (VmRSS, VmHWM) at the start and end
# of --seconds. Prints CPU as % of one core, CPU per report, RSS, and the reports provd ingested
# from the agent in the window (its /metrics counter), so a stalled agent cannot look cheap.
# Targets (issue 2): < 0.5 % of one core and < 20 MB RSS at a 10 s interval. The script prints
# figures; it does not judge them. Exit status non-zero only when a run could not be made.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin_dir="${here}/../../build/bench/bin"
seconds=120
interval=10s
setups="real fixture"
processes=400
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --interval) interval="$2"; shift 2 ;;
    --setups) setups="$2"; shift 2 ;;
    --processes) processes="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "agent_overhead.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for b in provd prov-agent; do
  [[ -x "${bin_dir}/${b}" ]] || { echo "agent_overhead.sh: ${bin_dir}/${b} not built" >&2; exit 2; }
done
interval_s="${interval%s}"
[[ "${interval_s}" =~ ^[0-9]+$ ]] || { echo "--interval: give whole seconds like 10s" >&2; exit 2; }

work="$(mktemp -d /tmp/prov-agent-overhead-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "${work}"
}
trap cleanup EXIT

clk_tck="$(getconf CLK_TCK)"
cpu_ticks() { awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
wait_for_file() {  # path, pid, what
  for _ in $(seq 1 300); do
    [[ -s "$1" ]] && return 0
    kill -0 "$2" 2>/dev/null || { echo "agent_overhead.sh: $3 exited early" >&2; return 1; }
    sleep 0.1
  done
  echo "agent_overhead.sh: $3 did not start within 30 s" >&2; return 1
}
ingested() {  # metrics port -> accepted-report counter summed over label sets
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk '/^prov_reports_ingested_total/ { s += $NF } END { printf "%d\n", s }'
}

run_setup() {
  local setup="$1" dir="${work}/$1" agent_roots=()
  mkdir -p "${dir}/data" "${dir}/spool"
  if [[ "${setup}" == fixture ]]; then
    python3 "${here}/make_procfs_fixture.py" "${dir}/node" --processes "${processes}" >/dev/null
    agent_roots=(--procfs-root "${dir}/node/proc" --sysfs-root "${dir}/node/sys")
  elif [[ "${setup}" != real ]]; then
    echo "agent_overhead.sh: --setups: unknown setup ${setup} (real, fixture)" >&2; exit 2
  fi
  "${bin_dir}/provd" --data-dir "${dir}/data" --insecure --listen 127.0.0.1:0 \
    --metrics-listen 127.0.0.1:0 --port-file "${dir}/port" >"${dir}/provd.log" 2>&1 &
  local provd=$!; pids+=("${provd}")
  wait_for_file "${dir}/port" "${provd}" provd
  local port metrics_port
  port="$(tr -d '\n' <"${dir}/port")"
  metrics_port="$(sed -n 's/.*metrics on :\([0-9]*\).*/\1/p' "${dir}/provd.log" | head -1)"
  "${bin_dir}/prov-agent" --server "127.0.0.1:${port}" --insecure --interval "${interval}" \
    --spool-dir "${dir}/spool" --node-id "overhead-${setup}" "${agent_roots[@]}" \
    >"${dir}/agent.log" 2>&1 &
  local agent=$!; pids+=("${agent}")
  sleep $((interval_s + 5))  # start-up (first collection, connect) is not the steady state
  kill -0 "${agent}" || { echo "agent_overhead.sh: prov-agent died; log:" >&2; cat "${dir}/agent.log" >&2; exit 1; }
  local t0 c0 r0 t1 c1 r1
  t0="$(date +%s.%N)"; c0="$(cpu_ticks "${agent}")"; r0="$(ingested "${metrics_port}")"
  sleep "${seconds}"
  t1="$(date +%s.%N)"; c1="$(cpu_ticks "${agent}")"; r1="$(ingested "${metrics_port}")"
  local rss hwm threads
  rss="$(status_kb "${agent}" VmRSS)"; hwm="$(status_kb "${agent}" VmHWM)"
  threads="$(status_kb "${agent}" Threads)"
  kill "${agent}" "${provd}"; wait "${agent}" "${provd}" 2>/dev/null || true
  awk -v s="${setup}" -v i="${interval}" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
      -v hz="${clk_tck}" -v r="$((r1 - r0))" -v rss="$rss" -v hwm="$hwm" -v th="$threads" 'BEGIN {
    wall = t1 - t0; cpu = (c1 - c0) / hz
    printf "%-8s interval %-4s window %5.1f s  reports ingested %3d  agent CPU %6.3f s = %6.3f %% of one core  %s  RSS %5.1f MiB  peak %5.1f MiB  threads %d\n",
      s, i, wall, r, cpu, 100 * cpu / wall,
      (r > 0 ? sprintf("%6.1f ms CPU/report", 1000 * cpu / r) : "   (no reports!)   "),
      rss / 1024, hwm / 1024, th
  }'
}

echo "prov-agent overhead: ${seconds} s measured per setup, interval ${interval}, CPU from /proc/<pid>/stat (tick $((1000 / clk_tck)) ms)"
for s in ${setups}; do run_setup "$s"; done
