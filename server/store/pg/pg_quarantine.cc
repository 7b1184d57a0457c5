#include "server/store/pg/pg_quarantine.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

class PgQuarantineRows : public QuarantineRows {
 public:
  explicit PgQuarantineRows(PgConn& conn) : conn_(conn) {}

  absl::Status Scan(const std::string& table, const std::vector<std::string>& key_columns,
                    const std::string& record_column, Row row) override {
    // Keys as text (::text), as SQLite's ColumnText gives them; ordered as SQLite's rowid scan.
    std::vector<std::string> keys;
    for (const std::string& k : key_columns) keys.push_back(absl::StrCat(k, "::text"));
    PROV_ASSIGN_OR_RETURN(PgResult r,
                          conn_.Query(absl::StrCat("SELECT ", record_column, ", ",
                                                   absl::StrJoin(keys, ", "), " FROM ", table)));
    for (int i = 0; i < r.rows(); ++i) {
      std::vector<std::string> key_values;
      for (size_t k = 0; k < key_columns.size(); ++k) {
        key_values.push_back(r.Text(i, static_cast<int>(k + 1)));
      }
      PROV_ASSIGN_OR_RETURN(std::string record, r.Bytes(i, 0));
      row(std::move(key_values), std::move(record));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Move(const std::string& table, const std::vector<std::string>& key_columns,
                            const std::vector<std::string>& key_values,
                            const std::string& record_column, const QuarantinedRecord& q,
                            const std::string& record, absl::Time now) override {
    // Keys compared as text, as they were read: exact for integers and text alike. The row must
    // still hold the bytes that failed the check: the leader's analysis store writes these
    // tables without the quarantine's lock, and a row it rewrote since the scan is left alone.
    std::vector<std::string> where;
    std::vector<PgParam> params;
    for (size_t i = 0; i < key_columns.size(); ++i) {
      where.push_back(absl::StrCat(key_columns[i], "::text = $", i + 1));
      params.emplace_back(key_values[i]);
    }
    where.push_back(absl::StrCat(record_column, " = $", key_columns.size() + 1));
    params.push_back(PgParam::Bytes(record));
    PROV_ASSIGN_OR_RETURN(
        PgResult erased,
        conn_.Query(absl::StrCat("DELETE FROM ", table, " WHERE ", absl::StrJoin(where, " AND ")),
                    params));
    if (erased.affected() == 0) return false;
    if (erased.affected() != 1) {
      return absl::InternalError(absl::StrCat("quarantining ", q.table, " row ", q.key, ": ",
                                              erased.affected(), " rows matched its key"));
    }
    PROV_RETURN_IF_ERROR(
        conn_
            .Query("INSERT INTO quarantined_records(table_name, row_key, "
                   "reason, quarantined_at_us, record) "
                   "VALUES ($1, $2, $3, $4, $5)",
                   {q.table, q.key, q.reason, absl::ToUnixMicros(now), PgParam::Bytes(record)})
            .status());
    return true;
  }

 private:
  PgConn& conn_;
};

}  // namespace

absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadableRecords(PgConn& conn,
                                                                           absl::Time now) {
  std::vector<QuarantinedRecord> moved;
  PROV_RETURN_IF_ERROR(conn.Transaction(
      [&]() -> absl::Status {
        PROV_RETURN_IF_ERROR(conn.Query("SELECT pg_advisory_xact_lock($1::int, $2::int)",
                                        {kPgLockKey, kPgIdentityLock})
                                 .status());
        PgQuarantineRows rows(conn);
        PROV_ASSIGN_OR_RETURN(moved, QuarantineUnreadableRows(rows, now));
        return absl::OkStatus();
      },
      "BEGIN ISOLATION LEVEL READ COMMITTED"));
  return moved;
}

}  // namespace prov::server
