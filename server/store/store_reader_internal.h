// Internals shared by StoreReader's query files (store_reader.cc, store_reader_fleet.cc); not for
// other users.
//
//   absl::StatusOr<...> StoreReader::Query() {
//     PROV_LEASE(db);                       // a pooled read-only connection, returned at scope end
//     PROV_ASSIGN_OR_RETURN(Statement * st, db->Cached("SELECT ..."));
//     ...
//   }
#pragma once

#include <cstdint>
#include <memory>

#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
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

}  // namespace store_internal
}  // namespace prov::server
