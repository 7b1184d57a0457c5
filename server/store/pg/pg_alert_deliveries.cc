#include "server/store/pg/pg_alert_deliveries.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<PgAlertDeliveryRepository>> PgAlertDeliveryRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/alerts",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::unique_ptr<PgAlertDeliveryRepository>(new PgAlertDeliveryRepository(std::move(conn)));
}

// Both operations are safe to repeat after a lost session (RunWithReconnect, pg_conn.h): a read,
// and an idempotent upsert whose COMMIT may or may not have landed.
absl::StatusOr<std::vector<AlertDelivery>> PgAlertDeliveryRepository::LoadFiring() {
  return RunWithReconnect(*conn_, [&] { return LoadFiringOnce(); });
}

absl::StatusOr<std::vector<AlertDelivery>> PgAlertDeliveryRepository::LoadFiringOnce() {
  PROV_ASSIGN_OR_RETURN(PgResult r,
                        conn_->Query("SELECT flag_id, labels, starts_us, revision, updated_us "
                                     "FROM alert_deliveries WHERE state = 1 ORDER BY flag_id"));
  std::vector<AlertDelivery> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    AlertDelivery d;
    d.flag_id = r.Text(i, 0);
    d.state = AlertDelivery::kFiring;
    auto labels = LabelsFromJson(r.Text(i, 1));
    if (!labels.ok()) {
      return absl::DataLossError(absl::StrCat("alert_deliveries row ", d.flag_id,
                                              ": labels: ", labels.status().message()));
    }
    d.labels = *std::move(labels);
    PROV_ASSIGN_OR_RETURN(d.starts_us, r.Int64(i, 2));
    PROV_ASSIGN_OR_RETURN(int64_t revision, r.Int64(i, 3));
    d.revision = static_cast<uint64_t>(revision);
    PROV_ASSIGN_OR_RETURN(d.updated_us, r.Int64(i, 4));
    out.push_back(std::move(d));
  }
  return out;
}

absl::Status PgAlertDeliveryRepository::Put(const std::vector<AlertDelivery>& rows) {
  if (rows.empty()) return absl::OkStatus();
  return RunWithReconnect(*conn_, [&] { return PutOnce(rows); });
}

absl::Status PgAlertDeliveryRepository::PutOnce(const std::vector<AlertDelivery>& rows) {
  return conn_->Transaction([&]() -> absl::Status {
    for (const AlertDelivery& d : rows) {
      PROV_RETURN_IF_ERROR(
          conn_
              ->Query("INSERT INTO alert_deliveries(flag_id, state, labels, starts_us, revision, "
                      "updated_us) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (flag_id) DO "
                      "UPDATE SET state = EXCLUDED.state, labels = EXCLUDED.labels, starts_us = "
                      "EXCLUDED.starts_us, revision = EXCLUDED.revision, updated_us = "
                      "EXCLUDED.updated_us",
                      {d.flag_id, static_cast<int64_t>(d.state), LabelsToJson(d.labels),
                       d.starts_us, static_cast<int64_t>(d.revision), d.updated_us})
              .status());
    }
    return absl::OkStatus();
  });
}

}  // namespace prov::server
