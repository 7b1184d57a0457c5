#include "tools/provctl/format_location.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "tools/provctl/format.h"

namespace prov::provctl {
namespace {

using provenance::v1::LocationDisk;
using provenance::v1::NodeLocation;

std::string Km(double km) {
  if (!std::isfinite(km)) return "?";
  return km < 10 ? absl::StrFormat("%.1f", km) : absl::StrFormat("%.0f", km);
}
std::string Ms(double ms) { return std::isfinite(ms) ? absl::StrFormat("%.3f", ms) : "?"; }
std::string Speed(double s) { return std::isfinite(s) ? absl::StrFormat("%.1f", s) : "?"; }
std::string Point(const provenance::v1::GeoPoint& p) {
  return absl::StrFormat("%.4f, %.4f", p.lat_deg(), p.lon_deg());
}

void Field(std::string* out, absl::string_view name, absl::string_view value) {
  absl::StrAppendFormat(out, "%-17s %s\n", absl::StrCat(name, ":"), value.empty() ? "-" : value);
}

std::string Site(const NodeLocation& n) {
  std::string dc = n.datacenter().empty() ? "- (no data centre declared)" : n.datacenter();
  if (!n.region().empty()) absl::StrAppend(&dc, " (", n.region(), ")");
  if (n.datacenter().empty()) return dc;
  return n.site_known() ? absl::StrCat(dc, " at ", Point(n.declared_site()))
                        : absl::StrCat(dc, ", no coordinates configured for it");
}

}  // namespace

std::string LocationVerdictName(provenance::v1::LocationVerdict v) {
  switch (v) {
    case provenance::v1::LOCATION_VERDICT_VERIFIED:
      return "verified";
    case provenance::v1::LOCATION_VERDICT_UNVERIFIED:
      return "unverified";
    case provenance::v1::LOCATION_VERDICT_CONTRADICTED:
      return "contradicted";
    default:
      return "-";
  }
}

std::string NodeLocationText(const NodeLocation& n) {
  std::string out;
  Field(&out, "node", n.node_id());
  Field(&out, "declared site", Site(n));
  Field(&out, "verdict", LocationVerdictName(n.verdict()));
  Field(&out, "reason", n.reason());
  Field(&out, "proof required", n.proof_required() ? "yes (policy location.require_proof)" : "no");
  Field(&out, "evaluated at", FormatTime(n.evaluated_at()));
  Field(&out, "policy version", n.policy_version());
  if (n.verdict() == provenance::v1::LOCATION_VERDICT_UNVERIFIED) {
    Field(&out, "needed landmark",
          n.needed_landmark_id().empty()
              ? "- (no landmark configured near the site)"
              : absl::StrCat(n.needed_landmark_id(), " (", Km(n.needed_landmark_distance_km()),
                             " km from the site; a fresh small RTT from it would prove the site)"));
  }
  if (n.disks().empty()) {
    absl::StrAppend(&out,
                    "\nno measurements: a node is probed once provd knows its key (a verified "
                    "client certificate) and its responder address (its reports)\n");
    return out;
  }
  std::vector<std::vector<std::string>> rows;
  for (const LocationDisk& d : n.disks()) {
    rows.push_back({d.landmark_id(), Ms(d.rtt_min_ms()), Speed(d.speed_km_per_ms()),
                    Km(d.radius_km()), Km(d.distance_to_site_km()),
                    d.contains_site() ? "inside" : "OUTSIDE", d.fresh() ? "fresh" : "stale",
                    FormatTime(d.measured_at())});
  }
  absl::StrAppend(&out, "\n",
                  RenderTable({"LANDMARK", "RTT MIN MS", "KM/MS", "RADIUS KM", "TO SITE KM", "SITE",
                               "FRESH", "MEASURED AT"},
                              rows, {false, true, true, true, true, false, false, false}));
  return out;
}

std::string NodeLocationsTable(const provenance::v1::ListNodeLocationsResponse& r) {
  if (r.nodes().empty()) return "no node locations (no node has a verdict yet)\n";
  std::vector<std::vector<std::string>> rows;
  for (const NodeLocation& n : r.nodes()) {
    int fresh = 0;
    for (const LocationDisk& d : n.disks()) fresh += d.fresh() ? 1 : 0;
    rows.push_back({n.node_id(), n.datacenter(), LocationVerdictName(n.verdict()),
                    n.proof_required() ? "yes" : "no", absl::StrCat(fresh, "/", n.disks_size()),
                    FormatTime(n.evaluated_at()), n.reason()});
  }
  std::string out = RenderTable(
      {"NODE", "DATACENTER", "VERDICT", "PROOF REQUIRED", "FRESH DISKS", "EVALUATED", "REASON"},
      rows);
  if (!r.next_after_node_id().empty()) {
    absl::StrAppend(&out, "(more nodes after ", r.next_after_node_id(), "; raise --limit)\n");
  }
  return out;
}

std::string LandmarksText(const provenance::v1::ListLandmarksResponse& r) {
  if (r.landmarks().empty()) return "no landmarks configured (provd --location-config)\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : r.landmarks()) {
    rows.push_back({l.landmark_id(), l.region(), Point(l.position()), l.udp_address(),
                    Speed(l.speed_km_per_ms()), absl::StrCat(l.records_accepted()),
                    absl::StrCat(l.records_refused()), FormatTime(l.last_record_at())});
  }
  std::string out = RenderTable(
      {"LANDMARK", "REGION", "POSITION", "UDP", "KM/MS", "ACCEPTED", "REFUSED", "LAST RECORD"},
      rows, {false, false, false, false, true, true, true, false});
  if (r.pairs().empty()) {
    absl::StrAppend(&out, "\nno calibration yet (landmarks probe each other every round)\n");
    return out;
  }
  rows.clear();
  for (const auto& p : r.pairs()) {
    rows.push_back({p.landmark_a(), p.landmark_b(), Km(p.distance_km()), Ms(p.rtt_min_ms()),
                    Speed(p.implied_speed_km_per_ms()), absl::StrFormat("%.2f", p.fibre_factor())});
  }
  absl::StrAppend(&out, "\n",
                  RenderTable({"LANDMARK A", "LANDMARK B", "DISTANCE KM", "RTT MIN MS",
                               "IMPLIED KM/MS", "FIBRE FACTOR"},
                              rows, {false, false, true, true, true, true}));
  return out;
}

std::string LocationCheckText(const std::string& dir, const location::LocationExportCheck& c) {
  std::string out;
  for (const std::string& p : c.export_check.problems) absl::StrAppend(&out, "PROBLEM ", p, "\n");
  for (const std::string& p : c.problems) absl::StrAppend(&out, "PROBLEM ", p, "\n");
  for (const std::string& n : c.export_check.notes) absl::StrAppend(&out, "note: ", n, "\n");
  if (!c.nodes.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& n : c.nodes) {
      rows.push_back(
          {n.node_id, n.exported_verdict, n.rederived_verdict, absl::StrCat(n.records_checked),
           n.ok()
               ? "ok"
               : absl::StrCat(n.problems.size(), " problem", n.problems.size() == 1 ? "" : "s")});
    }
    absl::StrAppend(&out, RenderTable({"NODE", "EXPORTED", "RE-DERIVED", "RECORDS", "RESULT"}, rows,
                                      {false, false, false, true, false}));
    for (const auto& n : c.nodes) {
      for (const std::string& p : n.problems) {
        absl::StrAppend(&out, "PROBLEM ", n.node_id, ": ", p, "\n");
      }
    }
  }
  size_t problems = c.export_check.problems.size() + c.problems.size();
  for (const auto& n : c.nodes) problems += n.problems.size();
  const std::string id =
      c.export_check.manifest.export_id.empty() ? dir : c.export_check.manifest.export_id;
  if (problems == 0) {
    absl::StrAppend(&out, "export ", id, ": OK: export verified, ", c.nodes.size(),
                    " location verdict", c.nodes.size() == 1 ? "" : "s",
                    " re-derived from the signed records\n");
  } else {
    absl::StrAppend(&out, "export ", id, ": ", problems, " problem", problems == 1 ? "" : "s",
                    "\n");
  }
  return out;
}

std::string LocationCheckJson(const location::LocationExportCheck& c) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& n : c.nodes) {
    nodes.push_back({{"node_id", n.node_id},
                     {"exported_verdict", n.exported_verdict},
                     {"rederived_verdict", n.rederived_verdict},
                     {"rederived_reason", n.rederived_reason},
                     {"records_checked", n.records_checked},
                     {"ok", n.ok()},
                     {"problems", n.problems}});
  }
  nlohmann::json j = {{"ok", c.ok()},
                      {"export_id", c.export_check.manifest.export_id},
                      {"export_problems", c.export_check.problems},
                      {"notes", c.export_check.notes},
                      {"problems", c.problems},
                      {"nodes", nodes}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace prov::provctl
