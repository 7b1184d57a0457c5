// The landmark keys file of prov-agent's --landmark-keys: which landmarks the responder answers.
//
//   # id            key (the text of the landmark's .pub file)
//   lm-fra-1 ed25519-public 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29
//
//   PROV_ASSIGN_OR_RETURN(LandmarkKeys keys, ParseLandmarkKeys(text));   // id -> raw 32 bytes
//
// One landmark a line; '#' starts a comment line; blank lines are skipped. Errors name the line
// number and what is wrong (bad id, not "ed25519-public", not 64 hex digits, a duplicate id).
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::agent {

using LandmarkKeys = std::map<std::string, std::string>;  // landmark id -> raw Ed25519 key

absl::StatusOr<LandmarkKeys> ParseLandmarkKeys(absl::string_view text);
absl::StatusOr<LandmarkKeys> LoadLandmarkKeys(const std::string& path);  // errors name the file

// "ed25519-public <64 hex>" -> 32 raw bytes; INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> ParseEd25519PublicText(absl::string_view text);

}  // namespace prov::agent
