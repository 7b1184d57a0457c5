// Test helpers for the hardware reconciliation rules: a declared inventory built row by row, and
// node reports carrying cards with serials, on a fake clock the test advances.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "provenance/v1/analysis.pb.h"
#include "server/analysis/analyzer.h"
#include "server/inventory/inventory_index.h"
#include "tests/analysis/analysis_test_util.h"

namespace prov::server::testing {

struct Card {
  std::string serial;
  std::string pci = "0000:3b:00.0";
  uint32_t vendor_id = 0x10de;
  uint32_t device_id = 0x20b2;  // A100 SXM4 80GB
  std::string model = "NVIDIA A100-SXM4-80GB";
  std::string uuid;
};

inline provenance::v1::InventoryEntry Row(
    const std::string& serial, const std::string& node, const std::string& account = "",
    provenance::v1::InventoryStatus status = provenance::v1::INVENTORY_STATUS_IN_SERVICE,
    int64_t version = 1) {
  provenance::v1::InventoryEntry e;
  auto* d = e.mutable_declared();
  d->set_serial(serial);
  d->set_declared_model("A100 SXM4 80GB");
  d->set_vendor_id(0x10de);
  d->set_device_id(0x20b2);
  d->set_node_id(node);
  d->set_datacenter(node.empty() ? "" : absl::StrCat("dc-", node));
  d->set_rack("r1");
  d->set_account(account);
  d->set_status(status);
  e.set_version(version);
  return e;
}

inline std::shared_ptr<const inventory::InventoryIndex> Inventory(
    std::vector<provenance::v1::InventoryEntry> rows) {
  return std::make_shared<const inventory::InventoryIndex>(std::move(rows));
}

// A report of `node` at `t` (interval 60 s) with these cards and workloads.
inline ReportObservation HwReport(const std::string& node, absl::Time t,
                                  const std::vector<Card>& cards,
                                  std::vector<WorkloadObservation> workloads = {}) {
  ReportObservation r;
  r.node_id = node;
  r.hostname = absl::StrCat(node, ".example");
  r.datacenter = absl::StrCat("dc-", node);
  r.region = "eu";
  r.time_us = Us(t);
  r.interval_seconds = 60;
  for (const Card& c : cards) {
    provenance::v1::AcceleratorFact a;
    a.set_pci_address(c.pci);
    a.set_vendor_id(c.vendor_id);
    a.set_device_id(c.device_id);
    a.set_vendor(c.vendor_id == 0x19e5 ? "huawei" : "nvidia");
    a.set_model(c.model);
    a.set_serial(c.serial);
    a.set_uuid(c.uuid);
    r.accelerators.push_back(a);
  }
  r.workloads = std::move(workloads);
  return r;
}

inline std::vector<provenance::v1::Flag> FlagsOf(const Analyzer& a, const std::string& rule) {
  provenance::v1::ListFlagsRequest req;
  req.set_rule(rule);
  return a.ListFlags(req);
}

}  // namespace prov::server::testing
