// Internals shared by StoreReader's query files (store_reader.cc, store_reader_fleet.cc) and the
// inventory's (inventory_store.cc, inventory_view.cc); not for other users.
//
//   absl::StatusOr<...> StoreReader::Query() {
//     PROV_LEASE(db);                       // a pooled read-only connection, returned at scope end
//     PROV_ASSIGN_OR_RETURN(Statement * st, db->Cached("SELECT ..."));
//     ...
//   }
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "provenance/v1/inventory.pb.h"
#include "server/store/sqlite.h"
#include "server/store/store_reader.h"

namespace prov::server {

// Returns the connection to the pool when it goes out of scope.
class StoreReader::Lease {
 public:
  Lease(StoreReader* owner, std::unique_ptr<SqliteDb> db) : owner_(owner), db_(std::move(db)) {}
  ~Lease() { owner_->Release(std::move(db_)); }
  SqliteDb& operator*() { return *db_; }
  SqliteDb* operator->() { return db_.get(); }

 private:
  StoreReader* owner_;
  std::unique_ptr<SqliteDb> db_;
};

#define PROV_LEASE(name)                            \
  PROV_ASSIGN_OR_RETURN(auto name##_db, Acquire()); \
  Lease name(this, std::move(name##_db))

namespace store_internal {

inline void SetTime(int64_t micros, google::protobuf::Timestamp* ts) {
  *ts = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros);
}

// Runs `st` (reset afterwards) and calls `each(Statement&)` for every row until one fails.
template <typename Each>
absl::Status ForEachRow(Statement& st, Each each) {
  absl::Status status;
  while (true) {
    absl::StatusOr<bool> row = st.Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) break;
    status = each(st);
    if (!status.ok()) break;
  }
  st.Reset();
  return status;
}

// Columns declared, version, imported_at_us (from first_column) -> entry; a blob that no longer
// parses is DATA_LOSS naming its version (inventory_store.cc).
absl::Status ReadInventoryEntry(Statement& st, int first_column,
                                provenance::v1::InventoryEntry* entry);

}  // namespace store_internal
}  // namespace prov::server
