// The location files of an audit export as an auditor receives them (provctl location verify,
// common/location/export_location_check.h): ParseLocationFiles, then RederiveVerdicts (record
// signatures, calibration, EvaluateLocation) on whatever parsed. Parts (fuzz_input.h), in order:
// location_landmarks.jsonl, location_sites.jsonl, location_node_keys.jsonl,
// location_measurements.jsonl, location_verdicts.jsonl. The seed is a real signed export
// (tests/common/location/location_export_builder.h), so mutations reach the signature checks and
// the geometry with records that verify.
#include <cstdint>
#include <string>
#include <vector>

#include "common/location/export_location_check.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> parts = prov::fuzz::SplitParts(data, size, 5);
  prov::location::LocationFiles files{parts[0], parts[1], parts[2], parts[3], parts[4]};
  std::vector<std::string> problems;
  prov::location::ParsedLocationExport parsed =
      prov::location::ParseLocationFiles(files, &problems);
  (void)prov::location::RederiveVerdicts(parsed);
  return 0;
}
