#include "server/identity/identity_store.h"

#include "common/fs.h"
#include "gtest/gtest.h"
#include "server/store/schema.h"
#include "server/store/transaction.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using provenance::v1::ScreeningMatch;

kyc::KycParseResult ParseFixture(const std::string& name) {
  auto text = ReadFileToString("tests/fixtures/identity/" + name);
  EXPECT_TRUE(text.ok()) << text.status();
  auto parsed = kyc::ParseKyc(text.ok() ? *text : "", kyc::KycFormat::kCsv, name);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *std::move(parsed) : kyc::KycParseResult{};
}

class IdentityStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqliteDb::Open(dir_.path() + "/provd.db", SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    ASSERT_TRUE(MigrateSchema(*db_).ok());
  }
  int64_t Count(const std::string& table) {
    auto st = db_->Prepare("SELECT COUNT(*) FROM " + table);
    EXPECT_TRUE(st.ok());
    auto row = (*st)->Step();
    EXPECT_TRUE(row.ok() && *row);
    return (*st)->ColumnInt64(0);
  }
  testing::TempDir dir_;
  std::unique_ptr<SqliteDb> db_;
  const absl::Time t0_ = absl::FromUnixSeconds(1'760'000'000);
};

TEST_F(IdentityStoreTest, ReimportCreatesVersionTwoAndKeepsVersionOneReadable) {
  EXPECT_EQ(*LatestKycVersion(*db_), 0);
  auto v1 = ImportAccounts(*db_, ParseFixture("accounts.csv"), "accounts.csv", "alice", t0_);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->accepted, 9u);
  EXPECT_EQ(v1->errors, 0u);
  EXPECT_EQ(v1->content_digest.size(), 64u);

  auto v2 = ImportAccounts(*db_, ParseFixture("accounts_v2.csv"), "accounts_v2.csv", "bob",
                           t0_ + absl::Hours(1));
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(*LatestKycVersion(*db_), 2);

  // Current: the updated record, from version 2.
  auto current = LoadAccount(*db_, "northwind");
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->version, 2);
  EXPECT_EQ((*current)->identity.legal_entity(), "Northwind Analytics Group Ltd");
  // History: the version-1 record is still there.
  auto old = LoadAccountVersion(*db_, "northwind", 1);
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((*old)->legal_entity(), "Northwind Analytics Ltd");
  auto missing = LoadAccountVersion(*db_, "newco", 1);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  // An import adds and updates; accounts absent from version 2 are kept.
  auto all = LoadCurrentAccounts(*db_);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 10u);
  EXPECT_EQ((*all)[0].account_id(), "end-customer");  // ordered by id
  auto sunrise = LoadAccount(*db_, "sunrise");
  ASSERT_TRUE(sunrise.ok() && sunrise->has_value());
  EXPECT_EQ((*sunrise)->version, 1);
  EXPECT_EQ(Count("account_identities"), 11);
  EXPECT_EQ(Count("kyc_imports"), 2);
}

TEST_F(IdentityStoreTest, BadRowImportsGoodRowsAndCountsErrors) {
  kyc::KycParseResult parsed = ParseFixture("accounts_bad_row.csv");
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_EQ(parsed.errors[0].message.rfind("line 3: field country_of_incorporation", 0), 0u)
      << parsed.errors[0].message;
  auto summary = ImportAccounts(*db_, parsed, "accounts_bad_row.csv", "alice", t0_);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->version, 1);
  EXPECT_EQ(summary->accepted, 2u);
  EXPECT_EQ(summary->errors, 1u);
  auto st = db_->Prepare("SELECT accepted, errors, source, actor FROM kyc_imports");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*(*st)->Step());
  EXPECT_EQ((*st)->ColumnInt64(0), 2);
  EXPECT_EQ((*st)->ColumnInt64(1), 1);
  EXPECT_EQ((*st)->ColumnText(2), "accounts_bad_row.csv");
  EXPECT_EQ((*st)->ColumnText(3), "alice");
  EXPECT_TRUE(LoadAccount(*db_, "good-2")->has_value());
  EXPECT_FALSE(LoadAccount(*db_, "bad-country")->has_value());
}

TEST_F(IdentityStoreTest, ScreeningListStoredRawAndReparsed) {
  EXPECT_FALSE(LoadLatestScreeningList(*db_)->has_value());
  auto text = ReadFileToString("tests/fixtures/identity/csl_sample.csv");
  ASSERT_TRUE(text.ok());
  std::vector<screening::RowError> errors;
  auto list = screening::ParseConsolidatedScreeningList(*text, "csl_sample.csv", &errors);
  ASSERT_TRUE(list.ok());
  auto info = ImportScreeningList(*db_, *text, *list, "csl_sample.csv", "alice", t0_);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->entries, 6);
  EXPECT_EQ(info->columns, 28);
  auto stored = LoadLatestScreeningList(*db_);
  ASSERT_TRUE(stored.ok() && stored->has_value()) << stored.status();
  EXPECT_EQ((*stored)->info.list_version, list->version);
  EXPECT_EQ((*stored)->info.imported_at, t0_);
  EXPECT_EQ((*stored)->list.entries.size(), 6u);
  EXPECT_EQ((*stored)->list.entries[0].name, "2904977 CANADA, INC.");
}

TEST_F(IdentityStoreTest, HitsReplacedKeepingFirstFoundTime) {
  ScreeningMatch a;
  a.set_account_id("acme");
  a.set_subject_kind("legal_entity");
  a.set_subject_name("Acme");
  a.set_entry_id("e1");
  a.set_score(0.93);
  ScreeningMatch b = a;
  b.set_account_id("zeta");
  ASSERT_TRUE(ReplaceScreeningHits(*db_, {a}, 1, "csl-sha256:aa", t0_).ok());
  ASSERT_TRUE(ReplaceScreeningHits(*db_, {a, b}, 2, "csl-sha256:aa", t0_ + absl::Hours(2)).ok());
  auto all = LoadScreeningHits(*db_, "");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  auto zeta = LoadScreeningHits(*db_, "zeta");
  ASSERT_EQ(zeta->size(), 1u);
  EXPECT_EQ((*zeta)[0].account_id(), "zeta");
  auto st = db_->Prepare(
      "SELECT account_id, found_at_us, kyc_version FROM screening_hits "
      "ORDER BY account_id");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*(*st)->Step());
  EXPECT_EQ((*st)->ColumnInt64(1), absl::ToUnixMicros(t0_));  // acme: still first found at t0
  EXPECT_EQ((*st)->ColumnInt64(2), 2);
  ASSERT_TRUE(*(*st)->Step());
  EXPECT_EQ((*st)->ColumnInt64(1), absl::ToUnixMicros(t0_ + absl::Hours(2)));
  st->reset();
  ASSERT_TRUE(ReplaceScreeningHits(*db_, {}, 3, "", t0_).ok());
  EXPECT_EQ(Count("screening_hits"), 0);
}

TEST_F(IdentityStoreTest, PoliciesLatestWinsAndCanBeDeleted) {
  EXPECT_FALSE(LoadLatestPolicy(*db_)->has_value());
  auto first = SavePolicy(*db_, "p-1", "a.yaml", "version: p-1\n", t0_);
  auto second = SavePolicy(*db_, "p-2", "b.yaml", "version: p-2\n", t0_ + absl::Minutes(1));
  ASSERT_TRUE(first.ok() && second.ok());
  auto latest = LoadLatestPolicy(*db_);
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->version, "p-2");
  EXPECT_EQ((*latest)->source, "b.yaml");
  EXPECT_EQ((*latest)->loaded_at, t0_ + absl::Minutes(1));
  ASSERT_TRUE(DeletePolicy(*db_, *second).ok());
  EXPECT_EQ((*LoadLatestPolicy(*db_))->version, "p-1");
}

TEST_F(IdentityStoreTest, SnapshotReadsEverythingStored) {
  ASSERT_TRUE(ImportAccounts(*db_, ParseFixture("accounts.csv"), "a.csv", "", t0_).ok());
  ScreeningMatch hit;
  hit.set_account_id("sunrise");
  ASSERT_TRUE(ReplaceScreeningHits(*db_, {hit}, 1, "csl-sha256:aa", t0_).ok());
  auto snapshot = LoadIdentitySnapshot(*db_);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->kyc_version, 1);
  EXPECT_EQ(snapshot->accounts->size(), 9u);
  EXPECT_EQ(snapshot->screening_list_version, "");  // no list imported
  ASSERT_EQ(snapshot->screening.size(), 1u);
}

TEST_F(IdentityStoreTest, OuterTransactionMakesSeveralCallsAtomic) {
  {
    auto txn = Transaction::Begin(*db_, Transaction::kWrite);
    ASSERT_TRUE(txn.ok());
    EXPECT_TRUE(txn->owned());
    ASSERT_TRUE(ImportAccounts(*db_, ParseFixture("accounts.csv"), "a.csv", "", t0_).ok());
    ASSERT_TRUE(SavePolicy(*db_, "p", "p.yaml", "", t0_).ok());
    // Not committed: destruction rolls both back.
  }
  EXPECT_EQ(Count("kyc_imports"), 0);
  EXPECT_EQ(Count("accounts"), 0);
  EXPECT_EQ(Count("policies"), 0);
}

TEST_F(IdentityStoreTest, CorruptStoredRecordIsDataLossNotCrash) {
  ASSERT_TRUE(ImportAccounts(*db_, ParseFixture("accounts_v2.csv"), "a.csv", "", t0_).ok());
  ASSERT_TRUE(
      db_->Exec("UPDATE accounts SET identity = x'ffffffff' WHERE account_id = 'newco'").ok());
  auto all = LoadCurrentAccounts(*db_);
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(all.status().message().find("newco"), std::string::npos);
}

}  // namespace
}  // namespace prov::server
