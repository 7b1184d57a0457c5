#!/usr/bin/env bash
# Runs every test: installs missing Debian packages, builds the release preset and runs ctest, then
# the sanitizer stages (tools/ci-sanitizers.sh): the whole suite again under ASan+UBSan (clang-14,
# also checking -Wthread-safety and building the fuzz targets, which then run PROV_FUZZ_SECONDS
# each, default 10, 0 skips them) and under ThreadSanitizer. CI (.ci/run) always runs everything.
#   tools/test.sh                      # all tests, all stages
#   tools/test.sh -L unit              # extra arguments go to every ctest run
#   PROV_SANITIZERS=0 tools/test.sh    # release stage only (plus the fuzz preset's brief fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-debian.sh
start=$SECONDS
cmake --preset release >/dev/null
cmake --build --preset release -j"${PROV_JOBS:-2}"
ln -sfn release/bin build/bin  # the binaries, also as build/bin/
echo "ci: release build took $((SECONDS - start)) s"
start=$SECONDS
rc=0
ctest --preset release "$@" || rc=$?
echo "ci: release tests took $((SECONDS - start)) s (exit $rc)"
if [ "${PROV_SANITIZERS:-1}" != 0 ]; then
  tools/ci-sanitizers.sh "$@" || rc=1
elif [ "${PROV_FUZZ_SECONDS:-10}" -gt 0 ]; then
  tools/fuzz/run.sh "${PROV_FUZZ_SECONDS:-10}" || rc=1
fi
exit $rc
