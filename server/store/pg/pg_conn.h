// PgConn: one libpq connection to PostgreSQL with absl::Status errors and a prepared-statement
// cache, the PostgreSQL counterpart of SqliteDb (server/store/sqlite.h).
//
//   PgConnOptions o{.connect_timeout = absl::Seconds(5), .application_name = "provd/alerts",
//                   .search_path = "provd"};
//   PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(url.pg_conninfo, o));
//   PROV_RETURN_IF_ERROR(conn->Exec("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)"));
//   PROV_ASSIGN_OR_RETURN(PgResult r, conn->Query("SELECT n FROM t WHERE k = $1", {"a"}));
//   for (int i = 0; i < r.rows(); ++i) { PROV_ASSIGN_OR_RETURN(int64_t n, r.Int64(i, 0)); }
//   PROV_RETURN_IF_ERROR(conn->Transaction([&]() -> absl::Status { ... }));
//
// Exec runs one or more statements without parameters (simple query protocol). Query runs one
// statement with text parameters $1..$N (or bytea ones, PgParam::Bytes); the statement is
// prepared on first use and cached by its SQL text for the life of the connection.
// Errors carry PostgreSQL's message, SQLSTATE and the statement, with codes from PgStatus
// (pg_status.h): unique violation ALREADY_EXISTS, serialization failure and deadlock ABORTED
// (retry the transaction), connection lost / server shutting down / lock timeout UNAVAILABLE,
// disk full RESOURCE_EXHAUSTED, bad data INVALID_ARGUMENT, anything else INTERNAL. UNAVAILABLE
// from a failure without a SQLSTATE (or with a class 08 one) only when the session is really gone;
// on a live session such an error (08P01 protocol_violation, an error libpq raised itself) is a
// bug: INTERNAL. A text parameter holding a NUL byte is INVALID_ARGUMENT (libpq would cut it).
// A lost connection is not silently replaced: every call fails UNAVAILABLE until the owner calls
// Reconnect() (never inside a transaction, whose work the old session took with it). A session
// that answered 25006 (read-only: a standby after a failover) is no longer ok() either, so
// Reconnect() replaces it (with target_session_attrs=read-write libpq then finds the primary).
//
// Every session gets, unless the connection string sets them (its values win): connect_timeout,
// TCP keepalives and tcp_user_timeout (a server that vanished without closing TCP is noticed in
// about a minute, not two hours), application_name, client_encoding UTF8, and statement_timeout
// and lock_timeout (sent as `options=-c ...` ahead of any options the string has). Server
// WARNING notices are logged (component "store"); lesser notices are dropped.
// Thread-compatible: one thread at a time uses a PgConn.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_result.h"

struct pg_conn;
struct pg_result;

namespace prov::server {

// One query parameter: text (sent as PostgreSQL's text form), bytes (bytea, binary format) or NULL.
class PgParam {
 public:
  PgParam(absl::string_view text) : value_(text) {}     // NOLINT: implicit on purpose
  PgParam(const char* text) : value_(text) {}           // NOLINT
  PgParam(const std::string& text) : value_(text) {}    // NOLINT
  PgParam(int64_t v);                                   // NOLINT
  PgParam(int v) : PgParam(static_cast<int64_t>(v)) {}  // NOLINT
  PgParam(double v);                                    // NOLINT
  PgParam(std::nullptr_t) : null_(true) {}              // NOLINT
  static PgParam Bytes(absl::string_view bytes);

  const std::string& value() const { return value_; }
  bool null() const { return null_; }
  bool binary() const { return binary_; }

 private:
  PgParam() = default;
  std::string value_;
  bool null_ = false;
  bool binary_ = false;
};

// A query's size_t limit as SQLite reads it: above INT64_MAX no limit (LIMIT NULL on PostgreSQL,
// which refuses a negative LIMIT where SQLite reads one as none).
inline PgParam LimitParam(size_t limit) {
  if (limit > static_cast<size_t>(std::numeric_limits<int64_t>::max())) return PgParam(nullptr);
  return PgParam(static_cast<int64_t>(limit));
}

struct PgConnOptions {
  absl::Duration connect_timeout = absl::Seconds(10);  // libpq rounds up to whole seconds, min 2
  std::string application_name = "provd";
  std::string search_path{};  // empty: the server's default
  // Per session; zero: no limit. A statement running longer fails 57014, a lock wait 55P03
  // (both UNAVAILABLE).
  absl::Duration statement_timeout = absl::Seconds(60);
  absl::Duration lock_timeout = absl::Seconds(10);
  // TCP only (ignored on Unix sockets): idle time before the first probe, time between probes,
  // probes lost before the connection is dropped; how long sent data may stay unacknowledged.
  absl::Duration keepalives_idle = absl::Seconds(30);
  absl::Duration keepalives_interval = absl::Seconds(10);
  int keepalives_count = 3;
  absl::Duration tcp_user_timeout = absl::Seconds(60);
  // Tests: runs at the end of each session setup (connect and Reconnect); an error fails it.
  std::function<absl::Status()> after_setup = nullptr;
};

class PgConn {
 public:
  // UNAVAILABLE when no server answers in time, with libpq's reason (host and port, never the
  // password).
  static absl::StatusOr<std::unique_ptr<PgConn>> Connect(const std::string& conninfo,
                                                         const PgConnOptions& options);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<PgResult> Query(absl::string_view sql, std::initializer_list<PgParam> params = {});
  absl::StatusOr<PgResult> Query(absl::string_view sql, const std::vector<PgParam>& params);

  // BEGIN (or `begin`), body, COMMIT; ROLLBACK when the body fails. The body's error is returned.
  // FAILED_PRECONDITION when a transaction is already open (PostgreSQL has no nested
  // transactions: an inner BEGIN would only warn and its COMMIT would commit the outer work).
  absl::Status Transaction(absl::FunctionRef<absl::Status()> body,
                           absl::string_view begin = "BEGIN");

  // Whether the session is usable: connected, set up, and not found read-only (25006).
  bool ok() const;
  // Whether a transaction is open (or failed and not yet rolled back).
  bool InTransaction() const;
  // Drops a session that is not ok() (lost, its setup failed, read-only) and opens a new one
  // with the same parameters (the statement cache starts empty). OK at once when ok().
  absl::Status Reconnect();
  // Prepared statements cached so far (tests).
  size_t cached_statements() const { return prepared_.size(); }
  pg_conn* raw() const { return conn_; }

 private:
  PgConn(pg_conn* conn, PgConnOptions options);
  absl::StatusOr<PgResult> Run(absl::string_view sql, const PgParam* params, size_t count);
  absl::Status Setup();
  bool alive() const;  // the socket is up (PQstatus), whatever else is wrong
  absl::Status Error(const pg_result* result, absl::string_view sql);

  pg_conn* conn_;
  bool setup_done_ = false;
  bool read_only_ = false;
  const PgConnOptions options_;
  absl::flat_hash_map<std::string, std::string> prepared_;  // SQL -> statement name
  int next_statement_ = 0;
};

// The repositories' reconnect rule (server/store/README.md): Reconnect() first (libpq notices a
// dropped session only when it next uses it), run `once`; when it failed because the session was
// gone (UNAVAILABLE, the session not ok(), no transaction open), Reconnect() and run it once
// more. Only for operations safe to repeat: reads, idempotent upserts. `once` returns
// absl::Status or absl::StatusOr<T>.
//
//   return RunWithReconnect(*conn_, [&] { return ListOnce(after_seq, limit); });
template <typename F>
auto RunWithReconnect(PgConn& conn, F once) -> decltype(once()) {
  if (absl::Status s = conn.Reconnect(); !s.ok()) return s;
  auto result = once();
  const absl::Status* status;
  if constexpr (std::is_same_v<decltype(result), absl::Status>) {
    status = &result;
  } else {
    status = &result.status();
  }
  if (status->ok() || !absl::IsUnavailable(*status) || conn.ok() || conn.InTransaction()) {
    return result;
  }
  if (absl::Status s = conn.Reconnect(); !s.ok()) return s;
  return once();
}

}  // namespace prov::server
