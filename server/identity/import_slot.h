// ImportSlot: one import at a time, and a queued import gives up as soon as its caller does.
//
//   if (!slot.Acquire([&] { return context->IsCancelled(); })) return Cancelled();
//   ... import ...
//   slot.Release();
//
// A plain mutex would keep a request whose client went away (deadline passed, process killed)
// queued behind a long import, and then run it for nobody: issue 14 saw 12 imports pile up so.
// A waiter re-checks `cancelled` whenever the slot is released and at least every `poll`
// (gRPC's sync API offers no callback when a call is cancelled). Thread-safe.
#pragma once

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace prov::server {

class ImportSlot {
 public:
  explicit ImportSlot(absl::Duration poll = absl::Milliseconds(50)) : poll_(poll) {}

  // True: the slot is the caller's until Release(). False: `cancelled` returned true first.
  bool Acquire(const std::function<bool()>& cancelled);
  void Release();
  // Imports waiting in Acquire (for tests and metrics).
  int waiting() const;

 private:
  const absl::Duration poll_;
  mutable absl::Mutex mu_;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace prov::server
