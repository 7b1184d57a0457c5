#!/usr/bin/env bash
# Runs every test: installs missing Debian packages, builds the release preset, runs ctest, then
# builds the fuzz targets and runs each briefly (tools/fuzz/run.sh; PROV_FUZZ_SECONDS, default 10;
# 0 skips it).
#   tools/test.sh              # all tests
#   tools/test.sh -L unit      # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-debian.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"${PROV_JOBS:-2}"
ln -sfn release/bin build/bin  # the binaries, also as build/bin/
ctest --preset release "$@"
if [ "${PROV_FUZZ_SECONDS:-10}" -gt 0 ]; then
  tools/fuzz/run.sh "${PROV_FUZZ_SECONDS:-10}"
fi
