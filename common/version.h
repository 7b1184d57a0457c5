// The project's version, stamped into reports (agent_version) and --version output.
#pragma once

namespace prov {
inline constexpr const char kVersion[] = "0.1.0";
}  // namespace prov
