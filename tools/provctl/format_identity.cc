#include "tools/provctl/format_identity.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/provctl/format.h"
#include "tools/provctl/format_analysis.h"

namespace prov::provctl {
namespace {

void AppendIdentityField(std::string* out, absl::string_view name, absl::string_view value) {
  absl::StrAppendFormat(out, "%-20s %s\n", absl::StrCat(name, ":"), value.empty() ? "-" : value);
}

}  // namespace

std::string AccountsImported(const provenance::v1::ImportAccountsResponse& r,
                             const std::string& file) {
  return absl::StrCat("KYC version ", r.kyc_version(), " from ", file, ": ", r.accepted(),
                      " accounts accepted, ", r.errors_size(), " rows rejected\n",
                      "content sha256: ", r.content_digest(), "\n");
}

std::string ScreeningImported(const provenance::v1::ImportScreeningListResponse& r,
                              const std::string& file) {
  return absl::StrCat("screening list ", r.list_version(), " from ", file, ": ", r.entries(),
                      " entries (", r.columns(), " columns), ", r.errors_size(), " rows rejected\n",
                      r.hits(), " screening hits across current accounts\n");
}

std::string RowErrorLines(const google::protobuf::RepeatedPtrField<std::string>& errors,
                          const std::string& file) {
  std::string out;
  for (const std::string& e : errors) absl::StrAppend(&out, "provctl: ", file, ": ", e, "\n");
  return out;
}

std::string ScreeningMatchLines(const provenance::v1::ScreeningMatch& m) {
  std::string out = absl::StrFormat(
      "  %s '%s' ~ %s '%s' (entry %s, %s) score %.3f%s\n", m.subject_kind(), m.subject_name(),
      m.matched_alias() ? "alias" : "name", m.entry_name(), m.entry_id(), m.entry_source(),
      m.score(), m.strength().empty() ? "" : absl::StrCat(", ", m.strength(), " match"));
  absl::StrAppend(&out, "    list ", m.list_version(), ", KYC version ", m.kyc_version(), "\n");
  for (const std::string& reason : m.reasons()) absl::StrAppend(&out, "    - ", reason, "\n");
  return out;
}

std::string AccountDetail(const provenance::v1::GetAccountResponse& r) {
  const auto& a = r.identity();
  std::string out;
  AppendIdentityField(&out, "account", a.account_id());
  AppendIdentityField(
      &out, "KYC version",
      r.kyc_version() == 0 ? "- (no KYC record imported)" : absl::StrCat(r.kyc_version()));
  AppendIdentityField(&out, "legal entity", a.legal_entity());
  AppendIdentityField(&out, "country", a.country_of_incorporation());
  std::vector<std::string> owners;
  for (const auto& o : a.beneficial_owners()) {
    std::vector<std::string> facts;
    if (!o.nationality().empty()) facts.push_back(o.nationality());
    if (!o.birth_date().empty()) facts.push_back(absl::StrCat("born ", o.birth_date()));
    owners.push_back(facts.empty() ? o.name()
                                   : absl::StrCat(o.name(), " (", absl::StrJoin(facts, ", "), ")"));
  }
  AppendIdentityField(&out, "beneficial owners", JoinOrDash(owners));
  AppendIdentityField(&out, "addresses", absl::StrJoin(a.addresses(), "; "));
  AppendIdentityField(&out, "payment fingerprint", a.payment_fingerprint());
  AppendIdentityField(&out, "email domains", JoinOrDash(a.email_domains()));
  AppendIdentityField(&out, "source IPs", JoinOrDash(a.source_ips()));
  AppendIdentityField(&out, "parent account", a.parent_account());
  AppendIdentityField(&out, "reseller", a.is_reseller() ? "yes" : "no");
  AppendIdentityField(&out, "bundle", r.bundle_id());
  absl::StrAppend(&out, "\nscreening hits (", r.screening_size(), "):\n");
  for (const auto& m : r.screening()) absl::StrAppend(&out, ScreeningMatchLines(m));
  absl::StrAppend(&out, "\nflags (", r.flags_size(), "):\n");
  for (const auto& f : r.flags()) {
    absl::StrAppend(&out, "  ", f.flag_id(), "  ", SeverityName(f.severity()), "  ",
                    FlagStatusName(f.status()), "  ", f.rule(), "  ", f.summary(), "\n");
  }
  return out;
}

std::string PolicyLoaded(const provenance::v1::LoadPolicyResponse& r, const std::string& file) {
  return absl::StrCat("policy ", r.policy_version(), " loaded from ", file, "\n");
}

std::string PolicyDetail(const provenance::v1::GetPolicyResponse& r) {
  std::string out;
  AppendIdentityField(&out, "policy", r.policy_version());
  AppendIdentityField(&out, "source", r.source_name());
  AppendIdentityField(&out, "loaded", FormatTimeUtc(r.loaded_at()));
  absl::StrAppend(&out, "\n", r.yaml());
  if (!r.yaml().empty() && r.yaml().back() != '\n') absl::StrAppend(&out, "\n");
  return out;
}

}  // namespace prov::provctl
