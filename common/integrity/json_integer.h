// IntegerAt: a JSON object's member as an integer, for the integrity module's readers of
// manifest.json and audit_log.jsonl.
//
//   m.format_version = IntegerAt<int>(j, "format_version");   // throws if absent or not an integer
//
// nlohmann's get<integer>() also accepts a floating-point value and casts it without a range
// check (undefined behaviour for 1e300); this accepts JSON integers only. Throws nlohmann's
// out_of_range when `key` is absent and std::runtime_error naming `key` when it is not an integer.
#pragma once

#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace prov::integrity {

template <typename T>
T IntegerAt(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = j.at(key);
  if (!v.is_number_integer()) throw std::runtime_error(absl::StrCat(key, " is not an integer"));
  return v.get<T>();
}

}  // namespace prov::integrity
