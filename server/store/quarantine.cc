// The SQLite rows of the start-up quarantine (the scan itself: repo/quarantine.cc).
#include "server/store/quarantine.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

class SqliteQuarantineRows : public QuarantineRows {
 public:
  explicit SqliteQuarantineRows(SqliteDb& db) : db_(db) {}

  absl::Status Scan(const std::string& table, const std::vector<std::string>& key_columns,
                    const std::string& record_column, Row row) override {
    PROV_ASSIGN_OR_RETURN(
        auto st, db_.Prepare(absl::StrCat("SELECT ", record_column, ", ",
                                          absl::StrJoin(key_columns, ", "), " FROM ", table)));
    while (true) {
      PROV_ASSIGN_OR_RETURN(bool more, st->Step());
      if (!more) break;
      std::vector<std::string> key_values;
      for (size_t i = 0; i < key_columns.size(); ++i) {
        key_values.push_back(st->ColumnText(static_cast<int>(i + 1)));
      }
      row(std::move(key_values), st->ColumnBlob(0));
    }
    return absl::OkStatus();
  }

  // One BEGIN IMMEDIATE transaction holds the whole scan: nothing rewrites the row meanwhile.
  absl::StatusOr<bool> Move(const std::string& table, const std::vector<std::string>& key_columns,
                            const std::vector<std::string>& key_values,
                            const std::string& /*record_column*/, const QuarantinedRecord& q,
                            const std::string& record, absl::Time now) override {
    std::vector<std::string> where;
    for (size_t i = 0; i < key_columns.size(); ++i) {
      where.push_back(absl::StrCat(key_columns[i], " = ?", i + 1));
    }
    PROV_ASSIGN_OR_RETURN(auto keep,
                          db_.Prepare("INSERT INTO quarantined_records(table_name, row_key, "
                                      "reason, quarantined_at_us, record) VALUES (?, ?, ?, ?, ?)"));
    keep->BindText(1, q.table);
    keep->BindText(2, q.key);
    keep->BindText(3, q.reason);
    keep->BindInt64(4, absl::ToUnixMicros(now));
    keep->BindBlob(5, record);
    PROV_RETURN_IF_ERROR(keep->Run());
    PROV_ASSIGN_OR_RETURN(auto erase, db_.Prepare(absl::StrCat("DELETE FROM ", table, " WHERE ",
                                                               absl::StrJoin(where, " AND "))));
    // Bound as text: SQLite applies the column's affinity, so "2" matches INTEGER 2.
    for (size_t i = 0; i < key_values.size(); ++i) {
      erase->BindText(static_cast<int>(i + 1), key_values[i]);
    }
    PROV_RETURN_IF_ERROR(erase->Run());
    if (db_.Changes() != 1) {
      return absl::InternalError(absl::StrCat("quarantining ", q.table, " row ", q.key, ": ",
                                              db_.Changes(), " rows matched its key"));
    }
    return true;
  }

 private:
  SqliteDb& db_;
};

}  // namespace

absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadableRecords(SqliteDb& db,
                                                                           absl::Time now) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  SqliteQuarantineRows rows(db);
  PROV_ASSIGN_OR_RETURN(std::vector<QuarantinedRecord> moved, QuarantineUnreadableRows(rows, now));
  PROV_RETURN_IF_ERROR(txn.Commit());
  return moved;
}

}  // namespace prov::server
