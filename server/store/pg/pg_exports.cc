#include "server/store/pg/pg_exports.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

constexpr int kFetchRows = 1000;
constexpr absl::Duration kSnapshotStatementTimeout = absl::Hours(1);
constexpr char kExportColumns[] =
    "export_id, created_us, trigger, path, manifest_sha256, previous_manifest_sha256, "
    "audit_head_seq, audit_head_hash, summary";

absl::StatusOr<bool> IdTakenOnce(PgConn& conn, const std::string& id) {
  PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query("SELECT 1 FROM exports WHERE export_id = $1", {id}));
  return r.rows() > 0;
}

// BEGIN, the chain lock, the newest export. The caller rolls back on error.
absl::StatusOr<PreviousExport> StartChain(PgConn& conn, absl::Duration wait) {
  PROV_RETURN_IF_ERROR(conn.Exec("BEGIN ISOLATION LEVEL READ COMMITTED"));
  const int64_t wait_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(wait));
  PROV_RETURN_IF_ERROR(conn.Exec(absl::StrCat("SET LOCAL lock_timeout = ", wait_ms,
                                              "; SET LOCAL statement_timeout = ", wait_ms)));
  PROV_RETURN_IF_ERROR(
      conn.Query("SELECT pg_advisory_xact_lock($1::int, $2::int)", {kPgLockKey, kPgExportChainLock})
          .status());
  PROV_RETURN_IF_ERROR(
      conn.Exec("SET LOCAL lock_timeout TO DEFAULT; SET LOCAL statement_timeout TO DEFAULT"));
  PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query("SELECT export_id, created_us, manifest_sha256 FROM "
                                               "exports ORDER BY created_us DESC, export_id DESC "
                                               "LIMIT 1"));
  PreviousExport p;
  if (r.rows() > 0) {
    p.export_id = r.Text(0, 0);
    PROV_ASSIGN_OR_RETURN(p.created_us, r.Int64(0, 1));
    p.manifest_sha256 = r.Text(0, 2);
  }
  return p;
}

void RollbackIfOpen(PgConn& conn) {
  if (conn.InTransaction()) (void)conn.Exec("ROLLBACK");
}

// A cursor's rows, kFetchRows at a time (or one whole result when `name` is empty).
class PgCursor : public ExportCursor {
 public:
  PgCursor(PgConn& conn, std::string name, PgResult first)
      : conn_(conn), name_(std::move(name)), batch_(std::move(first)) {
    done_ = name_.empty() || batch_.rows() < kFetchRows;
  }
  ~PgCursor() override {
    if (!name_.empty() && conn_.InTransaction()) (void)conn_.Exec(absl::StrCat("CLOSE ", name_));
  }
  absl::StatusOr<bool> Next() override {
    PROV_RETURN_IF_ERROR(error_);
    if (++row_ < batch_.rows()) return true;
    if (done_) return false;
    PROV_ASSIGN_OR_RETURN(batch_, conn_.Query(absl::StrCat("FETCH ", kFetchRows, " FROM ", name_)));
    done_ = batch_.rows() < kFetchRows;
    row_ = 0;
    return batch_.rows() > 0;
  }
  bool IsNull(int c) const override { return batch_.IsNull(row_, c); }
  std::string Text(int c) const override { return batch_.Text(row_, c); }
  int64_t Int64(int c) const override {
    if (batch_.IsNull(row_, c)) return 0;
    return Keep(batch_.Int64(row_, c), int64_t{0});
  }
  double Double(int c) const override {
    if (batch_.IsNull(row_, c)) return 0;
    return Keep(batch_.Double(row_, c), 0.0);
  }
  std::string Blob(int c) const override {
    if (batch_.IsNull(row_, c)) return "";
    return Keep(batch_.Bytes(row_, c), std::string());
  }

 private:
  template <typename T>
  T Keep(absl::StatusOr<T> v, T fallback) const {
    if (v.ok()) return *std::move(v);
    if (error_.ok()) error_ = v.status();
    return fallback;
  }

  PgConn& conn_;
  const std::string name_;  // "" when the whole result is in batch_
  PgResult batch_;
  int row_ = -1;
  bool done_ = false;
  mutable absl::Status error_;  // a value that did not convert: the next Next() fails
};

class PgSnapshot : public ExportSnapshot {
 public:
  explicit PgSnapshot(PgConn& conn) : conn_(conn) {}
  ~PgSnapshot() override {
    if (conn_.InTransaction()) (void)conn_.Exec("COMMIT");
  }
  absl::StatusOr<std::unique_ptr<ExportCursor>> Query(absl::string_view sql,
                                                      const std::vector<int64_t>& params) override {
    if (!params.empty()) {
      std::vector<PgParam> values(params.begin(), params.end());
      PROV_ASSIGN_OR_RETURN(PgResult r, conn_.Query(sql, values));
      return std::unique_ptr<ExportCursor>(new PgCursor(conn_, "", std::move(r)));
    }
    // Names repeat from one snapshot to the next, so the FETCH statements PgConn prepares stay
    // a handful.
    const std::string name = absl::StrCat("prov_export_", next_cursor_++);
    PROV_RETURN_IF_ERROR(conn_.Exec(absl::StrCat("DECLARE ", name, " NO SCROLL CURSOR FOR ", sql)));
    PROV_ASSIGN_OR_RETURN(PgResult first,
                          conn_.Query(absl::StrCat("FETCH ", kFetchRows, " FROM ", name)));
    return std::unique_ptr<ExportCursor>(new PgCursor(conn_, name, std::move(first)));
  }
  absl::StatusOr<integrity::ChainAnchor> AuditHead() override {
    return ::prov::server::AuditHead(conn_);
  }

 private:
  PgConn& conn_;
  int next_cursor_ = 0;
};

absl::StatusOr<ExportRecord> ReadRecord(const PgResult& r, int i) {
  ExportRecord e;
  e.export_id = r.Text(i, 0);
  PROV_ASSIGN_OR_RETURN(e.created_us, r.Int64(i, 1));
  e.trigger = r.Text(i, 2);
  e.path = r.Text(i, 3);
  e.manifest_sha256 = r.Text(i, 4);
  e.previous_manifest_sha256 = r.Text(i, 5);
  PROV_ASSIGN_OR_RETURN(e.audit_head_seq, r.Int64(i, 6));
  e.audit_head_hash = r.Text(i, 7);
  PROV_ASSIGN_OR_RETURN(e.summary, r.Bytes(i, 8));
  return e;
}

}  // namespace

class PgExportRepository::Chain : public ExportChain {
 public:
  Chain(PgExportRepository& repo, PreviousExport previous)
      : repo_(repo), previous_(std::move(previous)) {}
  ~Chain() override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    RollbackIfOpen(*repo_.chain_conn_);
    repo_.chain_mu_.Unlock();
  }
  const PreviousExport& previous() const override { return previous_; }
  absl::StatusOr<bool> IdTaken(const std::string& export_id) override
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return IdTakenOnce(*repo_.chain_conn_, export_id);
  }
  absl::Status Record(const ExportRecord& row,
                      const AuditRecord& audit) override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (recorded_) return absl::FailedPreconditionError("export chain: already recorded");
    PROV_RETURN_IF_ERROR(CheckExportRecord(row, previous_));
    PgConn& conn = *repo_.chain_conn_;
    if (!conn.InTransaction()) {
      return absl::UnavailableError(
          "export chain: the session holding the chain lock was lost; not recorded");
    }
    absl::Status s = [&]() -> absl::Status {
      PROV_RETURN_IF_ERROR(
          conn.Query(absl::StrCat("INSERT INTO exports (", kExportColumns,
                                  ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
                     {row.export_id, row.created_us, row.trigger, row.path, row.manifest_sha256,
                      row.previous_manifest_sha256, row.audit_head_seq, row.audit_head_hash,
                      PgParam::Bytes(row.summary)})
              .status());
      PROV_RETURN_IF_ERROR(
          AppendAuditEntry(conn, audit.actor, audit.action, audit.payload, audit.at).status());
      return conn.Exec("COMMIT");
    }();
    if (!s.ok()) {
      RollbackIfOpen(conn);
      return s;
    }
    recorded_ = true;
    return absl::OkStatus();
  }

 private:
  PgExportRepository& repo_;
  const PreviousExport previous_;
  bool recorded_ = false;
};

absl::StatusOr<std::unique_ptr<PgConn>> OpenPgExportsConn(const std::string& conninfo,
                                                          absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/exports",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return conn;
}

absl::StatusOr<std::unique_ptr<PgExportRepository>> PgExportRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout, absl::Duration chain_wait) {
  PROV_ASSIGN_OR_RETURN(auto chain_conn, OpenPgExportsConn(conninfo, connect_timeout));
  PROV_ASSIGN_OR_RETURN(auto read_conn, OpenPgExportsConn(conninfo, connect_timeout));
  return FromConnections(std::move(chain_conn), std::move(read_conn), chain_wait);
}

std::unique_ptr<PgExportRepository> PgExportRepository::FromConnections(
    std::unique_ptr<PgConn> chain_conn, std::unique_ptr<PgConn> read_conn,
    absl::Duration chain_wait) {
  return std::unique_ptr<PgExportRepository>(
      new PgExportRepository(std::move(chain_conn), std::move(read_conn), chain_wait));
}

absl::StatusOr<std::unique_ptr<ExportChain>> PgExportRepository::BeginChain()
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  chain_mu_.Lock();  // released by the Chain's destructor
  PgConn& conn = *chain_conn_;
  absl::StatusOr<PreviousExport> previous = [&]() -> absl::StatusOr<PreviousExport> {
    PROV_RETURN_IF_ERROR(conn.Reconnect());
    absl::StatusOr<PreviousExport> p = StartChain(conn, chain_wait_);
    // Found gone at BEGIN (libpq notices a dropped session only when it next uses it): nothing
    // was done; begin once more on a new session.
    if (!p.ok() && absl::IsUnavailable(p.status()) && !conn.ok()) {
      RollbackIfOpen(conn);
      PROV_RETURN_IF_ERROR(conn.Reconnect());
      p = StartChain(conn, chain_wait_);
    }
    return p;
  }();
  if (!previous.ok()) {
    RollbackIfOpen(conn);
    chain_mu_.Unlock();
    return previous.status();
  }
  return std::unique_ptr<ExportChain>(new Chain(*this, *std::move(previous)));
}

absl::StatusOr<bool> PgExportRepository::IdTaken(const std::string& export_id) {
  absl::MutexLock lock(&read_mu_);
  PgConn& conn = *read_conn_;
  return RunWithReconnect(conn, [&] { return IdTakenOnce(conn, export_id); });
}

absl::StatusOr<std::vector<ExportRecord>> PgExportRepository::List() {
  absl::MutexLock lock(&read_mu_);
  PgConn& conn = *read_conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::vector<ExportRecord>> {
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(absl::StrCat("SELECT ", kExportColumns,
                                                              " FROM exports ORDER BY "
                                                              "created_us, export_id")));
    std::vector<ExportRecord> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(ExportRecord e, ReadRecord(r, i));
      out.push_back(std::move(e));
    }
    return out;
  });
}

absl::StatusOr<std::optional<int64_t>> PgExportRepository::LastExportUs(
    const std::string& trigger) {
  absl::MutexLock lock(&read_mu_);
  PgConn& conn = *read_conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::optional<int64_t>> {
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query("SELECT MAX(created_us) FROM exports WHERE "
                                                 "$1 = '' OR trigger = $1",
                                                 {trigger}));
    if (r.rows() == 0 || r.IsNull(0, 0)) return std::optional<int64_t>();
    PROV_ASSIGN_OR_RETURN(int64_t us, r.Int64(0, 0));
    return std::optional<int64_t>(us);
  });
}

absl::StatusOr<std::map<std::string, ExportTriggerCount>> PgExportRepository::Stats() {
  absl::MutexLock lock(&read_mu_);
  PgConn& conn = *read_conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::map<std::string, ExportTriggerCount>> {
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query("SELECT trigger, COUNT(*), MAX(created_us) FROM "
                                                 "exports GROUP BY trigger"));
    std::map<std::string, ExportTriggerCount> out;
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(int64_t n, r.Int64(i, 1));
      PROV_ASSIGN_OR_RETURN(int64_t last, r.Int64(i, 2));
      out[r.Text(i, 0)] = {static_cast<uint64_t>(n), last};
    }
    return out;
  });
}

absl::StatusOr<std::unique_ptr<PgExportSnapshotSource>> PgExportSnapshotSource::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PROV_ASSIGN_OR_RETURN(auto conn, OpenPgExportsConn(conninfo, connect_timeout));
  return std::make_unique<PgExportSnapshotSource>(std::move(conn));
}

absl::StatusOr<std::unique_ptr<ExportSnapshot>> PgExportSnapshotSource::Begin() {
  PgConn& conn = *conn_;
  RollbackIfOpen(conn);  // a snapshot whose COMMIT failed
  PROV_RETURN_IF_ERROR(RunWithReconnect(
      conn, [&] { return conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); }));
  // A cursor's first FETCH may sort a whole table (workloads by node and id): longer than the
  // session's statement_timeout (60 s) on a large store. An export is a long read by design.
  auto snapshot = std::unique_ptr<ExportSnapshot>(new PgSnapshot(conn));
  PROV_RETURN_IF_ERROR(conn.Exec(absl::StrCat(
      "SET LOCAL statement_timeout = ", absl::ToInt64Milliseconds(kSnapshotStatementTimeout))));
  return snapshot;
}

}  // namespace prov::server
