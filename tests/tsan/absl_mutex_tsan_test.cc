// tests/tsan/absl_mutex_tsan.cc makes Debian's absl::Mutex visible to ThreadSanitizer: state
// guarded by an absl::Mutex, shared by several threads through Lock, ReaderLock, Await, LockWhen
// and a CondVar, raises no report (tsan_absl_mutex_test, `tsan` preset only; TSAN_OPTIONS
// halt_on_error makes any report fail it). Without the shim tsan reports a data race on `value`.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace {

struct Shared {
  absl::Mutex mu;
  absl::CondVar changed;
  int value ABSL_GUARDED_BY(mu) = 0;
};

TEST(AbslMutexTsan, GuardedCounterAcrossThreads) {
  Shared s;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&s] {
      for (int i = 0; i < 1000; ++i) {
        absl::MutexLock lock(&s.mu);
        ++s.value;
      }
    });
  }
  for (auto& t : threads) t.join();
  absl::ReaderMutexLock lock(&s.mu);
  EXPECT_EQ(s.value, 4000);
}

TEST(AbslMutexTsan, AwaitAndLockWhenSeeTheWriter) {
  Shared s;
  std::thread writer([&s] {
    for (int i = 0; i < 100; ++i) {
      absl::MutexLock lock(&s.mu);
      ++s.value;
    }
  });
  {
    absl::MutexLock lock(&s.mu);
    auto half = [&s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) { return s.value >= 50; };
    s.mu.Await(absl::Condition(&half));
    EXPECT_GE(s.value, 50);
  }
  auto all = [&s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) { return s.value == 100; };
  s.mu.LockWhen(absl::Condition(&all));
  EXPECT_EQ(s.value, 100);
  s.mu.Unlock();
  writer.join();
  absl::MutexLock lock(&s.mu);
  auto never = [] { return false; };
  EXPECT_FALSE(s.mu.AwaitWithTimeout(absl::Condition(&never), absl::Milliseconds(5)));
}

TEST(AbslMutexTsan, CondVarHandsOver) {
  Shared s;
  std::thread waiter([&s] {
    absl::MutexLock lock(&s.mu);
    while (s.value == 0) s.changed.Wait(&s.mu);
    s.value = 2;
    s.changed.Signal();
  });
  {
    absl::MutexLock lock(&s.mu);
    s.value = 1;
    s.changed.Signal();
    while (s.value != 2) s.changed.WaitWithTimeout(&s.mu, absl::Seconds(1));
  }
  waiter.join();
  absl::MutexLock lock(&s.mu);
  EXPECT_EQ(s.value, 2);
}

}  // namespace
