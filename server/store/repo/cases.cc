#include "server/store/repo/cases.h"

#include "absl/strings/str_cat.h"

namespace prov::server {

absl::Status CheckCaseChange(absl::string_view flag_id, const std::optional<StoredCase>& stored,
                             const CaseChange& change) {
  if (change.after.flag_id != flag_id) {
    return absl::InvalidArgumentError(absl::StrCat("case change: flag_id '", change.after.flag_id,
                                                   "' is not the case's '", flag_id, "'"));
  }
  const uint64_t next = (stored.has_value() ? stored->revision : 0) + 1;
  if (change.after.revision != next) {
    return absl::InvalidArgumentError(absl::StrCat("case change of ", flag_id, ": revision ",
                                                   change.after.revision, " is not the next (",
                                                   next, ")"));
  }
  if (change.actor.empty() || change.audit_action.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("case change of ", flag_id, ": actor and audit_action are required"));
  }
  return absl::OkStatus();
}

}  // namespace prov::server
