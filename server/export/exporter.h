// Exporter: writes one signed audit export (docs/export-format.md) from ONE consistent read
// snapshot of provd.db, chains it to the previous export and records it.
//
//   ExporterOptions o;
//   o.db_path = data_dir + "/provd.db";
//   o.export_dir = data_dir + "/exports";
//   o.key = *LoadOrCreateSigningKey(data_dir + "/export-signing.key");
//   o.clock = &clock;
//   o.policy_version = [&] { return engine.Read([](const Analyzer& a) { return a.policy().version;
//   }); }; PROV_ASSIGN_OR_RETURN(auto exporter, Exporter::Open(std::move(o)));
//   // or on any engine (server/store/repo/exports.h, repo/export_snapshot.h):
//   //   Exporter::Create(std::move(o), std::move(records), std::move(snapshots))
//   PROV_ASSIGN_OR_RETURN(ExportResult r, exporter->Run("request", "token:alice", on_progress));
//   r.summary.server_path();   // <export_dir>/<export_id>, complete and sealed
//
// Steps of Run: ExportRepository::BeginChain (the newest export, which the new one chains to;
// on PostgreSQL under the chain lock, held until the row is recorded, so replicas' exports chain
// one after the other); ExportSnapshotSource::Begin (SQLite: a read transaction, a WAL snapshot;
// PostgreSQL: REPEATABLE READ, READ ONLY: every table as of one instant, while ingest and
// analysis go on writing); each table streamed row by row into
// <export_dir>/.tmp-<id>/ (CSV + JSON Lines); manifest.json + manifest.sig (integrity::
// SealExportDir) whose metadata records the audit head (seq, hash) read in the snapshot, the KYC,
// screening-list and policy versions, provd's version, the records' time range and row counts,
// and whose previous_manifest_sha256 is the newest recorded export's; rename to
// <export_dir>/<id>; then ExportChain::Record: ONE write transaction inserts the `exports` row and
// appends the "export" audit entry. A crash leaves either a `.tmp-*` folder or a complete, sealed
// folder that was never recorded; the next Open removes both (the latter with a line on stderr), so
// after a restart an export is fully there (folder, `exports` row, audit entry) or not at all.
//
// Thread-safety: Run, List and LastExportTime may be called from any thread; exports run one at
// a time (a mutex), so two never chain to the same predecessor.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/integrity/ed25519.h"
#include "common/integrity/manifest.h"
#include "provenance/v1/compliance.pb.h"
#include "server/store/repo/export_snapshot.h"
#include "server/store/repo/exports.h"

namespace prov::server {

// Location verification's configured facts (provd --location-config): what the export's
// location_landmarks and location_sites files hold. Null in ExporterOptions: location is off and
// none of the five location_* files is written.
struct ExportLocation {
  struct Point {
    std::string id;
    double lat = 0, lon = 0;
    std::string region;
    std::string public_key;  // landmarks: raw Ed25519 (32 bytes)
  };
  std::vector<Point> landmarks, sites;
};

struct ExporterOptions {
  std::string db_path;
  std::string export_dir;
  integrity::SigningKey key;
  const Clock* clock = nullptr;                     // required
  std::function<std::string()> policy_version;      // the policy in force; null: ""
  absl::Duration retention = absl::ZeroDuration();  // recorded in the manifest (0: keep forever)
  std::shared_ptr<const ExportLocation> location;   // null: no location_* files
};

using ExportProgressFn = std::function<void(const provenance::v1::ExportProgress&)>;

// What /metrics shows about exports (server/export/export_metrics.h).
struct ExportStats {
  struct Trigger {
    uint64_t exports = 0;
    int64_t last_us = 0;
  };
  std::map<std::string, Trigger> by_trigger;  // "schedule", "request": recorded exports
  uint64_t failures = 0;                      // runs that failed since start
  double last_duration_seconds = 0;           // of the last successful run
};

struct ExportResult {
  provenance::v1::ExportSummary summary;
  integrity::Manifest manifest;
};

class Exporter {
 public:
  // Creates export_dir and removes `.tmp-*` folders a crashed export left there. SQLite:
  // options.db_path.
  static absl::StatusOr<std::unique_ptr<Exporter>> Open(ExporterOptions options);
  // The same on the given engine's repositories (options.db_path unused).
  static absl::StatusOr<std::unique_ptr<Exporter>> Create(
      ExporterOptions options, std::unique_ptr<ExportRepository> records,
      std::unique_ptr<ExportSnapshotSource> snapshots);

  // trigger: "schedule" or "request"; actor: who asked ("provd" for the scheduler).
  absl::StatusOr<ExportResult> Run(const std::string& trigger, const std::string& actor,
                                   const ExportProgressFn& progress = nullptr);
  // Recorded exports, oldest first.
  absl::StatusOr<std::vector<provenance::v1::ExportSummary>> List();
  // When the newest export with this trigger ("" = any) was made; nullopt when none.
  absl::StatusOr<std::optional<absl::Time>> LastExportTime(const std::string& trigger);
  absl::StatusOr<ExportStats> Stats();
  const integrity::SigningKey& key() const { return options_.key; }
  const std::string& export_dir() const { return options_.export_dir; }

 private:
  Exporter(ExporterOptions options, std::unique_ptr<ExportRepository> records,
           std::unique_ptr<ExportSnapshotSource> snapshots)
      : options_(std::move(options)),
        records_(std::move(records)),
        snapshots_(std::move(snapshots)) {}
  absl::StatusOr<ExportResult> RunLocked(const std::string& trigger, const std::string& actor,
                                         const ExportProgressFn& progress)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ExporterOptions options_;
  absl::Mutex mu_;
  // Thread-safe; List, LastExportTime and Stats answer while an export runs (Run holds mu_ for
  // its whole length).
  const std::unique_ptr<ExportRepository> records_;
  const std::unique_ptr<ExportSnapshotSource> snapshots_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> failures_{0};
  std::atomic<double> last_duration_seconds_{0};
};

}  // namespace prov::server
