// PgAlertDeliveryRepository: the alert-delivery log (repo/alert_deliveries.h) in PostgreSQL,
// table provd.alert_deliveries (pg_schema.cc, PostgreSQL version 1).
//
//   PROV_ASSIGN_OR_RETURN(auto log, PgAlertDeliveryRepository::Open(url.pg_conninfo));
//
// Open connects (application_name provd/alerts, search_path provd) and migrates the schema
// under the migration lock, as the SQLite repository's Open does. It keeps that one connection.
// When the server dropped it (a restart, a Patroni failover, an idle timeout) or it landed on a
// read-only server (25006, a standby), a call runs once more on a new session (both are safe to
// repeat: a read, and an idempotent upsert whose COMMIT may or may not have landed), so a call
// fails UNAVAILABLE only while no writable server answers. A server that vanished without
// closing TCP is noticed by the keepalives / tcp_user_timeout, and a stuck statement by
// statement_timeout (PgConnOptions defaults: about a minute), so no call blocks for hours. Put is
// one transaction, retried by the caller (the notifier) on any error. Thread-compatible.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/store/pg/pg_conn.h"
#include "server/store/repo/alert_deliveries.h"

namespace prov::server {

class PgAlertDeliveryRepository : public AlertDeliveryRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgAlertDeliveryRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));

  absl::StatusOr<std::vector<AlertDelivery>> LoadFiring() override;
  absl::Status Put(const std::vector<AlertDelivery>& rows) override;

 private:
  explicit PgAlertDeliveryRepository(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  absl::StatusOr<std::vector<AlertDelivery>> LoadFiringOnce();
  absl::Status PutOnce(const std::vector<AlertDelivery>& rows);
  std::unique_ptr<PgConn> conn_;
};

}  // namespace prov::server
