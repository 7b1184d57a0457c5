// NodeHardwareKey: the facts that make a node's SMBIOS identity, joined into one string, so that
// two NodeHardware with the same key are the same identity. Engine-free: the ingest planner
// compares it with its write cache (ingest_write_caches.h) and node_hardware.h stores it.
//
//   if (caches.node_hardware[node] != NodeHardwareKey(report.node().hardware())) { ... changed }
//
// Pure; safe from any thread.
#pragma once

#include <string>

#include "provenance/v1/report.pb.h"

namespace prov::server {

std::string NodeHardwareKey(const provenance::v1::NodeHardware& hw);

}  // namespace prov::server
