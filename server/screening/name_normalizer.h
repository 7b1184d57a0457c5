// NameNormalizer: turns a person or entity name from any script into comparable ASCII tokens.
//
//   NameNormalizer normalizer;                      // builds the ICU transliterator once
//   NormalizedName n = normalizer.Normalize("Huawei Technologies Co., Ltd.");
//   n.tokens;              // {"huawei", "technologies"}
//   n.dropped_legal_forms; // {"co", "ltd"}
//
// Steps: Unicode to Latin (ICU "Any-Latin; Latin-ASCII": Chinese to pinyin, Cyrillic and Arabic to
// Latin, diacritics stripped), lower case, apostrophes (and C1 control bytes that stand in for them
// in mis-transcoded lists) removed, other punctuation to spaces, legal forms (Co., Ltd., LLC, GmbH,
// "Limited", OOO, ...) and list boilerplate ("and any successor, sub-unit, or subsidiary thereof")
// dropped, also when written as dotted letters at the end of the name or of a comma segment
// ("l.l.c.", "S. A."). Token order is kept here; matching is order-insensitive.
//
// Thread-safe (the transliterator is guarded by a mutex).
#pragma once

#include <unicode/uversion.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

U_NAMESPACE_BEGIN
class Transliterator;
U_NAMESPACE_END

namespace prov::screening {

struct NormalizedName {
  std::vector<std::string> tokens;
  std::vector<std::string> dropped_legal_forms;
  std::string Joined() const;  // tokens joined by one space
};

class NameNormalizer {
 public:
  NameNormalizer();
  ~NameNormalizer();
  NameNormalizer(const NameNormalizer&) = delete;
  NameNormalizer& operator=(const NameNormalizer&) = delete;

  NormalizedName Normalize(absl::string_view utf8_name) const;
  // True when `token` (already normalised) is a legal form such as "ltd" or "gmbh".
  static bool IsLegalForm(absl::string_view token);

 private:
  std::string ToAscii(absl::string_view utf8) const;
  mutable absl::Mutex mu_;
  std::unique_ptr<icu::Transliterator> transliterator_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::screening
