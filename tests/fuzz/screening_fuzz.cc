// The Consolidated Screening List CSV (server/screening/csl_list.h), both published layouts (the
// 28-column form and the quoted 29-column form with `_id`): the parser picks by the header.
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/screening/csl_list.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<prov::screening::RowError> errors;
  prov::screening::CslParseOptions options;
  options.max_rows = 10000;
  (void)prov::screening::ParseConsolidatedScreeningList(text, "fuzz.csv", &errors, options);
  return 0;
}
