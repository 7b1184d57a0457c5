#!/usr/bin/env bash
# End-to-end evaluation of provd's analysis engine (tools/eval/README.md): generate a scenario,
# start a real provd, import the accounts and the screening list, replay the scenario with
# prov-sim (which imports the declared inventory before its first report and each re-import
# before the report it declares), then score provd's flags against the ground truth.
#
#   tools/eval/run_eval.sh build/bench                          # small preset
#   tools/eval/run_eval.sh build/bench --preset scale --time-scale 60
#   tools/eval/run_eval.sh build/bench --dir /tmp/eval --require-goal --keep
#   tools/eval/run_eval.sh build/bench --replicas 2 --kill-leader-at 0.5 --require-goal
#
# Options:
#   --preset small|scale   scenario size (default small); or --gen-args "--nodes 500 ..."
#   --dir DIR              use an existing prov-eval-gen output instead of generating one
#   --policy FILE          policy for provd (default: the scenario's policy.yaml)
#   --time-scale X         simulated seconds per real second (default 240)
#   --require-goal         exit 1 unless the scorer says the goal is met
#   --keep                 keep the work directory (provd data, logs, flags.json)
#   --replicas N           N >= 2 provd replicas on a private PostgreSQL (tools/eval/replicas.sh),
#                          prov-sim's agents spread over them (each fails over to the others)
#   --kill-leader-at F     with --replicas: SIGKILL the leading replica once F (0..1) of the
#                          scenario's reports are stored, then check the takeover, that every
#                          acked report is stored once and that no flag is lost or duplicated
# Environment: PROV_TEST_TIME_SCALE (default 1) multiplies the 30 s each provd has to write its
# port (prov_add_test sets it to 2 under asan and 3 under tsan).
# Exit status: the scorer's (0 scored / goal met; 1 goal missed or, with --require-goal, a
# replica check failed), or 2 when a step failed.
set -euo pipefail

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 && $1 != -* ]] || usage
BUILD=$(cd "$1" && pwd); shift
PRESET=small GEN_ARGS="" DIR="" POLICY="" SCALE=240 REQUIRE="" KEEP=0 REPLICAS=0 KILL_AT=
while [[ $# -gt 0 ]]; do
  case $1 in
    --preset) PRESET=$2; shift 2 ;;
    --gen-args) GEN_ARGS=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --policy) POLICY=$2; shift 2 ;;
    --time-scale) SCALE=$2; shift 2 ;;
    --require-goal) REQUIRE=--require-goal; shift ;;
    --keep) KEEP=1; shift ;;
    --replicas) REPLICAS=$2; shift 2 ;;
    --kill-leader-at) KILL_AT=$2; shift 2 ;;
    *) echo "run_eval.sh: unknown option $1" >&2; usage ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for b in provd provctl prov-sim prov-eval-gen prov-eval-score; do
  [[ -x $BUILD/bin/$b ]] || { echo "run_eval.sh: $BUILD/bin/$b is missing (build it)" >&2; exit 2; }
done

if [[ $REPLICAS != 0 ]]; then
  [[ $REPLICAS =~ ^[0-9]+$ && $REPLICAS -ge 2 && $REPLICAS -le 9 ]] ||
    { echo "run_eval.sh: --replicas must be 2..9, not '$REPLICAS'" >&2; exit 2; }
  command -v jq >/dev/null || { echo "run_eval.sh: --replicas needs jq" >&2; exit 2; }
fi
if [[ -n $KILL_AT ]]; then
  [[ $REPLICAS != 0 ]] || { echo "run_eval.sh: --kill-leader-at needs --replicas" >&2; exit 2; }
  [[ $KILL_AT =~ ^0?\.[0-9]*[1-9][0-9]*$ ]] ||
    { echo "run_eval.sh: --kill-leader-at must be a fraction between 0 and 1 (0.5), not '$KILL_AT'" >&2; exit 2; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/prov-eval-XXXXXX")
PROVD_PID="" KILL_WATCH=""
cleanup() {
  if [[ -n $KILL_WATCH ]]; then kill "$KILL_WATCH" 2>/dev/null || true; wait "$KILL_WATCH" 2>/dev/null || true; fi
  if [[ -n $PROVD_PID ]]; then kill "$PROVD_PID" 2>/dev/null || true; wait "$PROVD_PID" 2>/dev/null || true; fi
  if [[ $REPLICAS != 0 ]]; then
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    replicas_stop_pg
  fi
  if [[ $KEEP == 1 ]]; then echo "run_eval.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
step() { echo "== $*" >&2; }
die() { echo "run_eval.sh: $*" >&2; exit 2; }
if [[ $REPLICAS != 0 ]]; then
  # shellcheck source=tools/eval/replicas.sh
  source "$ROOT/tools/eval/replicas.sh"
  export LC_ALL=C  # sort and join in the checks
fi

if [[ -z $DIR ]]; then
  DIR=$WORK/eval
  step "prov-eval-gen --preset $PRESET $GEN_ARGS"
  # shellcheck disable=SC2086
  (cd "$ROOT" && "$BUILD/bin/prov-eval-gen" --out "$DIR" --preset "$PRESET" $GEN_ARGS) >&2 ||
    die "prov-eval-gen failed"
fi
[[ -n $POLICY ]] || POLICY=$DIR/policy.yaml

# --ledger-clock report: prov-sim replays the scenario at --time-scale, so provd's own clock sees a
# fraction of the scenario's time pass; the ledger credits the reports' timeline instead.
if [[ $REPLICAS == 0 ]]; then
  step "provd (data in $WORK/data, policy $POLICY)"
  "$BUILD/bin/provd" --data-dir "$WORK/data" --listen 127.0.0.1:0 --port-file "$WORK/port" \
    --metrics-listen= --insecure --policy "$POLICY" --ledger-clock report >"$WORK/provd.log" 2>&1 &
  PROVD_PID=$!
  for _ in $(seq 1 $((300 * ${PROV_TEST_TIME_SCALE:-1}))); do
    [[ -s $WORK/port ]] && break
    kill -0 "$PROVD_PID" 2>/dev/null || { cat "$WORK/provd.log" >&2; die "provd exited"; }
    sleep 0.1
  done
  [[ -s $WORK/port ]] || die "provd did not write its port within $((30 * ${PROV_TEST_TIME_SCALE:-1})) s"
  SERVER=127.0.0.1:$(tr -d '\n' <"$WORK/port")
  SERVERS=$SERVER
  # provd's first start wrote an admin token; provctl and prov-eval-score read it from here.
  export PROV_TOKEN_FILE=$WORK/data/admin.token
else
  replicas_start_pg
  replicas_start "$REPLICAS"
  SERVER=${ADDRS[r1]}
  # The first replica made the bootstrap admin token (the store holds it for every replica).
  export PROV_TOKEN_FILE=$WORK/data-r1/admin.token
  [[ -s $PROV_TOKEN_FILE ]] || die "replica r1 wrote no admin token"
  step "leader: $(replicas_leader); agents spread over $SERVERS"
fi
CTL=("$BUILD/bin/provctl" --server "$SERVER" --insecure)

step "import accounts and screening list"
"${CTL[@]}" accounts import "$DIR/accounts.csv" >&2 || die "provctl accounts import failed"
"${CTL[@]}" screening import "$DIR/csl.csv" >&2 || die "provctl screening import failed"

# The declared inventory (tools/prov-sim/inventory.h): prov-sim writes inventory.csv and its
# re-imports inventory.at-<K>.csv into the scenario's directory and runs this script with each
# file: before its first report, and before report K once every earlier report is acked (a
# re-import waits 1 s so that the analysis of those reports finishes before the inventory changes).
# With replicas it tries each in turn (the first may have been killed).
INVENTORY_CMD=$WORK/import-inventory.sh
cat >"$INVENTORY_CMD" <<EOF
#!/bin/sh
case "\$1" in *.at-*) sleep 1 ;; esac
for server in $(tr ',' ' ' <<<"$SERVERS"); do
  $(printf '%q' "$BUILD/bin/provctl") --server "\$server" --insecure inventory import "\$1" && exit 0
  echo "import-inventory.sh: \$server failed" >&2
done
exit 1
EOF
chmod +x "$INVENTORY_CMD"

rm -f "$DIR/timeline.json"
if [[ -n $KILL_AT ]]; then
  step "the leader is SIGKILLed once $KILL_AT of the reports are stored"
  replicas_kill_watch "$KILL_AT" "$DIR/timeline.json" >"$WORK/kill-watch.log" 2>&1 &
  KILL_WATCH=$!
fi
step "prov-sim (time scale $SCALE)"
"$BUILD/bin/prov-sim" --server "$SERVERS" --insecure --scenario "$DIR/scenario.json" \
  --time-scale "$SCALE" --timeline-out "$DIR/timeline.json" --wait-acks 300 \
  --inventory-out "$DIR/inventory.csv" --inventory-command "$INVENTORY_CMD" 2>&1 |
  tee "$WORK/prov-sim.log" >&2 ||
  die "prov-sim: not every report was acked (or an inventory import failed)"

CHECKS=0
if [[ $REPLICAS == 0 ]]; then
  # Analysis runs after each commit; give it a moment to finish the last batch.
  sleep 2
else
  if [[ -n $KILL_WATCH ]]; then
    wait "$KILL_WATCH" || true
    KILL_WATCH=""
    [[ -s $WORK/kill.env ]] ||
      die "the leader was not killed during the replay: $(cat "$WORK/kill-watch.log")"
  fi
  replicas_wait_analysis
  SERVER=$(replicas_survivor)
  step "replica checks"
  acked=$(awk '/^  acked:/ { print $2 }' "$WORK/prov-sim.log")
  submitted=$(awk '/^  submitted:/ { print $2 }' "$WORK/prov-sim.log")
  replicas_check "$acked" "$submitted" || CHECKS=1
fi
"$BUILD/bin/provctl" --server "$SERVER" --insecure flags list --limit 100000 -o json \
  >"$WORK/flags.json" 2>/dev/null || true
step "prov-eval-score"
set +e
"$BUILD/bin/prov-eval-score" --dir "$DIR" --server "$SERVER" --insecure $REQUIRE
RC=$?
set -e
if [[ $CHECKS != 0 ]]; then
  echo "replica checks: FAILED (above)"
  [[ -n $REQUIRE ]] && RC=1
elif [[ $REPLICAS != 0 ]]; then
  echo "replica checks: all passed"
fi
exit $RC
