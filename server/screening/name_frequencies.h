// NameFrequencies: how common each name token is in the population being screened, so that a match
// on a common given name or surname ("john", "smith", "mohammed") counts as weak evidence and a
// match on a rare one counts as strong evidence.
//
//   NameNormalizer normalizer;
//   absl::StatusOr<NameFrequencies> f = ParseNameFrequencies(text, "names.csv", normalizer);
//   f->Share("smith");                 // 0.0098: about 1 person in 100 carries it
//   BuiltinNameFrequencies().Share("garcia");   // the fallback when provd gets no table
//
// File format (provd --name-frequencies FILE): CSV with a header naming a `name` (or `token`)
// column and a `share` column (fraction of the population, 0 < share <= 1); other columns are
// ignored. Names are normalised like screened names and each of their tokens gets the largest
// share it is seen with (so "MARIA CARMEN" gives "maria" and "carmen" at least that share). A row
// whose share is not a number in (0, 1] is an error naming its line; the whole file is refused,
// since a half-read table would silently make common names look rare.
//
// The built-in table is a small hand-written list of very common given names, family names and
// company words across many countries with rounded shares (not any published data set); a table
// built from real registries is much better and is what the benchmark uses.
// Immutable after construction; thread-safe.
#pragma once

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/screening/name_normalizer.h"

namespace prov::screening {

class NameFrequencies {
 public:
  // Share of the population whose name contains `token` (normalised), 0 when unknown.
  double Share(absl::string_view token) const;
  void Add(absl::string_view token, double share);  // keeps the larger share
  size_t size() const { return share_.size(); }
  const std::string& source() const { return source_; }
  void set_source(std::string source) { source_ = std::move(source); }

 private:
  absl::flat_hash_map<std::string, double> share_;
  std::string source_ = "built-in";
};

absl::StatusOr<NameFrequencies> ParseNameFrequencies(absl::string_view text,
                                                     absl::string_view source_name,
                                                     const NameNormalizer& normalizer);

// The fallback table (see above).
const NameFrequencies& BuiltinNameFrequencies();

}  // namespace prov::screening
