#!/usr/bin/env bash
# Builds the fuzz targets with the `fuzz` preset (clang-14, libFuzzer, ASan+UBSan) and runs each
# for SECONDS on a scratch copy of its seed corpus (tests/fuzz/corpus/<target>/).
#   tools/fuzz/run.sh 60                    # every target, 60 s each
#   tools/fuzz/run.sh 600 kyc policy        # only these targets
#   PROV_FUZZ_CLOCK=cpu PROV_FUZZ_PARALLEL=2 tools/fuzz/run.sh 600
#                                           # 600 s of each target's own CPU time, two at a time
# Prints one line per target (executions, crashes, the CPU seconds it used) and a total line:
#   fuzz: 13 targets, 1234567 executions, 0 crashes
# Exits non-zero when any target crashed (or failed to start); the crashing inputs are kept
# under build/<preset>/findings/<target>/ (crash-*, leak-*, timeout-*, oom-*). Uses ccache when
# installed (CCACHE_DISABLE=1 turns it off); PROV_JOBS sets the build's parallelism (default 2).
# PROV_FUZZ_PRESET=asan uses the `asan` preset's build instead (the same instrumentation, plus the
# tests; tools/ci-sanitizers.sh builds it once for both).
# PROV_FUZZ_CLOCK=wall (default) stops a target after SECONDS of wall time (libFuzzer's
# -max_total_time); =cpu after SECONDS of the target's own CPU time (user+system), which is what
# a figure means on a machine shared with other work (the target is then interrupted and
# libFuzzer prints its final stats). PROV_FUZZ_PARALLEL=N runs N targets at a time (default 1).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?usage: tools/fuzz/run.sh SECONDS [target...]}
shift
clock=${PROV_FUZZ_CLOCK:-wall}
parallel=${PROV_FUZZ_PARALLEL:-1}
case "$clock" in wall | cpu) ;; *) echo "PROV_FUZZ_CLOCK must be wall or cpu, not '$clock'" >&2; exit 2 ;; esac
case "$parallel" in '' | *[!0-9]* | 0) echo "PROV_FUZZ_PARALLEL must be a positive number, not '$parallel'" >&2; exit 2 ;; esac
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
ticks=$(getconf CLK_TCK)

# CPU seconds (user+system) used so far by process $1, or nothing once it is gone.
cpu_of() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  # Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
  echo "${stat##*) }" | awk -v t="$ticks" '{ printf "%d", ($12 + $13) / t }'
}

# Runs target $1; writes "executions crashes cpu-seconds" to its result file and prints its line.
run_target() {
  local t=$1 corpus=$work/$1 log=$findings/$1/fuzz.log started=$findings/$1/.started
  rm -rf "$corpus" "$findings/$t/result" && mkdir -p "$corpus" "$findings/$t"
  cp tests/fuzz/corpus/"$t"/* "$corpus"/
  touch "$started"
  local limit=$seconds per_input=10
  # In cpu mode the wall limit is only a backstop for a target that never gets the CPU, and one
  # input may take 60 s: libFuzzer's -timeout is wall time, and a target starved by other work
  # (nice 19 beside a build) was stopped by the 10 s one on inputs that take 3 ms alone.
  if [ "$clock" = cpu ]; then
    limit=$((seconds * 20 + 60))
    per_input=60
  fi
  # -rss_limit_mb: parsers must stay bounded; -timeout: the most one input may take.
  "$bin/fuzz_$t" -max_total_time="$limit" -timeout="$per_input" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/$t/" "$corpus" >"$log" 2>&1 &
  local pid=$! cpu=0 now interrupted=0 rc=0
  while kill -0 "$pid" 2>/dev/null; do
    now=$(cpu_of "$pid")
    [ -n "$now" ] && cpu=$now
    if [ "$clock" = cpu ] && [ "$cpu" -ge "$seconds" ] && [ "$interrupted" -eq 0 ]; then
      kill -INT "$pid" 2>/dev/null || true
      interrupted=1
    fi
    sleep 1
  done
  wait "$pid" || rc=$?
  # libFuzzer exits 72 (its -interrupted_exit_code) after the SIGINT sent above.
  [ "$interrupted" -eq 1 ] && [ "$rc" -eq 72 ] && rc=0
  local execs crashes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(find "$findings/$t" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) -newer "$started" | wc -l)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    echo "fuzz: $t exited $rc without a crash input; see $log" >&2
    crashes=1
  fi
  echo "${execs:-0} $crashes $cpu" >"$findings/$t/result"
  printf 'fuzz: %-14s %10s executions, %s crashes, %s CPU-s\n' "$t" "${execs:-0}" "$crashes" "$cpu"
  [ "$crashes" -eq 0 ] || tail -n 40 "$log" >&2
}

for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
  run_target "$t" &
done
wait

total_execs=0 total_crashes=0 failed=0
for t in "${targets[@]}"; do
  read -r execs crashes _ <"$findings/$t/result" 2>/dev/null || { execs=0 crashes=1; }
  total_execs=$((total_execs + execs))
  total_crashes=$((total_crashes + crashes))
done
[ "$total_crashes" -eq 0 ] || failed=1
echo "fuzz: ${#targets[@]} targets, $total_execs executions, $total_crashes crashes"
exit $failed
