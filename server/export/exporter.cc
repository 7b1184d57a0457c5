#include "server/export/exporter.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/log/log.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "google/protobuf/util/time_util.h"
#include "server/auditlog/audit_log.h"
#include "server/export/export_tables.h"
#include "server/store/sqlite/sqlite_exports.h"

namespace prov::server {
namespace {

namespace fs = std::filesystem;
using provenance::v1::ExportSummary;

constexpr char kTmpPrefix[] = ".tmp-";

absl::StatusOr<std::string> QueryText(ExportSnapshot& snapshot, const std::string& sql) {
  PROV_ASSIGN_OR_RETURN(auto c, snapshot.Query(sql));
  PROV_ASSIGN_OR_RETURN(bool row, c->Next());
  return row && !c->IsNull(0) ? c->Text(0) : std::string();
}

// "20261202T000000Z" or "20261202T000000Z-2": the names Run gives export folders.
bool LooksLikeExportId(absl::string_view name) {
  if (name.size() < 16 || name[8] != 'T' || name[15] != 'Z') return false;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !absl::ascii_isdigit(static_cast<unsigned char>(name[i]))) return false;
  }
  if (name.size() == 16) return true;
  if (name[16] != '-' || name.size() == 17) return false;
  for (size_t i = 17; i < name.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(name[i]))) return false;
  }
  return true;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

absl::Status FsError(const std::error_code& ec, absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", ec.message()));
}

void SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Exporter>> Exporter::Open(ExporterOptions options) {
  if (options.clock == nullptr) return absl::InvalidArgumentError("exporter: clock is required");
  if (options.key.secret_key.size() != 64) {
    return absl::InvalidArgumentError("exporter: a signing key is required");
  }
  PROV_ASSIGN_OR_RETURN(auto records, SqliteExportRepository::Open(options.db_path));
  PROV_ASSIGN_OR_RETURN(auto snapshots, SqliteExportSnapshotSource::Open(options.db_path));
  return Create(std::move(options), std::move(records), std::move(snapshots));
}

absl::StatusOr<std::unique_ptr<Exporter>> Exporter::Create(
    ExporterOptions options, std::unique_ptr<ExportRepository> records,
    std::unique_ptr<ExportSnapshotSource> snapshots) {
  if (options.clock == nullptr) return absl::InvalidArgumentError("exporter: clock is required");
  if (options.key.secret_key.size() != 64) {
    return absl::InvalidArgumentError("exporter: a signing key is required");
  }
  if (records == nullptr || snapshots == nullptr) {
    return absl::InvalidArgumentError("exporter: a repository and a snapshot source are required");
  }
  PROV_RETURN_IF_ERROR(CreateDirectories(options.export_dir));
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(options.export_dir, ec)) {
    if (absl::StartsWith(e.path().filename().string(), kTmpPrefix)) fs::remove_all(e.path(), ec);
  }
  // A sealed folder a crash left between its rename and its recording transaction is not an
  // export (no row, no audit entry, nothing chains to it): take it away, so that after a restart
  // an export is either fully there (folder, row and audit entry) or not at all.
  for (const fs::directory_entry& e : fs::directory_iterator(options.export_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory(ec) || !LooksLikeExportId(name)) continue;
    PROV_ASSIGN_OR_RETURN(bool recorded, records->IdTaken(name));
    if (recorded) continue;
    std::error_code removed;
    fs::remove_all(e.path(), removed);
    PROV_LOG_WARN("exports",
                  absl::StrCat("removed ", e.path().string(),
                               ": sealed but never recorded (provd stopped between writing and "
                               "recording it; it was not an export)",
                               removed ? " - removal failed: " + removed.message() : ""));
  }
  return std::unique_ptr<Exporter>(
      new Exporter(std::move(options), std::move(records), std::move(snapshots)));
}

absl::StatusOr<ExportResult> Exporter::Run(const std::string& trigger, const std::string& actor,
                                           const ExportProgressFn& progress) {
  absl::MutexLock lock(&mu_);
  const auto start = std::chrono::steady_clock::now();  // a duration for /metrics
  absl::StatusOr<ExportResult> r = RunLocked(trigger, actor, progress);
  if (r.ok()) {
    last_duration_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } else {
    ++failures_;
  }
  return r;
}

absl::StatusOr<ExportStats> Exporter::Stats() {
  ExportStats stats;
  stats.failures = failures_;
  stats.last_duration_seconds = last_duration_seconds_;
  PROV_ASSIGN_OR_RETURN(auto counts, records_->Stats());
  for (const auto& [trigger, c] : counts) stats.by_trigger[trigger] = {c.exports, c.last_us};
  return stats;
}

absl::StatusOr<ExportResult> Exporter::RunLocked(const std::string& trigger,
                                                 const std::string& actor,
                                                 const ExportProgressFn& progress) {
  // Microsecond precision, as stored in exports.created_us.
  const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(options_.clock->Now()));
  integrity::Manifest m;
  m.created_at = Rfc3339(now);
  std::string tmp;
  // The chain link first (PostgreSQL: the chain lock, so the snapshot below sees every export
  // recorded before), then ONE snapshot for everything the export says (writers go on meanwhile).
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<ExportChain> chain, records_->BeginChain());
  const PreviousExport previous = chain->previous();
  {
    PROV_ASSIGN_OR_RETURN(std::unique_ptr<ExportSnapshot> snapshot, snapshots_->Begin());
    PROV_ASSIGN_OR_RETURN(integrity::ChainAnchor head, snapshot->AuditHead());
    PROV_ASSIGN_OR_RETURN(std::string kyc,
                          QueryText(*snapshot, "SELECT MAX(version) FROM kyc_imports"));
    PROV_ASSIGN_OR_RETURN(std::string inventory,
                          QueryText(*snapshot, "SELECT MAX(version) FROM inventory_imports"));
    PROV_ASSIGN_OR_RETURN(
        std::string list,
        QueryText(*snapshot, "SELECT list_version FROM screening_lists ORDER BY id DESC LIMIT 1"));
    const std::string base = absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone());
    m.export_id = base;
    for (int n = 2;; ++n) {
      PROV_ASSIGN_OR_RETURN(bool taken, chain->IdTaken(m.export_id));
      if (!taken && !PathExists(JoinPath(options_.export_dir, m.export_id))) break;
      m.export_id = absl::StrCat(base, "-", n);
    }
    tmp = JoinPath(options_.export_dir, absl::StrCat(kTmpPrefix, m.export_id));
    std::error_code ec;
    fs::remove_all(tmp, ec);
    PROV_RETURN_IF_ERROR(CreateDirectories(tmp));

    export_internal::StageContext ctx(*snapshot, tmp, &progress);
    absl::Status written = [&]() -> absl::Status {
      PROV_RETURN_IF_ERROR(export_internal::ExportFlags(ctx));
      PROV_RETURN_IF_ERROR(export_internal::ExportBundles(ctx));
      PROV_RETURN_IF_ERROR(export_internal::ExportLinks(ctx));
      PROV_RETURN_IF_ERROR(export_internal::ExportCaseActions(ctx));
      PROV_RETURN_IF_ERROR(export_internal::ExportUsage(ctx));
      PROV_RETURN_IF_ERROR(export_internal::ExportWorkloads(ctx));
      PROV_RETURN_IF_ERROR(export_internal::ExportAccounts(ctx));
      PROV_RETURN_IF_ERROR(export_internal::ExportVersions(ctx));
      PROV_RETURN_IF_ERROR(export_internal::ExportInventory(ctx));
      PROV_RETURN_IF_ERROR(export_internal::ExportDeclaredInventory(ctx));
      if (options_.location != nullptr) {
        PROV_RETURN_IF_ERROR(export_internal::ExportLocationTables(ctx, *options_.location));
      }
      return export_internal::ExportAuditLog(ctx);
    }();
    if (!written.ok()) {
      fs::remove_all(tmp, ec);
      return written;
    }
    m.previous_manifest_sha256 = previous.manifest_sha256;
    auto& md = m.metadata;
    md["scope"] = "full snapshot of the records provd holds";
    md["trigger"] = trigger;
    md["requested_by"] = actor;
    md["audit_head_seq"] = absl::StrCat(head.seq);
    md["audit_head_hash"] = head.hash;
    md["kyc_version"] = kyc.empty() ? "0" : kyc;
    md["screening_list_version"] = list;
    md["inventory_version"] = inventory.empty() ? "0" : inventory;
    md["policy_version"] = options_.policy_version ? options_.policy_version() : "";
    md["provd_version"] = kVersion;
    md["snapshot_at"] = m.created_at;
    md["records_from"] = ctx.max_time_us > 0 ? export_internal::TimeText(ctx.min_time_us) : "";
    md["records_to"] = ctx.max_time_us > 0 ? export_internal::TimeText(ctx.max_time_us) : "";
    md["previous_export_id"] = previous.export_id;
    md["previous_export_at"] = export_internal::TimeText(previous.created_us);
    md["retention_days"] = absl::StrCat(absl::ToInt64Hours(options_.retention) / 24);
    for (const auto& [name, rows] : ctx.rows) md[absl::StrCat("rows.", name)] = absl::StrCat(rows);
  }

  std::error_code ec;
  if (absl::Status sealed = integrity::SealExportDir(tmp, &m, options_.key); !sealed.ok()) {
    fs::remove_all(tmp, ec);
    return sealed;
  }
  const std::string manifest_text = integrity::ManifestToJson(m);
  ExportSummary summary;
  summary.set_export_id(m.export_id);
  summary.set_server_path(JoinPath(options_.export_dir, m.export_id));
  summary.set_manifest_sha256(Sha256Hex(manifest_text));
  summary.set_previous_manifest_sha256(m.previous_manifest_sha256);
  uint64_t bytes = manifest_text.size() + 129;  // manifest.sig: 128 hex + "\n"
  for (const integrity::ManifestFile& f : m.files) bytes += f.bytes;
  summary.set_files(static_cast<uint32_t>(m.files.size() + 2));
  summary.set_bytes(bytes);
  summary.set_signing_public_key(m.signing_public_key);
  *summary.mutable_created_at() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  summary.set_trigger(trigger);

  // Complete and sealed: now it may carry its final name.
  fs::rename(tmp, summary.server_path(), ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    return FsError(ec, "rename", tmp);
  }
  SyncDirectory(options_.export_dir);
  ExportRecord row{m.export_id,
                   absl::ToUnixMicros(now),
                   trigger,
                   summary.server_path(),
                   summary.manifest_sha256(),
                   summary.previous_manifest_sha256(),
                   std::stoll(m.metadata["audit_head_seq"]),
                   m.metadata["audit_head_hash"],
                   summary.SerializeAsString()};
  absl::Status recorded =
      chain->Record(row, {actor, "export",
                          AuditPayload({{"export_id", m.export_id},
                                        {"trigger", trigger},
                                        {"manifest_sha256", summary.manifest_sha256()},
                                        {"previous_manifest_sha256", m.previous_manifest_sha256},
                                        {"audit_head_seq", m.metadata["audit_head_seq"]},
                                        {"files", absl::StrCat(summary.files())},
                                        {"bytes", absl::StrCat(summary.bytes())}}),
                          now});
  if (!recorded.ok()) {
    // Not recorded: not an export. Take the folder away again.
    fs::rename(summary.server_path(), tmp, ec);
    fs::remove_all(ec ? summary.server_path() : tmp, ec);
    return recorded;
  }
  return ExportResult{std::move(summary), std::move(m)};
}

absl::StatusOr<std::vector<ExportSummary>> Exporter::List() {
  PROV_ASSIGN_OR_RETURN(std::vector<ExportRecord> rows, records_->List());
  std::vector<ExportSummary> out;
  out.reserve(rows.size());
  for (const ExportRecord& r : rows) {
    ExportSummary s;
    if (!s.ParseFromString(r.summary)) {
      return absl::DataLossError(
          absl::StrCat("exports row ", r.export_id, ": summary does not parse"));
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::optional<absl::Time>> Exporter::LastExportTime(const std::string& trigger) {
  PROV_ASSIGN_OR_RETURN(std::optional<int64_t> us, records_->LastExportUs(trigger));
  if (!us.has_value()) return std::optional<absl::Time>();
  return std::optional<absl::Time>(absl::FromUnixMicros(*us));
}

}  // namespace prov::server
