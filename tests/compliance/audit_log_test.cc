// The audit log on a real SQLite file: appends only inside a transaction, and verification finds
// rows edited, removed, reordered or cut off (against an export's anchor) with plain SQL.
#include "server/auditlog/audit_log.h"

#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/transaction.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenConnection(path(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    ASSERT_TRUE(MigrateSchema(*db_).ok());
  }
  std::string path() const { return dir_.path() + "/provd.db"; }
  void Append(int n) {
    for (int i = 0; i < n; ++i) {
      auto txn = Transaction::Begin(*db_, Transaction::kWrite);
      ASSERT_TRUE(txn.ok());
      auto e = AppendAuditEntry(*db_, "token:alice", "case.note",
                                AuditPayload({{"flag_id", "F-00000" + std::to_string(i)}}),
                                clock_.Now());
      ASSERT_TRUE(e.ok()) << e.status();
      ASSERT_TRUE(txn->Commit().ok());
      clock_.Advance(absl::Seconds(1));
    }
  }
  AuditVerification Verify(std::optional<integrity::ChainAnchor> anchor = std::nullopt) {
    auto reader = AuditLogReader::Open(path());
    EXPECT_TRUE(reader.ok());
    auto v = (*reader)->Verify(anchor);
    EXPECT_TRUE(v.ok()) << v.status();
    return *v;
  }
  void Sql(const std::string& sql) { ASSERT_TRUE(db_->Exec(sql).ok()) << sql; }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<SqliteDb> db_;
};

TEST_F(AuditLogTest, AppendOutsideATransactionIsRefused) {
  auto e = AppendAuditEntry(*db_, "a", "b", "{}", clock_.Now());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(AuditLogTest, IntactChainVerifiesAndListsInOrder) {
  Append(5);
  AuditVerification v = Verify();
  EXPECT_TRUE(v.intact());
  EXPECT_EQ(v.entries, 5u);
  EXPECT_EQ(v.head.seq, 5u);
  auto reader = AuditLogReader::Open(path());
  auto listed = (*reader)->List(2, 10, "case.");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].seq, 3u);
  EXPECT_EQ((*listed)[0].payload, R"({"flag_id":"F-000002"})");
  EXPECT_TRUE((*reader)->List(0, 10, "token.")->empty());
}

TEST_F(AuditLogTest, EditedEntryIsNamed) {
  Append(4);
  Sql("UPDATE audit_log SET payload = '{\"flag_id\":\"F-999\"}' WHERE seq = 2");
  AuditVerification v = Verify();
  ASSERT_FALSE(v.intact());
  EXPECT_EQ(v.problems[0].seq, 2u);
  EXPECT_NE(v.problems[0].message.find("entry 2"), std::string::npos) << v.problems[0].message;
  EXPECT_NE(v.problems[0].message.find("edited"), std::string::npos);
}

TEST_F(AuditLogTest, RemovedEntryIsNamed) {
  Append(4);
  Sql("DELETE FROM audit_log WHERE seq = 3");
  AuditVerification v = Verify();
  ASSERT_FALSE(v.intact());
  bool named = false;
  for (const auto& p : v.problems)
    named |= p.message.find("entry 3 is missing") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST_F(AuditLogTest, ReorderedEntriesAreFound) {
  Append(4);
  // Swap entries 2 and 3 (contents move, seq stays): the links no longer hold.
  Sql("UPDATE audit_log SET seq = -2 WHERE seq = 2");
  Sql("UPDATE audit_log SET seq = 2 WHERE seq = 3");
  Sql("UPDATE audit_log SET seq = 3 WHERE seq = -2");
  EXPECT_FALSE(Verify().intact());
}

TEST_F(AuditLogTest, TruncationIsFoundAgainstTheNewestExportAnchor) {
  Append(5);
  auto head = AuditHead(*db_);
  ASSERT_TRUE(head.ok());
  Sql("INSERT INTO exports(export_id, created_us, trigger, path, manifest_sha256, "
      "previous_manifest_sha256, audit_head_seq, audit_head_hash, summary) VALUES ('e1', 1, "
      "'request', '/x', 'm', '', " +
      std::to_string(head->seq) + ", '" + head->hash + "', x'')");
  EXPECT_TRUE(Verify().intact());
  Sql("DELETE FROM audit_log WHERE seq >= 4");  // cut the tail off
  AuditVerification v = Verify();
  ASSERT_FALSE(v.intact());
  ASSERT_TRUE(v.anchor.has_value());
  EXPECT_EQ(v.anchor->seq, 5u);
  // Without the anchor the shortened chain looks whole: that is what exports are for.
  EXPECT_TRUE(Verify(integrity::ChainAnchor{3, Verify().head.hash}).intact());
}

}  // namespace
}  // namespace prov::server
