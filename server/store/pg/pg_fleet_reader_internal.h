// Internals of PgFleetReader's query files (pg_fleet_reader.cc, pg_fleet_reader_fleet.cc).
//
//   PgRow row(result, i);
//   n.set_node_id(row.Text(0));
//   n.set_last_seq(row.Int(8));
//   PROV_RETURN_IF_ERROR(row.status());   // DATA_LOSS naming the first column that did not read
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_result.h"

namespace prov::server::pg_fleet_internal {

// One row's values, remembering the first read that failed.
class PgRow {
 public:
  PgRow(const PgResult& r, int row) : r_(r), row_(row) {}
  std::string Text(int c) const { return r_.Text(row_, c); }
  bool IsNull(int c) const { return r_.IsNull(row_, c); }
  int64_t Int(int c) {
    auto v = r_.Int64(row_, c);
    return Keep(std::move(v), int64_t{0});
  }
  double Dbl(int c) {
    auto v = r_.Double(row_, c);
    return Keep(std::move(v), 0.0);
  }
  std::string Bytes(int c) {
    auto v = r_.Bytes(row_, c);
    return Keep(std::move(v), std::string());
  }
  const absl::Status& status() const { return status_; }

 private:
  template <typename T>
  T Keep(absl::StatusOr<T> v, T fallback) {
    if (v.ok()) return *std::move(v);
    if (status_.ok()) status_ = v.status();
    return fallback;
  }
  const PgResult& r_;
  const int row_;
  absl::Status status_;
};

inline void SetTime(int64_t micros, google::protobuf::Timestamp* ts) {
  *ts = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros);
}

}  // namespace prov::server::pg_fleet_internal
