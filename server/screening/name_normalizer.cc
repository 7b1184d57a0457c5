#include "server/screening/name_normalizer.h"

#include <unicode/translit.h>
#include <unicode/unistr.h>
#include <unicode/utypes.h>

#include <cstdlib>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log/log.h"

namespace prov::screening {
namespace {

// Legal forms in the languages the screening lists use most. Matching drops them: "Huawei
// Technologies Co., Ltd." and "HUAWEI TECHNOLOGIES LIMITED" are the same party.
const absl::flat_hash_set<absl::string_view>& LegalForms() {
  static const auto* forms = new absl::flat_hash_set<absl::string_view>{
      "co",   "company", "corp", "corporation", "inc",  "incorporated", "ltd",     "limited",
      "llc",  "llp",     "lp",   "plc",         "gmbh", "ag",           "kg",      "sa",
      "sas",  "sarl",    "srl",  "spa",         "bv",   "nv",           "oy",      "ab",
      "as",   "pte",     "pty",  "kk",          "jsc",  "ojsc",         "pjsc",    "cjsc",
      "zao",  "oao",     "ooo",  "pao",         "ao",   "fze",          "fzco",    "fzc",
      "llc.", "sdn",     "bhd",  "tbk",         "pvt",  "group",        "holding", "holdings"};
  return *forms;
}

// Boilerplate that lists append to names.
const absl::flat_hash_set<absl::string_view>& Boilerplate() {
  static const auto* words = new absl::flat_hash_set<absl::string_view>{
      "the", "and", "of", "any", "successor", "sub", "unit", "or", "subsidiary", "thereof"};
  return *words;
}

bool SingleLetterAt(const std::string& s, size_t j) {
  auto alnum = [&](size_t k) { return absl::ascii_isalnum(static_cast<unsigned char>(s[k])); };
  return absl::ascii_isalpha(static_cast<unsigned char>(s[j])) && (j == 0 || !alnum(j - 1)) &&
         (j + 1 == s.size() || !alnum(j + 1));
}

// A legal form written as dotted letters ends the name or a comma segment: "l.l.c.", "S. A.",
// "G.m.b.H." become "llc", "sa", "gmbh" (without this they were three unpaired initials that
// pulled "54th Research Institute China, l.l.c." below a strong score). Only when the letters
// spell a legal form and nothing but punctuation follows, so a person's "A. G. Smith" keeps
// its initials.
std::string CollapseDottedLegalForms(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (SingleLetterAt(s, i)) {
      std::string letters;
      size_t j = i, end = i;
      int dots = 0;
      while (j < s.size() && SingleLetterAt(s, j)) {
        letters.push_back(absl::ascii_tolower(static_cast<unsigned char>(s[j])));
        end = j + 1;
        if (end == s.size() || s[end] != '.') break;
        ++dots;
        ++end;
        j = end;
        while (j < s.size() && s[j] == ' ') ++j;
      }
      size_t next = end;
      while (next < s.size() && s[next] == ' ') ++next;
      const bool last = next == s.size() || s[next] == ',' || s[next] == ')' || s[next] == ';';
      if (letters.size() >= 2 && dots >= 1 && last && LegalForms().contains(letters)) {
        absl::StrAppend(&out, " ", letters, " ");
        i = end;
        continue;
      }
    }
    out.push_back(s[i]);
    ++i;
  }
  return out;
}

}  // namespace

std::string NormalizedName::Joined() const { return absl::StrJoin(tokens, " "); }

NameNormalizer::NameNormalizer() {
  UErrorCode status = U_ZERO_ERROR;
  transliterator_.reset(
      icu::Transliterator::createInstance("Any-Latin; Latin-ASCII", UTRANS_FORWARD, status));
  if (U_FAILURE(status) || transliterator_ == nullptr) {
    // ICU data ships with libicu: a missing transliterator is a broken install, not user input.
    PROV_LOG_ERROR("screening", "ICU transliterator Any-Latin unavailable",
                   {"error", u_errorName(status)});
    std::abort();
  }
}

NameNormalizer::~NameNormalizer() = default;

std::string NameNormalizer::ToAscii(absl::string_view utf8) const {
  icu::UnicodeString text = icu::UnicodeString::fromUTF8(
      icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  // Apostrophes and the C1 controls that mis-transcoded lists carry in their place (U+0092 is
  // cp1252's right single quote read as Latin-1) vanish; other controls become spaces.
  icu::UnicodeString cleaned;
  for (int32_t i = 0; i < text.length(); ++i) {
    char16_t c = text.charAt(i);
    if (c == u'\'' || c == 0x2019 || c == 0x2018 || c == 0x0092 || c == 0x00B4 || c == u'`') {
      continue;
    }
    if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) c = u' ';
    cleaned.append(c);
  }
  {
    absl::MutexLock lock(&mu_);
    transliterator_->transliterate(cleaned);
  }
  std::string out;
  cleaned.toUTF8String(out);
  return out;
}

NormalizedName NameNormalizer::Normalize(absl::string_view utf8_name) const {
  std::string ascii = CollapseDottedLegalForms(ToAscii(utf8_name));
  for (char& c : ascii) {
    unsigned char u = static_cast<unsigned char>(c);
    c = absl::ascii_isalnum(u) ? static_cast<char>(absl::ascii_tolower(u)) : ' ';
  }
  NormalizedName out;
  for (absl::string_view token : absl::StrSplit(ascii, ' ', absl::SkipEmpty())) {
    if (IsLegalForm(token)) {
      out.dropped_legal_forms.emplace_back(token);
    } else if (!Boilerplate().contains(token)) {
      out.tokens.emplace_back(token);
    }
  }
  // A name made only of legal forms or boilerplate ("The Company Ltd") keeps its words.
  if (out.tokens.empty()) {
    out.tokens = std::move(out.dropped_legal_forms);
    out.dropped_legal_forms.clear();
  }
  return out;
}

bool NameNormalizer::IsLegalForm(absl::string_view token) { return LegalForms().contains(token); }

}  // namespace prov::screening
