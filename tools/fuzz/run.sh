#!/usr/bin/env bash
# Builds the fuzz targets with the `fuzz` preset (clang-14, libFuzzer, ASan+UBSan) and runs each
# for SECONDS on a scratch copy of its seed corpus (tests/fuzz/corpus/<target>/).
#   tools/fuzz/run.sh 60                    # every target, 60 s each
#   tools/fuzz/run.sh 600 kyc policy        # only these targets
# Prints one line per target (executions, crashes) and a total line:
#   fuzz: 13 targets, 1234567 executions, 0 crashes
# Exits non-zero when any target crashed (or failed to start); the crashing inputs are kept
# under build/<preset>/findings/<target>/ (crash-*, leak-*, timeout-*, oom-*). Uses ccache when
# installed (CCACHE_DISABLE=1 turns it off); PROV_JOBS sets the build's parallelism (default 2).
# PROV_FUZZ_PRESET=asan uses the `asan` preset's build instead (the same instrumentation, plus the
# tests; tools/ci-sanitizers.sh builds it once for both).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?usage: tools/fuzz/run.sh SECONDS [target...]}
shift
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
preset=${PROV_FUZZ_PRESET:-fuzz}
cmake --preset "$preset" "${launcher[@]}" >/dev/null
cmake --build --preset "$preset" -j"${PROV_JOBS:-2}" --target fuzz_targets

bin=build/$preset/fuzz
work=build/$preset/work
findings=build/$preset/findings
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$bin"/fuzz_*; do targets+=("${f##*/fuzz_}"); done
fi
total_execs=0 total_crashes=0 failed=0
for t in "${targets[@]}"; do
  corpus=$work/$t
  rm -rf "$corpus" && mkdir -p "$corpus" "$findings/$t"
  cp tests/fuzz/corpus/"$t"/* "$corpus"/
  log=$findings/$t/fuzz.log
  started=$findings/$t/.started
  touch "$started"
  rc=0
  # -rss_limit_mb: parsers must stay bounded; -timeout: one input may take at most 10 s.
  "$bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/$t/" "$corpus" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(find "$findings/$t" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) -newer "$started" | wc -l)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    echo "fuzz: $t exited $rc without a crash input; see $log" >&2
    crashes=1
  fi
  printf 'fuzz: %-14s %10s executions, %s crashes\n' "$t" "${execs:-0}" "$crashes"
  total_execs=$((total_execs + ${execs:-0}))
  total_crashes=$((total_crashes + crashes))
  [ "$crashes" -eq 0 ] || { failed=1; tail -n 40 "$log" >&2; }
done
echo "fuzz: ${#targets[@]} targets, $total_execs executions, $total_crashes crashes"
exit $failed
