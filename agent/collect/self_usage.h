// The agent's own CPU time and resident memory, for AgentHealth (always the real /proc/self,
// never the --procfs-root fixture).
//
//   SelfUsage u = ReadSelfUsage();   // u.cpu_seconds, u.rss_bytes; zeros when unreadable
#pragma once

#include <cstdint>
#include <string>

namespace prov::agent {

struct SelfUsage {
  double cpu_seconds = 0;  // user + system since start
  uint64_t rss_bytes = 0;
};

SelfUsage ReadSelfUsage(const std::string& self_dir = "/proc/self");

}  // namespace prov::agent
