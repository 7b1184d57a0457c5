#include "server/access/role.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace prov::server {

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "viewer") return provenance::v1::ROLE_VIEWER;
  if (lower == "analyst") return provenance::v1::ROLE_ANALYST;
  if (lower == "admin") return provenance::v1::ROLE_ADMIN;
  return absl::InvalidArgumentError(
      absl::StrCat("role: '", name, "' is not one of viewer, analyst, admin"));
}

std::string RoleName(Role role) {
  switch (role) {
    case provenance::v1::ROLE_VIEWER:
      return "viewer";
    case provenance::v1::ROLE_ANALYST:
      return "analyst";
    case provenance::v1::ROLE_ADMIN:
      return "admin";
    default:
      return "none";
  }
}

}  // namespace prov::server
