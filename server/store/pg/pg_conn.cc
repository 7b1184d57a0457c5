#include "server/store/pg/pg_conn.h"

#include <libpq-fe.h>

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_status.h"

namespace prov::server {
namespace {

std::string Trimmed(const char* message) {
  return std::string(absl::StripAsciiWhitespace(message != nullptr ? message : ""));
}

// The error of a finished statement (or of the connection when libpq returned no result).
absl::Status ResultError(pg_conn* conn, const PGresult* result, absl::string_view sql) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message =
      Trimmed(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn));
  if (message.empty()) message = Trimmed(PQerrorMessage(conn));
  absl::StatusCode code = PgStatusCode(state != nullptr ? state : "");
  if (PQstatus(conn) != CONNECTION_OK) code = absl::StatusCode::kUnavailable;
  return absl::Status(code, absl::StrCat("postgresql: ", message,
                                         state != nullptr ? absl::StrCat(" [", state, "]") : "",
                                         " (in: ", sql.substr(0, 200), ")"));
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
  const char* keywords[] = {"dbname", "connect_timeout", "application_name", "client_encoding",
                            nullptr};
  const char* values[] = {conninfo.c_str(), timeout.c_str(), options.application_name.c_str(),
                          "UTF8", nullptr};
  pg_conn* raw = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (raw == nullptr) return absl::ResourceExhaustedError("postgresql: out of memory");
  // Notices (e.g. "schema already exists, skipping") are not errors; libpq would print them
  // on stderr.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  std::unique_ptr<PgConn> conn(new PgConn(raw, options));
  if (PQstatus(raw) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("postgresql: cannot connect: ", Trimmed(PQerrorMessage(raw))));
  }
  PROV_RETURN_IF_ERROR(conn->Setup());
  return conn;
}

PgConn::PgConn(pg_conn* conn, PgConnOptions options) : conn_(conn), options_(std::move(options)) {}

PgConn::~PgConn() { PQfinish(conn_); }

absl::Status PgConn::Setup() {
  if (options_.search_path.empty()) return absl::OkStatus();
  char* ident = PQescapeIdentifier(conn_, options_.search_path.data(), options_.search_path.size());
  if (ident == nullptr) return ResultError(conn_, nullptr, "SET search_path");
  std::string sql = absl::StrCat("SET search_path = ", ident);
  PQfreemem(ident);
  return Exec(sql);
}

bool PgConn::ok() const { return PQstatus(conn_) == CONNECTION_OK; }

bool PgConn::InTransaction() const {
  PGTransactionStatusType s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

absl::Status PgConn::Reconnect() {
  if (ok()) return absl::OkStatus();
  PQreset(conn_);
  prepared_.clear();
  if (!ok()) {
    return absl::UnavailableError(
        absl::StrCat("postgresql: cannot reconnect: ", Trimmed(PQerrorMessage(conn_))));
  }
  return Setup();
}

absl::Status PgConn::Exec(absl::string_view sql) {
  if (!ok()) {
    return absl::UnavailableError("postgresql: the connection was lost (Reconnect first)");
  }
  const std::string text(sql);
  PgResult result(PQexec(conn_, text.c_str()));
  if (!Succeeded(result.raw())) return ResultError(conn_, result.raw(), sql);
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
  if (!ok()) {
    return absl::UnavailableError("postgresql: the connection was lost (Reconnect first)");
  }
  std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = absl::StrCat("prov_", next_statement_++);
    PgResult prepared(PQprepare(conn_, name.c_str(), key.c_str(), 0, nullptr));
    if (!Succeeded(prepared.raw())) return ResultError(conn_, prepared.raw(), sql);
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
  if (!Succeeded(result.raw())) return ResultError(conn_, result.raw(), sql);
  return result;
}

absl::Status PgConn::Transaction(absl::FunctionRef<absl::Status()> body, absl::string_view begin) {
  PROV_RETURN_IF_ERROR(Exec(begin));
  absl::Status status = body();
  if (!status.ok()) {
    if (ok()) (void)Exec("ROLLBACK");
    return status;
  }
  if (!ok()) {
    return absl::UnavailableError("postgresql: the connection was lost before COMMIT");
  }
  PgResult commit(PQexec(conn_, "COMMIT"));
  if (!Succeeded(commit.raw())) return ResultError(conn_, commit.raw(), "COMMIT");
  // COMMIT of a transaction an ignored error had aborted answers ROLLBACK, not an error.
  if (absl::string_view(PQcmdStatus(commit.raw())) == "ROLLBACK") {
    return absl::AbortedError("postgresql: the transaction failed earlier and was rolled back");
  }
  return absl::OkStatus();
}

}  // namespace prov::server
