#!/usr/bin/env bash
# Fails (exit 1) and lists the files that clang-format would change. Run as a ctest test too.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 1; }
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: clang-format -i $f)"
    bad=1
  fi
done < <(git ls-files '*.cc' '*.h' '*.c')
[ $bad -eq 0 ] && echo "format: all files clean"
exit $bad
