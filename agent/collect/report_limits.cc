#include "agent/collect/report_limits.h"

#include "absl/strings/str_cat.h"

namespace prov::agent {
namespace {

template <typename T>
void Cap(google::protobuf::RepeatedPtrField<T>* list, int cap, const std::string& name,
         std::vector<std::string>& cut) {
  if (list->size() <= cap) return;
  cut.push_back(absl::StrCat(name, ": ", list->size(), " -> ", cap));
  list->DeleteSubrange(cap, list->size() - cap);
}

template <typename T>
void Cap(google::protobuf::RepeatedField<T>* list, int cap, const std::string& name,
         std::vector<std::string>& cut) {
  if (list->size() <= cap) return;
  cut.push_back(absl::StrCat(name, ": ", list->size(), " -> ", cap));
  list->Truncate(cap);
}

}  // namespace

std::vector<std::string> CapNodeLists(provenance::v1::NodeReport* report,
                                      const ReportListCaps& caps) {
  std::vector<std::string> cut;
  Cap(report->mutable_accelerators(), caps.accelerators, "accelerators", cut);
  Cap(report->mutable_samples(), caps.accelerators, "samples", cut);
  Cap(report->mutable_node()->mutable_addresses(), caps.node_addresses, "node.addresses", cut);
  Cap(report->mutable_workloads(), caps.workloads, "workloads", cut);
  for (int i = 0; i < report->workloads_size(); ++i) {
    auto* w = report->mutable_workloads(i);
    const std::string at = absl::StrCat("workloads[", i, "].");
    Cap(w->mutable_peers(), caps.peers, at + "peers", cut);
    Cap(w->mutable_pids(), caps.list_items, at + "pids", cut);
    Cap(w->mutable_listening_ports(), caps.list_items, at + "listening_ports", cut);
    Cap(w->mutable_class_reasons(), caps.list_items, at + "class_reasons", cut);
    Cap(w->mutable_container_ids(), caps.list_items, at + "container_ids", cut);
    Cap(w->mutable_artifact_digests(), caps.list_items, at + "artifact_digests", cut);
    Cap(w->mutable_accelerator_pci_addresses(), caps.list_items, at + "accelerator_pci_addresses",
        cut);
  }
  if (report->has_health()) {
    Cap(report->mutable_health()->mutable_collector_errors(), caps.collector_errors,
        "health.collector_errors", cut);
  }
  return cut;
}

}  // namespace prov::agent
