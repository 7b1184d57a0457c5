#include "server/screening/screener.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/screening/jaro_winkler.h"

namespace prov::screening {
namespace {

constexpr double kRarestShare = 1e-6;  // a part seen nowhere
constexpr double kListShareFactor = 0.01;
constexpr double kUnpairedFactor = 0.5;
constexpr double kDobEqualNats = 10;
constexpr double kDobYearNats = 3.5;
constexpr double kCountryNats = 2;
constexpr double kDobMismatchFactor = 0.9;
constexpr double kNationalityMismatchFactor = 0.95;
constexpr double kConfirmableScore = 0.5;  // a registration number may confirm from this score

// Trigrams of a token padded with one space each side, so short tokens and prefixes index too.
std::vector<std::string> Trigrams(absl::string_view token) {
  std::string padded = absl::StrCat(" ", token, " ");
  std::vector<std::string> out;
  for (size_t i = 0; i + 3 <= padded.size(); ++i) out.push_back(padded.substr(i, 3));
  return out;
}

// Optimal string alignment distance (Levenshtein with adjacent transpositions).
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

size_t EditBudget(size_t length) {
  if (length <= 3) return 0;
  if (length <= 7) return 1;
  if (length <= 11) return 2;
  return 3;
}

// Similarity of two name parts: 0 unless equal or within the edit budget of the longer one.
double PartSimilarity(absl::string_view a, absl::string_view b) {
  if (a == b) return 1;
  const size_t longer = std::max(a.size(), b.size());
  const size_t shorter = std::min(a.size(), b.size());
  const size_t budget = EditBudget(longer);
  if (longer - shorter > budget) return 0;
  if (EditDistance(a, b) > budget) return 0;
  return JaroWinkler(a, b);
}

bool IsParticle(absl::string_view t) {
  static const auto* particles = new absl::flat_hash_set<absl::string_view>{
      "al", "el", "abu", "abd", "bin", "ibn", "bint", "ben", "van", "von", "de", "der", "den",
      "da", "di", "del", "la",  "le",  "du",  "dos",  "das", "mc",  "mac", "ul", "ur"};
  return particles->contains(t);
}

bool HasLower(absl::string_view s) {
  for (char c : s) {
    if (absl::ascii_islower(static_cast<unsigned char>(c))) return true;
  }
  return false;
}
bool HasUpper(absl::string_view s) {
  for (char c : s) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

struct Date {
  int year = 0;
  std::string full;  // "YYYY-MM-DD" when known
};

// The first date in `text`: "1965-07-01", "1965-07", "1965", "circa 1965".
std::optional<Date> ParseDate(absl::string_view text) {
  for (size_t i = 0; i + 4 <= text.size(); ++i) {
    if (i > 0 && absl::ascii_isdigit(static_cast<unsigned char>(text[i - 1]))) continue;
    absl::string_view y = text.substr(i, 4);
    int year = 0;
    if (!absl::SimpleAtoi(y, &year) || year < 1800 || year > 2100) continue;
    if (i + 4 < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i + 4]))) {
      continue;
    }
    Date d;
    d.year = year;
    if (i + 10 <= text.size() && text[i + 4] == '-' && text[i + 7] == '-') {
      d.full = std::string(text.substr(i, 10));
    }
    return d;
  }
  return std::nullopt;
}

std::string AlnumUpper(absl::string_view s) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u)) out.push_back(static_cast<char>(absl::ascii_toupper(u)));
  }
  return out;
}

}  // namespace

const char* MatchStrengthName(MatchStrength s) {
  return s == MatchStrength::kStrong ? "strong" : "weak";
}

Screener::Screener(const CslList& list, const NameNormalizer& normalizer, ScreenerOptions options)
    : list_(list),
      normalizer_(normalizer),
      options_(options),
      frequencies_(options.frequencies != nullptr ? *options.frequencies
                                                  : BuiltinNameFrequencies()) {
  auto index = [&](const CslEntry* e, const std::string& raw, bool alias) {
    IndexedName n{e, raw, alias, normalizer_.Normalize(raw), {}, true};
    // Family name parts: before the comma ("ABU JHEISHEH, Mohammed"), else the upper-case words
    // of a mixed-case name ("Mohammed ABU JHEISHEH"), else unknown (first or last part).
    std::vector<std::string> family_tokens;
    const size_t comma = raw.find(',');
    if (comma != std::string::npos && comma > 0) {
      family_tokens = normalizer_.Normalize(raw.substr(0, comma)).tokens;
    } else {
      std::vector<absl::string_view> words = absl::StrSplit(raw, ' ', absl::SkipEmpty());
      bool mixed = false;
      for (absl::string_view w : words) mixed = mixed || HasLower(w);
      if (mixed) {
        for (absl::string_view w : words) {
          if (HasUpper(w) && !HasLower(w) && w.size() >= 2) {
            for (std::string& t : normalizer_.Normalize(w).tokens) family_tokens.push_back(t);
          }
        }
      }
    }
    for (int i = 0; i < static_cast<int>(n.normalized.tokens.size()); ++i) {
      const std::string& t = n.normalized.tokens[i];
      if (std::find(family_tokens.begin(), family_tokens.end(), t) != family_tokens.end()) {
        n.family.push_back(i);
      }
    }
    n.family_ambiguous = n.family.empty();
    names_.push_back(std::move(n));
  };
  for (const CslEntry& e : list_.entries) {
    if (!options_.as_of.empty() && !e.end_date.empty() && e.end_date < options_.as_of) {
      ++expired_;  // an expired listing restricts no one: not a candidate
      continue;
    }
    index(&e, e.name, false);
    for (const std::string& alt : e.alt_names) index(&e, alt, true);
    // Entity List names often end in their place: "Guian New District Huawei Investment Co.,
    // Ltd., Guiyang, Guizhou". Entities are also indexed without trailing comma segments, as long
    // as two name parts remain, so the place does not count as parts the customer lacks.
    if (absl::EqualsIgnoreCase(e.type, "individual")) continue;
    std::string prefix = e.name;
    for (size_t comma = prefix.rfind(','); comma != std::string::npos && comma > 0;
         comma = prefix.rfind(',')) {
      prefix.resize(comma);
      if (normalizer_.Normalize(prefix).tokens.size() < 2) break;
      index(&e, prefix, false);
      names_.back().raw = e.name;
    }
  }
  // Part frequencies count entries (an entry's name, aliases and prefixes count once).
  absl::flat_hash_set<std::pair<const CslEntry*, std::string>> entry_tokens;
  for (uint32_t i = 0; i < names_.size(); ++i) {
    absl::flat_hash_set<std::string> seen_grams;
    for (const std::string& t : names_[i].normalized.tokens) {
      if (entry_tokens.insert({names_[i].entry, t}).second) ++doc_freq_[t];
      for (std::string& g : Trigrams(t)) {
        if (seen_grams.insert(g).second) trigram_index_[g].push_back(i);
      }
    }
  }
}

double Screener::Weight(absl::string_view token) const {
  double p = std::max(kRarestShare, frequencies_.Share(token));
  auto it = doc_freq_.find(token);
  if (it != doc_freq_.end() && !list_.entries.empty()) {
    // Other listed entries carrying the part (its own entry says nothing about rarity).
    p = std::max(p,
                 kListShareFactor * (it->second - 1) / static_cast<double>(list_.entries.size()));
  }
  if (IsParticle(token)) p = std::max(p, 0.05);
  // Initials and two-letter parts say little however rare they look.
  if (token.size() == 1) p = std::max(p, 0.05);
  if (token.size() == 2) p = std::max(p, 0.005);
  return -std::log(std::min(p, 1.0));
}

Screener::Comparison Screener::Compare(const NormalizedName& query, const IndexedName* candidate,
                                       bool want_reasons) const {
  Comparison c;
  const std::vector<std::string>& q = query.tokens;
  const std::vector<std::string>& t = candidate->normalized.tokens;
  if (q.empty() || t.empty()) return c;
  struct Pair {
    double sim;
    int i, j;
  };
  std::vector<Pair> pairs;
  for (int i = 0; i < static_cast<int>(q.size()); ++i) {
    for (int j = 0; j < static_cast<int>(t.size()); ++j) {
      const double s = PartSimilarity(q[i], t[j]);
      if (s > 0) pairs.push_back({s, i, j});
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    if (a.sim != b.sim) return a.sim > b.sim;
    return a.i != b.i ? a.i < b.i : a.j < b.j;
  });
  std::vector<int> q_pair(q.size(), -1), t_pair(t.size(), -1);
  std::vector<double> q_sim(q.size(), 0);
  for (const Pair& p : pairs) {
    if (q_pair[p.i] >= 0 || t_pair[p.j] >= 0) continue;
    q_pair[p.i] = p.j;
    t_pair[p.j] = p.i;
    q_sim[p.i] = p.sim;
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    const double wq = Weight(q[i]);
    if (q_pair[i] < 0) {
      den += kUnpairedFactor * wq;
      if (want_reasons) c.reasons.push_back(absl::StrFormat("'%s' has no counterpart", q[i]));
      continue;
    }
    const double w = (wq + Weight(t[q_pair[i]])) / 2;
    num += q_sim[i] * w;
    den += w;
    if (want_reasons) {
      c.reasons.push_back(
          absl::StrFormat("'%s' ~ '%s' (%.2f, weight %.1f)", q[i], t[q_pair[i]], q_sim[i], w));
    }
  }
  std::vector<std::string> unpaired;
  for (size_t j = 0; j < t.size(); ++j) {
    if (t_pair[j] >= 0) continue;
    den += kUnpairedFactor * Weight(t[j]);
    unpaired.push_back(t[j]);
  }
  if (want_reasons && !unpaired.empty()) {
    c.reasons.push_back(
        absl::StrCat("listed parts without counterpart: ", absl::StrJoin(unpaired, ", ")));
  }
  if (want_reasons) {
    std::vector<std::string> forms = query.dropped_legal_forms;
    forms.insert(forms.end(), candidate->normalized.dropped_legal_forms.begin(),
                 candidate->normalized.dropped_legal_forms.end());
    if (!forms.empty()) {
      std::sort(forms.begin(), forms.end());
      forms.erase(std::unique(forms.begin(), forms.end()), forms.end());
      c.reasons.push_back(absl::StrCat("legal forms ignored: ", absl::StrJoin(forms, ", ")));
    }
  }
  c.score = den == 0 ? 0 : num / den;
  c.information = num;
  int paired = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    if (q_pair[i] < 0) continue;
    ++paired;
    c.single_close = EditDistance(q[i], t[q_pair[i]]) <= 1;
  }
  c.several_parts = paired >= 2;
  // Family name agreement.
  if (candidate->family_ambiguous) {
    c.family_agrees = t_pair.front() >= 0 || t_pair.back() >= 0;
  } else {
    c.family_agrees = true;
    bool any = false;
    for (int j : candidate->family) {
      if (IsParticle(t[j])) continue;
      any = true;
      if (t_pair[j] < 0) c.family_agrees = false;
    }
    if (!any) c.family_agrees = t_pair[candidate->family.front()] >= 0;
  }
  return c;
}

double Screener::Score(const NormalizedName& query, const NormalizedName& candidate,
                       std::vector<std::string>* reasons) const {
  IndexedName n{nullptr, "", false, candidate, {}, true};
  Comparison c = Compare(query, &n, reasons != nullptr);
  if (reasons != nullptr) {
    for (std::string& r : c.reasons) reasons->push_back(std::move(r));
    std::vector<std::string> sq = query.tokens, sc = candidate.tokens;
    std::sort(sq.begin(), sq.end());
    std::sort(sc.begin(), sc.end());
    if (sq == sc && query.tokens != candidate.tokens) {
      reasons->push_back("same tokens in a different order");
    }
  }
  return c.score;
}

void Screener::Qualify(const ScreeningSubject& subject, bool person, ScreeningHit& hit,
                       bool* dob_mismatch, bool* confirmed) const {
  const CslEntry& e = *hit.entry;
  *dob_mismatch = false;
  *confirmed = false;
  if (person && !subject.birth_date.empty() && !e.dates_of_birth.empty()) {
    std::optional<Date> mine = ParseDate(subject.birth_date);
    if (mine.has_value()) {
      bool equal = false, same_year = false, near = false;
      for (const std::string& listed : e.dates_of_birth) {
        std::optional<Date> d = ParseDate(listed);
        if (!d.has_value()) continue;
        if (!mine->full.empty() && mine->full == d->full) equal = true;
        if (mine->year == d->year) same_year = true;
        if (std::abs(mine->year - d->year) <= 1) near = true;
      }
      const std::string listed = absl::StrJoin(e.dates_of_birth, "; ");
      if (equal) {
        hit.information += kDobEqualNats;
        hit.reasons.push_back(absl::StrCat("date of birth ", subject.birth_date,
                                           " equals the listed one (", listed, ")"));
      } else if (same_year) {
        hit.information += kDobYearNats;
        hit.reasons.push_back(absl::StrCat("year of birth of ", subject.birth_date,
                                           " equals the listed one (", listed, ")"));
      } else if (!near) {
        *dob_mismatch = true;
        hit.score *= kDobMismatchFactor;
        hit.reasons.push_back(absl::StrCat("date of birth ", subject.birth_date,
                                           " differs from the listed ", listed,
                                           ": at most a weak match"));
      }
    }
  }
  const std::string country = absl::AsciiStrToUpper(person ? subject.nationality : subject.country);
  if (!country.empty() && !e.countries.empty()) {
    if (std::find(e.countries.begin(), e.countries.end(), country) != e.countries.end()) {
      hit.information += kCountryNats;
      hit.reasons.push_back(absl::StrCat(person ? "nationality " : "country ", country,
                                         " is among the entry's countries (",
                                         absl::StrJoin(e.countries, ", "), ")"));
    } else if (person && (!e.nationalities.empty() || !e.citizenships.empty())) {
      hit.score *= kNationalityMismatchFactor;
      hit.reasons.push_back(absl::StrCat(
          "nationality ", country, " differs from the listed nationality/citizenship (",
          e.nationalities, e.citizenships.empty() ? "" : "; ", e.citizenships, ")"));
    }
  }
  if (!e.ids.empty()) {
    const std::string ids = AlnumUpper(e.ids);
    for (const std::string& number : subject.registration_numbers) {
      const std::string n = AlnumUpper(number);
      if (n.size() >= 5 && absl::StrContains(ids, n)) {
        *confirmed = true;
        hit.reasons.push_back(
            absl::StrCat("registration number ", number, " appears in the entry's ids: confirmed"));
      }
    }
  }
}

std::vector<ScreeningHit> Screener::Screen(absl::string_view name) const {
  ScreeningSubject subject;
  subject.name = std::string(name);
  return Screen(subject);
}

std::vector<ScreeningHit> Screener::Screen(const ScreeningSubject& subject) const {
  NormalizedName query = normalizer_.Normalize(subject.name);
  absl::flat_hash_set<uint32_t> candidates;
  for (const std::string& t : query.tokens) {
    for (const std::string& g : Trigrams(t)) {
      auto it = trigram_index_.find(g);
      if (it == trigram_index_.end()) continue;
      candidates.insert(it->second.begin(), it->second.end());
    }
  }
  // Best name of each entry (an entry may match by its name and several aliases).
  struct Best {
    const IndexedName* name = nullptr;
    Comparison c;
  };
  absl::flat_hash_map<const CslEntry*, Best> best;
  const double floor = subject.registration_numbers.empty()
                           ? options_.weak_threshold
                           : std::min(options_.weak_threshold, kConfirmableScore);
  for (uint32_t i : candidates) {
    const IndexedName& n = names_[i];
    const bool person =
        subject.kind == SubjectKind::kPerson || absl::EqualsIgnoreCase(n.entry->type, "individual");
    Comparison c = Compare(query, &n, false);
    // Qualifiers only lower a score, except a registration number found in the entry's ids.
    if (c.score < floor) continue;
    if (person && !c.family_agrees) continue;
    auto [it, inserted] = best.try_emplace(n.entry);
    if (!inserted && it->second.c.score >= c.score) continue;
    it->second = {&n, std::move(c)};
  }
  std::vector<ScreeningHit> hits;
  for (auto& [entry, b] : best) {
    const bool person =
        subject.kind == SubjectKind::kPerson || absl::EqualsIgnoreCase(entry->type, "individual");
    ScreeningHit hit;
    hit.entry = entry;
    hit.matched_name = b.name->raw;
    hit.matched_alias = b.name->alias;
    hit.score = b.c.score;
    hit.information = b.c.information;
    bool dob_mismatch = false, confirmed = false;
    Qualify(subject, person, hit, &dob_mismatch, &confirmed);
    if (hit.score < options_.weak_threshold && !confirmed) continue;
    const double needed =
        person ? options_.strong_information_person : options_.strong_information_entity;
    // A name too common to be strong whose date of birth differs names someone else.
    if (dob_mismatch && hit.information < needed && !confirmed) continue;
    // One paired part alone must be within one edit ("EnerSys" is not "ENTERYSYS CORPORATION").
    const bool enough_parts = b.c.several_parts || b.c.single_close;
    const bool strong = confirmed || (hit.score >= options_.threshold &&
                                      hit.information >= needed && !dob_mismatch && enough_parts);
    hit.strength = strong ? MatchStrength::kStrong : MatchStrength::kWeak;
    std::vector<std::string> qualifiers = std::move(hit.reasons);
    hit.reasons.clear();
    hit.reasons.push_back(absl::StrFormat(
        "%s match: score %.3f (strong from %.2f, weak from %.2f), name information %.1f nats "
        "(strong from %.0f) on %s '%s' (%s, entry %s, list %s)",
        MatchStrengthName(hit.strength), hit.score, options_.threshold, options_.weak_threshold,
        hit.information, needed, hit.matched_alias ? "alias" : "name", hit.matched_name,
        entry->source, entry->id, list_.version));
    if (person) {
      hit.reasons.push_back(b.name->family_ambiguous
                                ? "person: the listed first or last name part agrees"
                                : "person: the listed family name agrees");
    }
    Comparison detail = Compare(query, b.name, true);
    for (std::string& r : detail.reasons) hit.reasons.push_back(std::move(r));
    for (std::string& r : qualifiers) hit.reasons.push_back(std::move(r));
    hits.push_back(std::move(hit));
  }
  std::sort(hits.begin(), hits.end(), [](const ScreeningHit& a, const ScreeningHit& b) {
    if (a.strength != b.strength) return a.strength == MatchStrength::kStrong;
    return a.score != b.score ? a.score > b.score : a.entry->id < b.entry->id;
  });
  if (hits.size() > options_.max_hits) hits.resize(options_.max_hits);
  return hits;
}

}  // namespace prov::screening
