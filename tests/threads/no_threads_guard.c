// Preloaded (LD_PRELOAD) into every test registered with prov_add_test(... NO_THREADS) in the
// builds without a sanitizer (the release stage of CI), and into every process such a test starts.
// A NO_THREADS test is not built under ThreadSanitizer, which cannot report a race in a process
// that never starts a second thread; this guard proves the claim on every CI run: the first
// pthread_create aborts the process with the reason, so the test fails and its NO_THREADS must go.
// (std::thread, gRPC's and Abseil's threads all start through pthread_create.)
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                   void* arg) {
  (void)thread;
  (void)attr;
  (void)start;
  (void)arg;
  char exe[PATH_MAX] = "?";
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = '\0';
  fprintf(stderr,
          "no_threads_guard: %s (pid %d) started a thread, but its test is registered with "
          "prov_add_test(... NO_THREADS), which keeps it out of the tsan build; drop NO_THREADS "
          "(cmake/ProvHelpers.cmake)\n",
          exe, (int)getpid());
  abort();
}
