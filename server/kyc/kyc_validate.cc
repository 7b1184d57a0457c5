#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "server/kyc/kyc_parser.h"

namespace prov::kyc {
namespace {

using provenance::v1::AccountIdentity;

bool ValidAccountId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        absl::string_view("._:@/-").find(c) == absl::string_view::npos) {
      return false;
    }
  }
  return true;
}

// "YYYY", "YYYY-MM" or "YYYY-MM-DD" with a plausible year, month and day.
bool ValidBirthDate(absl::string_view d) {
  std::vector<absl::string_view> parts = absl::StrSplit(d, '-');
  if (parts.size() > 3 || parts[0].size() != 4) return false;
  int year = 0, month = 1, day = 1;
  if (!absl::SimpleAtoi(parts[0], &year) || year < 1850 || year > 2100) return false;
  if (parts.size() >= 2 &&
      (parts[1].size() != 2 || !absl::SimpleAtoi(parts[1], &month) || month < 1 || month > 12)) {
    return false;
  }
  if (parts.size() == 3) {
    static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (parts[2].size() != 2 || !absl::SimpleAtoi(parts[2], &day) || day < 1 ||
        day > kDays[month - 1]) {
      return false;
    }
  }
  return true;
}

// Letters, digits and the separators registries print (" -./"), at most 64 characters.
bool ValidRegistrationNumber(absl::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  bool alnum = false;
  for (char c : n) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u)) {
      alnum = true;
    } else if (absl::string_view(" -./").find(c) == absl::string_view::npos) {
      return false;
    }
  }
  return alnum;
}

bool ValidCountry(std::string* code) {
  *code = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(*code));
  return code->size() == 2 && absl::ascii_isalpha(static_cast<unsigned char>((*code)[0])) &&
         absl::ascii_isalpha(static_cast<unsigned char>((*code)[1]));
}

bool ValidDomain(std::string* domain) {
  std::string d = absl::AsciiStrToLower(absl::StripAsciiWhitespace(*domain));
  if (!d.empty() && d.front() == '@') d.erase(0, 1);
  if (d.empty() || d.size() > 253 || d.find('.') == std::string::npos) return false;
  for (absl::string_view label : absl::StrSplit(d, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
  }
  *domain = std::move(d);
  return true;
}

bool ValidIpOrCidr(std::string* text) {
  std::string t(absl::StripAsciiWhitespace(*text));
  std::string addr = t;
  int max_prefix = 32;
  int prefix = -1;
  if (size_t slash = t.find('/'); slash != std::string::npos) {
    addr = t.substr(0, slash);
    if (!absl::SimpleAtoi(t.substr(slash + 1), &prefix) || prefix < 0) return false;
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) != 1) {
    if (inet_pton(AF_INET6, addr.c_str(), buf) != 1) return false;
    max_prefix = 128;
  }
  if (prefix > max_prefix) return false;
  *text = std::move(t);
  return true;
}

absl::Status CheckString(const std::string& value, const std::string& path, size_t limit) {
  if (value.size() > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", value.size(), " bytes; the limit is ", limit, " bytes"));
  }
  if (absl::Status utf8 = CheckUtf8(value); !utf8.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid UTF-8"));
  }
  return absl::OkStatus();
}

// The generic limits over every field of `m` (by reflection, so fields added to the proto later
// are covered too): strings at most kMaxFieldBytes (kMaxNameBytes for names) and valid UTF-8,
// lists at most kMaxListEntries entries.
absl::Status CheckLimits(const google::protobuf::Message& m, const std::string& prefix) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    const std::string path = absl::StrCat(prefix, f->name());
    const bool is_name =
        path == "legal_entity" || f->full_name() == "provenance.v1.BeneficialOwner.name";
    const size_t limit = is_name ? kMaxNameBytes : kMaxFieldBytes;
    if (f->is_repeated()) {
      const int n = r->FieldSize(m, f);
      if (n > kMaxListEntries) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": ", n, " entries; the limit is ", kMaxListEntries, " entries"));
      }
      for (int i = 0; i < n; ++i) {
        const std::string item = absl::StrCat(path, "[", i, "]");
        if (f->type() == FieldDescriptor::TYPE_STRING) {
          PROV_RETURN_IF_ERROR(CheckString(r->GetRepeatedString(m, f, i), item, limit));
        } else if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
          PROV_RETURN_IF_ERROR(CheckLimits(r->GetRepeatedMessage(m, f, i), item + "."));
        }
      }
    } else if (f->type() == FieldDescriptor::TYPE_STRING) {
      PROV_RETURN_IF_ERROR(CheckString(r->GetString(m, f), path, limit));
    } else if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      PROV_RETURN_IF_ERROR(CheckLimits(r->GetMessage(m, f), path + "."));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAccount(AccountIdentity* a) {
  // Limits first: nothing below (trimming, screening later) should work on an oversized field.
  PROV_RETURN_IF_ERROR(CheckLimits(*a, ""));
  a->set_account_id(std::string(absl::StripAsciiWhitespace(a->account_id())));
  if (!ValidAccountId(a->account_id())) {
    return absl::InvalidArgumentError(
        absl::StrCat("account_id: \"", a->account_id().substr(0, 64),
                     "\" must be 1-128 characters of letters, digits and . _ : @ / -"));
  }
  a->set_legal_entity(std::string(absl::StripAsciiWhitespace(a->legal_entity())));
  if (a->legal_entity().empty()) return absl::InvalidArgumentError("legal_entity: empty");
  if (!a->country_of_incorporation().empty() &&
      !ValidCountry(a->mutable_country_of_incorporation())) {
    return absl::InvalidArgumentError(absl::StrCat("country_of_incorporation: \"",
                                                   a->country_of_incorporation(),
                                                   "\" is not a two-letter ISO 3166 code"));
  }
  for (int i = 0; i < a->beneficial_owners_size(); ++i) {
    auto* owner = a->mutable_beneficial_owners(i);
    owner->set_name(std::string(absl::StripAsciiWhitespace(owner->name())));
    if (owner->name().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("beneficial_owners[", i, "].name: empty"));
    }
    if (!owner->nationality().empty() && !ValidCountry(owner->mutable_nationality())) {
      return absl::InvalidArgumentError(absl::StrCat("beneficial_owners[", i, "].nationality: \"",
                                                     owner->nationality(),
                                                     "\" is not a two-letter ISO 3166 code"));
    }
    owner->set_birth_date(std::string(absl::StripAsciiWhitespace(owner->birth_date())));
    if (!owner->birth_date().empty() && !ValidBirthDate(owner->birth_date())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "beneficial_owners[", i, "].birth_date: \"", owner->birth_date().substr(0, 32),
          "\" is not a date YYYY-MM-DD (or YYYY-MM, YYYY)"));
    }
  }
  for (int i = 0; i < a->registration_numbers_size(); ++i) {
    std::string* n = a->mutable_registration_numbers(i);
    *n = std::string(absl::StripAsciiWhitespace(*n));
    if (!ValidRegistrationNumber(*n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("registration_numbers[", i, "]: \"", n->substr(0, 64),
                       "\" is not a registration number (1-64 letters, digits, ' -./')"));
    }
  }
  for (int i = 0; i < a->email_domains_size(); ++i) {
    std::string original = a->email_domains(i);
    if (!ValidDomain(a->mutable_email_domains(i))) {
      return absl::InvalidArgumentError(
          absl::StrCat("email_domains[", i, "]: \"", original, "\" is not a domain name"));
    }
  }
  for (int i = 0; i < a->source_ips_size(); ++i) {
    std::string original = a->source_ips(i);
    if (!ValidIpOrCidr(a->mutable_source_ips(i))) {
      return absl::InvalidArgumentError(absl::StrCat("source_ips[", i, "]: \"", original,
                                                     "\" is not an IP address or CIDR block"));
    }
  }
  a->set_parent_account(std::string(absl::StripAsciiWhitespace(a->parent_account())));
  if (!a->parent_account().empty()) {
    if (!ValidAccountId(a->parent_account())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parent_account: \"", a->parent_account().substr(0, 64), "\" is not a valid account id"));
    }
    if (a->parent_account() == a->account_id()) {
      return absl::InvalidArgumentError("parent_account: an account cannot be its own parent");
    }
  }
  return absl::OkStatus();
}

}  // namespace prov::kyc
