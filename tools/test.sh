#!/usr/bin/env bash
# Runs every test: installs missing Debian packages, builds the release preset and runs ctest, then
# the sanitizer stages named by PROV_SANITIZERS (tools/ci-sanitizers.sh, docs/ci.md):
#   asan,tsan (the default, what CI runs): one clang-14 build with ASan+UBSan that also checks
#        -Wthread-safety and builds the fuzz targets; the whole suite under it; each fuzz target
#        briefly (PROV_FUZZ_SECONDS, default 10; 0 skips the fuzzing, not the build); then the
#        suite under ThreadSanitizer, every test but those registered NO_THREADS
#   asan: the first half only
#   none: no sanitizer build; the `fuzz` preset's targets briefly instead
# Every build is a unity build (PROV_UNITY_BUILD=OFF for file by file): most of a compile is the
# same heavy headers (gRPC, protobuf, Abseil) parsed again for each file (docs/ci.md, "Unity builds").
#   tools/test.sh                          # all tests (what CI runs)
#   tools/test.sh -L unit                  # extra arguments go to every ctest run
#   PROV_SANITIZERS=asan,tsan tools/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# The PostgreSQL store tests (tests/store/pg_server.h) fail here instead of skipping.
export PROV_REQUIRE_POSTGRES=1
# So does the HAProxy test (tests/integration/haproxy_test.cc).
export PROV_REQUIRE_HAPROXY=1
# And the Patroni failover test (tests/integration/patroni_cluster.h; ctest -L patroni alone).
export PROV_REQUIRE_PATRONI=1
tools/setup-debian.sh
start=$SECONDS
cmake --preset release -DCMAKE_UNITY_BUILD="${PROV_UNITY_BUILD:-ON}" >/dev/null
cmake --build --preset release -j"${PROV_JOBS:-2}"
ln -sfn release/bin build/bin  # the binaries, also as build/bin/
echo "ci: release build took $((SECONDS - start)) s"
start=$SECONDS
rc=0
ctest --preset release "$@" || rc=$?
echo "ci: release tests took $((SECONDS - start)) s (exit $rc)"
sanitizers=${PROV_SANITIZERS:-asan,tsan}
if [ "$sanitizers" = none ]; then
  if [ "${PROV_FUZZ_SECONDS:-10}" -gt 0 ]; then
    tools/fuzz/run.sh "${PROV_FUZZ_SECONDS:-10}" || rc=1
  fi
else
  PROV_SANITIZERS=$sanitizers tools/ci-sanitizers.sh "$@" || rc=1
fi
exit $rc
