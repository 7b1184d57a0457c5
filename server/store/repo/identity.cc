#include "server/store/repo/identity.h"

#include "absl/strings/str_cat.h"

namespace prov::server {

std::string ScreeningHitKey(const provenance::v1::ScreeningMatch& m) {
  return absl::StrCat(m.account_id(), "\x1f", m.subject_kind(), "\x1f", m.subject_name(), "\x1f",
                      m.entry_id(), "\x1f", m.entry_name());
}

}  // namespace prov::server
