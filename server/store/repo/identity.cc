#include "server/store/repo/identity.h"

#include "absl/strings/str_cat.h"

namespace prov::server {

absl::Status CheckKycVersion(int64_t latest, int64_t expected) {
  if (latest == expected) return absl::OkStatus();
  return absl::AbortedError(
      absl::StrCat("another writer imported KYC version ", latest, " meanwhile; retry"));
}

std::string ScreeningHitKey(const provenance::v1::ScreeningMatch& m) {
  return absl::StrCat(m.account_id(), "\x1f", m.subject_kind(), "\x1f", m.subject_name(), "\x1f",
                      m.entry_id(), "\x1f", m.entry_name());
}

}  // namespace prov::server
