// Hostile-input families against provd's agent stream (see probe_families.h).
#pragma once

#include "tools/probe/probe_families.h"

namespace prov::probe {

FamilyResult MalformedFrames(const ProbeEnv& env);   // random, truncated, invalid UTF-8 frames
FamilyResult OversizedFields(const ProbeEnv& env);   // huge strings and counts
FamilyResult UnknownFields(const ProbeEnv& env);     // MiBs of fields provd does not know
FamilyResult SequenceJumps(const ProbeEnv& env);     // seq far ahead on the node's boot
FamilyResult IntervalClaims(const ProbeEnv& env);    // interval_seconds claims vs elapsed time
FamilyResult KillDuringIngest(const ProbeEnv& env);  // SIGKILL with streams in flight

// Families against provd's people-facing side.
FamilyResult AuthFlood(const ProbeEnv& env);       // failed logins, refused admin attempts
FamilyResult Slowloris(const ProbeEnv& env);       // dashboard connections trickling headers
FamilyResult HostileImports(const ProbeEnv& env);  // bad encodings, quotes, huge fields

}  // namespace prov::probe
