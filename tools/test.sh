#!/usr/bin/env bash
# Runs every test: installs missing Debian packages, builds the release preset and runs ctest, then
# builds the fuzz targets and runs each briefly (tools/fuzz/run.sh; PROV_FUZZ_SECONDS, default 10;
# 0 skips it). PROV_SANITIZERS=1 runs the sanitizer stages instead of the fuzz build
# (tools/ci-sanitizers.sh: the whole suite under ASan+UBSan in one clang-14 build that also checks
# -Wthread-safety and builds the fuzz targets, then under ThreadSanitizer); not in CI yet (docs/ci.md).
#   tools/test.sh                      # all tests (what CI runs)
#   tools/test.sh -L unit              # extra arguments go to every ctest run
#   PROV_SANITIZERS=1 tools/test.sh    # and the sanitizer stages
set -euo pipefail
cd "$(dirname "$0")/.."
# The PostgreSQL store tests (tests/store/pg_server.h) fail here instead of skipping.
export PROV_REQUIRE_POSTGRES=1
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
if [ "${PROV_SANITIZERS:-0}" != 0 ]; then
  tools/ci-sanitizers.sh "$@" || rc=1
elif [ "${PROV_FUZZ_SECONDS:-10}" -gt 0 ]; then
  tools/fuzz/run.sh "${PROV_FUZZ_SECONDS:-10}" || rc=1
fi
exit $rc
