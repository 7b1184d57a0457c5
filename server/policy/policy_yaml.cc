// YAML -> Policy. yaml-cpp throws; every exception stops in this file and becomes a Status that
// names the file, line, column and field path.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fs.h"
#include "common/status_macros.h"
#include "server/policy/policy.h"

namespace prov::policy {
namespace {

class Parser {
 public:
  explicit Parser(absl::string_view source) : source_(source) {}

  absl::Status Error(const YAML::Node& node, absl::string_view path, absl::string_view what) {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null())
      return absl::InvalidArgumentError(absl::StrCat(source_, ": ", path, ": ", what));
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ":", mark.line + 1, ":", mark.column + 1, ": ", path, ": ", what));
  }

  absl::Status OnlyKeys(const YAML::Node& map, absl::string_view path,
                        std::initializer_list<absl::string_view> keys) {
    if (!map.IsMap()) return Error(map, path, "must be a mapping");
    for (const auto& kv : map) {
      std::string key = kv.first.as<std::string>();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        return Error(kv.first, absl::StrCat(path.empty() ? "" : absl::StrCat(path, "."), key),
                     absl::StrCat("unknown field (known: ", absl::StrJoin(keys, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const YAML::Node& n, absl::string_view path) {
    if (!n.IsScalar()) return Error(n, path, "must be a string");
    return n.Scalar();
  }

  absl::StatusOr<double> Number(const YAML::Node& n, absl::string_view path, double lo, double hi) {
    double v = 0;
    if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v)) {
      return Error(n, path, "must be a number");
    }
    if (v < lo || v > hi) {
      return Error(n, path, absl::StrCat(n.Scalar(), " is outside ", lo, "..", hi));
    }
    return v;
  }

  absl::StatusOr<uint32_t> PciId(const YAML::Node& n, absl::string_view path) {
    uint32_t v = 0;
    absl::string_view s = n.IsScalar() ? absl::string_view(n.Scalar()) : "";
    if (absl::StartsWith(s, "0x") || absl::StartsWith(s, "0X")) s.remove_prefix(2);
    if (s.empty() || s.size() > 4 || !absl::SimpleHexAtoi(s, &v)) {
      return Error(n, path, "must be a 16-bit hex PCI ID like 0x19e5");
    }
    return v;
  }

  absl::StatusOr<Severity> Sev(const YAML::Node& n, absl::string_view path) {
    PROV_ASSIGN_OR_RETURN(std::string s, String(n, path));
    auto sev = ParseSeverity(s);
    if (!sev)
      return Error(n, path, absl::StrCat("\"", s, "\" is not info, low, medium, high or critical"));
    return *sev;
  }

  absl::StatusOr<absl::Duration> Duration(const YAML::Node& n, absl::string_view path,
                                          bool zero_ok = false) {
    absl::Duration d;
    if (!n.IsScalar() || !absl::ParseDuration(n.Scalar(), &d) || d < absl::ZeroDuration() ||
        (d == absl::ZeroDuration() && !zero_ok)) {
      return Error(n, path,
                   zero_ok ? "must be a duration like 0h (off), 30m or 720h"
                           : "must be a positive duration like 90s, 30m or 720h");
    }
    return d;
  }

  absl::StatusOr<Policy> Parse(const YAML::Node& root);
  absl::Status ParseLocation(const YAML::Node& l, LocationPolicy& out);

 private:
  std::string source_;
};

absl::Status Parser::ParseLocation(const YAML::Node& l, LocationPolicy& out) {
  PROV_RETURN_IF_ERROR(
      OnlyKeys(l, "location",
               {"fibre_km_per_ms", "processing_floor_ms", "min_radius_km", "site_tolerance_km",
                "proof_radius_km", "max_age", "clock_tolerance", "require_proof",
                "severity_contradicted", "severity_unverified", "severity_forged"}));
  const struct {
    const char* key;
    double* out;
    double lo, hi;
  } numbers[] = {{"fibre_km_per_ms", &out.fibre_km_per_ms, 1, 300},
                 {"processing_floor_ms", &out.processing_floor_ms, 0, 1000},
                 {"min_radius_km", &out.min_radius_km, 0, 20000},
                 {"site_tolerance_km", &out.site_tolerance_km, 0, 20000},
                 {"proof_radius_km", &out.proof_radius_km, 1, 20000}};
  for (const auto& n : numbers) {
    if (l[n.key]) {
      PROV_ASSIGN_OR_RETURN(*n.out, Number(l[n.key], absl::StrCat("location.", n.key), n.lo, n.hi));
    }
  }
  if (l["max_age"]) {
    PROV_ASSIGN_OR_RETURN(out.max_age, Duration(l["max_age"], "location.max_age"));
  }
  if (l["clock_tolerance"]) {
    PROV_ASSIGN_OR_RETURN(out.clock_tolerance,
                          Duration(l["clock_tolerance"], "location.clock_tolerance"));
  }
  if (const YAML::Node r = l["require_proof"]) {
    if (!r.IsSequence()) return Error(r, "location.require_proof", "must be a list of ids");
    for (size_t i = 0; i < r.size(); ++i) {
      const std::string path = absl::StrCat("location.require_proof[", i, "]");
      PROV_ASSIGN_OR_RETURN(std::string id, String(r[i], path));
      if (absl::StripAsciiWhitespace(id).empty()) return Error(r[i], path, "empty");
      out.require_proof.push_back(std::move(id));
    }
  }
  const std::pair<const char*, Severity*> severities[] = {
      {"severity_contradicted", &out.severity_contradicted},
      {"severity_unverified", &out.severity_unverified},
      {"severity_forged", &out.severity_forged}};
  for (const auto& [key, sev] : severities) {
    if (l[key]) {
      PROV_ASSIGN_OR_RETURN(*sev, Sev(l[key], absl::StrCat("location.", key)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Policy> Parser::Parse(const YAML::Node& root) {
  Policy p;
  PROV_RETURN_IF_ERROR(
      OnlyKeys(root, "",
               {"version", "description", "compute_tiers", "projection", "restricted_jurisdictions",
                "screening", "restricted_hardware", "restricted_party_training", "node_health",
                "hardware", "correlation", "location"}));
  if (!root["version"]) return Error(root, "version", "required (recorded on every flag)");
  PROV_ASSIGN_OR_RETURN(p.version, String(root["version"], "version"));
  if (absl::StripAsciiWhitespace(p.version).empty())
    return Error(root["version"], "version", "empty");
  if (root["description"]) {
    PROV_ASSIGN_OR_RETURN(p.description, String(root["description"], "description"));
  }

  if (const YAML::Node tiers = root["compute_tiers"]) {
    if (!tiers.IsSequence()) return Error(tiers, "compute_tiers", "must be a list");
    std::set<std::string> names;
    for (size_t i = 0; i < tiers.size(); ++i) {
      const std::string path = absl::StrCat("compute_tiers[", i, "]");
      const YAML::Node t = tiers[i];
      PROV_RETURN_IF_ERROR(OnlyKeys(t, path, {"name", "flop", "severity", "basis"}));
      ComputeTier tier;
      if (!t["name"] || !t["flop"]) return Error(t, path, "needs name and flop");
      PROV_ASSIGN_OR_RETURN(tier.name, String(t["name"], path + ".name"));
      if (!names.insert(tier.name).second)
        return Error(t["name"], path + ".name", "duplicate tier name");
      PROV_ASSIGN_OR_RETURN(tier.flop, Number(t["flop"], path + ".flop", 1, 1e40));
      if (!p.compute_tiers.empty() && tier.flop <= p.compute_tiers.back().flop) {
        return Error(t["flop"], path + ".flop",
                     absl::StrCat("must be above the previous tier's ", p.compute_tiers.back().flop,
                                  " (list tiers in ascending order)"));
      }
      if (t["severity"]) {
        PROV_ASSIGN_OR_RETURN(tier.severity, Sev(t["severity"], path + ".severity"));
      }
      if (t["basis"]) {
        PROV_ASSIGN_OR_RETURN(tier.basis, String(t["basis"], path + ".basis"));
      }
      p.compute_tiers.push_back(std::move(tier));
    }
  }
  if (const YAML::Node proj = root["projection"]) {
    PROV_RETURN_IF_ERROR(OnlyKeys(proj, "projection", {"horizon", "severity"}));
    if (proj["horizon"]) {
      PROV_ASSIGN_OR_RETURN(p.projection.horizon,
                            Duration(proj["horizon"], "projection.horizon", /*zero_ok=*/true));
    }
    if (proj["severity"]) {
      PROV_ASSIGN_OR_RETURN(p.projection.severity, Sev(proj["severity"], "projection.severity"));
    }
  }
  if (const YAML::Node j = root["restricted_jurisdictions"]) {
    PROV_RETURN_IF_ERROR(OnlyKeys(j, "restricted_jurisdictions", {"countries", "severity"}));
    if (const YAML::Node c = j["countries"]) {
      if (!c.IsSequence()) return Error(c, "restricted_jurisdictions.countries", "must be a list");
      for (size_t i = 0; i < c.size(); ++i) {
        const std::string path = absl::StrCat("restricted_jurisdictions.countries[", i, "]");
        PROV_ASSIGN_OR_RETURN(std::string code, String(c[i], path));
        code = absl::AsciiStrToUpper(code);
        if (code.size() != 2 || !absl::ascii_isalpha(code[0]) || !absl::ascii_isalpha(code[1])) {
          return Error(c[i], path,
                       absl::StrCat("\"", code, "\" is not a two-letter ISO 3166 code"));
        }
        p.restricted_jurisdictions.push_back(code);
      }
    }
    if (j["severity"]) {
      PROV_ASSIGN_OR_RETURN(p.restricted_jurisdiction_severity,
                            Sev(j["severity"], "restricted_jurisdictions.severity"));
    }
  }
  if (const YAML::Node s = root["screening"]) {
    PROV_RETURN_IF_ERROR(OnlyKeys(s, "screening", {"min_score", "severity"}));
    if (s["min_score"]) {
      PROV_ASSIGN_OR_RETURN(p.screening.min_score,
                            Number(s["min_score"], "screening.min_score", 0.5, 1));
    }
    if (s["severity"]) {
      PROV_ASSIGN_OR_RETURN(p.screening.severity, Sev(s["severity"], "screening.severity"));
    }
  }
  if (const YAML::Node hw = root["restricted_hardware"]) {
    if (!hw.IsSequence()) return Error(hw, "restricted_hardware", "must be a list");
    for (size_t i = 0; i < hw.size(); ++i) {
      const std::string path = absl::StrCat("restricted_hardware[", i, "]");
      const YAML::Node h = hw[i];
      PROV_RETURN_IF_ERROR(
          OnlyKeys(h, path, {"name", "vendor_id", "device_ids", "families", "severity"}));
      RestrictedHardware r;
      if (!h["name"] || !h["vendor_id"]) return Error(h, path, "needs name and vendor_id");
      PROV_ASSIGN_OR_RETURN(r.name, String(h["name"], path + ".name"));
      PROV_ASSIGN_OR_RETURN(r.vendor_id, PciId(h["vendor_id"], path + ".vendor_id"));
      if (const YAML::Node d = h["device_ids"]) {
        if (!d.IsSequence())
          return Error(d, path + ".device_ids", "must be a list (omit for every device)");
        for (size_t k = 0; k < d.size(); ++k) {
          PROV_ASSIGN_OR_RETURN(uint32_t id,
                                PciId(d[k], absl::StrCat(path, ".device_ids[", k, "]")));
          r.device_ids.push_back(id);
        }
      }
      if (const YAML::Node f = h["families"]) {
        if (!f.IsSequence()) return Error(f, path + ".families", "must be a list");
        for (size_t k = 0; k < f.size(); ++k) {
          PROV_ASSIGN_OR_RETURN(std::string fam,
                                String(f[k], absl::StrCat(path, ".families[", k, "]")));
          r.families.push_back(absl::AsciiStrToLower(fam));
        }
      }
      if (h["severity"]) {
        PROV_ASSIGN_OR_RETURN(r.severity, Sev(h["severity"], path + ".severity"));
      }
      p.restricted_hardware.push_back(std::move(r));
    }
  }
  if (const YAML::Node t = root["restricted_party_training"]) {
    PROV_RETURN_IF_ERROR(OnlyKeys(t, "restricted_party_training", {"severity"}));
    if (t["severity"]) {
      PROV_ASSIGN_OR_RETURN(p.restricted_party_training_severity,
                            Sev(t["severity"], "restricted_party_training.severity"));
    }
  }
  if (const YAML::Node n = root["node_health"]) {
    PROV_RETURN_IF_ERROR(OnlyKeys(
        n, "node_health", {"rejecting_after", "rejecting_severity", "identity_mismatch_severity"}));
    if (n["rejecting_after"]) {
      PROV_ASSIGN_OR_RETURN(p.node_health.rejecting_after,
                            Duration(n["rejecting_after"], "node_health.rejecting_after"));
    }
    if (n["rejecting_severity"]) {
      PROV_ASSIGN_OR_RETURN(p.node_health.rejecting_severity,
                            Sev(n["rejecting_severity"], "node_health.rejecting_severity"));
    }
    if (n["identity_mismatch_severity"]) {
      PROV_ASSIGN_OR_RETURN(
          p.node_health.identity_mismatch_severity,
          Sev(n["identity_mismatch_severity"], "node_health.identity_mismatch_severity"));
    }
  }
  if (const YAML::Node h = root["hardware"]) {
    PROV_RETURN_IF_ERROR(
        OnlyKeys(h, "hardware",
                 {"silent_after_intervals", "silent_min", "assumed_interval", "move_grace",
                  "outage_fraction", "outage_min_nodes", "outage_hold", "relabelled_severity",
                  "moved_severity", "cloned_identity_severity", "undeclared_severity",
                  "silent_severity", "assignment_severity"}));
    if (h["silent_after_intervals"]) {
      PROV_ASSIGN_OR_RETURN(double n, Number(h["silent_after_intervals"],
                                             "hardware.silent_after_intervals", 1, 1000));
      p.hardware.silent_after_intervals = static_cast<int>(n);
    }
    if (h["silent_min"]) {
      PROV_ASSIGN_OR_RETURN(p.hardware.silent_min,
                            Duration(h["silent_min"], "hardware.silent_min"));
    }
    if (h["assumed_interval"]) {
      PROV_ASSIGN_OR_RETURN(p.hardware.assumed_interval,
                            Duration(h["assumed_interval"], "hardware.assumed_interval"));
      if (p.hardware.assumed_interval <= absl::ZeroDuration()) {
        return Error(h["assumed_interval"], "hardware.assumed_interval", "must be positive");
      }
    }
    if (h["move_grace"]) {
      PROV_ASSIGN_OR_RETURN(p.hardware.move_grace,
                            Duration(h["move_grace"], "hardware.move_grace"));
    }
    if (h["outage_fraction"]) {
      PROV_ASSIGN_OR_RETURN(p.hardware.outage_fraction,
                            Number(h["outage_fraction"], "hardware.outage_fraction", 0, 1));
    }
    if (h["outage_min_nodes"]) {
      PROV_ASSIGN_OR_RETURN(
          double n, Number(h["outage_min_nodes"], "hardware.outage_min_nodes", 1, 100000000));
      p.hardware.outage_min_nodes = static_cast<int>(n);
    }
    if (h["outage_hold"]) {
      PROV_ASSIGN_OR_RETURN(p.hardware.outage_hold,
                            Duration(h["outage_hold"], "hardware.outage_hold"));
    }
    const std::pair<const char*, Severity*> severities[] = {
        {"relabelled_severity", &p.hardware.relabelled_severity},
        {"moved_severity", &p.hardware.moved_severity},
        {"cloned_identity_severity", &p.hardware.cloned_identity_severity},
        {"undeclared_severity", &p.hardware.undeclared_severity},
        {"silent_severity", &p.hardware.silent_severity},
        {"assignment_severity", &p.hardware.assignment_severity}};
    for (const auto& [key, out] : severities) {
      if (h[key]) {
        PROV_ASSIGN_OR_RETURN(*out, Sev(h[key], absl::StrCat("hardware.", key)));
      }
    }
  }
  if (const YAML::Node l = root["location"]) PROV_RETURN_IF_ERROR(ParseLocation(l, p.location));
  for (const auto& [kind, weight] : DefaultLinkWeights()) p.correlation.weights[kind] = weight;
  if (const YAML::Node c = root["correlation"]) {
    PROV_RETURN_IF_ERROR(OnlyKeys(c, "correlation",
                                  {"bundle_threshold",
                                   "weights",
                                   "common_artifact_max_accounts",
                                   "handoff_window",
                                   "co_start_window",
                                   "activity_window",
                                   "min_shared_transitions",
                                   "artifact_settle",
                                   "activity_tolerance",
                                   "min_aligned_cycles",
                                   "min_surprise",
                                   "full_surprise",
                                   "max_bucket_workloads",
                                   "identity_max_accounts",
                                   "identity_address_max_accounts",
                                   "min_workload_evidence",
                                   "external_peer_max_accounts",
                                   "external_peer_min_bytes_per_hour",
                                   "external_peer_min_symmetry",
                                   "external_peer_link_unknown_volume",
                                   "common_endpoints"}));
    if (c["bundle_threshold"]) {
      PROV_ASSIGN_OR_RETURN(p.correlation.bundle_threshold,
                            Number(c["bundle_threshold"], "correlation.bundle_threshold", 0.01, 1));
    }
    if (const YAML::Node w = c["weights"]) {
      if (!w.IsMap())
        return Error(w, "correlation.weights", "must be a mapping of link kind to weight");
      for (const auto& kv : w) {
        std::string kind = kv.first.as<std::string>();
        const std::string path = absl::StrCat("correlation.weights.", kind);
        if (!p.correlation.weights.contains(kind)) {
          return Error(kv.first, path,
                       absl::StrCat("unknown link kind (known: ",
                                    absl::StrJoin(KnownLinkKinds(), ", "), ")"));
        }
        PROV_ASSIGN_OR_RETURN(p.correlation.weights[kind], Number(kv.second, path, 0, 1));
      }
    }
    if (c["common_artifact_max_accounts"]) {
      PROV_ASSIGN_OR_RETURN(double n, Number(c["common_artifact_max_accounts"],
                                             "correlation.common_artifact_max_accounts", 2, 1e6));
      p.correlation.common_artifact_max_accounts = static_cast<int>(n);
    }
    if (c["handoff_window"]) {
      PROV_ASSIGN_OR_RETURN(p.correlation.handoff_window,
                            Duration(c["handoff_window"], "correlation.handoff_window"));
    }
    if (c["co_start_window"]) {
      PROV_ASSIGN_OR_RETURN(p.correlation.co_start_window,
                            Duration(c["co_start_window"], "correlation.co_start_window"));
    }
    if (c["artifact_settle"]) {
      PROV_ASSIGN_OR_RETURN(p.correlation.artifact_settle,
                            Duration(c["artifact_settle"], "correlation.artifact_settle",
                                     /*zero_ok=*/true));
    }
    if (c["activity_window"]) {
      PROV_ASSIGN_OR_RETURN(p.correlation.activity_window,
                            Duration(c["activity_window"], "correlation.activity_window"));
    }
    if (c["min_shared_transitions"]) {
      PROV_ASSIGN_OR_RETURN(double n, Number(c["min_shared_transitions"],
                                             "correlation.min_shared_transitions", 1, 1000));
      p.correlation.min_shared_transitions = static_cast<int>(n);
    }
    if (c["activity_tolerance"]) {
      PROV_ASSIGN_OR_RETURN(p.correlation.activity_tolerance,
                            Duration(c["activity_tolerance"], "correlation.activity_tolerance"));
    }
    if (c["min_aligned_cycles"]) {
      PROV_ASSIGN_OR_RETURN(
          double n, Number(c["min_aligned_cycles"], "correlation.min_aligned_cycles", 0, 1000));
      p.correlation.min_aligned_cycles = static_cast<int>(n);
    }
    if (c["min_surprise"]) {
      PROV_ASSIGN_OR_RETURN(p.correlation.min_surprise,
                            Number(c["min_surprise"], "correlation.min_surprise", 1, 300));
    }
    if (c["full_surprise"]) {
      PROV_ASSIGN_OR_RETURN(p.correlation.full_surprise,
                            Number(c["full_surprise"], "correlation.full_surprise", 1, 300));
    }
    if (p.correlation.full_surprise < p.correlation.min_surprise) {
      return Error(
          c["full_surprise"] ? c["full_surprise"] : c, "correlation.full_surprise",
          absl::StrCat("must be at least min_surprise (", p.correlation.min_surprise, ")"));
    }
    if (p.correlation.activity_tolerance > p.correlation.activity_window) {
      return Error(c["activity_tolerance"] ? c["activity_tolerance"] : c,
                   "correlation.activity_tolerance",
                   "must be at most activity_window (the index's bucket)");
    }
    if (c["max_bucket_workloads"]) {
      PROV_ASSIGN_OR_RETURN(
          double n, Number(c["max_bucket_workloads"], "correlation.max_bucket_workloads", 2, 1e6));
      p.correlation.max_bucket_workloads = static_cast<int>(n);
    }
    if (c["identity_max_accounts"]) {
      PROV_ASSIGN_OR_RETURN(double n, Number(c["identity_max_accounts"],
                                             "correlation.identity_max_accounts", 2, 1e6));
      p.correlation.identity_max_accounts = static_cast<int>(n);
    }
    if (c["identity_address_max_accounts"]) {
      PROV_ASSIGN_OR_RETURN(double n, Number(c["identity_address_max_accounts"],
                                             "correlation.identity_address_max_accounts", 2, 1e6));
      p.correlation.identity_address_max_accounts = static_cast<int>(n);
    }
    if (c["external_peer_max_accounts"]) {
      PROV_ASSIGN_OR_RETURN(double n, Number(c["external_peer_max_accounts"],
                                             "correlation.external_peer_max_accounts", 2, 1e6));
      p.correlation.external_peer_max_accounts = static_cast<int>(n);
    }
    if (c["external_peer_min_bytes_per_hour"]) {
      PROV_ASSIGN_OR_RETURN(p.correlation.external_peer_min_bytes_per_hour,
                            Number(c["external_peer_min_bytes_per_hour"],
                                   "correlation.external_peer_min_bytes_per_hour", 0, 1e18));
    }
    if (c["external_peer_min_symmetry"]) {
      PROV_ASSIGN_OR_RETURN(
          p.correlation.external_peer_min_symmetry,
          Number(c["external_peer_min_symmetry"], "correlation.external_peer_min_symmetry", 0, 1));
    }
    if (const YAML::Node u = c["external_peer_link_unknown_volume"]) {
      const std::string path = "correlation.external_peer_link_unknown_volume";
      PROV_ASSIGN_OR_RETURN(std::string text, String(u, path));
      if (text != "true" && text != "false") return Error(u, path, "must be true or false");
      p.correlation.external_peer_link_unknown_volume = text == "true";
    }
    if (const YAML::Node e = c["common_endpoints"]) {
      if (!e.IsSequence()) return Error(e, "correlation.common_endpoints", "must be a list");
      for (size_t i = 0; i < e.size(); ++i) {
        const std::string path = absl::StrCat("correlation.common_endpoints[", i, "]");
        PROV_ASSIGN_OR_RETURN(std::string text, String(e[i], path));
        absl::StatusOr<AddressRange> range = AddressRange::Parse(text);
        if (!range.ok()) return Error(e[i], path, std::string(range.status().message()));
        p.correlation.common_endpoints.push_back(*std::move(range));
      }
    }
    if (c["min_workload_evidence"]) {
      PROV_ASSIGN_OR_RETURN(
          p.correlation.min_workload_evidence,
          Number(c["min_workload_evidence"], "correlation.min_workload_evidence", 0, 1));
    }
  }
  return p;
}

}  // namespace

absl::StatusOr<Policy> ParsePolicy(absl::string_view yaml, absl::string_view source_name) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsDefined() || root.IsNull()) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ": empty policy"));
    }
    return Parser(source_name).Parse(root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
}

absl::StatusOr<Policy> LoadPolicyFile(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 1u << 20));
  return ParsePolicy(text, path);
}

}  // namespace prov::policy
