// SpoolStore: the raw, on-disk storage under the uplink's spool (one blob per report plus one small
// state blob). It is an interface so tests can inject faults (see tests/uplink/) and so the spool's
// bounding and ordering logic (spool.h) never touches the file system directly.
//
//   auto store = prov::agent::FileSpoolStore::Open("/var/lib/prov-agent/spool", /*fsync=*/true);
//   PROV_RETURN_IF_ERROR((*store)->Write(42, bytes));
//   PROV_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, (*store)->List());
//
// On-disk format of FileSpoolStore (one directory):
//   report-<id, 20 decimal digits>.pb   one serialized provenance.v1.NodeReport per file, written
//   to
//                                       "<name>.tmp.<pid>" and renamed (atomic; fsync when asked),
//                                       so a crash leaves either the whole file or none.
//   state                               the uplink's persistent counters as text (see spool.h),
//                                       written the same way.
//   *.tmp.*                             leftovers of a crash mid-write; Open() deletes them.
// Ids are the spool's own insertion order (not the report seq, which restarts per boot_id).
//
// Thread-safety: not thread-safe; the owner (ReportSpool, under the uplink's mutex) serialises
// calls.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::agent {

class SpoolStore {
 public:
  virtual ~SpoolStore() = default;
  // Ids of every stored report, ascending.
  virtual absl::StatusOr<std::vector<uint64_t>> List() = 0;
  virtual absl::Status Write(uint64_t id, absl::string_view data) = 0;
  virtual absl::StatusOr<std::string> Read(uint64_t id) = 0;
  // Removing an id that is not there is OK.
  virtual absl::Status Remove(uint64_t id) = 0;
  // nullopt when no state was ever written.
  virtual absl::StatusOr<std::optional<std::string>> ReadState() = 0;
  virtual absl::Status WriteState(absl::string_view data) = 0;
};

class FileSpoolStore final : public SpoolStore {
 public:
  // Creates the directory if missing and deletes leftover temporary files.
  static absl::StatusOr<std::unique_ptr<FileSpoolStore>> Open(std::string dir, bool fsync);

  absl::StatusOr<std::vector<uint64_t>> List() override;
  absl::Status Write(uint64_t id, absl::string_view data) override;
  absl::StatusOr<std::string> Read(uint64_t id) override;
  absl::Status Remove(uint64_t id) override;
  absl::StatusOr<std::optional<std::string>> ReadState() override;
  absl::Status WriteState(absl::string_view data) override;

  static std::string FileName(uint64_t id);

 private:
  FileSpoolStore(std::string dir, bool fsync) : dir_(std::move(dir)), fsync_(fsync) {}
  std::string dir_;
  bool fsync_;
};

}  // namespace prov::agent
