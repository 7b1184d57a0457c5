#include "server/screening/name_frequencies.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/csv.h"

namespace prov::screening {

double NameFrequencies::Share(absl::string_view token) const {
  auto it = share_.find(token);
  return it == share_.end() ? 0 : it->second;
}

void NameFrequencies::Add(absl::string_view token, double share) {
  double& s = share_[token];
  s = std::max(s, share);
}

absl::StatusOr<NameFrequencies> ParseNameFrequencies(absl::string_view text,
                                                     absl::string_view source_name,
                                                     const NameNormalizer& normalizer) {
  CsvReader reader(text);
  std::vector<std::string> fields;
  auto more = reader.Next(&fields);
  if (!more.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", more.status().message()));
  }
  if (!*more) return absl::InvalidArgumentError(absl::StrCat(source_name, ": empty file"));
  int name_col = -1, share_col = -1;
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string h = absl::AsciiStrToLower(absl::StripAsciiWhitespace(fields[i]));
    if (h == "name" || h == "token") name_col = static_cast<int>(i);
    if (h == "share") share_col = static_cast<int>(i);
  }
  if (name_col < 0 || share_col < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_name, ": line 1: header needs a 'name' (or 'token') and a 'share' column"));
  }
  NameFrequencies out;
  out.set_source(std::string(source_name));
  while (true) {
    more = reader.Next(&fields);
    if (!more.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", more.status().message()));
    }
    if (!*more) break;
    const int line = reader.record_line();
    if (static_cast<int>(fields.size()) <= std::max(name_col, share_col)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ": line ", line, ": expected at least ",
                       std::max(name_col, share_col) + 1, " fields, got ", fields.size()));
    }
    double share = 0;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(fields[share_col]), &share) ||
        !(share > 0 && share <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ": line ", line,
                                                     ": field share: '", fields[share_col],
                                                     "' is not a number in (0, 1]"));
    }
    for (const std::string& t : normalizer.Normalize(fields[name_col]).tokens) out.Add(t, share);
  }
  return out;
}

const NameFrequencies& BuiltinNameFrequencies() {
  static const NameFrequencies* table = [] {
    // Rounded shares of very common name tokens (given names, family names, company words) as a
    // fallback; several countries each, so no one population's names look rare.
    static const std::pair<const char*, double> kCommon[] = {
        // given names
        {"john", 0.02},
        {"james", 0.02},
        {"michael", 0.02},
        {"robert", 0.02},
        {"william", 0.015},
        {"david", 0.02},
        {"richard", 0.01},
        {"thomas", 0.01},
        {"charles", 0.01},
        {"mary", 0.015},
        {"jennifer", 0.008},
        {"linda", 0.008},
        {"elizabeth", 0.008},
        {"patricia", 0.008},
        {"andrew", 0.006},
        {"daniel", 0.008},
        {"paul", 0.008},
        {"mark", 0.008},
        {"peter", 0.008},
        {"george", 0.006},
        {"joseph", 0.01},
        {"anna", 0.01},
        {"maria", 0.03},
        {"jose", 0.02},
        {"juan", 0.015},
        {"antonio", 0.015},
        {"manuel", 0.01},
        {"carmen", 0.01},
        {"ana", 0.01},
        {"francisco", 0.01},
        {"luis", 0.01},
        {"carlos", 0.01},
        {"jean", 0.02},
        {"marie", 0.03},
        {"pierre", 0.01},
        {"michel", 0.01},
        {"hans", 0.008},
        {"peter", 0.01},
        {"klaus", 0.005},
        {"ivan", 0.015},
        {"alexander", 0.015},
        {"sergey", 0.015},
        {"sergei", 0.01},
        {"vladimir", 0.01},
        {"elena", 0.02},
        {"olga", 0.015},
        {"tatiana", 0.015},
        {"natalia", 0.01},
        {"mohammed", 0.03},
        {"mohammad", 0.03},
        {"muhammad", 0.03},
        {"mohamed", 0.03},
        {"ahmed", 0.02},
        {"ahmad", 0.02},
        {"ali", 0.03},
        {"hassan", 0.015},
        {"hussein", 0.01},
        {"omar", 0.01},
        {"ibrahim", 0.01},
        {"abdul", 0.02},
        {"fatima", 0.01},
        {"wei", 0.01},
        {"li", 0.01},
        {"jie", 0.005},
        {"ming", 0.005},
        {"yan", 0.005},
        {"hui", 0.005},
        {"hong", 0.005},
        {"ling", 0.005},
        {"jun", 0.005},
        {"min", 0.005},
        {"raj", 0.005},
        {"kumar", 0.02},
        {"anil", 0.005},
        {"sunil", 0.005},
        {"priya", 0.005},
        {"hiroshi", 0.003},
        {"yuki", 0.003},
        {"kim", 0.02},
        {"young", 0.005},
        // family names and name particles
        {"smith", 0.01},
        {"johnson", 0.008},
        {"williams", 0.007},
        {"brown", 0.006},
        {"jones", 0.006},
        {"miller", 0.004},
        {"davis", 0.004},
        {"wilson", 0.003},
        {"anderson", 0.003},
        {"taylor", 0.003},
        {"walker", 0.002},
        {"white", 0.002},
        {"garcia", 0.03},
        {"rodriguez", 0.02},
        {"gonzalez", 0.02},
        {"fernandez", 0.02},
        {"lopez", 0.02},
        {"martinez", 0.02},
        {"sanchez", 0.02},
        {"perez", 0.02},
        {"hernandez", 0.01},
        {"martin", 0.01},
        {"bernard", 0.004},
        {"dubois", 0.003},
        {"muller", 0.01},
        {"mueller", 0.005},
        {"schmidt", 0.008},
        {"schneider", 0.005},
        {"fischer", 0.005},
        {"ivanov", 0.02},
        {"ivanova", 0.02},
        {"smirnov", 0.015},
        {"smirnova", 0.015},
        {"kuznetsov", 0.01},
        {"popov", 0.01},
        {"wang", 0.07},
        {"zhang", 0.07},
        {"liu", 0.05},
        {"chen", 0.05},
        {"yang", 0.03},
        {"huang", 0.02},
        {"zhao", 0.02},
        {"wu", 0.02},
        {"zhou", 0.02},
        {"hu", 0.01},
        {"nguyen", 0.3},
        {"tran", 0.1},
        {"le", 0.1},
        {"pham", 0.07},
        {"lee", 0.05},
        {"park", 0.08},
        {"choi", 0.05},
        {"singh", 0.03},
        {"patel", 0.02},
        {"shah", 0.01},
        {"khan", 0.03},
        {"al", 0.05},
        {"el", 0.03},
        {"abu", 0.02},
        {"bin", 0.02},
        {"ibn", 0.01},
        {"abd", 0.02},
        {"de", 0.05},
        {"da", 0.02},
        {"van", 0.02},
        {"von", 0.005},
        {"del", 0.01},
        {"la", 0.01},
        {"yilmaz", 0.01},
        {"kaya", 0.008},
        {"demir", 0.008},
        {"sato", 0.015},
        {"suzuki", 0.015},
        {"tanaka", 0.01},
        {"silva", 0.03},
        {"santos", 0.02},
        {"oliveira", 0.015},
        {"rossi", 0.005},
        {"russo", 0.004},
        {"kowalski", 0.003},
        {"nowak", 0.005},
        // company words (legal forms are dropped before matching)
        {"international", 0.03},
        {"trading", 0.02},
        {"technology", 0.02},
        {"technologies", 0.03},
        {"industries", 0.01},
        {"industrial", 0.01},
        {"services", 0.02},
        {"solutions", 0.02},
        {"systems", 0.02},
        {"global", 0.02},
        {"enterprises", 0.01},
        {"import", 0.005},
        {"export", 0.005},
        {"investment", 0.01},
        {"investments", 0.01},
        {"capital", 0.02},
        {"partners", 0.01},
        {"research", 0.01},
        {"energy", 0.01},
        {"electronics", 0.005},
        {"engineering", 0.01},
        {"logistics", 0.005},
        {"shipping", 0.005},
        {"bank", 0.01},
        {"financial", 0.01},
        {"new", 0.01},
        {"china", 0.01},
        {"american", 0.01},
        {"national", 0.01},
        {"united", 0.01},
        {"first", 0.01},
        {"general", 0.01},
        {"science", 0.005},
        {"sciences", 0.005},
        {"therapeutics", 0.005},
        {"pharmaceuticals", 0.005},
        {"software", 0.01},
        {"data", 0.01},
        {"cloud", 0.005},
        {"labs", 0.005},
        {"ai", 0.005},
        {"digital", 0.01},
        {"institute", 0.005},
        {"university", 0.005},
        {"development", 0.01},
        {"manufacturing", 0.005},
        {"machinery", 0.005},
        {"equipment", 0.005},
        {"resources", 0.01},
        {"petroleum", 0.003},
        {"oil", 0.005},
        {"gas", 0.005},
    };
    auto* t = new NameFrequencies;
    for (const auto& [name, share] : kCommon) t->Add(name, share);
    return t;
  }();
  return *table;
}

}  // namespace prov::screening
