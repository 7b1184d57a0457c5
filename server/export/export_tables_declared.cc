// The declared inventory in an export (issue 10): every inventory import (the versions) and the
// inventory rows current at the snapshot, so an auditor can re-check the hardware flags
// (hardware_*, in flags.*) against what the provider declared at the time.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "provenance/v1/inventory.pb.h"
#include "server/export/export_tables.h"
#include "server/export/table_writer.h"

namespace prov::server::export_internal {
namespace {

using nlohmann::json;
using provenance::v1::DeclaredAccelerator;

std::string Hex4(uint32_t v) { return v == 0 ? std::string() : absl::StrFormat("0x%04x", v); }

}  // namespace

absl::Status ExportDeclaredInventory(StageContext& ctx) {
  TableSpec imports{
      "inventory_imports",
      {"version", "imported_at", "source", "actor", "content_digest", "rows", "errors"}};
  PROV_RETURN_IF_ERROR(RunStage(
      ctx, "inventory_imports", imports, "SELECT COUNT(*) FROM inventory_imports",
      "SELECT version, imported_at_us, source, actor, content_digest, accepted, errors "
      "FROM inventory_imports ORDER BY version",
      [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) {
        ctx.See(st.Int64(1));
        *csv = {
            absl::StrCat(st.Int64(0)), TimeText(st.Int64(1)),    st.Text(2), st.Text(3), st.Text(4),
            absl::StrCat(st.Int64(5)), absl::StrCat(st.Int64(6))};
        *j = FlatObject(imports.columns, *csv, {0, 5, 6});
        return absl::OkStatus();
      }));
  TableSpec rows{"inventory",
                 {"serial", "uuid", "declared_model", "vendor_id", "device_id", "node_id",
                  "datacenter", "rack", "account", "status", "version", "imported_at"}};
  return RunStage(
      ctx, "inventory", rows, "SELECT COUNT(*) FROM inventory",
      "SELECT i.serial, i.declared, i.version, m.imported_at_us FROM inventory i "
      "JOIN inventory_imports m ON m.version = i.version ORDER BY i.serial",
      [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) -> absl::Status {
        DeclaredAccelerator d;
        PROV_RETURN_IF_ERROR(ParseStored(st.Blob(1), "inventory", st.Text(0), &d));
        *csv = {d.serial(),
                d.uuid(),
                d.declared_model(),
                Hex4(d.vendor_id()),
                Hex4(d.device_id()),
                d.node_id(),
                d.datacenter(),
                d.rack(),
                d.account(),
                provenance::v1::InventoryStatus_Name(d.status()),
                absl::StrCat(st.Int64(2)),
                TimeText(st.Int64(3))};
        *j = FlatObject(rows.columns, *csv, {10});
        (*j)["declared"] = ProtoObject(d);
        return absl::OkStatus();
      });
}

}  // namespace prov::server::export_internal
