// NormalizeArgs: lets every program's command line and config file spell flags with dashes.
//
//   auto args = NormalizeArgs({"provd", "--data-dir=/x", "--flagfile", "/etc/provd.flags"});
//   // -> {"provd", "--data_dir=/x", <flags from the file, normalized>}
//
// Abseil 20220623 names flags by C++ identifier (data_dir) and has no dash aliases, while the
// documented spelling is --data-dir. This rewrites '-' to '_' in every flag NAME (never in
// values), and expands --flagfile=FILE / --flagfile FILE itself (one flag per line; blank lines
// and lines starting with '#' are skipped; nested flagfiles up to depth 8), so config files may
// use either spelling too. Arguments after a bare "--" are left alone. Errors name the flagfile.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace prov {

absl::StatusOr<std::vector<std::string>> NormalizeArgs(const std::vector<std::string>& args);

}  // namespace prov
