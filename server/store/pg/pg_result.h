// PgResult: the rows of one PostgreSQL statement (RAII over libpq's PGresult), values read in
// text form. Returned by PgConn::Query (pg_conn.h).
//
//   PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query("SELECT id, n, b FROM t"));
//   for (int i = 0; i < r.rows(); ++i) {
//     std::string id = r.Text(i, 0);
//     PROV_ASSIGN_OR_RETURN(int64_t n, r.Int64(i, 1));    // DATA_LOSS when not an integer
//     PROV_ASSIGN_OR_RETURN(std::string b, r.Bytes(i, 2)); // a bytea column
//   }
//   int64_t changed = r.affected();                       // INSERT/UPDATE/DELETE rows
//
// Reading a NULL gives "" / 0; check IsNull first where NULL means something.
// Thread-compatible; movable, not copyable.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

struct pg_result;

namespace prov::server {

class PgResult {
 public:
  explicit PgResult(pg_result* result) : result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const;
  int columns() const;
  bool IsNull(int row, int column) const;
  std::string Text(int row, int column) const;
  absl::StatusOr<int64_t> Int64(int row, int column) const;
  absl::StatusOr<double> Double(int row, int column) const;
  absl::StatusOr<std::string> Bytes(int row, int column) const;  // a bytea in text (hex) form
  // Rows an INSERT/UPDATE/DELETE touched (PQcmdTuples); 0 for other statements.
  int64_t affected() const;
  pg_result* raw() const { return result_; }

 private:
  pg_result* result_;
};

}  // namespace prov::server
