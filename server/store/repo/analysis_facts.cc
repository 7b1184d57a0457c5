#include "server/store/repo/analysis_facts.h"

#include <type_traits>

#include "absl/strings/str_cat.h"

namespace prov::server {
namespace {

template <typename Entry>
absl::Status CheckEntries(const std::vector<Entry>& entries, absl::string_view kind) {
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].first.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("analysis facts: ", kind, " entry ", i, " has an empty key"));
    }
    if constexpr (std::is_pointer_v<typename Entry::second_type>) {
      if (entries[i].second == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("analysis facts: ", kind, " ", entries[i].first, " has no value (null)"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAnalysisFactsChanges(const AnalysisFactsChanges& changes) {
  if (absl::Status s = CheckEntries(changes.nodes, "node"); !s.ok()) return s;
  if (absl::Status s = CheckEntries(changes.workloads, "workload"); !s.ok()) return s;
  for (size_t i = 0; i < changes.removed_links.size(); ++i) {
    if (changes.removed_links[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("analysis facts: removed link entry ", i, " has an empty key"));
    }
  }
  if (absl::Status s = CheckEntries(changes.links, "link"); !s.ok()) return s;
  if (absl::Status s = CheckEntries(changes.bundles, "bundle"); !s.ok()) return s;
  return CheckEntries(changes.flags, "flag");
}

}  // namespace prov::server
