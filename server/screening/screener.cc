#include "server/screening/screener.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/screening/jaro_winkler.h"

namespace prov::screening {
namespace {

// Trigrams of a token padded with one space each side, so short tokens and prefixes index too.
std::vector<std::string> Trigrams(absl::string_view token) {
  std::string padded = absl::StrCat(" ", token, " ");
  std::vector<std::string> out;
  for (size_t i = 0; i + 3 <= padded.size(); ++i) out.push_back(padded.substr(i, 3));
  return out;
}

}  // namespace

Screener::Screener(const CslList& list, const NameNormalizer& normalizer, ScreenerOptions options)
    : list_(list), normalizer_(normalizer), options_(options) {
  for (const CslEntry& e : list_.entries) {
    names_.push_back({&e, e.name, false, normalizer_.Normalize(e.name)});
    for (const std::string& alt : e.alt_names) {
      names_.push_back({&e, alt, true, normalizer_.Normalize(alt)});
    }
  }
  for (uint32_t i = 0; i < names_.size(); ++i) {
    absl::flat_hash_set<std::string> seen_tokens, seen_grams;
    for (const std::string& t : names_[i].normalized.tokens) {
      if (seen_tokens.insert(t).second) ++doc_freq_[t];
      for (std::string& g : Trigrams(t)) {
        if (seen_grams.insert(g).second) trigram_index_[g].push_back(i);
      }
    }
  }
}

double Screener::Idf(absl::string_view token) const {
  auto it = doc_freq_.find(token);
  const double df = it == doc_freq_.end() ? 0 : it->second;
  return std::log(1.0 + (names_.size() + 1.0) / (df + 1.0));
}

double Screener::Directed(const std::vector<std::string>& from,
                          const std::vector<std::string>& to) const {
  double num = 0, den = 0;
  for (const std::string& f : from) {
    double best = 0;
    for (const std::string& t : to) best = std::max(best, JaroWinkler(f, t));
    const double w = Idf(f);
    num += w * best;
    den += w;
  }
  return den == 0 ? 0 : num / den;
}

double Screener::Score(const NormalizedName& query, const NormalizedName& candidate,
                       std::vector<std::string>* reasons) const {
  if (query.tokens.empty() || candidate.tokens.empty()) return 0;
  const bool query_shorter = query.tokens.size() <= candidate.tokens.size();
  const auto& shorter = query_shorter ? query.tokens : candidate.tokens;
  const auto& longer = query_shorter ? candidate.tokens : query.tokens;
  const double score = 0.75 * Directed(shorter, longer) + 0.25 * Directed(longer, shorter);
  if (reasons != nullptr) {
    for (const std::string& q : query.tokens) {
      double best = 0;
      std::string best_token;
      for (const std::string& c : candidate.tokens) {
        double s = JaroWinkler(q, c);
        if (s > best) best = s, best_token = c;
      }
      if (best >= 0.8) {
        reasons->push_back(absl::StrFormat("'%s' ~ '%s' (%.2f)", q, best_token, best));
      } else {
        reasons->push_back(absl::StrFormat("'%s' has no close token", q));
      }
    }
    std::vector<std::string> sq = query.tokens, sc = candidate.tokens;
    std::sort(sq.begin(), sq.end());
    std::sort(sc.begin(), sc.end());
    if (sq == sc && query.tokens != candidate.tokens) {
      reasons->push_back("same tokens in a different order");
    }
    std::vector<std::string> forms = query.dropped_legal_forms;
    forms.insert(forms.end(), candidate.dropped_legal_forms.begin(),
                 candidate.dropped_legal_forms.end());
    if (!forms.empty()) {
      std::sort(forms.begin(), forms.end());
      forms.erase(std::unique(forms.begin(), forms.end()), forms.end());
      reasons->push_back(absl::StrCat("legal forms ignored: ", absl::StrJoin(forms, ", ")));
    }
  }
  return score;
}

std::vector<ScreeningHit> Screener::Screen(absl::string_view name) const {
  NormalizedName query = normalizer_.Normalize(name);
  absl::flat_hash_set<uint32_t> candidates;
  for (const std::string& t : query.tokens) {
    for (const std::string& g : Trigrams(t)) {
      auto it = trigram_index_.find(g);
      if (it == trigram_index_.end()) continue;
      candidates.insert(it->second.begin(), it->second.end());
    }
  }
  // Best hit per entry (an entry may match by its name and several aliases).
  absl::flat_hash_map<const CslEntry*, ScreeningHit> best;
  for (uint32_t i : candidates) {
    const IndexedName& n = names_[i];
    double s = Score(query, n.normalized, nullptr);
    if (s < options_.threshold) continue;
    auto [it, inserted] = best.try_emplace(n.entry);
    if (!inserted && it->second.score >= s) continue;
    ScreeningHit& hit = it->second;
    hit.entry = n.entry;
    hit.matched_name = n.raw;
    hit.matched_alias = n.alias;
    hit.score = s;
  }
  std::vector<ScreeningHit> hits;
  for (auto& [entry, hit] : best) hits.push_back(std::move(hit));
  std::sort(hits.begin(), hits.end(), [](const ScreeningHit& a, const ScreeningHit& b) {
    return a.score != b.score ? a.score > b.score : a.entry->id < b.entry->id;
  });
  if (hits.size() > options_.max_hits) hits.resize(options_.max_hits);
  for (ScreeningHit& hit : hits) {
    hit.reasons.push_back(absl::StrFormat(
        "score %.3f >= threshold %.2f on %s '%s' (%s, list %s)", hit.score, options_.threshold,
        hit.matched_alias ? "alias" : "name", hit.matched_name, hit.entry->source, list_.version));
    Score(query, normalizer_.Normalize(hit.matched_name), &hit.reasons);
  }
  return hits;
}

}  // namespace prov::screening
