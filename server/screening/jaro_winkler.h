// Jaro-Winkler similarity of two ASCII strings, 0 (nothing alike) to 1 (equal).
//
//   JaroWinkler("mohammed", "mohammad");   // 0.95
//
// Winkler's prefix bonus: scale 0.1 over at most 4 common leading characters. Pure function.
#pragma once

#include "absl/strings/string_view.h"

namespace prov::screening {

double JaroWinkler(absl::string_view a, absl::string_view b);

}  // namespace prov::screening
