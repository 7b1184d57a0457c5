#!/bin/sh
# no_threads_guard_test: the guard lets a process that starts no thread run, and stops one that
# does, naming it. Usage: guard_test.sh GUARD_SO THREAD_STARTER
set -u
guard=$1 starter=$2
out=$("$starter" 2>&1) || { echo "FAIL: without the guard the starter failed: $out"; exit 1; }
[ "$out" = joined ] || { echo "FAIL: without the guard: '$out'"; exit 1; }
out=$(LD_PRELOAD=$guard /bin/true 2>&1) || { echo "FAIL: the guard stopped /bin/true: $out"; exit 1; }
if out=$(LD_PRELOAD=$guard "$starter" 2>&1); then
  echo "FAIL: the guard let a thread start: '$out'"; exit 1
fi
case $out in
  *"no_threads_guard: "*"started a thread"*NO_THREADS*) ;;
  *) echo "FAIL: the guard's message is missing: '$out'"; exit 1 ;;
esac
case $out in
  *joined*) echo "FAIL: the thread ran: '$out'"; exit 1 ;;
esac
echo "PASS: the guard stops the first thread and says why"
