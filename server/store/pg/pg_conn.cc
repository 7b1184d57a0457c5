#include "server/store/pg/pg_conn.h"

#include <libpq-fe.h>

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log/log.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_status.h"

namespace prov::server {
namespace {

std::string Trimmed(const char* message) {
  return std::string(absl::StripAsciiWhitespace(message != nullptr ? message : ""));
}

// The error of a finished statement (or of the connection when libpq returned no result).
// UNAVAILABLE only when the session is gone: a class 08 SQLSTATE (08P01 protocol_violation: a
// wrong parameter count) or none at all (an error libpq raised itself) on a live session is a bug.
absl::Status ResultError(pg_conn* conn, const PGresult* result, absl::string_view sql) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message =
      Trimmed(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn));
  if (message.empty()) message = Trimmed(PQerrorMessage(conn));
  if (message.empty() && result != nullptr) {
    message = absl::StrCat("unexpected result ", PQresStatus(PQresultStatus(result)));
  }
  const absl::string_view sqlstate = state != nullptr ? state : "";
  absl::StatusCode code = PgStatusCode(sqlstate);
  if (PQstatus(conn) != CONNECTION_OK) {
    code = absl::StatusCode::kUnavailable;
  } else if (sqlstate.empty() || absl::StartsWith(sqlstate, "08")) {
    code = absl::StatusCode::kInternal;
  }
  return absl::Status(code, absl::StrCat("postgresql: ", message,
                                         state != nullptr ? absl::StrCat(" [", state, "]") : "",
                                         " (in: ", sql.substr(0, 200), ")"));
}

// Server notices: WARNINGs are logged (an inner BEGIN, a deprecated setting); NOTICE and below
// ("schema already exists, skipping") are not worth a line. libpq would print all on stderr.
void OnNotice(void* application_name, const PGresult* notice) {
  const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity == nullptr || absl::string_view(severity) != "WARNING") return;
  const char* state = PQresultErrorField(notice, PG_DIAG_SQLSTATE);
  PROV_LOG_WARN("store", "postgresql warning",
                {"application", *static_cast<const std::string*>(application_name)},
                {"sqlstate", state != nullptr ? state : ""},
                {"message", Trimmed(PQresultErrorMessage(notice))});
}

std::string Seconds(absl::Duration d) {
  return absl::StrCat(std::max<int64_t>(0, absl::ToInt64Seconds(d)));
}

bool Succeeded(const PGresult* result) {
  if (result == nullptr) return false;
  ExecStatusType s = PQresultStatus(result);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

}  // namespace

PgParam::PgParam(int64_t v) : value_(absl::StrCat(v)) {}

PgParam::PgParam(double v) : value_(absl::StrFormat("%.17g", v)) {
  if (std::isnan(v)) value_ = "NaN";
  if (std::isinf(v)) value_ = v > 0 ? "Infinity" : "-Infinity";
}

PgParam PgParam::Bytes(absl::string_view bytes) {
  PgParam p;
  p.value_ = std::string(bytes);
  p.binary_ = true;
  return p;
}

absl::StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo,
                                                        const PgConnOptions& options) {
  const std::string timeout = absl::StrCat(std::max<int64_t>(
      2, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(options.connect_timeout)))));
  const std::string idle = Seconds(options.keepalives_idle);
  const std::string interval = Seconds(options.keepalives_interval);
  const std::string count = absl::StrCat(std::max(0, options.keepalives_count));
  const std::string user_timeout =
      absl::StrCat(std::max<int64_t>(0, absl::ToInt64Milliseconds(options.tcp_user_timeout)));
  // Our settings first, the string's own options after them: a later -c wins.
  std::string session_options =
      absl::StrCat("-c statement_timeout=", absl::ToInt64Milliseconds(options.statement_timeout),
                   " -c lock_timeout=", absl::ToInt64Milliseconds(options.lock_timeout));
  if (PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), nullptr)) {
    for (const PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
      if (absl::string_view(o->keyword) == "options" && o->val != nullptr && o->val[0] != '\0') {
        absl::StrAppend(&session_options, " ", o->val);
      }
    }
    PQconninfoFree(parsed);
  }
  // Keywords before dbname are defaults (the expanded connection string overrides them); the
  // merged options come after it.
  const char* keywords[] = {"connect_timeout",
                            "application_name",
                            "client_encoding",
                            "keepalives",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "tcp_user_timeout",
                            "dbname",
                            "options",
                            nullptr};
  const char* values[] = {timeout.c_str(),  options.application_name.c_str(),
                          "UTF8",           "1",
                          idle.c_str(),     interval.c_str(),
                          count.c_str(),    user_timeout.c_str(),
                          conninfo.c_str(), session_options.c_str(),
                          nullptr};
  pg_conn* raw = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (raw == nullptr) return absl::ResourceExhaustedError("postgresql: out of memory");
  std::unique_ptr<PgConn> conn(new PgConn(raw, options));
  PQsetNoticeReceiver(raw, OnNotice, const_cast<std::string*>(&conn->options_.application_name));
  if (PQstatus(raw) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("postgresql: cannot connect: ", Trimmed(PQerrorMessage(raw))));
  }
  PROV_RETURN_IF_ERROR(conn->Setup());
  return conn;
}

PgConn::PgConn(pg_conn* conn, PgConnOptions options) : conn_(conn), options_(std::move(options)) {}

PgConn::~PgConn() { PQfinish(conn_); }

absl::Status PgConn::Error(const PGresult* result, absl::string_view sql) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (state != nullptr && absl::string_view(state) == "25006") read_only_ = true;
  return ResultError(conn_, result, sql);
}

absl::Status PgConn::Setup() {
  setup_done_ = false;
  if (!options_.search_path.empty()) {
    char* ident =
        PQescapeIdentifier(conn_, options_.search_path.data(), options_.search_path.size());
    if (ident == nullptr) return ResultError(conn_, nullptr, "SET search_path");
    std::string sql = absl::StrCat("SET search_path = ", ident);
    PQfreemem(ident);
    PgResult result(PQexec(conn_, sql.c_str()));
    if (!Succeeded(result.raw())) return Error(result.raw(), sql);
  }
  if (options_.after_setup) PROV_RETURN_IF_ERROR(options_.after_setup());
  setup_done_ = true;
  return absl::OkStatus();
}

bool PgConn::alive() const { return PQstatus(conn_) == CONNECTION_OK; }

bool PgConn::ok() const { return alive() && setup_done_ && !read_only_; }

bool PgConn::InTransaction() const {
  PGTransactionStatusType s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

absl::Status PgConn::Reconnect() {
  if (ok()) return absl::OkStatus();
  // Also when the socket is up: a session whose setup failed or that is read-only is replaced.
  PQreset(conn_);
  prepared_.clear();
  read_only_ = false;
  setup_done_ = false;
  if (!alive()) {
    return absl::UnavailableError(
        absl::StrCat("postgresql: cannot reconnect: ", Trimmed(PQerrorMessage(conn_))));
  }
  return Setup();
}

absl::Status PgConn::Exec(absl::string_view sql) {
  if (!alive() || !setup_done_) {
    return absl::UnavailableError(
        "postgresql: the connection was lost or its setup failed (Reconnect first)");
  }
  const std::string text(sql);
  PgResult result(PQexec(conn_, text.c_str()));
  if (!Succeeded(result.raw())) return Error(result.raw(), sql);
  return absl::OkStatus();
}

absl::StatusOr<PgResult> PgConn::Query(absl::string_view sql,
                                       std::initializer_list<PgParam> params) {
  return Run(sql, params.begin(), params.size());
}

absl::StatusOr<PgResult> PgConn::Query(absl::string_view sql, const std::vector<PgParam>& params) {
  return Run(sql, params.data(), params.size());
}

absl::StatusOr<PgResult> PgConn::Run(absl::string_view sql, const PgParam* params, size_t count) {
  if (!alive() || !setup_done_) {
    return absl::UnavailableError(
        "postgresql: the connection was lost or its setup failed (Reconnect first)");
  }
  for (size_t i = 0; i < count; ++i) {
    if (!params[i].binary() && !params[i].null() &&
        params[i].value().find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "postgresql: text parameter $", i + 1,
          " contains a NUL byte, which PostgreSQL text cannot hold (in: ", sql.substr(0, 200),
          ")"));
    }
  }
  std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = absl::StrCat("prov_", next_statement_++);
    PgResult prepared(PQprepare(conn_, name.c_str(), key.c_str(), 0, nullptr));
    if (!Succeeded(prepared.raw())) return Error(prepared.raw(), sql);
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  std::vector<const char*> values(count);
  std::vector<int> lengths(count), formats(count);
  for (size_t i = 0; i < count; ++i) {
    values[i] = params[i].null() ? nullptr : params[i].value().c_str();
    lengths[i] = static_cast<int>(params[i].value().size());
    formats[i] = params[i].binary() ? 1 : 0;
  }
  PgResult result(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(count), values.data(),
                                 lengths.data(), formats.data(),
                                 /*resultFormat=*/0));
  if (!Succeeded(result.raw())) return Error(result.raw(), sql);
  return result;
}

absl::Status PgConn::Transaction(absl::FunctionRef<absl::Status()> body, absl::string_view begin) {
  if (InTransaction()) {
    return absl::FailedPreconditionError(
        "postgresql: Transaction() inside an open transaction (PostgreSQL has no nested "
        "transactions; the inner COMMIT would commit the outer work)");
  }
  PROV_RETURN_IF_ERROR(Exec(begin));
  absl::Status status = body();
  if (!status.ok()) {
    if (alive()) (void)Exec("ROLLBACK");
    return status;
  }
  if (!alive()) {
    return absl::UnavailableError("postgresql: the connection was lost before COMMIT");
  }
  PgResult commit(PQexec(conn_, "COMMIT"));
  if (!Succeeded(commit.raw())) return Error(commit.raw(), "COMMIT");
  // COMMIT of a transaction an ignored error had aborted answers ROLLBACK, not an error.
  if (absl::string_view(PQcmdStatus(commit.raw())) == "ROLLBACK") {
    return absl::AbortedError("postgresql: the transaction failed earlier and was rolled back");
  }
  return absl::OkStatus();
}

}  // namespace prov::server
