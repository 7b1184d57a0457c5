#!/usr/bin/env bash
# ctest `fuzz_corpus_test`: replays each fuzz target's seed corpus once with the standalone
# driver (replay_main.cc) of the normal build, or, with --libfuzzer, with the libFuzzer driver of
# a PROV_FUZZ build (-runs=0: each seed once, nothing mutated, nothing written). Fails when a
# target is missing, has no corpus, or fails on any input.
#   tests/fuzz/replay_corpora.sh [--libfuzzer] BIN_DIR CORPUS_ROOT target...
set -euo pipefail
driver_args=()
if [ "${1:-}" = --libfuzzer ]; then
  driver_args=(-runs=0)
  shift
fi
bin_dir=$1 corpus_root=$2
shift 2
failed=0
for t in "$@"; do
  if [ ! -d "$corpus_root/$t" ]; then
    echo "fuzz_corpus_test: no corpus for $t ($corpus_root/$t)" >&2
    failed=1
    continue
  fi
  "$bin_dir/fuzz_$t" "${driver_args[@]}" "$corpus_root/$t" || { echo "fuzz_corpus_test: fuzz_$t failed" >&2; failed=1; }
done
exit $failed
