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
#include "server/store/connection.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

namespace fs = std::filesystem;
using provenance::v1::ExportSummary;

constexpr char kTmpPrefix[] = ".tmp-";

struct Previous {
  std::string export_id;
  int64_t created_us = 0;
  std::string manifest_sha256;  // "" when there is none
};

absl::StatusOr<Previous> NewestExport(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT export_id, created_us, manifest_sha256 FROM "
                                            "exports ORDER BY created_us DESC, export_id DESC "
                                            "LIMIT 1"));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  Previous p;
  if (row) p = {st->ColumnText(0), st->ColumnInt64(1), st->ColumnText(2)};
  return p;
}

absl::StatusOr<std::string> QueryText(SqliteDb& db, const std::string& sql) {
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare(sql));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  return row && !st->ColumnIsNull(0) ? st->ColumnText(0) : std::string();
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

absl::StatusOr<bool> ExportIdTaken(SqliteDb& db, const std::string& id) {
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT 1 FROM exports WHERE export_id = ?"));
  st->BindText(1, id);
  return st->Step();
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
  PROV_RETURN_IF_ERROR(CreateDirectories(options.export_dir));
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(options.export_dir, ec)) {
    if (absl::StartsWith(e.path().filename().string(), kTmpPrefix)) fs::remove_all(e.path(), ec);
  }
  PROV_ASSIGN_OR_RETURN(auto read_db, OpenConnection(options.db_path, SqliteDb::kReadOnly));
  PROV_ASSIGN_OR_RETURN(auto write_db, OpenConnection(options.db_path, SqliteDb::kReadWrite));
  // A sealed folder a crash left between its rename and its recording transaction is not an
  // export (no row, no audit entry, nothing chains to it): take it away, so that after a restart
  // an export is either fully there (folder, row and audit entry) or not at all.
  for (const fs::directory_entry& e : fs::directory_iterator(options.export_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory(ec) || !LooksLikeExportId(name)) continue;
    PROV_ASSIGN_OR_RETURN(bool recorded, ExportIdTaken(*write_db, name));
    if (recorded) continue;
    std::error_code removed;
    fs::remove_all(e.path(), removed);
    PROV_LOG_WARN("exports",
                  absl::StrCat("removed ", e.path().string(),
                               ": sealed but never recorded (provd stopped between writing and "
                               "recording it; it was not an export)",
                               removed ? " - removal failed: " + removed.message() : ""));
  }
  PROV_ASSIGN_OR_RETURN(auto list_db, OpenConnection(options.db_path, SqliteDb::kReadOnly));
  return std::unique_ptr<Exporter>(new Exporter(std::move(options), std::move(read_db),
                                                std::move(write_db), std::move(list_db)));
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
  absl::MutexLock lock(&list_mu_);
  PROV_ASSIGN_OR_RETURN(auto st, list_db_->Prepare("SELECT trigger, COUNT(*), MAX(created_us) "
                                                   "FROM exports GROUP BY trigger"));
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    stats.by_trigger[st->ColumnText(0)] = {static_cast<uint64_t>(st->ColumnInt64(1)),
                                           st->ColumnInt64(2)};
  }
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
  Previous previous;
  {
    // ONE snapshot for everything the export says (WAL: writers go on meanwhile).
    PROV_RETURN_IF_ERROR(read_db_->Exec("BEGIN"));
    struct EndRead {
      SqliteDb& db;
      ~EndRead() { (void)db.Exec("COMMIT"); }
    } end_read{*read_db_};
    PROV_ASSIGN_OR_RETURN(previous, NewestExport(*read_db_));
    PROV_ASSIGN_OR_RETURN(integrity::ChainAnchor head, AuditHead(*read_db_));
    PROV_ASSIGN_OR_RETURN(std::string kyc,
                          QueryText(*read_db_, "SELECT MAX(version) FROM kyc_imports"));
    PROV_ASSIGN_OR_RETURN(std::string inventory,
                          QueryText(*read_db_, "SELECT MAX(version) FROM inventory_imports"));
    PROV_ASSIGN_OR_RETURN(
        std::string list,
        QueryText(*read_db_, "SELECT list_version FROM screening_lists ORDER BY id DESC LIMIT 1"));
    const std::string base = absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone());
    m.export_id = base;
    for (int n = 2;; ++n) {
      PROV_ASSIGN_OR_RETURN(bool taken, ExportIdTaken(*read_db_, m.export_id));
      if (!taken && !PathExists(JoinPath(options_.export_dir, m.export_id))) break;
      m.export_id = absl::StrCat(base, "-", n);
    }
    tmp = JoinPath(options_.export_dir, absl::StrCat(kTmpPrefix, m.export_id));
    std::error_code ec;
    fs::remove_all(tmp, ec);
    PROV_RETURN_IF_ERROR(CreateDirectories(tmp));

    export_internal::StageContext ctx(*read_db_, tmp, &progress);
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
  absl::Status recorded = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*write_db_, Transaction::kWrite));
    PROV_ASSIGN_OR_RETURN(Previous newest, NewestExport(*write_db_));
    if (newest.manifest_sha256 != previous.manifest_sha256) {
      return absl::AbortedError(absl::StrCat("another export (", newest.export_id,
                                             ") was recorded meanwhile; not chaining to it"));
    }
    PROV_ASSIGN_OR_RETURN(auto ins,
                          write_db_->Prepare("INSERT INTO exports (export_id, created_us, "
                                             "trigger, path, manifest_sha256, "
                                             "previous_manifest_sha256, audit_head_seq, "
                                             "audit_head_hash, summary) VALUES "
                                             "(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins->BindText(1, m.export_id);
    ins->BindInt64(2, absl::ToUnixMicros(now));
    ins->BindText(3, trigger);
    ins->BindText(4, summary.server_path());
    ins->BindText(5, summary.manifest_sha256());
    ins->BindText(6, summary.previous_manifest_sha256());
    ins->BindInt64(7, std::stoll(m.metadata["audit_head_seq"]));
    ins->BindText(8, m.metadata["audit_head_hash"]);
    ins->BindBlob(9, summary.SerializeAsString());
    PROV_RETURN_IF_ERROR(ins->Run());
    PROV_RETURN_IF_ERROR(
        AppendAuditEntry(*write_db_, actor, "export",
                         AuditPayload({{"export_id", m.export_id},
                                       {"trigger", trigger},
                                       {"manifest_sha256", summary.manifest_sha256()},
                                       {"previous_manifest_sha256", m.previous_manifest_sha256},
                                       {"audit_head_seq", m.metadata["audit_head_seq"]},
                                       {"files", absl::StrCat(summary.files())},
                                       {"bytes", absl::StrCat(summary.bytes())}}),
                         now)
            .status());
    return txn.Commit();
  }();
  if (!recorded.ok()) {
    // Not recorded: not an export. Take the folder away again.
    fs::rename(summary.server_path(), tmp, ec);
    fs::remove_all(ec ? summary.server_path() : tmp, ec);
    return recorded;
  }
  return ExportResult{std::move(summary), std::move(m)};
}

absl::StatusOr<std::vector<ExportSummary>> Exporter::List() {
  absl::MutexLock lock(&list_mu_);
  PROV_ASSIGN_OR_RETURN(
      auto st, list_db_->Prepare("SELECT export_id, summary FROM exports ORDER BY created_us, "
                                 "export_id"));
  std::vector<ExportSummary> out;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    ExportSummary s;
    if (!s.ParseFromString(st->ColumnBlob(1))) {
      return absl::DataLossError(
          absl::StrCat("exports row ", st->ColumnText(0), ": summary does not parse"));
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::optional<absl::Time>> Exporter::LastExportTime(const std::string& trigger) {
  absl::MutexLock lock(&list_mu_);
  PROV_ASSIGN_OR_RETURN(auto st, list_db_->Prepare("SELECT MAX(created_us) FROM exports WHERE "
                                                   "? = '' OR trigger = ?"));
  st->BindText(1, trigger);
  st->BindText(2, trigger);
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row || st->ColumnIsNull(0)) return std::optional<absl::Time>();
  return std::optional<absl::Time>(absl::FromUnixMicros(st->ColumnInt64(0)));
}

}  // namespace prov::server
