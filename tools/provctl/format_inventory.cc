#include "tools/provctl/format_inventory.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/provctl/format.h"

namespace prov::provctl {
namespace {

using provenance::v1::DeclaredAccelerator;

std::string Dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string Status(provenance::v1::InventoryStatus status) {
  switch (status) {
    case provenance::v1::INVENTORY_STATUS_IN_SERVICE:
      return "in_service";
    case provenance::v1::INVENTORY_STATUS_SPARE:
      return "spare";
    case provenance::v1::INVENTORY_STATUS_RMA:
      return "rma";
    case provenance::v1::INVENTORY_STATUS_RETIRED:
      return "retired";
    default:
      return "-";
  }
}

std::string DeclaredPci(const DeclaredAccelerator& d) {
  if (d.vendor_id() == 0) return "-";
  return d.device_id() == 0 ? absl::StrFormat("0x%04x", d.vendor_id())
                            : absl::StrFormat("0x%04x:0x%04x", d.vendor_id(), d.device_id());
}

}  // namespace

std::string InventoryImported(const provenance::v1::ImportInventoryResponse& r,
                              const std::string& file) {
  return absl::StrCat("inventory version ", r.inventory_version(), " from ", file, ": ",
                      r.accepted(), " rows accepted (", r.added(), " new, ", r.changed(),
                      " changed, ", r.unchanged(), " unchanged), ", r.errors_size(),
                      " rows rejected\ncontent sha256: ", r.content_digest(), "\n");
}

std::string InventoryTable(const provenance::v1::ListInventoryResponse& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : r.entries()) {
    const DeclaredAccelerator& d = e.declared();
    rows.push_back({d.serial(), Dash(d.declared_model()), DeclaredPci(d), Dash(d.datacenter()),
                    Dash(d.rack()), Dash(d.node_id()), Dash(d.account()), Status(d.status()),
                    absl::StrCat(e.version())});
  }
  std::string out = absl::StrCat(r.entries_size(), " declared accelerators (inventory version ",
                                 r.inventory_version(), ")\n");
  if (!rows.empty()) {
    absl::StrAppend(&out, RenderTable({"SERIAL", "MODEL", "PCI", "DATACENTER", "RACK", "NODE",
                                       "ACCOUNT", "STATUS", "VERSION"},
                                      rows));
  }
  return out;
}

std::string InventoryDetail(const provenance::v1::GetInventoryResponse& r) {
  const DeclaredAccelerator& d = r.current().declared();
  std::string out = absl::StrCat("serial ", d.serial(), " (inventory version ",
                                 r.current().version(), " of ", r.inventory_version(), ")\n");
  std::vector<std::vector<std::string>> rows;
  const bool seen = r.has_last_observed();
  const auto& o = r.last_observed();
  const auto& a = o.accelerator();
  auto row = [&](const char* fact, const std::string& declared, const std::string& observed) {
    rows.push_back({fact, Dash(declared), seen ? Dash(observed) : "-"});
  };
  row("node", d.node_id(), o.node_id());
  row("datacenter", d.datacenter(), o.datacenter());
  row("rack", d.rack(), "");
  row("model", d.declared_model(), a.model_known() ? a.model() : "(unknown model)");
  row("pci id", DeclaredPci(d),
      seen ? absl::StrFormat("0x%04x:0x%04x", a.vendor_id(), a.device_id()) : "");
  row("agent's name", "", a.reported_name() + (a.name_disagrees() ? " (disagrees)" : ""));
  row("uuid", d.uuid(), a.uuid());
  row("account", d.account().empty() ? "(not rented)" : d.account(), "");
  row("status", Status(d.status()), "");
  absl::StrAppend(&out, RenderTable({"FACT", "DECLARED", "OBSERVED"}, rows));
  if (seen) {
    absl::StrAppend(&out, "last observed: ", FormatTime(o.last_seen()), " on ", o.node_id(),
                    o.hostname().empty() ? "" : absl::StrCat(" (", o.hostname(), ")"), " at ",
                    a.pci_address(), ", matched by ", o.matched_by(), "; first seen ",
                    FormatTime(o.first_seen()), "\n");
  } else {
    absl::StrAppend(&out, "never observed: no agent has reported this serial or uuid\n");
  }
  if (r.differences_size() > 0) {
    absl::StrAppend(&out, "differences:\n");
    for (const auto& diff : r.differences()) absl::StrAppend(&out, "  ", diff, "\n");
  }
  if (r.history_size() > 1) {
    absl::StrAppend(&out, "history (", r.history_size(), " versions):\n");
    for (const auto& h : r.history()) {
      absl::StrAppend(&out, "  version ", h.version(), " (", FormatTime(h.imported_at()),
                      "): ", Dash(h.declared().node_id()), " ", Dash(h.declared().datacenter()),
                      "/", Dash(h.declared().rack()), " ", Status(h.declared().status()), " ",
                      h.declared().account().empty() ? "(not rented)" : h.declared().account(),
                      "\n");
    }
  }
  return out;
}

}  // namespace prov::provctl
