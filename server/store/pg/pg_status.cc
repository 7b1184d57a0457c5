#include "server/store/pg/pg_status.h"

#include "absl/strings/match.h"

namespace prov::server {

absl::StatusCode PgStatusCode(absl::string_view s) {
  if (s.empty()) return absl::StatusCode::kUnavailable;
  if (s == "23505") return absl::StatusCode::kAlreadyExists;
  if (s == "40001" || s == "40P01") return absl::StatusCode::kAborted;
  // 08P01 protocol_violation is a plain ERROR on a live session (a wrong parameter count): a bug.
  if (s == "08P01") return absl::StatusCode::kInternal;
  if (absl::StartsWith(s, "08") || s == "57P01" || s == "57P02" || s == "57P03" || s == "53300" ||
      s == "55P03" || s == "57014" || s == "25006") {
    return absl::StatusCode::kUnavailable;
  }
  if (s == "53100" || s == "53200" || s == "54000") return absl::StatusCode::kResourceExhausted;
  if (absl::StartsWith(s, "22")) return absl::StatusCode::kInvalidArgument;
  if (absl::StartsWith(s, "23")) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

}  // namespace prov::server
