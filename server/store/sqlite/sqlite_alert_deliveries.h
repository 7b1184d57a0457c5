// SqliteAlertDeliveryRepository: the alert-delivery log (repo/alert_deliveries.h) in provd's
// SQLite file, on a read-write connection of its own (busy_timeout 10 s, WAL).
//
//   PROV_ASSIGN_OR_RETURN(auto log, SqliteAlertDeliveryRepository::Open(data_dir + "/provd.db"));
//
// Open migrates the schema (a no-op once provd's store has). Thread-compatible.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/store/repo/alert_deliveries.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteAlertDeliveryRepository : public AlertDeliveryRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteAlertDeliveryRepository>> Open(
      const std::string& db_path);

  absl::StatusOr<std::vector<AlertDelivery>> LoadFiring() override;
  absl::Status Put(const std::vector<AlertDelivery>& rows) override;

 private:
  explicit SqliteAlertDeliveryRepository(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace prov::server
