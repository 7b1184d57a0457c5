// AlertDeliveryLog: what the alert notifier last told Alertmanager about each flag, in provd's
// SQLite database (table `alert_deliveries`, server/store/SCHEMA.md).
//
//   PROV_ASSIGN_OR_RETURN(auto log, AlertDeliveryLog::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(auto firing, log->LoadFiring());      // at start-up
//   PROV_RETURN_IF_ERROR(log->Put({row, ...}));                 // ONE transaction per call
//
// Why only this is stored: firing alerts are derived from the flags (persistent) and re-posted
// after every restart. What the flags cannot say is whether a flag that is no longer firing
// (resolved case, lower severity, merged away) still has an alert open in Alertmanager; a row
// in state kFiring whose flag no longer fires is a resolution still to deliver, even when provd
// or Alertmanager was down when the case was closed. A row is written as kFiring BEFORE the
// first post of a label set (so a crash after the post cannot forget it) and becomes kResolved
// once every configured Alertmanager accepted the resolution.
// Thread-compatible: one thread (the notifier's) uses it, on its own read-write connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/sqlite.h"

namespace prov::server {

using AlertLabels = std::map<std::string, std::string>;

struct AlertDelivery {
  enum State { kFiring = 1, kResolved = 2 };
  std::string flag_id;
  State state = kFiring;
  AlertLabels labels;      // the label set Alertmanager knows the alert by
  int64_t starts_us = 0;   // startsAt posted with it
  uint64_t revision = 0;   // the flag's revision at this state change
  int64_t updated_us = 0;  // when this row was written (notifier clock)
};

class AlertDeliveryLog {
 public:
  static absl::StatusOr<std::unique_ptr<AlertDeliveryLog>> Open(const std::string& db_path);

  // Rows in state kFiring (alerts Alertmanager may hold as firing).
  absl::StatusOr<std::vector<AlertDelivery>> LoadFiring();
  // Upserts by flag_id, all in one transaction.
  absl::Status Put(const std::vector<AlertDelivery>& rows);

 private:
  explicit AlertDeliveryLog(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  std::unique_ptr<SqliteDb> db_;
};

// Labels as a compact JSON object and back (INVALID_ARGUMENT for anything else).
std::string LabelsToJson(const AlertLabels& labels);
absl::StatusOr<AlertLabels> LabelsFromJson(const std::string& json);

}  // namespace prov::server
