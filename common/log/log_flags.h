// --log-level and --log-format for the daemons (provd, prov-agent, prov-landmark): link
// prov::log_flags and call InitLogFromFlags() right after absl::ParseCommandLine.
//
//   if (absl::Status s = prov::log::InitLogFromFlags(); !s.ok()) { /* usage error, exit 2 */ }
//
// The error names the flag ("--log-level: \"loud\" is not one of debug, info, warn, error").
#pragma once

#include "absl/status/status.h"

namespace prov::log {

absl::Status InitLogFromFlags();

}  // namespace prov::log
