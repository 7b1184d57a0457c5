// The location verification files of an audit export (docs/export-format.md, "Location"): what an
// auditor needs to re-derive every node's verdict offline (provctl location verify EXPORT_DIR):
// the landmarks' positions and public keys, the data centres' coordinates, the nodes' public keys,
// each node's newest verdict with the parameters and record ids it rests on, and those records'
// exact signed bytes. JSON Lines only (nested values); no CSV.
#include <set>

#include "absl/strings/escaping.h"
#include "common/status_macros.h"
#include "provenance/v1/location.pb.h"
#include "server/export/export_tables.h"
#include "server/export/table_writer.h"
#include "server/store/location_store.h"

namespace prov::server::export_internal {
namespace {

absl::Status WriteLines(StageContext& ctx, const std::string& name,
                        const std::vector<nlohmann::json>& lines) {
  PROV_ASSIGN_OR_RETURN(auto out, TableWriter::Open(ctx.dir, name, {}, /*jsonl=*/true));
  for (const nlohmann::json& j : lines) PROV_RETURN_IF_ERROR(out->Row({}, JsonLine(j)));
  PROV_RETURN_IF_ERROR(out->Close());
  ctx.rows[name] = out->rows();
  ctx.Report(name, out->rows(), out->rows());
  return absl::OkStatus();
}

nlohmann::json ParseOr(const std::string& text, nlohmann::json fallback) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? fallback : j;
}

}  // namespace

absl::Status ExportLocationTables(StageContext& ctx, const ExportLocation& location) {
  std::vector<nlohmann::json> lines;
  for (const auto& lm : location.landmarks) {
    lines.push_back({{"landmark_id", lm.id},
                     {"lat", lm.lat},
                     {"lon", lm.lon},
                     {"region", lm.region},
                     {"public_key_hex", absl::BytesToHexString(lm.public_key)}});
  }
  PROV_RETURN_IF_ERROR(WriteLines(ctx, "location_landmarks", lines));
  lines.clear();
  for (const auto& site : location.sites) {
    lines.push_back(
        {{"datacenter", site.id}, {"lat", site.lat}, {"lon", site.lon}, {"region", site.region}});
  }
  PROV_RETURN_IF_ERROR(WriteLines(ctx, "location_sites", lines));

  lines.clear();
  {
    PROV_ASSIGN_OR_RETURN(auto k, ctx.snapshot.Query("SELECT node_id, spki, first_seen_us, "
                                                     "last_seen_us FROM location_node_keys "
                                                     "ORDER BY node_id, first_seen_us, spki"));
    while (true) {
      PROV_ASSIGN_OR_RETURN(bool row, k->Next());
      if (!row) break;
      lines.push_back({{"node_id", k->Text(0)},
                       {"spki_der_hex", absl::BytesToHexString(k->Blob(1))},
                       {"first_seen", TimeText(k->Int64(2))},
                       {"last_seen", TimeText(k->Int64(3))}});
    }
  }
  PROV_RETURN_IF_ERROR(WriteLines(ctx, "location_node_keys", lines));

  lines.clear();
  std::set<int64_t> ids;
  PROV_ASSIGN_OR_RETURN(auto verdicts,
                        ctx.snapshot.Query("SELECT node_id, verdict, evaluated_us, location, "
                                           "disk_ids, calibration, params FROM location_verdicts "
                                           "ORDER BY node_id"));
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool more, verdicts->Next());
    if (!more) break;
    {
      const StoredVerdict v{
          verdicts->Text(0), verdicts->Text(1), absl::FromUnixMicros(verdicts->Int64(2)),
          verdicts->Blob(3), verdicts->Text(4), verdicts->Text(5),
          verdicts->Text(6)};
      provenance::v1::NodeLocation loc;
      PROV_RETURN_IF_ERROR(ParseStored(v.location, "location_verdicts", v.node_id, &loc));
      nlohmann::json disk_ids = ParseOr(v.disk_ids, nlohmann::json::array());
      nlohmann::json calibration = ParseOr(v.calibration, nlohmann::json::object());
      for (const auto& id : disk_ids) {
        if (id.is_number_integer()) ids.insert(id.get<int64_t>());
      }
      for (const auto& [lm, list] : calibration.items()) {
        for (const auto& id : list) {
          if (id.is_number_integer()) ids.insert(id.get<int64_t>());
        }
      }
      // A node whose datacenter has no coordinates has nothing to re-derive (its verdict is
      // unverified for that reason alone): left out, like a node with no verdict.
      if (!loc.site_known()) continue;
      const nlohmann::json site = {{"lat", loc.declared_site().lat_deg()},
                                   {"lon", loc.declared_site().lon_deg()}};
      const int64_t at_us = absl::ToUnixMicros(v.evaluated_at);
      ctx.See(at_us);
      lines.push_back({{"node_id", v.node_id},
                       {"datacenter", loc.datacenter()},
                       {"site", site},
                       {"verdict", v.verdict},
                       {"evaluated_at", TimeText(at_us)},
                       {"reason", loc.reason()},
                       {"proof_required", loc.proof_required()},
                       {"policy_version", loc.policy_version()},
                       {"params", ParseOr(v.params, nlohmann::json::object())},
                       {"disk_measurement_ids", disk_ids},
                       {"calibration_measurement_ids", calibration}});
    }
  }
  PROV_RETURN_IF_ERROR(WriteLines(ctx, "location_verdicts", lines));

  lines.clear();
  for (int64_t id : ids) {  // ascending
    PROV_ASSIGN_OR_RETURN(auto m, ctx.snapshot.Query("SELECT id, received_us, landmark_id, "
                                                     "target_kind, target_id, measurement, "
                                                     "signature FROM location_measurements "
                                                     "WHERE id = $1 ORDER BY id",
                                                     {id}));
    while (true) {
      PROV_ASSIGN_OR_RETURN(bool row, m->Next());
      if (!row) break;
      lines.push_back({{"id", m->Int64(0)},
                       {"received_at", TimeText(m->Int64(1))},
                       {"landmark_id", m->Text(2)},
                       {"target_kind", m->Text(3)},
                       {"target_id", m->Text(4)},
                       {"measurement_b64", absl::Base64Escape(m->Blob(5))},
                       {"landmark_signature_hex", absl::BytesToHexString(m->Blob(6))}});
    }
  }
  return WriteLines(ctx, "location_measurements", lines);
}

}  // namespace prov::server::export_internal
