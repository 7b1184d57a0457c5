#include "server/identity/import_slot.h"

namespace prov::server {

bool ImportSlot::Acquire(const std::function<bool()>& cancelled) {
  absl::MutexLock lock(&mu_);
  ++waiting_;
  const auto free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !busy_; };
  while (busy_) {
    if (cancelled && cancelled()) {
      --waiting_;
      return false;
    }
    mu_.AwaitWithTimeout(absl::Condition(&free), poll_);
  }
  --waiting_;
  busy_ = true;
  return true;
}

void ImportSlot::Release() {
  absl::MutexLock lock(&mu_);
  busy_ = false;
}

int ImportSlot::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

}  // namespace prov::server
