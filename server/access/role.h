// Roles of the people who use provd (compliance.proto): viewer < analyst < admin.
//
//   PROV_ASSIGN_OR_RETURN(Role r, ParseRole("analyst"));
//   if (AtLeast(principal.role(), provenance::v1::ROLE_ANALYST)) ...
//   RoleName(provenance::v1::ROLE_ADMIN)   // "admin"
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "provenance/v1/compliance.pb.h"

namespace prov::server {

using Role = provenance::v1::Role;

// "viewer", "analyst", "admin" (case-insensitive); INVALID_ARGUMENT naming the value otherwise.
absl::StatusOr<Role> ParseRole(absl::string_view name);
std::string RoleName(Role role);  // "viewer", ...; "none" for ROLE_UNSPECIFIED
inline bool AtLeast(Role have, Role need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

}  // namespace prov::server
