#include "server/store/sqlite/sqlite_alert_deliveries.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/schema.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<SqliteAlertDeliveryRepository>> SqliteAlertDeliveryRepository::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout=10000"));
  PROV_RETURN_IF_ERROR(ConfigureWriter(*db));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return std::unique_ptr<SqliteAlertDeliveryRepository>(
      new SqliteAlertDeliveryRepository(std::move(db)));
}

absl::StatusOr<std::vector<AlertDelivery>> SqliteAlertDeliveryRepository::LoadFiring() {
  PROV_ASSIGN_OR_RETURN(auto st,
                        db_->Prepare("SELECT flag_id, labels, starts_us, revision, updated_us FROM "
                                     "alert_deliveries WHERE state = 1 ORDER BY flag_id"));
  std::vector<AlertDelivery> out;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    AlertDelivery d;
    d.flag_id = st->ColumnText(0);
    d.state = AlertDelivery::kFiring;
    auto labels = LabelsFromJson(st->ColumnText(1));
    if (!labels.ok()) {
      return absl::DataLossError(absl::StrCat("alert_deliveries row ", d.flag_id,
                                              ": labels: ", labels.status().message()));
    }
    d.labels = *std::move(labels);
    d.starts_us = st->ColumnInt64(2);
    d.revision = static_cast<uint64_t>(st->ColumnInt64(3));
    d.updated_us = st->ColumnInt64(4);
    out.push_back(std::move(d));
  }
  return out;
}

absl::Status SqliteAlertDeliveryRepository::Put(const std::vector<AlertDelivery>& rows) {
  if (rows.empty()) return absl::OkStatus();
  PROV_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status = [&]() -> absl::Status {
    PROV_ASSIGN_OR_RETURN(
        Statement * st,
        db_->Cached("INSERT INTO alert_deliveries(flag_id, state, labels, starts_us, revision, "
                    "updated_us) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(flag_id) DO UPDATE SET "
                    "state = excluded.state, labels = excluded.labels, starts_us = "
                    "excluded.starts_us, revision = excluded.revision, updated_us = "
                    "excluded.updated_us"));
    for (const AlertDelivery& d : rows) {
      st->BindText(1, d.flag_id);
      st->BindInt64(2, d.state);
      st->BindText(3, LabelsToJson(d.labels));
      st->BindInt64(4, d.starts_us);
      st->BindInt64(5, static_cast<int64_t>(d.revision));
      st->BindInt64(6, d.updated_us);
      absl::Status run = st->Run();
      st->Reset();
      PROV_RETURN_IF_ERROR(run);
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    (void)db_->Exec("ROLLBACK");
    return status;
  }
  // A failed COMMIT (SQLITE_BUSY, an I/O error) can leave the transaction open, and every later
  // BEGIN IMMEDIATE would then fail: roll it back (harmless when SQLite already did).
  absl::Status commit = db_->Exec("COMMIT");
  if (!commit.ok()) (void)db_->Exec("ROLLBACK");
  return commit;
}

}  // namespace prov::server
