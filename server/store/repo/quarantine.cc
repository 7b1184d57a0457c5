#include "server/store/repo/quarantine.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/analysis_state.pb.h"
#include "provenance/v1/identity.pb.h"

namespace prov::server {
namespace {

struct Spec {
  std::string table;
  std::vector<std::string> key_columns;  // the key and the columns the record does not hold
  std::string record_column;
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

}  // namespace

absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadableRows(QuarantineRows& rows,
                                                                        absl::Time now) {
  std::vector<QuarantinedRecord> moved;
  for (const Spec& spec : Specs()) {
    struct Bad {
      std::vector<std::string> key_values;
      std::string record;
      std::string reason;
    };
    std::vector<Bad> bad;
    PROV_RETURN_IF_ERROR(rows.Scan(
        spec.table, spec.key_columns, spec.record_column,
        [&](std::vector<std::string> key_values, std::string record) {
          absl::Status ok = spec.check(record);
          if (ok.ok()) return;
          bad.push_back({std::move(key_values), std::move(record), std::string(ok.message())});
        }));
    for (const Bad& b : bad) {
      std::vector<std::string> parts;
      for (size_t i = 0; i < spec.key_columns.size(); ++i) {
        parts.push_back(absl::StrCat(spec.key_columns[i], "=", b.key_values[i]));
      }
      QuarantinedRecord q{spec.table, absl::StrJoin(parts, ", "), b.reason};
      PROV_ASSIGN_OR_RETURN(bool was_moved, rows.Move(spec.table, spec.key_columns, b.key_values,
                                                      spec.record_column, q, b.record, now));
      if (was_moved) moved.push_back(std::move(q));
    }
  }
  return moved;
}

}  // namespace prov::server
