// Caps on the lists of a NodeReport, matching provd's validator (server/ingest/report_validator.h)
// so that a busy node never sends a report provd must refuse whole.
//
//   std::vector<std::string> cut = CapNodeLists(&report);   // "workloads[2].peers: 1800 -> 1024"
//   // the collector names each cut in a collector error "limits"; nothing is cut silently
//
// A tenant controls how many sockets, processes and listening ports its workloads have: an
// inference server with 2,000 TCP connections must not cost the node its whole report. What is cut
// is the tail of each list (the collectors order peers and processes deterministically), and the
// count of what was cut is reported, so the evidence that a list was long is kept.
// Pure function; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "provenance/v1/report.pb.h"

namespace prov::agent {

struct ReportListCaps {
  int accelerators = 256;  // accelerators and samples
  int node_addresses = 256;
  int workloads = 1024;
  int peers = 1024;            // per workload
  int list_items = 4096;       // pids, ports, reasons, digests, container ids per workload
  int collector_errors = 255;  // one more is left for the collector's own "limits" entry
};

// Cuts every list over its cap; returns one "list: had -> kept" line per list cut.
std::vector<std::string> CapNodeLists(provenance::v1::NodeReport* report,
                                      const ReportListCaps& caps = {});

}  // namespace prov::agent
