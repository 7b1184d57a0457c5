#include "tools/probe/probe_families.h"

#include "tools/probe/probe_ingest.h"

namespace prov::probe {

const std::vector<Family>& AllFamilies() {
  static const std::vector<Family> families = {
      {"frames", MalformedFrames}, {"oversize", OversizedFields}, {"unknown", UnknownFields},
      {"seq", SequenceJumps},      {"interval", IntervalClaims},  {"auth", AuthFlood},
      {"slowloris", Slowloris},    {"imports", HostileImports},   {"kill", KillDuringIngest},
  };
  return families;
}

}  // namespace prov::probe
