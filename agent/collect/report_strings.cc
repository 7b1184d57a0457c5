#include "agent/collect/report_strings.h"

namespace prov::agent {

const StringPolicy& NodeStringPolicy() {
  static const StringPolicy* policy = [] {
    auto* p = new StringPolicy();
    // Within provd's validator limits (server/ingest/report_validator.h: ids and labels 256 bytes,
    // addresses 255, free text 4096), so a repaired report is never refused for its lengths.
    p->default_max_bytes = 255;
    p->max_bytes = {
        {"provenance.v1.NodeIdentity.hostname", 255},
        {"provenance.v1.DistributedMarkers.master_addr", 255},
        {"provenance.v1.Workload.pod_name", 253},
        {"provenance.v1.Workload.pod_namespace", 253},
        {"provenance.v1.Workload.workload_id", 255},
        {"provenance.v1.Workload.cgroup_path", 4096},
        {"provenance.v1.Workload.class_reasons", 1024},
        {"provenance.v1.Attribution.detail", 1024},
        {"provenance.v1.CollectorError.message", 1024},
    };
    p->raw_digest_field = {
        {"provenance.v1.DistributedMarkers.master_addr", "master_addr_raw_sha256"},
        {"provenance.v1.Attribution.account", "account_raw_sha256"},
    };
    return p;
  }();
  return *policy;
}

StringRepairs RepairNodeStrings(provenance::v1::NodeReport* report) {
  StringRepairs r = RepairStrings(report, NodeStringPolicy());
  if (!r.any()) return r;
  auto* health = report->mutable_health();
  health->set_strings_repaired(health->strings_repaired() + r.repaired);
  health->set_strings_truncated(health->strings_truncated() + r.truncated);
  return r;
}

}  // namespace prov::agent
