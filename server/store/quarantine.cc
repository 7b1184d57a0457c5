#include "server/store/quarantine.h"

#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/analysis_state.pb.h"
#include "provenance/v1/identity.pb.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

struct Spec {
  const char* table;
  std::vector<const char*> key_columns;  // the key and the columns the record does not hold
  const char* record_column;
  std::function<absl::Status(const std::string&)> check;
};

template <typename Proto>
std::function<absl::Status(const std::string&)> Parses() {
  return [](const std::string& blob) {
    Proto p;
    if (p.ParseFromString(blob)) return absl::OkStatus();
    return absl::DataLossError(
        absl::StrCat("stored ", Proto::descriptor()->name(), " does not parse"));
  };
}

std::vector<Spec> Specs() {
  using namespace provenance::v1;
  return {
      {"accounts", {"account_id", "version"}, "identity", Parses<AccountIdentity>()},
      {"account_identities", {"account_id", "version"}, "identity", Parses<AccountIdentity>()},
      {"screening_hits",
       {"id", "account_id", "list_version", "kyc_version", "found_at_us"},
       "hit",
       Parses<ScreeningMatch>()},
      {"screening_lists",
       {"id", "list_version", "imported_at_us", "source", "actor", "columns", "entries"},
       "content",
       [](const std::string& content) {
         absl::Status utf8 = CheckUtf8(content);
         if (utf8.ok()) return utf8;
         return absl::DataLossError(
             absl::StrCat("stored screening list is not UTF-8 (", utf8.message(), ")"));
       }},
      {"analysis_nodes", {"node_id"}, "facts", Parses<NodeFacts>()},
      {"analysis_workloads", {"workload_key"}, "facts", Parses<WorkloadFacts>()},
      {"links", {"link_key", "kind", "account_a", "account_b"}, "link", Parses<Link>()},
      {"bundles", {"bundle_id", "merged_into", "updated_us"}, "bundle", Parses<Bundle>()},
      {"flags",
       {"flag_id", "rule", "subject", "severity", "status", "updated_us"},
       "flag",
       Parses<Flag>()},
  };
}

absl::Status QuarantineTable(SqliteDb& db, const Spec& spec, absl::Time now,
                             std::vector<QuarantinedRecord>* moved) {
  struct Bad {
    std::vector<std::string> key_values;
    std::string record;
    std::string reason;
  };
  std::vector<Bad> bad;
  {
    PROV_ASSIGN_OR_RETURN(auto st, db.Prepare(absl::StrCat("SELECT ", spec.record_column, ", ",
                                                           absl::StrJoin(spec.key_columns, ", "),
                                                           " FROM ", spec.table)));
    while (true) {
      PROV_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      std::string record = st->ColumnBlob(0);
      absl::Status ok = spec.check(record);
      if (ok.ok()) continue;
      Bad b;
      for (size_t i = 0; i < spec.key_columns.size(); ++i) {
        b.key_values.push_back(st->ColumnText(static_cast<int>(i + 1)));
      }
      b.record = std::move(record);
      b.reason = std::string(ok.message());
      bad.push_back(std::move(b));
    }
  }
  if (bad.empty()) return absl::OkStatus();
  std::vector<std::string> where;
  for (size_t i = 0; i < spec.key_columns.size(); ++i) {
    where.push_back(absl::StrCat(spec.key_columns[i], " = ?", i + 1));
  }
  PROV_ASSIGN_OR_RETURN(auto erase, db.Prepare(absl::StrCat("DELETE FROM ", spec.table, " WHERE ",
                                                            absl::StrJoin(where, " AND "))));
  PROV_ASSIGN_OR_RETURN(auto keep,
                        db.Prepare("INSERT INTO quarantined_records(table_name, row_key, reason, "
                                   "quarantined_at_us, record) VALUES (?, ?, ?, ?, ?)"));
  for (const Bad& b : bad) {
    std::vector<std::string> parts;
    for (size_t i = 0; i < spec.key_columns.size(); ++i) {
      parts.push_back(absl::StrCat(spec.key_columns[i], "=", b.key_values[i]));
    }
    QuarantinedRecord q{spec.table, absl::StrJoin(parts, ", "), b.reason};
    keep->BindText(1, q.table);
    keep->BindText(2, q.key);
    keep->BindText(3, q.reason);
    keep->BindInt64(4, absl::ToUnixMicros(now));
    keep->BindBlob(5, b.record);
    PROV_RETURN_IF_ERROR(keep->Run());
    // Bound as text: SQLite applies the column's affinity, so "2" matches INTEGER 2.
    for (size_t i = 0; i < b.key_values.size(); ++i) {
      erase->BindText(static_cast<int>(i + 1), b.key_values[i]);
    }
    PROV_RETURN_IF_ERROR(erase->Run());
    if (db.Changes() != 1) {
      return absl::InternalError(absl::StrCat("quarantining ", q.table, " row ", q.key, ": ",
                                              db.Changes(), " rows matched its key"));
    }
    moved->push_back(std::move(q));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadableRecords(SqliteDb& db,
                                                                           absl::Time now) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  std::vector<QuarantinedRecord> moved;
  for (const Spec& spec : Specs()) {
    PROV_RETURN_IF_ERROR(QuarantineTable(db, spec, now, &moved));
  }
  PROV_RETURN_IF_ERROR(txn.Commit());
  return moved;
}

}  // namespace prov::server
