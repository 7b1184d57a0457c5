// Printing prov-ingest-bench results: a side-by-side table (one column per target, then the
// provd/sink ratio) and a JSON document with the same figures.
//
//   std::vector<TargetRun> runs = {{"sink", sink_result}, {"provd", provd_result}};
//   std::string table = FormatTable(runs, options);   // print to stdout
//   std::string json = FormatJson(runs, options);     // --json-out
//
// Ratios are run[1] / run[0] when there are two runs. Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench/loadgen.h"

namespace prov::bench {

struct TargetRun {
  std::string name;  // "sink", "provd"
  absl::StatusOr<LoadResult> result;
};

std::string FormatTable(const std::vector<TargetRun>& runs, const LoadOptions& options);
std::string FormatJson(const std::vector<TargetRun>& runs, const LoadOptions& options);

}  // namespace prov::bench
