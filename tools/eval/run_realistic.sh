#!/usr/bin/env bash
# The realistic evaluation (tools/eval/README.md, "Realistic evaluation"): for each seed, generate
# a 1,000-node world with prov-eval-gen --preset realistic (realistic background and KYC, the CSL
# extract plus the Denied Persons List, adversaries a to g hidden among them), replay it against a
# real provd with run_eval.sh, and print the scorer's summary and goal line per seed.
#
#   tools/eval/run_realistic.sh build/release                       # seeds 1..5, time scale 40
#   tools/eval/run_realistic.sh build/release --seeds "1 2" --gen-args "--nodes 1200" --keep
#
# Options:
#   --seeds "S ..."     seeds to run (default "1 2 3 4 5")
#   --gen-args "..."    more prov-eval-gen flags (e.g. --names DIR --dpl FILE --csl FILE --traces DIR)
#   --time-scale X      simulated seconds per real second (default 40; 1,000 agents connect within
#                       60/X real seconds)
#   --out DIR           keep each seed's full output in DIR/seed-S.log (default: a temp dir, kept)
#   --keep              keep each seed's work directory (provd data, scenario)
# Exit status: 0 when every seed met the goal, 1 when a seed missed it, 2 when a step failed.
set -uo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 && $1 != -* ]] || usage
BUILD=$1; shift
SEEDS="1 2 3 4 5" GEN_ARGS="" SCALE=40 OUT="" KEEP=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --seeds) SEEDS=$2; shift 2 ;;
    --gen-args) GEN_ARGS=$2; shift 2 ;;
    --time-scale) SCALE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=(--keep); shift ;;
    *) echo "run_realistic.sh: unknown option $1" >&2; usage ;;
  esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n $OUT ]] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/prov-realistic-XXXXXX")
mkdir -p "$OUT"
WORST=0
for seed in $SEEDS; do
  log=$OUT/seed-$seed.log
  start=$(date +%s)
  "$HERE/run_eval.sh" "$BUILD" --preset realistic --gen-args "--seed $seed $GEN_ARGS" \
    --time-scale "$SCALE" "${KEEP[@]}" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [[ $rc -ge 2 || -z $(grep -m1 '^goal' "$log") ]]; then
    echo "seed $seed: FAILED to run (exit $rc, ${secs} s; see $log)"
    tail -5 "$log" | sed 's/^/    /'
    WORST=2
    continue
  fi
  echo "seed $seed (${secs} s): $(grep -m1 '^prov-eval-gen: ' "$log" | sed 's/ ->.*//;s/^prov-eval-gen: //')"
  grep -m1 'benign accounts (' "$log" | sed 's/^ *check: /    generator: /'
  grep -m1 '^  behind: ' "$log" | sed 's/^  behind: */    replay behind schedule: /'
  grep -m1 '^  acked late: ' "$log" | sed 's/^  acked late: */    reports acked: /'
  grep -m1 '^  connected: ' "$log" | sed 's/^  connected: */    connected: /'
  grep -m1 '^  reconnects: ' "$log" | sed 's/^  reconnects: */    reconnects: /'
  grep -m1 '^summary: ' "$log" | sed 's/^/    /'
  grep -m1 '^bundles: ' "$log" | sed 's/^/    /'
  grep -m1 '^goal' "$log" | sed 's/^/    /'
  grep -q '): MET' "$log" || { [[ $WORST -lt 1 ]] && WORST=1; }
done
echo "logs: $OUT"
exit $WORST
