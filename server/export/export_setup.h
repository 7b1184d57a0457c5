// ExportSetup: provd's audit-export components, wired (ProvdServer owns one).
//
//   ExportSetupOptions o;
//   o.db_path = store.path();  // or o.backend = backend.get() (either engine)
//   o.data_dir = data_dir;  o.clock = &clock;  o.auth = &auth;
//   o.policy_version = [&] { return engine.Read([](const Analyzer& a) { return a.policy().version;
//   }); }; PROV_ASSIGN_OR_RETURN(auto exports, ExportSetup::Start(std::move(o)));
//   builder.RegisterService(exports->service());
//   exports->Stop();   // at shutdown: joins the scheduler thread (a running export finishes)
//
// The signing key is <data_dir>/export-signing.key (created on first use, 0600, with
// export-signing.pub beside it) unless key_file names an existing key; exports go to
// <data_dir>/exports unless export_dir is set. Errors name the option (key_file, export_dir).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/access/authenticator.h"
#include "server/export/export_scheduler.h"
#include "server/export/export_service.h"
#include "server/export/exporter.h"
#include "server/export/retention.h"
#include "server/store/store_backend.h"

namespace prov::server {

// "1826d" (days), or anything absl::ParseDuration takes ("24h", "90m", "0"); negative refused.
// For provd --retention and --export-interval.
absl::StatusOr<absl::Duration> ParseDurationWithDays(absl::string_view text);

struct ExportSetupOptions {
  std::string db_path;              // SQLite, when backend is null
  StoreBackend* backend = nullptr;  // set: exports, snapshots and retention on its engine
  std::string data_dir;
  std::string export_dir;  // empty: <data_dir>/exports
  std::string key_file;    // empty: <data_dir>/export-signing.key (created on first use)
  absl::Duration interval = absl::Hours(24);          // zero: no scheduled exports
  absl::Duration retention = absl::Hours(24 * 1826);  // zero: keep every record
  const Clock* clock = nullptr;                       // required
  const Authenticator* auth = nullptr;
  std::function<std::string()> policy_version;
  // false: nothing scheduled until StartScheduler() (provd: while it leads), or tests drive
  // scheduler()->Tick()
  bool start_scheduler = true;
  std::shared_ptr<const ExportLocation> location;  // null: no location_* files
};

class ExportSetup {
 public:
  static absl::StatusOr<std::unique_ptr<ExportSetup>> Start(ExportSetupOptions options);
  ~ExportSetup() { Stop(); }
  // Scheduled exports and retention (when either is configured): the leader's (provd starts them
  // when elected and stops them when deposed). Start after Stop works.
  void StartScheduler();
  void StopScheduler() { Stop(); }
  void Stop();

  Exporter& exporter() { return *exporter_; }
  ExportScheduler& scheduler() { return *scheduler_; }
  ExportServiceImpl* service() { return service_.get(); }

 private:
  ExportSetup() = default;
  std::unique_ptr<Exporter> exporter_;
  std::unique_ptr<RetentionPruner> pruner_;  // null when retention is zero
  std::unique_ptr<ExportScheduler> scheduler_;
  std::unique_ptr<ExportServiceImpl> service_;
  bool scheduled_ = false;  // an interval or a retention is configured
};

}  // namespace prov::server
