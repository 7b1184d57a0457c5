#include "server/export/export_setup.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs.h"
#include "common/status_macros.h"
#include "server/export/signing_key.h"

namespace prov::server {
namespace {

absl::Status Named(absl::string_view option, const absl::Status& s) {
  return absl::Status(
      s.code() == absl::StatusCode::kNotFound ? absl::StatusCode::kInvalidArgument : s.code(),
      absl::StrCat(option, ": ", s.message()));
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDurationWithDays(absl::string_view text) {
  absl::Duration d;
  int64_t days = 0;
  if (absl::ConsumeSuffix(&text, "d")) {
    if (!absl::SimpleAtoi(text, &days) || days < 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "d' is not a number of days"));
    }
    return absl::Hours(24) * days;
  }
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a duration (1826d, 24h, 90m, 0)"));
  }
  return d;
}

absl::StatusOr<std::unique_ptr<ExportSetup>> ExportSetup::Start(ExportSetupOptions o) {
  if (o.clock == nullptr) return absl::InvalidArgumentError("exports: a clock is required");
  const bool default_key = o.key_file.empty();
  const std::string key_path =
      default_key ? JoinPath(o.data_dir, "export-signing.key") : o.key_file;
  absl::StatusOr<integrity::SigningKey> key = LoadOrCreateSigningKey(key_path, default_key);
  if (!key.ok()) return Named("export_signing_key", key.status());

  std::unique_ptr<ExportSetup> s(new ExportSetup());
  ExporterOptions eo;
  eo.db_path = o.db_path;
  eo.export_dir = o.export_dir.empty() ? JoinPath(o.data_dir, "exports") : o.export_dir;
  eo.key = *std::move(key);
  eo.clock = o.clock;
  eo.policy_version = o.policy_version;
  eo.retention = o.retention;
  eo.location = o.location;
  absl::StatusOr<std::unique_ptr<Exporter>> exporter;
  if (o.backend != nullptr) {
    PROV_ASSIGN_OR_RETURN(std::unique_ptr<ExportRepository> records, o.backend->OpenExports());
    PROV_ASSIGN_OR_RETURN(std::unique_ptr<ExportSnapshotSource> snapshots,
                          o.backend->OpenExportSnapshots());
    exporter = Exporter::Create(std::move(eo), std::move(records), std::move(snapshots));
  } else {
    exporter = Exporter::Open(std::move(eo));
  }
  if (!exporter.ok()) return Named("export_dir", exporter.status());
  s->exporter_ = *std::move(exporter);
  if (o.retention > absl::ZeroDuration()) {
    if (o.backend != nullptr) {
      PROV_ASSIGN_OR_RETURN(std::unique_ptr<RetentionRepository> retention,
                            o.backend->OpenRetention());
      PROV_ASSIGN_OR_RETURN(s->pruner_,
                            RetentionPruner::Create(std::move(retention), *o.clock, o.retention));
    } else {
      PROV_ASSIGN_OR_RETURN(s->pruner_, RetentionPruner::Open(o.db_path, *o.clock, o.retention));
    }
  }
  ExportScheduler::Options so;
  so.export_interval = o.interval;
  s->scheduler_ =
      std::make_unique<ExportScheduler>(s->exporter_.get(), s->pruner_.get(), *o.clock, so);
  s->service_ = std::make_unique<ExportServiceImpl>(*s->exporter_, o.auth);
  s->scheduled_ = o.interval > absl::ZeroDuration() || s->pruner_ != nullptr;
  if (o.start_scheduler) s->StartScheduler();
  return s;
}

void ExportSetup::StartScheduler() {
  if (scheduled_ && scheduler_ != nullptr) scheduler_->Start();
}

void ExportSetup::Stop() {
  if (scheduler_ != nullptr) scheduler_->Stop();
}

}  // namespace prov::server
