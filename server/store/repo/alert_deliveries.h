// AlertDeliveryRepository: what the alert notifier last told Alertmanager about each flag
// (table `alert_deliveries`, server/store/SCHEMA.md), on either engine:
// SqliteAlertDeliveryRepository (server/store/sqlite/) or PgAlertDeliveryRepository
// (server/store/pg/). tests/store/alert_deliveries_conformance_test.cc holds both to the same
// behaviour.
//
//   PROV_ASSIGN_OR_RETURN(auto log, SqliteAlertDeliveryRepository::Open(data_dir + "/provd.db"));
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
// Thread-compatible: one thread (the notifier's) uses a repository, on its own connection.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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

class AlertDeliveryRepository {
 public:
  virtual ~AlertDeliveryRepository() = default;
  // Rows in state kFiring (alerts Alertmanager may hold as firing), by flag_id in byte order.
  // DATA_LOSS naming the flag when a row's labels are not a JSON object of strings.
  virtual absl::StatusOr<std::vector<AlertDelivery>> LoadFiring() = 0;
  // Upserts by flag_id, all in one transaction (all rows or none).
  virtual absl::Status Put(const std::vector<AlertDelivery>& rows) = 0;
};

// Labels as a compact JSON object and back (INVALID_ARGUMENT for anything else).
std::string LabelsToJson(const AlertLabels& labels);
absl::StatusOr<AlertLabels> LabelsFromJson(const std::string& json);

}  // namespace prov::server
