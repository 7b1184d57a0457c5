// The project's version, stamped into reports (agent_version) and --version output. Keep it equal
// to project(VERSION) in CMakeLists.txt (the version_* tests compare the two).
//
//   if (arg == "--version") { std::puts(prov::VersionLine("provctl").c_str()); return 0; }
#pragma once

#include <string>

namespace prov {

inline constexpr const char kVersion[] = "0.1.0";

// "provctl 0.1.0 (provenance)"
inline std::string VersionLine(const char* program) {
  return std::string(program) + " " + kVersion + " (provenance)";
}

}  // namespace prov
