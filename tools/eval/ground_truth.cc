#include "tools/eval/ground_truth.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace prov::eval {
namespace {

using nlohmann::json;

json Strings(const std::vector<std::string>& v) { return json(v); }

// Reads obj[key] into *out; missing optional fields keep their defaults.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  template <typename T>
  bool Get(const json& obj, const std::string& path, const char* key, T* out, bool required) {
    if (!error_.empty()) return false;
    auto it = obj.find(key);
    if (it == obj.end()) {
      if (required) error_ = absl::StrCat(path, key, ": missing");
      return false;
    }
    try {
      *out = it->template get<T>();
    } catch (const json::exception& e) {
      error_ = absl::StrCat(path, key, ": ", e.what());
      return false;
    }
    return true;
  }
  bool IsArray(const json& obj, const std::string& path, const char* key) {
    if (!error_.empty()) return false;
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_array()) {
      error_ = absl::StrCat(path, key, ": missing or not an array");
      return false;
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  std::string source_;
  std::string error_;
};

}  // namespace

std::string GroundTruthToJson(const GroundTruth& t) {
  json out;
  out["scenario"] = t.scenario;
  out["seed"] = t.seed;
  out["interval_seconds"] = t.interval_seconds;
  out["reports_per_node"] = t.reports_per_node;
  out["provenance_note"] = t.provenance_note;
  out["screening_min_score"] = t.screening_min_score;
  out["max_background_account_flop_low"] = t.max_background_account_flop_low;
  out["tiers"] = json::array();
  for (const auto& tier : t.tiers)
    out["tiers"].push_back({{"name", tier.name}, {"flop", tier.flop}});
  out["lineages"] = json::array();
  for (const auto& l : t.lineages) {
    json j;
    j["id"] = l.id;
    j["typology"] = l.typology;
    j["role"] = l.role;
    j["description"] = l.description;
    j["accounts"] = Strings(l.accounts);
    j["training_accounts"] = Strings(l.training_accounts);
    j["nodes"] = Strings(l.nodes);
    if (!l.serials.empty()) j["serials"] = Strings(l.serials);
    j["combined_flop_low"] = l.combined_flop_low;
    j["max_account_flop_low"] = l.max_account_flop_low;
    if (l.evidence_offset_s >= 0) {
      j["evidence_offset_s"] = l.evidence_offset_s;
      j["evidence_note"] = l.evidence_note;
    }
    j["expected"] = json::array();
    for (const auto& e : l.expected) {
      json je = {{"rule", e.rule},
                 {"subject_kind", e.subject_kind},
                 {"subject_id", e.subject_id},
                 {"accounts", Strings(e.accounts)}};
      if (!e.nodes.empty()) je["nodes"] = Strings(e.nodes);
      j["expected"].push_back(std::move(je));
    }
    out["lineages"].push_back(std::move(j));
  }
  return out.dump(1) + "\n";
}

absl::StatusOr<GroundTruth> ParseGroundTruth(absl::string_view text, absl::string_view source) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  }
  GroundTruth t;
  Reader r{std::string(source)};
  r.Get(doc, "", "scenario", &t.scenario, true);
  r.Get(doc, "", "seed", &t.seed, false);
  r.Get(doc, "", "interval_seconds", &t.interval_seconds, true);
  r.Get(doc, "", "reports_per_node", &t.reports_per_node, true);
  r.Get(doc, "", "provenance_note", &t.provenance_note, false);
  r.Get(doc, "", "screening_min_score", &t.screening_min_score, false);
  r.Get(doc, "", "max_background_account_flop_low", &t.max_background_account_flop_low, false);
  if (r.IsArray(doc, "", "tiers")) {
    const json& tiers = doc["tiers"];
    for (size_t i = 0; i < tiers.size(); ++i) {
      std::string p = absl::StrCat("tiers[", i, "].");
      Tier tier;
      r.Get(tiers[i], p, "name", &tier.name, true);
      r.Get(tiers[i], p, "flop", &tier.flop, true);
      t.tiers.push_back(tier);
    }
  }
  if (r.IsArray(doc, "", "lineages")) {
    const json& ls = doc["lineages"];
    for (size_t i = 0; i < ls.size() && r.error().empty(); ++i) {
      std::string p = absl::StrCat("lineages[", i, "].");
      Lineage l;
      r.Get(ls[i], p, "id", &l.id, true);
      r.Get(ls[i], p, "typology", &l.typology, true);
      r.Get(ls[i], p, "role", &l.role, true);
      r.Get(ls[i], p, "description", &l.description, false);
      r.Get(ls[i], p, "accounts", &l.accounts, true);
      r.Get(ls[i], p, "training_accounts", &l.training_accounts, false);
      r.Get(ls[i], p, "nodes", &l.nodes, false);
      r.Get(ls[i], p, "serials", &l.serials, false);
      r.Get(ls[i], p, "combined_flop_low", &l.combined_flop_low, false);
      r.Get(ls[i], p, "max_account_flop_low", &l.max_account_flop_low, false);
      r.Get(ls[i], p, "evidence_offset_s", &l.evidence_offset_s, false);
      r.Get(ls[i], p, "evidence_note", &l.evidence_note, false);
      if (r.error().empty() && l.role != kRoleAdversary && l.role != kRoleLookAlike &&
          l.role != kRoleBackground) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": ", p, "role: unknown role '", l.role, "'"));
      }
      if (r.IsArray(ls[i], p, "expected")) {
        const json& es = ls[i]["expected"];
        for (size_t e = 0; e < es.size(); ++e) {
          std::string q = absl::StrCat(p, "expected[", e, "].");
          ExpectedFlag f;
          r.Get(es[e], q, "rule", &f.rule, true);
          r.Get(es[e], q, "subject_kind", &f.subject_kind, true);
          r.Get(es[e], q, "subject_id", &f.subject_id, false);
          r.Get(es[e], q, "accounts", &f.accounts, true);
          r.Get(es[e], q, "nodes", &f.nodes, false);
          l.expected.push_back(std::move(f));
        }
      }
      t.lineages.push_back(std::move(l));
    }
  }
  if (!r.error().empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", r.error()));
  return t;
}

}  // namespace prov::eval
