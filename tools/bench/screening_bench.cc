// prov-screening-bench: false matches of the screener on a synthetic benign population, and recall
// on spelling, transliteration, legal-form and word-order variants of every listed name.
//
//   prov-screening-bench --names ../shared/data/names --persons 10000 --companies 5000
//       --csl ../shared/data/screening/csl_2019_extract.csv,../shared/data/screening/...
//       --dpl ../shared/data/screening/bis_dpl.txt [--write-frequencies /tmp/f.csv] [--seed 1]
//
// Population (a synthetic overlay: no real customer is involved): persons drawn per country from
// real name-frequency tables (US Census surnames + SSA given names, Spanish INE given names and two
// surnames, Russian registries in Cyrillic, and Wikidata given names and surnames of 150
// countries), companies half real SEC registrant names, half "<surname> <industry word> <legal
// form>". The population frequency table handed to the screener (what `provd --name-frequencies`
// takes) is the mixture of the same tables; --write-frequencies saves it. Every hit on the
// population is a false match by construction. Prints figures; exits 1 when a file is missing or
// unreadable.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/csv.h"
#include "common/fs.h"
#include "server/screening/csl_list.h"
#include "server/screening/name_frequencies.h"
#include "server/screening/screener.h"
#include "tools/bench/bench_flags.h"

ABSL_FLAG(std::string, csl, "", "Comma-separated CSL CSV files (28- or 29-column form)");
ABSL_FLAG(std::string, dpl, "", "The BIS Denied Persons List (tab-separated), optional");
ABSL_FLAG(std::string, names, "", "The folder of name-frequency tables (shared/data/names)");
ABSL_FLAG(int, persons, 10000, "Synthetic persons to screen");
ABSL_FLAG(int, companies, 5000, "Synthetic companies to screen");
ABSL_FLAG(int, seed, 1, "Random seed");
ABSL_FLAG(double, threshold, 0.88, "Strong-match score (policy screening.min_score)");
ABSL_FLAG(std::string, write_frequencies, "", "Write the population frequency table here");
ABSL_FLAG(int, show, 10, "False strong matches and missed variants to print");

namespace {

using prov::screening::CslEntry;
using prov::screening::CslList;
using prov::screening::MatchStrength;
using prov::screening::ScreeningSubject;
using prov::screening::SubjectKind;

[[noreturn]] void Fail(const std::string& m) {
  std::fprintf(stderr, "prov-screening-bench: %s\n", m.c_str());
  std::exit(1);
}

std::string Read(const std::string& path) {
  auto text = prov::ReadFileToString(path);
  if (!text.ok()) Fail(absl::StrCat(path, ": ", text.status().message()));
  return *std::move(text);
}

// A weighted table of names.
struct Table {
  std::vector<std::string> names;
  std::vector<double> weights;
  void Add(std::string n, double w) {
    if (n.empty() || !(w > 0)) return;
    names.push_back(std::move(n));
    weights.push_back(w);
  }
  bool empty() const { return names.empty(); }
  const std::string& Draw(std::mt19937_64& rng) const {
    std::discrete_distribution<size_t> d(weights.begin(), weights.end());
    return names[d(rng)];
  }
};

// Rows of a CSV with a header, as column -> value maps.
std::vector<std::map<std::string, std::string>> Rows(const std::string& path) {
  std::string text = Read(path);
  prov::CsvReader reader(text);
  std::vector<std::string> header, fields;
  auto more = reader.Next(&header);
  if (!more.ok() || !*more) Fail(absl::StrCat(path, ": no header"));
  std::vector<std::map<std::string, std::string>> out;
  while (true) {
    more = reader.Next(&fields);
    if (!more.ok()) Fail(absl::StrCat(path, ": ", more.status().message()));
    if (!*more) break;
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    out.push_back(std::move(row));
  }
  return out;
}

double Num(const std::string& s) {
  double v = 0;
  return absl::SimpleAtod(s, &v) ? v : 0;
}

struct Country {
  std::string code;
  double weight;  // share of the synthetic population
  Table given, family;
  bool two_surnames = false;
};

// Cached draws need a fixed distribution object per table.
struct Sampler {
  explicit Sampler(const Table& t) : table(&t), dist(t.weights.begin(), t.weights.end()) {}
  const std::string& Draw(std::mt19937_64& rng) { return table->names[dist(rng)]; }
  const Table* table;
  std::discrete_distribution<size_t> dist;
};

// The DPL's tab-separated quoted rows as CSL entries (type unknown: the DPL names persons and
// firms alike).
void AddDpl(const std::string& path, CslList& list) {
  std::string text = Read(path);
  bool header = true;
  int line = 0;
  for (absl::string_view row : absl::StrSplit(text, '\n')) {
    ++line;
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string> f;
    for (absl::string_view v : absl::StrSplit(row, '\t')) {
      f.emplace_back(
          absl::StripAsciiWhitespace(absl::StripSuffix(absl::StripPrefix(v, "\""), "\"")));
    }
    if (f.size() < 5 || f[0].empty()) continue;
    CslEntry e;
    e.id = absl::StrCat("dpl:", line);
    e.source = "Denied Persons List (DPL) - Bureau of Industry and Security";
    e.name = f[0];
    e.addresses = absl::StrCat(f[1], ", ", f[2], ", ", f[3], ", ", f[4]);
    if (f[4].size() == 2) e.countries.push_back(f[4]);
    e.line = line;
    list.entries.push_back(std::move(e));
  }
}

// Spelling, transliteration, legal-form and word-order variants of a listed name.
std::vector<std::pair<std::string, std::string>> Variants(const CslEntry& e, bool person) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string& n = e.name;
  // Word order: "FAMILY, Given" -> "Given FAMILY"; otherwise the last word first.
  size_t comma = n.find(',');
  if (person && comma != std::string::npos) {
    out.emplace_back("word order", absl::StrCat(absl::StripAsciiWhitespace(n.substr(comma + 1)),
                                                " ", n.substr(0, comma)));
  } else {
    std::vector<std::string> w = absl::StrSplit(n, ' ', absl::SkipEmpty());
    if (w.size() >= 2) {
      std::rotate(w.begin(), w.end() - 1, w.end());
      out.emplace_back("word order", absl::StrJoin(w, " "));
    }
  }
  out.emplace_back("case and punctuation", [&] {
    std::string s = absl::AsciiStrToLower(n);
    for (char& c : s) {
      if (c == '-' || c == ',' || c == '.') c = ' ';
    }
    return s;
  }());
  // Transliteration-style spelling: one vowel changed (or a letter doubled) in the longest word.
  {
    std::vector<std::string> w = absl::StrSplit(n, ' ', absl::SkipEmpty());
    size_t longest = 0;  // the longest word that is not a legal form
    for (size_t i = 0; i < w.size(); ++i) {
      const bool form = prov::screening::NameNormalizer::IsLegalForm(
          absl::AsciiStrToLower(absl::StripSuffix(absl::StripSuffix(w[i], ","), ".")));
      if (!form && w[i].size() > w[longest].size()) longest = i;
    }
    std::string& t = w[longest];
    if (t.size() >= 5) {
      bool changed = false;
      for (size_t i = 1; i < t.size() && !changed; ++i) {
        char c = absl::ascii_tolower(static_cast<unsigned char>(t[i]));
        const char* swap = c == 'e' ? "a" : c == 'a' ? "e" : c == 'o' ? "u" : c == 'i' ? "y" : "";
        if (*swap) {
          t[i] = absl::ascii_isupper(static_cast<unsigned char>(t[i]))
                     ? absl::ascii_toupper(static_cast<unsigned char>(*swap))
                     : *swap;
          changed = true;
        }
      }
      if (!changed) t.insert(t.begin() + 2, t[1]);
      out.emplace_back("spelling", absl::StrJoin(w, " "));
    }
  }
  if (!person) {
    out.emplace_back("legal form", absl::StrCat(n, " Limited"));
    out.emplace_back("legal form", absl::StrCat(n, " LLC"));
    // Dotted, after a comma, in lower case (the eval's b_layered_resellers-002 variant).
    out.emplace_back("legal form", absl::StrCat(absl::AsciiStrToLower(n), ", l.l.c."));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  prov::bench::ParseBenchFlags(argc, argv);
  const std::string names_dir = absl::GetFlag(FLAGS_names);
  if (absl::GetFlag(FLAGS_csl).empty() || names_dir.empty()) {
    Fail("--csl and --names are required (files under shared/data; see tools/bench/README.md)");
  }
  prov::screening::NameNormalizer normalizer;
  CslList list;
  for (absl::string_view path : absl::StrSplit(absl::GetFlag(FLAGS_csl), ',', absl::SkipEmpty())) {
    std::vector<prov::screening::RowError> errors;
    auto parsed =
        prov::screening::ParseConsolidatedScreeningList(Read(std::string(path)), path, &errors);
    if (!parsed.ok()) Fail(std::string(parsed.status().message()));
    for (auto& e : parsed->entries) list.entries.push_back(std::move(e));
    list.version = parsed->version;
  }
  if (!absl::GetFlag(FLAGS_dpl).empty()) AddDpl(absl::GetFlag(FLAGS_dpl), list);

  // Countries and their name tables.
  std::vector<Country> countries;
  auto country = [&](const std::string& code, double weight) -> Country& {
    countries.push_back({code, weight, {}, {}, false});
    return countries.back();
  };
  {
    Country& us = country("US", 0.30);
    for (auto& r : Rows(names_dir + "/us_given_names_ssa.csv"))
      us.given.Add(r["name"], Num(r["share"]));
    for (auto& r : Rows(names_dir + "/us_surnames_census2000.csv")) {
      us.family.Add(r["name"], Num(r["share"]));
    }
    Country& es = country("ES", 0.10);
    es.two_surnames = true;
    for (auto& r : Rows(names_dir + "/es_given_names_ine.csv"))
      es.given.Add(r["name"], Num(r["share"]));
    for (auto& r : Rows(names_dir + "/es_surnames_ine.csv"))
      es.family.Add(r["name"], Num(r["share"]));
    Country& ru = country("RU", 0.10);
    for (auto& r : Rows(names_dir + "/ru_given_names.csv"))
      ru.given.Add(r["name"], Num(r["share"]));
    for (auto& r : Rows(names_dir + "/ru_surnames_zhuravlev2005.csv")) {
      ru.family.Add(r["name"], Num(r["share"]));
    }
    // Wikidata: every other country, together half of the population, by its name counts.
    std::map<std::string, Country> wiki;
    for (auto& r : Rows(names_dir + "/wikidata_names_by_country.csv")) {
      Country& c = wiki[r["country"]];
      c.code = r["country"];
      const double w = Num(r["wikidata_count"]);
      if (r["kind"] == "surname") {
        c.family.Add(r["name"], w);
      } else {
        c.given.Add(r["name"], w);
      }
    }
    int usable = 0;
    for (auto& [code, c] : wiki) usable += !c.given.empty() && !c.family.empty() && code != "US";
    for (auto& [code, c] : wiki) {
      if (c.given.empty() || c.family.empty() || code == "US") continue;
      c.weight = 0.5 / usable;
      countries.push_back(std::move(c));
    }
  }
  // The population frequency table: the mixture of the countries' tables.
  prov::screening::NameFrequencies freq;
  freq.set_source("bench population");
  {
    std::map<std::string, double> share;
    for (const Country& c : countries) {
      for (const Table* t : {&c.given, &c.family}) {
        double total = 0;
        for (double w : t->weights) total += w;
        for (size_t i = 0; i < t->names.size(); ++i) {
          for (const std::string& tok : normalizer.Normalize(t->names[i]).tokens) {
            share[tok] +=
                c.weight * t->weights[i] / total * (t == &c.family && c.two_surnames ? 2 : 1);
          }
        }
      }
    }
    for (auto& r : Rows(names_dir + "/company_name_tokens_sec.csv")) {
      for (const std::string& tok : normalizer.Normalize(r["token"]).tokens) {
        share[tok] = std::max(share[tok], std::min(1.0, Num(r["share_of_names"])));
      }
    }
    for (auto& [tok, s] : share) freq.Add(tok, std::min(s, 1.0));
    if (const std::string out = absl::GetFlag(FLAGS_write_frequencies); !out.empty()) {
      std::ofstream f(out);
      f << "name,share\n";
      for (auto& [tok, s] : share) f << tok << "," << std::min(s, 1.0) << "\n";
      if (!f) Fail(absl::StrCat(out, ": cannot write"));
    }
  }

  auto t0 = std::chrono::steady_clock::now();
  prov::screening::Screener screener(
      list, normalizer,
      {.threshold = absl::GetFlag(FLAGS_threshold), .max_hits = 50, .frequencies = &freq});
  const double build_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  std::vector<double> cw;
  for (const Country& c : countries) cw.push_back(c.weight);
  std::discrete_distribution<size_t> pick_country(cw.begin(), cw.end());
  std::vector<Sampler> given, family;
  for (const Country& c : countries) {
    given.emplace_back(c.given);
    family.emplace_back(c.family);
  }
  const int show = absl::GetFlag(FLAGS_show);
  int shown = 0;
  struct Counts {
    int screened = 0, strong = 0, weak = 0, subjects_weak = 0;
  };
  auto screen = [&](const ScreeningSubject& s, Counts& c) {
    ++c.screened;
    bool any_weak = false;
    for (const auto& hit : screener.Screen(s)) {
      if (hit.strength == MatchStrength::kStrong) {
        ++c.strong;
        if (shown++ < show) {
          std::printf("  false strong: \"%s\" ~ \"%s\" (%s) score %.3f info %.1f\n", s.name.c_str(),
                      hit.matched_name.c_str(), hit.entry->source.c_str(), hit.score,
                      hit.information);
        }
      } else {
        ++c.weak;
        any_weak = true;
      }
    }
    c.subjects_weak += any_weak;
  };
  Counts persons, companies;
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < absl::GetFlag(FLAGS_persons); ++i) {
    const size_t ci = pick_country(rng);
    ScreeningSubject s;
    s.kind = SubjectKind::kPerson;
    s.name = absl::StrCat(given[ci].Draw(rng), " ", family[ci].Draw(rng));
    if (countries[ci].two_surnames) absl::StrAppend(&s.name, " ", family[ci].Draw(rng));
    s.nationality = countries[ci].code;
    screen(s, persons);
  }
  std::vector<std::string> sec;
  for (auto& r : Rows(names_dir + "/us_company_names_sec.csv")) sec.push_back(r["name"]);
  static const char* kWords[] = {"Trading",  "Logistics",    "Analytics", "Cloud",    "Research",
                                 "Systems",  "Technologies", "Imports",   "Holdings", "Consulting",
                                 "Robotics", "Compute",      "Energy",    "Foods",    "Textiles"};
  static const char* kForms[] = {"Ltd", "LLC", "GmbH", "Co., Ltd.", "S.A.", "OOO", "Inc."};
  for (int i = 0; i < absl::GetFlag(FLAGS_companies); ++i) {
    ScreeningSubject s;
    s.kind = SubjectKind::kEntity;
    if (i % 2 == 0 && !sec.empty()) {
      s.name = sec[rng() % sec.size()];
    } else {
      const size_t ci = pick_country(rng);
      s.name = absl::StrCat(family[ci].Draw(rng), " ", kWords[rng() % std::size(kWords)], " ",
                            kForms[rng() % std::size(kForms)]);
      s.country = countries[ci].code;
    }
    screen(s, companies);
  }
  const double screen_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Variants of every listed name must still hit their entry.
  std::map<std::string, std::array<int, 3>> variant_counts;  // kind -> total, hit, strong
  int missed_shown = 0;
  for (const CslEntry& e : list.entries) {
    const bool person = absl::EqualsIgnoreCase(e.type, "individual");
    for (const auto& [kind, name] : Variants(e, person)) {
      ScreeningSubject s;
      s.name = name;
      s.kind = person ? SubjectKind::kPerson : SubjectKind::kUnknown;
      auto& c = variant_counts[kind];
      ++c[0];
      bool hit = false, strong = false;
      for (const auto& h : screener.Screen(s)) {
        if (h.entry != &e) continue;
        hit = true;
        strong = strong || h.strength == MatchStrength::kStrong;
      }
      c[1] += hit;
      c[2] += strong;
      if (!hit && missed_shown++ < show) {
        std::printf("  missed %s variant: \"%s\" of \"%s\"\n", kind.c_str(), name.c_str(),
                    e.name.c_str());
      }
    }
  }

  const std::string csl_flag = absl::GetFlag(FLAGS_csl);
  std::printf("list: %zu entries (%zu CSL files%s); population table: %zu tokens\n",
              list.entries.size(),
              static_cast<size_t>(std::count(csl_flag.begin(), csl_flag.end(), ',') + 1),
              absl::GetFlag(FLAGS_dpl).empty() ? "" : " + DPL", freq.size());
  std::printf("screener build %.2f s; screening %d subjects %.2f s (%.2f ms each)\n", build_s,
              persons.screened + companies.screened, screen_s,
              1000 * screen_s / std::max(1, persons.screened + companies.screened));
  for (const auto& [label, c] : {std::pair<const char*, Counts>{"persons", persons},
                                 std::pair<const char*, Counts>{"companies", companies}}) {
    std::printf(
        "%-9s screened %6d: strong false matches %4d (%.2f per 10,000); weak (review) %4d hits on "
        "%d subjects (%.1f per 10,000 subjects)\n",
        label, c.screened, c.strong, 1e4 * c.strong / std::max(1, c.screened), c.weak,
        c.subjects_weak, 1e4 * c.subjects_weak / std::max(1, c.screened));
  }
  for (const auto& [kind, c] : variant_counts) {
    std::printf("variants %-22s %5d: hit %5d (%.1f%%), strong %5d\n", kind.c_str(), c[0], c[1],
                100.0 * c[1] / std::max(1, c[0]), c[2]);
  }
  return 0;
}
