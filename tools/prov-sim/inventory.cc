#include "tools/prov-sim/inventory.h"

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/csv.h"
#include "common/fs.h"

namespace prov::sim {
namespace {

using Kind = v1::SimHardwareEvent;

class Builder {
 public:
  Builder(const v1::Scenario& s, const HardwarePlan& plan, const AcceleratorCatalog& catalog)
      : s_(s), plan_(plan), catalog_(catalog) {
    for (int i = 0; i < s.nodes_size(); ++i) node_index_[s.nodes(i).node_id()] = i;
  }

  // The inventory before report `report`; `touched` (optional) gets the serials that declared
  // events at exactly `report` changed, in order.
  std::vector<InventoryRow> Build(uint32_t report, std::vector<std::string>* touched) {
    for (int i = 0; i < s_.nodes_size(); ++i) {
      const auto& node = s_.nodes(i);
      if (node.undeclared()) continue;
      for (uint32_t a = 0; a < node.accelerator_count(); ++a) {
        Put(Row(node, CardSerial(node.node_id(), a), node.vendor_id(), node.device_id()));
      }
    }
    std::vector<int> order(s_.hardware_events_size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return s_.hardware_events(a).at_report() < s_.hardware_events(b).at_report();
    });
    for (int e : order) {
      const auto& ev = s_.hardware_events(e);
      if (!ev.declared() || ev.at_report() > report) continue;
      Apply(e, ev.at_report() == report ? touched : nullptr);
    }
    return rows_;
  }

 private:
  InventoryRow Row(const v1::SimNode& node, const std::string& serial, uint32_t vendor,
                   uint32_t device) {
    InventoryRow r;
    r.serial = serial;
    r.uuid = CardUuid(serial);
    r.declared_model = node.declared_model();
    if (r.declared_model.empty()) {
      auto match = catalog_.Lookup(vendor, device);
      if (match && match->entry != nullptr) r.declared_model = match->entry->model;
    }
    r.vendor_id = vendor;
    r.device_id = device;
    Place(node, &r);
    r.status = "in_service";
    return r;
  }
  static void Place(const v1::SimNode& node, InventoryRow* r) {
    r->node_id = node.node_id();
    r->datacenter = node.datacenter();
    r->rack = node.rack();
    r->account = node.rented_to();
  }
  void Put(InventoryRow r) {
    auto [it, added] = by_serial_.emplace(r.serial, rows_.size());
    if (added) {
      rows_.push_back(std::move(r));
    } else {
      rows_[it->second] = std::move(r);
    }
  }
  InventoryRow* Get(const std::string& serial) {
    auto it = by_serial_.find(serial);
    return it == by_serial_.end() ? nullptr : &rows_[it->second];
  }
  void Touch(const std::string& serial, std::vector<std::string>* touched) {
    if (touched != nullptr && Get(serial) != nullptr &&
        std::find(touched->begin(), touched->end(), serial) == touched->end()) {
      touched->push_back(serial);
    }
  }

  void Apply(int e, std::vector<std::string>* touched) {
    const auto& ev = s_.hardware_events(e);
    const EventCards& cards = plan_.Event(e);
    const v1::SimNode& node = s_.nodes(node_index_[ev.node_id()]);
    const std::string status = ev.declared_status().empty() ? "spare" : ev.declared_status();
    switch (ev.kind()) {
      case Kind::KIND_MOVE_CARD:
        if (InventoryRow* r = Get(cards.serial)) {
          Place(s_.nodes(node_index_[ev.to_node_id()]), r);
          Touch(cards.serial, touched);
        }
        break;
      case Kind::KIND_SWAP_CARD:
        if (InventoryRow* old = Get(cards.serial)) {
          old->status = "rma";
          InventoryRow fresh = *old;
          fresh.serial = cards.new_serial;
          fresh.uuid = CardUuid(cards.new_serial);
          fresh.status = "in_service";
          Put(std::move(fresh));
          Touch(cards.serial, touched);
          Touch(cards.new_serial, touched);
        }
        break;
      case Kind::KIND_NODE_SILENT:
        for (auto& r : rows_) {
          if (r.node_id != node.node_id() || r.status != "in_service") continue;
          r.status = status;
          Touch(r.serial, touched);
        }
        break;
      case Kind::KIND_CARD_SILENT:
        if (InventoryRow* r = Get(cards.serial)) {
          r->status = status;
          Touch(cards.serial, touched);
        }
        break;
      case Kind::KIND_UNDECLARED_CARD: {
        uint32_t vendor = ev.vendor_id() != 0 ? ev.vendor_id() : node.vendor_id();
        uint32_t device = ev.vendor_id() != 0 ? ev.device_id() : node.device_id();
        Put(Row(node, cards.new_serial, vendor, device));
        Touch(cards.new_serial, touched);
        break;
      }
      default:
        break;  // not declarable (ValidateHardwareEvents)
    }
  }

  const v1::Scenario& s_;
  const HardwarePlan& plan_;
  const AcceleratorCatalog& catalog_;
  absl::flat_hash_map<std::string, int> node_index_;
  std::vector<InventoryRow> rows_;
  absl::flat_hash_map<std::string, size_t> by_serial_;
};

}  // namespace

std::vector<InventoryRow> DeclaredInventory(const v1::Scenario& scenario, const HardwarePlan& plan,
                                            const AcceleratorCatalog& catalog, uint32_t report) {
  return Builder(scenario, plan, catalog).Build(report, nullptr);
}

std::vector<InventoryRow> InventoryUpdate(const v1::Scenario& scenario, const HardwarePlan& plan,
                                          const AcceleratorCatalog& catalog, uint32_t report) {
  std::vector<std::string> touched;
  std::vector<InventoryRow> all = Builder(scenario, plan, catalog).Build(report, &touched);
  std::vector<InventoryRow> out;
  for (const auto& serial : touched) {
    for (const auto& r : all) {
      if (r.serial == serial) out.push_back(r);
    }
  }
  return out;
}

std::vector<uint32_t> InventoryUpdateReports(const v1::Scenario& scenario) {
  std::vector<uint32_t> out;
  for (const auto& ev : scenario.hardware_events()) {
    if (ev.declared() && ev.at_report() > 0) out.push_back(ev.at_report());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string InventoryCsv(const std::vector<InventoryRow>& rows) {
  std::string out =
      "serial,uuid,declared_model,vendor_id,device_id,node_id,datacenter,rack,account,status\n";
  for (const auto& r : rows) {
    absl::StrAppend(&out, CsvField(r.serial), ",", CsvField(r.uuid), ",",
                    CsvField(r.declared_model), ",", absl::StrFormat("0x%04x", r.vendor_id), ",",
                    absl::StrFormat("0x%04x", r.device_id), ",", CsvField(r.node_id), ",",
                    CsvField(r.datacenter), ",", CsvField(r.rack), ",", CsvField(r.account), ",",
                    r.status, "\n");
  }
  return out;
}

std::string InventoryUpdatePath(const std::string& base, uint32_t report) {
  size_t slash = base.rfind('/');
  size_t dot = base.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) dot = base.size();
  return absl::StrCat(base.substr(0, dot), ".at-", report, base.substr(dot));
}

absl::StatusOr<std::vector<std::pair<uint32_t, std::string>>> WriteInventoryFiles(
    const v1::Scenario& scenario, const std::string& base) {
  const AcceleratorCatalog& catalog = AcceleratorCatalog::Builtin();
  HardwarePlan plan(scenario);
  std::vector<std::pair<uint32_t, std::string>> files;
  absl::Status s =
      WriteFileAtomically(base, InventoryCsv(DeclaredInventory(scenario, plan, catalog, 0)));
  if (!s.ok()) return s;
  files.emplace_back(0, base);
  for (uint32_t k : InventoryUpdateReports(scenario)) {
    std::string path = InventoryUpdatePath(base, k);
    s = WriteFileAtomically(path, InventoryCsv(InventoryUpdate(scenario, plan, catalog, k)));
    if (!s.ok()) return s;
    files.emplace_back(k, path);
  }
  return files;
}

}  // namespace prov::sim
