// FaultyStore: a FileSpoolStore wrapper whose writes can be made to fail (disk full, EIO).
#pragma once

#include "agent/uplink/spool_store.h"

namespace prov::testing {

class FaultyStore final : public agent::SpoolStore {
 public:
  explicit FaultyStore(const std::string& dir)
      : inner_(*agent::FileSpoolStore::Open(dir, /*fsync=*/false)) {}
  bool fail_writes = false;
  bool fail_state = false;

  absl::StatusOr<std::vector<uint64_t>> List() override { return inner_->List(); }
  absl::Status Write(uint64_t id, absl::string_view data) override {
    if (fail_writes) return absl::ResourceExhaustedError("injected: no space left on device");
    return inner_->Write(id, data);
  }
  absl::StatusOr<std::string> Read(uint64_t id) override { return inner_->Read(id); }
  absl::Status Remove(uint64_t id) override { return inner_->Remove(id); }
  absl::StatusOr<std::optional<std::string>> ReadState() override { return inner_->ReadState(); }
  absl::Status WriteState(absl::string_view data) override {
    if (fail_state) return absl::UnavailableError("injected: state write failed");
    return inner_->WriteState(data);
  }

 private:
  std::unique_ptr<agent::FileSpoolStore> inner_;
};

}  // namespace prov::testing
