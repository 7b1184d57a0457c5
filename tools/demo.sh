#!/usr/bin/env bash
# The newcomer's demo: installs what is missing, builds, starts provd on its embedded SQLite store,
# drives a simulated fleet (prov-sim, using the agent's real uplink) into it, and shows what provd
# learned through provctl and /metrics. provd keeps running until Ctrl-C (or pass --no-wait).
#
#   tools/demo.sh [--no-wait]
# Environment: PROV_DEMO_DATA (default demo-data), PROV_DEMO_PORT (50051),
#              PROV_DEMO_METRICS_PORT (9464), PROV_DEMO_NODES (60).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-debian.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"${PROV_JOBS:-2}" --target provd prov-agent provctl prov-sim

B=build/release/bin
DATA=${PROV_DEMO_DATA:-demo-data}
PORT=${PROV_DEMO_PORT:-50051}
MPORT=${PROV_DEMO_METRICS_PORT:-9464}
NODES=${PROV_DEMO_NODES:-60}
rm -rf "$DATA"
mkdir -p "$DATA"

echo
echo "== starting provd (SQLite store in $DATA/, gRPC 127.0.0.1:$PORT, metrics :$MPORT)"
"$B/provd" --data-dir "$DATA" --listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$MPORT" \
  --insecure --port-file "$DATA/port" >"$DATA/provd.log" 2>&1 &
PROVD=$!
trap 'kill "$PROVD" 2>/dev/null || true; wait "$PROVD" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$DATA/port" ] && break
  kill -0 "$PROVD" 2>/dev/null || { echo "provd exited:"; cat "$DATA/provd.log"; exit 1; }
  sleep 0.1
done
[ -s "$DATA/port" ] || { echo "provd did not start; log:"; cat "$DATA/provd.log"; exit 1; }
cat "$DATA/provd.log"

echo
echo "== prov-sim: $NODES simulated nodes in 3 data centres (synthetic accounts and workloads),"
echo "   30 reports each at a simulated 10 s interval, 50x faster than real time"
"$B/prov-sim" --server "127.0.0.1:$PORT" --insecure --nodes "$NODES" --datacenters 3 \
  --accounts 12 --workloads-per-node 2 --reports-per-node 30 --time-scale 50

CTL=("$B/provctl" --server "127.0.0.1:$PORT" --insecure)
echo
echo "== provctl nodes (first 10)"
"${CTL[@]}" nodes --limit 10
echo
echo "== provctl workloads --limit 10"
"${CTL[@]}" workloads --limit 10
echo
echo "== provctl usage (accelerator-hours and estimated FLOP per account)"
"${CTL[@]}" usage
echo
echo "== what the agent sees on this machine (prov-agent --once; no accelerators here is normal)"
"$B/prov-agent" --once | head -25
echo "   ..."
echo
echo "== http://127.0.0.1:$MPORT/metrics (provd's counters)"
curl -s "http://127.0.0.1:$MPORT/metrics" | grep -E '^prov_(reports|nodes|ingest|acks)' | head -12

if [ "${1:-}" = "--no-wait" ]; then exit 0; fi
echo
echo "provd is still running on 127.0.0.1:$PORT. Try:"
echo "  $B/provctl --server 127.0.0.1:$PORT --insecure usage -o json"
echo "  $B/prov-sim --server 127.0.0.1:$PORT --insecure --nodes 200 --time-scale 100"
echo "Press Ctrl-C to stop."
wait "$PROVD"
