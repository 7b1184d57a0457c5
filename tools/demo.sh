#!/usr/bin/env bash
# The newcomer's demo: installs what is missing, builds, starts provd on its embedded SQLite store,
# imports customer identities (KYC) and a screening list, drives a simulated fleet with hidden
# adversaries (prov-sim, using the agent's real uplink) into it, and shows what provd learned and
# flagged through provctl and /metrics. provd keeps running until Ctrl-C (or pass --no-wait).
#
#   tools/demo.sh [--no-wait]
# Environment: PROV_DEMO_DATA (default demo-data), PROV_DEMO_PORT (50051),
#              PROV_DEMO_METRICS_PORT (9464), PROV_DEMO_WEB_PORT (8080, the web dashboard).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-debian.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"${PROV_JOBS:-2}" --target provd prov-agent provctl prov-sim \
  prov-eval-gen
ln -sfn release/bin build/bin  # the binaries, also as build/bin/

B=build/release/bin
DATA=${PROV_DEMO_DATA:-demo-data}
PORT=${PROV_DEMO_PORT:-50051}
MPORT=${PROV_DEMO_METRICS_PORT:-9464}
WPORT=${PROV_DEMO_WEB_PORT:-8080}
rm -rf "$DATA"
mkdir -p "$DATA"

echo
echo "== prov-eval-gen: a simulated fleet with known adversaries and benign look-alikes"
echo "   (accounts, identities and activity are a SYNTHETIC overlay; see tools/eval/README.md)"
"$B/prov-eval-gen" --out "$DATA/scenario" --preset small | tail -3

echo
# prov-sim replays the scenario faster than real time, so the ledger credits the reports' own
# timestamps (--ledger-clock report: for synthetic replays only; see server/README.md).
echo "== starting provd (SQLite store in $DATA/, gRPC 127.0.0.1:$PORT, metrics :$MPORT, dashboard :$WPORT)"
"$B/provd" --data-dir "$DATA" --listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$MPORT" \
  --ledger-clock report \
  --web-listen "127.0.0.1:$WPORT" --insecure --port-file "$DATA/port" --policy "$DATA/scenario/policy.yaml" \
  >"$DATA/provd.log" 2>&1 &
PROVD=$!
trap 'kill "$PROVD" 2>/dev/null || true; wait "$PROVD" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$DATA/port" ] && break
  kill -0 "$PROVD" 2>/dev/null || { echo "provd exited:"; cat "$DATA/provd.log"; exit 1; }
  sleep 0.1
done
[ -s "$DATA/port" ] || { echo "provd did not start; log:"; cat "$DATA/provd.log"; exit 1; }
cat "$DATA/provd.log"

# provd's first start wrote an admin token (mode 0600); provctl reads it through PROV_TOKEN_FILE.
export PROV_TOKEN_FILE=$DATA/admin.token
CTL=("$B/provctl" --server "127.0.0.1:$PORT" --insecure)
echo
echo "== provctl accounts import / screening import (KYC records and the US Consolidated Screening List)"
"${CTL[@]}" accounts import "$DATA/scenario/accounts.csv"
"${CTL[@]}" screening import "$DATA/scenario/csl.csv"

echo
echo "== prov-sim: the scenario's nodes, 40 reports each at a simulated 60 s interval, 240x real time"
"$B/prov-sim" --server "127.0.0.1:$PORT" --insecure --scenario "$DATA/scenario/scenario.json" \
  --time-scale 240 | grep -E "agents|acked|result"
sleep 2  # the analysis thread finishes the last batch

echo
echo "== provctl nodes (first 10)"
"${CTL[@]}" nodes --limit 10
echo
echo "== provctl workloads --limit 10"
"${CTL[@]}" workloads --limit 10
echo
echo "== provctl flags list (what a compliance analyst works on)"
"${CTL[@]}" flags list
echo
FLAG=$("${CTL[@]}" flags list --rule compute_tier: -o json | grep -o '"flag_id": *"F-[0-9]*"' |
  head -1 | grep -o 'F-[0-9]*' || true)
if [ -n "$FLAG" ]; then
  echo "== provctl flags show $FLAG (the evidence chain)"
  "${CTL[@]}" flags show "$FLAG" | head -40
  echo
  echo "== working it as a case: an analyst token, acknowledge, note (every action is audited)"
  ANALYST=$("${CTL[@]}" tokens issue demo-analyst --role analyst | sed -n 2p)
  "$B/provctl" --server "127.0.0.1:$PORT" --insecure --token "$ANALYST" case acknowledge "$FLAG" \
    --note "looking at the shared checkpoints" | head -8
  echo
  echo "== provctl audit log / audit verify (the hash-chained record of every action)"
  "${CTL[@]}" audit log | tail -5
  "${CTL[@]}" audit verify
fi
echo
echo "== provctl export --out: a signed audit export (CSV + JSON Lines), then checked offline"
rm -rf "$DATA/export-now"
"${CTL[@]}" export --out "$DATA/export-now" 2>/dev/null | head -8
"$B/provctl" export verify "$DATA/export-now" --public-key "$DATA/export-signing.pub" | tail -3
echo
echo "== what the agent sees on this machine (prov-agent --once; no accelerators here is normal)"
"$B/prov-agent" --once | head -25
echo "   ..."
echo
echo "== http://127.0.0.1:$MPORT/metrics (provd's counters)"
curl -s "http://127.0.0.1:$MPORT/metrics" | grep -E '^prov_(reports|nodes|flags|bundles)' | head -16

if [ "${1:-}" = "--no-wait" ]; then exit 0; fi
echo
echo "provd is still running on 127.0.0.1:$PORT. Open the dashboard at http://127.0.0.1:$WPORT/"
echo "and sign in with the admin token in $DATA/admin.token. Or try:"
echo "  export PROV_TOKEN_FILE=$DATA/admin.token      # the admin token provd wrote on first start"
echo "  $B/provctl --server 127.0.0.1:$PORT --insecure usage"
echo "  $B/provctl --server 127.0.0.1:$PORT --insecure bundles list"
echo "  $B/provctl --server 127.0.0.1:$PORT --insecure flags watch      # live, in another terminal"
echo "  $B/prov-sim --server 127.0.0.1:$PORT --insecure --nodes 200 --time-scale 100"
echo "Press Ctrl-C to stop."
wait "$PROVD"
