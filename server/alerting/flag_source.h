// FlagSource: where the alert notifier reads flags. The real one wraps the AnalysisEngine
// (EngineFlagSource below); unit tests use a fake they fill by hand.
//
//   auto source = NewEngineFlagSource(engine, provenance::v1::SEVERITY_HIGH);  // watches now
//   for (const Flag& f : source->FiringFlags()) ...;     // open/acknowledged/escalated, >= min
//   std::optional<Flag> f = source->GetFlag("F-000007");  // any status or severity
//   auto changed = source->WaitForChanges(absl::Milliseconds(250));
//
// Thread-compatible: one caller (the notifier thread). Must not outlive the engine.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "provenance/v1/analysis.pb.h"

namespace prov::server {

class AnalysisEngine;

class FlagSource {
 public:
  virtual ~FlagSource() = default;
  // Flags that should page: status open, acknowledged or escalated, severity
  // at or above the source's minimum.
  virtual std::vector<provenance::v1::Flag> FiringFlags() = 0;
  virtual std::optional<provenance::v1::Flag> GetFlag(const std::string& flag_id) = 0;
  // Flags changed (raised, updated, case changed) since the last call, waiting up to `timeout`
  // for the first; may include flags below the minimum or not firing.
  virtual std::vector<provenance::v1::Flag> WaitForChanges(absl::Duration timeout) = 0;
};

// Whether `flag` should page at `min_severity` (the rule FiringFlags applies).
bool FlagFires(const provenance::v1::Flag& flag, provenance::v1::Severity min_severity);

// Registers a FlagWatch on `engine` at construction and removes it at destruction.
std::unique_ptr<FlagSource> NewEngineFlagSource(AnalysisEngine& engine,
                                                provenance::v1::Severity min_severity);

}  // namespace prov::server
