// KYC import (server/kyc/kyc_parser.h, used by server/identity): the same bytes as CSV, JSON and
// JSON Lines, so one corpus exercises all three readers and the record validation behind them.
#include <cstdint>

#include "absl/strings/string_view.h"
#include "server/kyc/kyc_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  prov::kyc::KycParseOptions options;
  options.max_rows = 10000;  // the limit itself is exercised by the unit tests
  for (auto format : {prov::kyc::KycFormat::kCsv, prov::kyc::KycFormat::kJson,
                      prov::kyc::KycFormat::kJsonLines}) {
    (void)prov::kyc::ParseKyc(text, format, "fuzz", options);
  }
  (void)prov::kyc::KycFormatFromPath(text);
  return 0;
}
