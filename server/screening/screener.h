// Screener: fuzzy screening of account holders, beneficial owners and resellers against a CSL.
//
//   NameNormalizer normalizer;
//   Screener screener(list, normalizer, {.threshold = 0.88});
//   for (const ScreeningHit& hit : screener.Screen("HUAWEI TECHNOLOGIES LIMITED")) {
//     hit.entry->source;  hit.score;  hit.reasons;   // why it matched, in words
//   }
//
// Scoring: both names are normalised (NameNormalizer), then compared as bags of tokens, so token
// order does not matter. Each token of one name is paired with its most similar token of the other
// (Jaro-Winkler); the pairs are averaged with IDF weights from the list (a distinctive token like
// "huawei" counts more than "trading"), in both directions, weighted 3:1 towards the shorter name
// so "Huawei" still hits "Huawei Technologies". A hit is a lead for a person, never a block.
//
// Candidates come from a character-trigram index over every listed name and alias, so a query costs
// what its trigrams touch, not the whole list. Immutable after construction; thread-safe; keeps
// pointers into `list`, which must outlive it.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "server/screening/csl_list.h"
#include "server/screening/name_normalizer.h"

namespace prov::screening {

struct ScreenerOptions {
  double threshold = 0.88;  // scores at or above open a hit
  size_t max_hits = 5;
};

struct ScreeningHit {
  const CslEntry* entry = nullptr;
  std::string matched_name;  // the listed name or alias that matched
  bool matched_alias = false;
  double score = 0;  // 0..1
  std::vector<std::string> reasons;
};

class Screener {
 public:
  Screener(const CslList& list, const NameNormalizer& normalizer, ScreenerOptions options = {});

  // Hits at or above the threshold, best first.
  std::vector<ScreeningHit> Screen(absl::string_view name) const;
  // The score of two names, with the reasons; exposed for tests and explanations.
  double Score(const NormalizedName& query, const NormalizedName& candidate,
               std::vector<std::string>* reasons) const;
  const std::string& list_version() const { return list_.version; }

 private:
  struct IndexedName {
    const CslEntry* entry;
    std::string raw;
    bool alias;
    NormalizedName normalized;
  };
  double Idf(absl::string_view token) const;
  double Directed(const std::vector<std::string>& from, const std::vector<std::string>& to) const;

  const CslList& list_;
  const NameNormalizer& normalizer_;
  ScreenerOptions options_;
  std::vector<IndexedName> names_;
  absl::flat_hash_map<std::string, int> doc_freq_;
  absl::flat_hash_map<std::string, std::vector<uint32_t>> trigram_index_;
};

}  // namespace prov::screening
