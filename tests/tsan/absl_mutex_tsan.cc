// ThreadSanitizer annotations for Debian's prebuilt absl::Mutex, linked into every executable of
// the `tsan` preset (PROV_TSAN=ON; cmake/TsanAbsl.cmake) and nowhere else.
//
// Why: Debian's libabsl_synchronization.so is not built with -fsanitize=thread, so ThreadSanitizer
// cannot see its lock and unlock (plain atomics and futexes inside an uninstrumented library) and
// would report every access to an ABSL_GUARDED_BY member from two threads as a data race. Abseil's
// own tsan build calls the __tsan_mutex_* hooks inside mutex.cc; this file does the same from
// outside: it defines the library's exported absl::Mutex / absl::CondVar member functions again, so
// the executable's definitions interpose on the shared library's (for our code and for gRPC's
// calls alike), tells tsan what happened, and calls the real function, found by its mangled name
// with dlsym(RTLD_NEXT).
//
// The conditional waits (Await, LockWhen and their timeouts) are the exception: the real ones
// evaluate the caller's absl::Condition inside the library, at moments tsan cannot be told about
// (another thread's Unlock evaluates it on the waiter's behalf). Here they poll instead: evaluate
// the condition while holding the (annotated) lock, otherwise unlock, sleep 1 ms and lock again,
// until it holds or the deadline passes. Same contract as absl's (the condition is true and the
// lock held on return, or the deadline passed), slower to wake; used only in the tsan build. They
// assume the lock is held in writer mode, as every caller in this project and in gRPC 1.51 holds
// it.
//
// Thread-safety: every function is safe to call from any thread, like the functions it wraps.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace {

// The real library function `symbol` (a mangled name), looked up once per call site; aborts if the
// library lacks it (an Abseil other than Debian 12's 20220623, whose inline namespace is debian3).
template <typename Fn>
Fn Real(const char* symbol) {
  void* fn = dlsym(RTLD_NEXT, symbol);
  if (fn == nullptr) {
    std::fprintf(stderr, "absl_mutex_tsan: %s not found in the shared Abseil\n", symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

using MuFn = void (*)(void*);
using MuTryFn = bool (*)(void*);

// Tells tsan that `mu` was released and taken again inside the library (a CondVar wait).
void ReleasedInside(void* mu) {
  __tsan_mutex_pre_unlock(mu, 0);
  __tsan_mutex_post_unlock(mu, 0);
}
void RetakenInside(void* mu) {
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
}

// Waits, holding `mu` in writer mode, until `cond` holds or `deadline` passes; returns `cond`.
bool PollUntil(absl::Mutex* mu, const absl::Condition& cond, absl::Time deadline) {
  while (!cond.Eval()) {
    if (absl::Now() >= deadline) return false;
    mu->Unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    mu->Lock();
  }
  return true;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

// ~Mutex is not wrapped: tsan forgets a lock's state when its memory is freed, and a
// __tsan_mutex_destroy here would be a write that races with gRPC's own lock of a mutex inside an
// object whose lifetime gRPC ends through an (uninstrumented) atomic reference count.

void Mutex::Lock() {
  static const auto real = Real<MuFn>("_ZN4absl7debian35Mutex4LockEv");
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::Unlock() {
  static const auto real = Real<MuFn>("_ZN4absl7debian35Mutex6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

bool Mutex::TryLock() {
  static const auto real = Real<MuTryFn>("_ZN4absl7debian35Mutex7TryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed),
                         0);
  return locked;
}

void Mutex::ReaderLock() {
  static const auto real = Real<MuFn>("_ZN4absl7debian35Mutex10ReaderLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<MuFn>("_ZN4absl7debian35Mutex12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<MuTryFn>("_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const unsigned flags = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(this, flags);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

// The conditional waits poll (see the top of the file).
void Mutex::Await(const Condition& cond) { PollUntil(this, cond, absl::InfiniteFuture()); }

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  return PollUntil(this, cond, absl::Now() + timeout);
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  return PollUntil(this, cond, deadline);
}

void Mutex::LockWhen(const Condition& cond) {
  Lock();
  PollUntil(this, cond, absl::InfiniteFuture());
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  Lock();
  return PollUntil(this, cond, absl::Now() + timeout);
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  Lock();
  return PollUntil(this, cond, deadline);
}

// Every CondVar wait (Wait, WaitWithTimeout, WaitWithDeadline) ends in WaitCommon, which releases
// and retakes `mu` inside the library.
bool CondVar::WaitCommon(Mutex* mu, synchronization_internal::KernelTimeout t) {
  using Fn = bool (*)(void*, Mutex*, synchronization_internal::KernelTimeout);
  static const auto real = Real<Fn>(
      "_ZN4absl7debian37CondVar10WaitCommonEPNS0_5MutexENS0_24synchronization_"
      "internal13KernelTimeoutE");
  ReleasedInside(mu);
  bool timed_out = real(this, mu, t);
  RetakenInside(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
