// Formatting of IdentityService responses from hand-built protos.
#include "tools/provctl/format_identity.h"

#include "gtest/gtest.h"

namespace prov::provctl {
namespace {

using namespace provenance::v1;

TEST(FormatIdentityTest, ImportSummariesAndRowErrors) {
  ImportAccountsResponse accounts;
  accounts.set_kyc_version(3);
  accounts.set_accepted(120);
  accounts.add_errors("line 7: field country_of_incorporation: \"USA\" is not ISO 3166");
  accounts.set_content_digest("ab12");
  EXPECT_EQ(AccountsImported(accounts, "kyc.csv"),
            "KYC version 3 from kyc.csv: 120 accounts accepted, 1 rows rejected\n"
            "content sha256: ab12\n");
  EXPECT_EQ(RowErrorLines(accounts.errors(), "kyc.csv"),
            "provctl: kyc.csv: line 7: field country_of_incorporation: \"USA\" is not ISO "
            "3166\n");
  ImportScreeningListResponse list;
  list.set_list_version("csl-sha256:76e31bd51a50629b");
  list.set_entries(12000);
  list.set_columns(29);
  list.set_hits(4);
  std::string text = ScreeningImported(list, "consolidated.csv");
  EXPECT_NE(text.find("screening list csl-sha256:76e31bd51a50629b from consolidated.csv: 12000 "
                      "entries (29 columns), 0 rows rejected"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("4 screening hits"), std::string::npos);
}

TEST(FormatIdentityTest, AccountDetailShowsIdentityHitsWithReasonsBundleFlags) {
  GetAccountResponse resp;
  AccountIdentity* a = resp.mutable_identity();
  a->set_account_id("sunrise");
  a->set_legal_entity("Sunrise Compute LLC");
  a->set_country_of_incorporation("US");
  auto* o = a->add_beneficial_owners();
  o->set_name("Mohammad Mutlaq Abu Jhesheh");
  o->set_nationality("PS");
  a->add_email_domains("sunrise.example");
  a->set_parent_account("reseller-mid");
  resp.set_kyc_version(2);
  resp.set_bundle_id("B-0123456789ab");
  ScreeningMatch* m = resp.add_screening();
  m->set_subject_kind("beneficial_owner");
  m->set_subject_name("Mohammad Mutlaq Abu Jhesheh");
  m->set_entry_id("9673");
  m->set_entry_name("ABU JHESHEH, Mohammad Mutlaq");
  m->set_entry_source("Palestinian Legislative Council List (PLC) - Treasury Department");
  m->set_matched_alias(true);
  m->set_score(1.0);
  m->set_list_version("csl-sha256:aa");
  m->set_kyc_version(2);
  m->add_reasons("score 1.000 >= threshold 0.88 on alias");
  m->add_reasons("same tokens in a different order");
  Flag* f = resp.add_flags();
  f->set_flag_id("F-9");
  f->set_severity(SEVERITY_HIGH);
  f->set_status(FLAG_STATUS_OPEN);
  f->set_rule("screening_hit");
  f->set_summary("owner matches PLC 9673");
  std::string text = AccountDetail(resp);
  for (const char* want :
       {"account:             sunrise", "KYC version:         2",
        "beneficial owners:   Mohammad Mutlaq Abu Jhesheh (PS)",
        "parent account:      reseller-mid", "bundle:              B-0123456789ab",
        "screening hits (1):\n  beneficial_owner 'Mohammad Mutlaq Abu Jhesheh' ~ alias 'ABU "
        "JHESHEH, Mohammad Mutlaq' (entry 9673, Palestinian Legislative Council List (PLC) - "
        "Treasury Department) score 1.000\n    list csl-sha256:aa, KYC version 2\n"
        "    - score 1.000 >= threshold 0.88 on alias\n    - same tokens in a different order\n",
        "flags (1):\n  F-9  high  open  screening_hit  owner matches PLC 9673\n"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  GetAccountResponse bare;
  bare.mutable_identity()->set_account_id("no-kyc");
  EXPECT_NE(AccountDetail(bare).find("(no KYC record imported)"), std::string::npos);
}

// Issue 9: the match strength and an owner's birth date are shown.
TEST(FormatIdentityTest, StrengthAndBirthDate) {
  GetAccountResponse resp;
  resp.mutable_identity()->set_account_id("acme");
  auto* o = resp.mutable_identity()->add_beneficial_owners();
  o->set_name("John Smith");
  o->set_nationality("US");
  o->set_birth_date("1971-03-02");
  auto* m = resp.add_screening();
  m->set_subject_kind("beneficial_owner");
  m->set_subject_name("John Smith");
  m->set_entry_name("SMITH, John");
  m->set_entry_id("T4");
  m->set_score(1.0);
  m->set_strength("weak");
  std::string text = AccountDetail(resp);
  EXPECT_NE(text.find("John Smith (US, born 1971-03-02)"), std::string::npos) << text;
  EXPECT_NE(text.find("score 1.000, weak match"), std::string::npos) << text;
}

TEST(FormatIdentityTest, Policy) {
  LoadPolicyResponse loaded;
  loaded.set_policy_version("p-2");
  EXPECT_EQ(PolicyLoaded(loaded, "p.yaml"), "policy p-2 loaded from p.yaml\n");
  GetPolicyResponse shown;
  shown.set_policy_version("p-2");
  shown.set_source_name("p.yaml");
  shown.set_yaml("version: p-2");
  shown.mutable_loaded_at()->set_seconds(1'764'032'523);
  EXPECT_EQ(PolicyDetail(shown),
            "policy:              p-2\n"
            "source:              p.yaml\n"
            "loaded:              2025-11-25 01:02:03 UTC\n"
            "\n"
            "version: p-2\n");
}

}  // namespace
}  // namespace prov::provctl
