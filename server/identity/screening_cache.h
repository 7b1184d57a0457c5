// ScreeningCache (internal to IdentityServiceImpl): the latest screening list, parsed, with a
// Screener built over it for one threshold, so each import does not re-parse the stored list.
//
//   auto cache = std::make_unique<ScreeningCache>(std::move(list), normalizer, 0.88, &table);
//   cache->Matches("csl-sha256:...", 0.88);   // reusable?
//   ScreenAccounts(accounts, cache->screener(), kyc_version);
//
// Immutable after construction; the Screener points into `list_`, so the object never moves.
#pragma once

#include <algorithm>
#include <memory>
#include <string>

#include "server/screening/csl_list.h"
#include "server/screening/name_normalizer.h"
#include "server/screening/screener.h"

namespace prov::server {

class ScreeningCache {
 public:
  // `as_of`: the screening day ("YYYY-MM-DD"); listings that ended before it match nothing.
  ScreeningCache(screening::CslList list, const screening::NameNormalizer& normalizer,
                 double threshold, const screening::NameFrequencies* frequencies = nullptr,
                 std::string as_of = "")
      : list_(std::move(list)),
        threshold_(threshold),
        screener_(
            list_, normalizer,
            screening::ScreenerOptions{
                .threshold = threshold,
                .weak_threshold = std::min(threshold, screening::ScreenerOptions{}.weak_threshold),
                .frequencies = frequencies,
                .as_of = std::move(as_of)}) {}
  ScreeningCache(const ScreeningCache&) = delete;
  ScreeningCache& operator=(const ScreeningCache&) = delete;

  bool Matches(const std::string& list_version, double threshold, const std::string& as_of) const {
    return list_.version == list_version && threshold_ == threshold &&
           screener_.options().as_of == as_of;
  }
  const screening::Screener& screener() const { return screener_; }
  const screening::CslList& list() const { return list_; }
  double threshold() const { return threshold_; }

 private:
  const screening::CslList list_;
  const double threshold_;
  const screening::Screener screener_;
};

}  // namespace prov::server
