#!/usr/bin/env bash
# The sanitizer stages of the test run; tools/test.sh calls this after the release stage with
# PROV_SANITIZERS (a comma-separated list, default "asan,tsan", what CI runs; docs/ci.md):
#   asan: the `asan` preset, one clang-14 build (-O1 -gline-tables-only, the tests' own sources
#         -O0, lld, -DPROV_WERROR=ON) that serves three purposes: ASan+UBSan for the whole test
#         suite, -Werror=thread-safety so every ABSL_GUARDED_BY annotation is checked by the
#         compiler, and the libFuzzer targets (fuzzer-no-link instrumentation is harmless to the
#         tests), which tools/fuzz/run.sh then runs PROV_FUZZ_SECONDS each (default 10; 0 skips
#         the fuzzing, not the build).
#   tsan: the `tsan` preset, clang-14 with ThreadSanitizer (the same flags otherwise), every test
#         but those registered NO_THREADS (no thread in them or any process they start, which the
#         release stage proves with tests/threads/no_threads_guard.c: tsan could report nothing);
#         what Debian's uninstrumented libraries synchronize is annotated for tsan: absl::Mutex by
#         tests/tsan/absl_mutex_tsan.cc, gRPC's handoff of a batch to the thread that completes
#         it by tests/tsan/grpc_handoff_tsan.cc; tests/tsan/tsan.supp holds one narrow entry with
#         its reason.
# Both builds are unity builds unless PROV_UNITY_BUILD=OFF (tools/test.sh).
# Extra arguments go to every ctest run (tools/test.sh -L unit). Prints each stage's wall time.
#   tools/ci-sanitizers.sh                              # both stages, every test
#   PROV_SANITIZERS=asan tools/ci-sanitizers.sh         # the asan stage only
#   PROV_SANITIZERS=tsan tools/ci-sanitizers.sh -L unit # tsan, unit tests only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${PROV_JOBS:-2}
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
launcher+=(-DCMAKE_UNITY_BUILD="${PROV_UNITY_BUILD:-ON}")
stage() {  # stage NAME COMMAND...: runs COMMAND, prints its wall time, keeps its exit status
  local name=$1 start=$SECONDS rc=0
  shift
  echo "ci: $name ..."
  "$@" || rc=$?
  echo "ci: $name took $((SECONDS - start)) s (exit $rc)"
  return $rc
}
# The packaging test builds .debs of release binaries: the release stage runs it; the sanitizer
# builds are not what ships (and have no CPack config). The lint tests (clang-format over the
# tree, amtool on the Alertmanager config) run no compiled code: the release stage runs them.
ctest_args=(-LE 'packaging|lint' "$@")

failed=0
sanitizers=${PROV_SANITIZERS:-asan,tsan}
wanted=",$sanitizers,"
for s in ${sanitizers//,/ }; do
  case $s in asan | tsan) ;; *) echo "ci-sanitizers: unknown stage '$s' in PROV_SANITIZERS (asan, tsan)" >&2; exit 2 ;; esac
done
# ASan: abort at the first error with a stack; LSan on (the default). UBSan: -fno-sanitize-recover
# already makes every finding fatal; print its stack.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tests/asan/lsan.supp:print_suppressions=0
if [[ $wanted == *,asan,* ]] && stage "asan+ubsan, thread-safety and fuzz targets: build" bash -c \
  "cmake --preset asan ${launcher[*]} >/dev/null && cmake --build --preset asan -j$jobs"; then
  stage "asan+ubsan: tests" ctest --preset asan "${ctest_args[@]}" || failed=1
  if [ "${PROV_FUZZ_SECONDS:-10}" -gt 0 ]; then
    stage "fuzz: run" env PROV_FUZZ_PRESET=asan tools/fuzz/run.sh "${PROV_FUZZ_SECONDS:-10}" || failed=1
  fi
elif [[ $wanted == *,asan,* ]]; then
  failed=1
fi
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

# halt_on_error: the first race fails its test. ignore_noninstrumented_modules: an access made
# inside Debian's uninstrumented gRPC/Abseil/protobuf (a memcpy or free they call) is not judged;
# every access by project code still is.
export TSAN_OPTIONS="suppressions=$root/tests/tsan/tsan.supp:halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1"
if [[ $wanted == *,tsan,* ]] && stage "tsan: build" bash -c \
  "cmake --preset tsan ${launcher[*]} >/dev/null && cmake --build --preset tsan -j$jobs"; then
  stage "tsan: tests" ctest --preset tsan "${ctest_args[@]}" || failed=1
elif [[ $wanted == *,tsan,* ]]; then
  failed=1
fi
exit $failed
