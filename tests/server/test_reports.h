// Builders for NodeReports used by provd's tests.
//
//   NodeReport r = MakeReport("node-1", "boot-a", /*seq=*/1, clock.Now());
//   // 2 accelerators (H100 SXM5 0x10de:0x2330 at 0000:3b:00.0 and 0000:3c:00.0), samples with
//   // tensor_activity 0.5 on the first only, and one training workload "k8s:pod-1" of account
//   // "acme" on both, interval 10 s.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "provenance/v1/report.pb.h"

namespace prov::server::testing {

inline provenance::v1::NodeReport MakeReport(const std::string& node_id, const std::string& boot_id,
                                             uint64_t seq, absl::Time collected_at,
                                             const std::string& datacenter = "fra1") {
  provenance::v1::NodeReport r;
  r.mutable_node()->set_node_id(node_id);
  r.mutable_node()->set_boot_id(boot_id);
  r.mutable_node()->set_hostname(node_id + ".example");
  r.mutable_node()->set_datacenter(datacenter);
  r.mutable_node()->set_region("eu-central");
  r.mutable_node()->set_agent_version("0.1.0");
  r.set_seq(seq);
  r.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(collected_at));
  r.set_interval_seconds(10);
  for (const char* address : {"0000:3b:00.0", "0000:3c:00.0"}) {
    auto* a = r.add_accelerators();
    a->set_pci_address(address);
    a->set_vendor_id(0x10de);
    a->set_device_id(0x2330);
    a->set_vendor("nvidia");
    a->set_model("H100 SXM5 80GB");
    a->set_model_known(true);
    a->set_uuid("GPU-" + node_id + "-" + address);  // unique per card, like a real UUID
    auto* s = r.add_samples();
    s->set_pci_address(address);
    s->set_utilization_pct(97);
  }
  r.mutable_samples(0)->set_tensor_activity(0.5);
  auto* w = r.add_workloads();
  w->set_workload_id("k8s:pod-1");
  w->set_kind(provenance::v1::WORKLOAD_KIND_K8S_POD);
  w->mutable_attribution()->set_account("acme");
  w->mutable_attribution()->set_source(provenance::v1::ATTRIBUTION_SOURCE_K8S_LABEL);
  w->mutable_attribution()->set_confidence(0.9);
  w->set_workload_class(provenance::v1::WORKLOAD_CLASS_TRAINING);
  w->set_class_confidence(0.8);
  w->add_class_reasons("torchrun launcher");
  w->set_launcher("torchrun");
  w->add_accelerator_pci_addresses("0000:3b:00.0");
  w->add_accelerator_pci_addresses("0000:3c:00.0");
  return r;
}

}  // namespace prov::server::testing
