// Screener: screening of account holders, beneficial owners and resellers against a CSL, with
// match strength levels so that common names make review items, not restricted parties.
//
//   NameNormalizer normalizer;
//   Screener screener(list, normalizer, {.threshold = 0.88, .frequencies = &table});
//   ScreeningSubject owner{.name = "John Johnson", .kind = SubjectKind::kPerson,
//                          .birth_date = "1971-03-02", .nationality = "US"};
//   for (const ScreeningHit& hit : screener.Screen(owner)) {
//     hit.entry->source;  hit.score;  hit.strength;  hit.reasons;   // why, in words
//   }
//
// Scoring (README.md in this folder compares it with OpenSanctions' logic-v1):
//  1. Both names are normalised (NameNormalizer) into tokens ("name parts"); order is ignored.
//  2. Name parts are paired ONE-TO-ONE, most similar pairs first. Two parts pair when they are
//     equal or within an edit budget for their length (0 edits up to 3 characters, 1 up to 7, 2 up
//     to 11, 3 beyond), their similarity being Jaro-Winkler.
//  3. Each part weighs its information, -ln(p): p is the larger of its share in the screened
//     population (NameFrequencies: --name-frequencies or the built-in table) and a hundredth of its
//     share among the OTHER listed entries, at least 1e-6 (a part seen nowhere); particles ("al",
//     "abu", "van") at least 0.05, two-letter parts 0.005, initials 0.05. "john" weighs 3.9 with
//     the built-in table, "jheisheh" 13.8.
//  4. score = sum(similarity * pair weight) / (sum(pair weight) + 0.5 * weight of unpaired parts
//     of both names), 0..1; `information` = sum(similarity * pair weight), in nats.
//  5. Persons (a person subject, or an "Individual" entry): the listed family name must agree:
//     every family part (before the comma in "ABU JHEISHEH, Mohammed", the upper-case parts of
//     "Mohammed ABU JHEISHEH", else the first or the last part), particles like "al" aside, must be
//     paired. Otherwise there is no hit at all.
//  6. Qualifiers from the list's secondary identifiers: date of birth equal (+10 nats) or same year
//     (+3.5), or different by more than a year (score x0.9, never strong, and no hit at all
//     when the name alone is too common to be strong); nationality among the entry's countries
//     (+2) or different from the entry's nationalities/citizenships (score x0.95); an entity's
//     country among the entry's (+2); a registration number found in the entry's ids confirms the
//     match (strong whatever the name score).
//  7. Strength: STRONG when score >= threshold and information >= strong_information_person (16
//     nats, about one chance in 9 million) or _entity (7), two parts paired or the only paired
//     part within one edit, and no date of birth disagrees; WEAK when score >= weak_threshold
//     otherwise; below that no hit. Only a strong match may make a
//     party restricted; a weak one is a lead for a person to review.
//
// Entities are also indexed without the trailing comma segments of their listed name (the Entity
// List appends places: "..., Ltd., Guiyang, Guizhou"). Candidates come from a character-trigram
// index over every listed name and alias. Immutable after construction; thread-safe; keeps pointers
// into `list` and `frequencies`, which must outlive it.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "server/screening/csl_list.h"
#include "server/screening/name_frequencies.h"
#include "server/screening/name_normalizer.h"

namespace prov::screening {

struct ScreenerOptions {
  double threshold = 0.88;       // strong matches need at least this score
  double weak_threshold = 0.80;  // weak matches (review items) need at least this; <= threshold
  double strong_information_person = 16;  // nats of matched name information for a strong match
  double strong_information_entity = 7;
  size_t max_hits = 5;
  const NameFrequencies* frequencies = nullptr;  // nullptr: BuiltinNameFrequencies()
  // The screening day ("YYYY-MM-DD"): entries whose end_date is before it have expired (a Denied
  // Persons List order past its expiration) and match nothing. Empty: every entry counts.
  std::string as_of;
};

enum class SubjectKind { kUnknown, kPerson, kEntity };

struct ScreeningSubject {
  std::string name;
  SubjectKind kind = SubjectKind::kUnknown;
  std::string birth_date;                         // persons: "YYYY-MM-DD", "YYYY-MM" or "YYYY"
  std::string nationality;                        // persons: ISO alpha-2
  std::string country;                            // entities: country of incorporation
  std::vector<std::string> registration_numbers;  // entities
};

enum class MatchStrength { kWeak, kStrong };
const char* MatchStrengthName(MatchStrength s);  // "weak", "strong"

struct ScreeningHit {
  const CslEntry* entry = nullptr;
  std::string matched_name;  // the listed name or alias that matched
  bool matched_alias = false;
  double score = 0;        // 0..1, after qualifiers
  double information = 0;  // nats, after qualifiers
  MatchStrength strength = MatchStrength::kWeak;
  std::vector<std::string> reasons;
};

class Screener {
 public:
  Screener(const CslList& list, const NameNormalizer& normalizer, ScreenerOptions options = {});

  // Weak and strong hits, strong first, then by score.
  std::vector<ScreeningHit> Screen(const ScreeningSubject& subject) const;
  // A name alone (kind unknown, no secondary identifiers).
  std::vector<ScreeningHit> Screen(absl::string_view name) const;
  // The name score of two names (steps 1-4), with the reasons; exposed for tests and explanations.
  double Score(const NormalizedName& query, const NormalizedName& candidate,
               std::vector<std::string>* reasons) const;
  // The information weight of one normalised name part, in nats (step 3).
  double Weight(absl::string_view token) const;
  const std::string& list_version() const { return list_.version; }
  const ScreenerOptions& options() const { return options_; }
  // Entries left out because their end_date is before options.as_of.
  size_t expired() const { return expired_; }

 private:
  struct IndexedName {
    const CslEntry* entry;
    std::string raw;
    bool alias;
    NormalizedName normalized;
    std::vector<int> family;  // indexes into normalized.tokens of the family name parts
    bool family_ambiguous;    // no comma or case tells: the first or the last part
  };
  struct Comparison {
    double score = 0;
    double information = 0;
    bool family_agrees = false;
    bool several_parts = false;  // two or more parts paired
    bool single_close = false;   // one part paired, within one edit
    std::vector<std::string> reasons;
  };
  Comparison Compare(const NormalizedName& query, const IndexedName* candidate,
                     bool want_reasons) const;
  void Qualify(const ScreeningSubject& subject, bool person, ScreeningHit& hit, bool* dob_mismatch,
               bool* confirmed) const;

  const CslList& list_;
  const NameNormalizer& normalizer_;
  ScreenerOptions options_;
  const NameFrequencies& frequencies_;
  std::vector<IndexedName> names_;
  absl::flat_hash_map<std::string, int> doc_freq_;
  absl::flat_hash_map<std::string, std::vector<uint32_t>> trigram_index_;
  size_t expired_ = 0;
};

}  // namespace prov::screening
