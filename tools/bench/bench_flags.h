// ParseBenchFlags: the bench programs' shared start-up. Flags may be spelled with dashes and come
// from --flagfile (common/flag_args.h); a bad flagfile prints the error and exits 2.
//
//   int main(int argc, char** argv) {
//     prov::bench::ParseBenchFlags(argc, argv);
//     ...
//   }
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "common/flag_args.h"

namespace prov::bench {

inline void ParseBenchFlags(int argc, char** argv) {
  auto args = prov::NormalizeArgs(std::vector<std::string>(argv, argv + argc));
  if (!args.ok()) {
    std::fprintf(stderr, "%s\n", std::string(args.status().message()).c_str());
    std::exit(2);
  }
  std::vector<char*> cargs;
  for (std::string& a : *args) cargs.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(cargs.size()), cargs.data());
}

}  // namespace prov::bench
