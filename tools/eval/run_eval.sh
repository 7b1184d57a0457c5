#!/usr/bin/env bash
# End-to-end evaluation of provd's analysis engine (tools/eval/README.md): generate a scenario,
# start a real provd, import the accounts and the screening list, replay the scenario with
# prov-sim (which imports the declared inventory before its first report and each re-import
# before the report it declares), then score provd's flags against the ground truth.
#
#   tools/eval/run_eval.sh build/bench                          # small preset
#   tools/eval/run_eval.sh build/bench --preset scale --time-scale 60
#   tools/eval/run_eval.sh build/bench --dir /tmp/eval --require-goal --keep
#
# Options:
#   --preset small|scale   scenario size (default small); or --gen-args "--nodes 500 ..."
#   --dir DIR              use an existing prov-eval-gen output instead of generating one
#   --policy FILE          policy for provd (default: the scenario's policy.yaml)
#   --time-scale X         simulated seconds per real second (default 240)
#   --require-goal         exit 1 unless the scorer says the goal is met
#   --keep                 keep the work directory (provd data, logs, flags.json)
# Exit status: the scorer's (0 scored / goal met; 1 goal missed), or 2 when a step failed.
set -euo pipefail

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 && $1 != -* ]] || usage
BUILD=$(cd "$1" && pwd); shift
PRESET=small GEN_ARGS="" DIR="" POLICY="" SCALE=240 REQUIRE="" KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --preset) PRESET=$2; shift 2 ;;
    --gen-args) GEN_ARGS=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --policy) POLICY=$2; shift 2 ;;
    --time-scale) SCALE=$2; shift 2 ;;
    --require-goal) REQUIRE=--require-goal; shift ;;
    --keep) KEEP=1; shift ;;
    *) echo "run_eval.sh: unknown option $1" >&2; usage ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for b in provd provctl prov-sim prov-eval-gen prov-eval-score; do
  [[ -x $BUILD/bin/$b ]] || { echo "run_eval.sh: $BUILD/bin/$b is missing (build it)" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/prov-eval-XXXXXX")
PROVD_PID=""
cleanup() {
  if [[ -n $PROVD_PID ]]; then kill "$PROVD_PID" 2>/dev/null || true; wait "$PROVD_PID" 2>/dev/null || true; fi
  if [[ $KEEP == 1 ]]; then echo "run_eval.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
step() { echo "== $*" >&2; }
die() { echo "run_eval.sh: $*" >&2; exit 2; }

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
step "provd (data in $WORK/data, policy $POLICY)"
"$BUILD/bin/provd" --data-dir "$WORK/data" --listen 127.0.0.1:0 --port-file "$WORK/port" \
  --metrics-listen= --insecure --policy "$POLICY" --ledger-clock report >"$WORK/provd.log" 2>&1 &
PROVD_PID=$!
for _ in $(seq 1 300); do
  [[ -s $WORK/port ]] && break
  kill -0 "$PROVD_PID" 2>/dev/null || { cat "$WORK/provd.log" >&2; die "provd exited"; }
  sleep 0.1
done
[[ -s $WORK/port ]] || die "provd did not write its port within 30 s"
SERVER=127.0.0.1:$(tr -d '\n' <"$WORK/port")
# provd's first start wrote an admin token; provctl and prov-eval-score read it from here.
export PROV_TOKEN_FILE=$WORK/data/admin.token
CTL=("$BUILD/bin/provctl" --server "$SERVER" --insecure)

step "import accounts and screening list"
"${CTL[@]}" accounts import "$DIR/accounts.csv" >&2 || die "provctl accounts import failed"
"${CTL[@]}" screening import "$DIR/csl.csv" >&2 || die "provctl screening import failed"

# The declared inventory (tools/prov-sim/inventory.h): prov-sim writes inventory.csv and its
# re-imports inventory.at-<K>.csv into the scenario's directory and runs this script with each
# file: before its first report, and before report K once every earlier report is acked (a
# re-import waits 1 s so that the analysis of those reports finishes before the inventory changes).
INVENTORY_CMD=$WORK/import-inventory.sh
cat >"$INVENTORY_CMD" <<EOF
#!/bin/sh
case "\$1" in *.at-*) sleep 1 ;; esac
exec $(printf '%q ' "${CTL[@]}") inventory import "\$1"
EOF
chmod +x "$INVENTORY_CMD"

step "prov-sim (time scale $SCALE)"
"$BUILD/bin/prov-sim" --server "$SERVER" --insecure --scenario "$DIR/scenario.json" \
  --time-scale "$SCALE" --timeline-out "$DIR/timeline.json" --wait-acks 300 \
  --inventory-out "$DIR/inventory.csv" --inventory-command "$INVENTORY_CMD" >&2 ||
  die "prov-sim: not every report was acked (or an inventory import failed)"

# Analysis runs after each commit; give it a moment to finish the last batch.
sleep 2
"${CTL[@]}" flags list --limit 100000 -o json >"$WORK/flags.json" 2>/dev/null || true
step "prov-eval-score"
set +e
"$BUILD/bin/prov-eval-score" --dir "$DIR" --server "$SERVER" --insecure $REQUIRE
RC=$?
set -e
exit $RC
