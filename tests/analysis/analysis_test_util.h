// Builders for analysis tests: a small policy and hand-made report observations.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/observation.h"
#include "server/policy/policy.h"

namespace prov::server::testing {

inline constexpr char kTestPolicy[] = R"yaml(
version: "test-1"
compute_tiers:
  - {name: tier-1e18, flop: 1e18, severity: medium, basis: "test tier"}
  - {name: tier-1e20, flop: 1e20, severity: high, basis: "test tier"}
projection: {horizon: 0h}
restricted_jurisdictions: {countries: [CN, RU], severity: high}
screening: {min_score: 0.88, severity: high}
restricted_hardware:
  - {name: huawei-ascend, vendor_id: 0x19e5, families: [ascend], severity: critical}
correlation:
  bundle_threshold: 0.6
  weights: {network_peer: 0.7, master_addr: 0.9, artifact: 0.6, image: 0.3, identity_payment: 0.8,
            identity_owner: 0.8, identity_email: 0.4, identity_address: 0.4,
            identity_source_ip: 0.5, identity_reseller: 0.3, co_start: 0.15,
            synchronised_activity: 0.6, handoff: 0.7}
  common_artifact_max_accounts: 5
  artifact_settle: 0s
  handoff_window: 6h
  co_start_window: 2m
  activity_window: 5m
  min_shared_transitions: 3
)yaml";

inline std::shared_ptr<const policy::Policy> TestPolicy(const std::string& yaml = kTestPolicy) {
  auto p = policy::ParsePolicy(yaml, "test.yaml");
  EXPECT_TRUE(p.ok()) << p.status();
  return std::make_shared<const policy::Policy>(*p);
}

inline const absl::Time kT0 = absl::FromUnixSeconds(1764000000);

inline int64_t Us(absl::Time t) { return absl::ToUnixMicros(t); }

// A node with one address, datacenter and region.
inline ReportObservation Node(const std::string& node, const std::string& dc,
                              const std::string& region, absl::Time t) {
  ReportObservation r;
  r.node_id = node;
  r.hostname = absl::StrCat(node, ".example");
  r.datacenter = dc;
  r.region = region;
  r.addresses = {absl::StrCat("10.0.", node.size(), ".", node.back() % 200)};
  r.time_us = Us(t);
  r.interval_seconds = 300;
  provenance::v1::AcceleratorFact a;
  a.set_pci_address("0000:01:00.0");
  a.set_vendor_id(0x10de);
  a.set_device_id(0x2330);
  a.set_vendor("nvidia");
  a.set_model("H100 SXM5 80GB");
  a.set_family("hopper");
  r.accelerators.push_back(a);
  return r;
}

// A training workload adding `flop` (low; high = 3x) per report.
inline WorkloadObservation Training(const std::string& id, const std::string& account,
                                    double flop) {
  WorkloadObservation w;
  w.workload_id = id;
  w.account = account;
  w.workload_class = 1;
  w.accelerators = {"0000:01:00.0"};
  w.activity_pct = 95;
  w.usage.workload_id = id;
  w.usage.account = account;
  w.usage.accelerator_count = 1;
  w.usage.accelerator_seconds = 300;
  w.usage.flop_low = flop;
  w.usage.flop_high = flop * 3;
  w.usage.method = "accel_seconds*peak*tensor_activity";
  w.usage.accelerator_model = "H100 SXM5 80GB";
  return w;
}

// Two accounts exchanging traffic across data centres, one report each per 5-minute round:
// shell-a on n-east (10.1.0.1), shell-b on n-west talking to it; 3e17 FLOP per report each. Three
// rounds make one bundle and one tier-1e18 flag under kTestPolicy.
inline std::vector<ReportObservation> PeerRound(int round) {
  const absl::Time t = kT0 + absl::Minutes(5 * round);
  ReportObservation east = Node("n-east", "dc-east", "us-east", t);
  east.addresses = {"10.1.0.1"};
  east.workloads.push_back(Training("k8s:a", "shell-a", 3e17));
  ReportObservation west = Node("n-west", "dc-west", "eu-west", t);
  west.addresses = {"10.2.0.1"};
  WorkloadObservation v = Training("k8s:b", "shell-b", 3e17);
  v.peers.push_back({"10.1.0.1", 0});
  west.workloads.push_back(v);
  return {east, west};
}

inline ReportObservation WithAddress(ReportObservation r, const std::string& address) {
  r.addresses = {address};
  return r;
}

// Links of one kind (workloads starting together also leave co_start links in these scenarios).
inline std::vector<provenance::v1::Link> OfKind(const std::vector<provenance::v1::Link>& links,
                                                const std::string& kind) {
  std::vector<provenance::v1::Link> out;
  for (const auto& l : links) {
    if (l.kind() == kind) out.push_back(l);
  }
  return out;
}

inline std::vector<provenance::v1::Flag> Flags(const Analyzer& a,
                                               const std::string& rule_prefix = "") {
  provenance::v1::ListFlagsRequest req;
  req.set_rule(rule_prefix);
  return a.ListFlags(req);
}

}  // namespace prov::server::testing
