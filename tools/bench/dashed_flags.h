// NormalizeDashedFlags: lets Abseil flags be spelled with dashes, as the project's other tools
// spell them (--port-file, --json-out): "--port-file=x" becomes "--port_file=x" before
// absl::ParseCommandLine sees it. Arguments after a bare "--" and values are left alone.
//
//   int main(int argc, char** argv) {
//     prov::bench::NormalizeDashedFlags(argc, argv);
//     absl::ParseCommandLine(argc, argv);
//
// Rewrites argv in place (each flag name only gets shorter or stays the same length).
#pragma once

#include <cstring>

namespace prov::bench {

inline void NormalizeDashedFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (std::strcmp(arg, "--") == 0) return;
    if (arg[0] != '-') continue;
    char* name = arg + (arg[1] == '-' ? 2 : 1);
    for (char* c = name; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
}

}  // namespace prov::bench
