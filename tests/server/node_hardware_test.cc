// The node hardware identity (issue 10): provd keeps each node's newest SMBIOS identity and every
// change of its system UUID or board serial, written only when it changes.
#include "server/store/node_hardware.h"

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "server/store/store_reader.h"
#include "tests/server/commit_batch.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeHardwareIdentity;
using provenance::v1::NodeReport;
using testing::MakeReport;
using testing::TempDir;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

NodeReport WithHardware(NodeReport r, const std::string& uuid, const std::string& board) {
  auto* hw = r.mutable_node()->mutable_hardware();
  hw->set_system_uuid(uuid);
  hw->set_board_serial(board);
  hw->set_chassis_serial("CH-1");
  hw->set_product_name("PowerEdge XE9680");
  hw->set_sys_vendor("Dell Inc.");
  (*hw->mutable_fact_sources())["system_uuid"] = provenance::v1::FACT_SOURCE_DMI_SYSFS;
  (*hw->mutable_fact_sources())["board_serial"] = provenance::v1::FACT_SOURCE_DMI_SYSFS;
  return r;
}

class NodeHardwareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(DbPath());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto reader = StoreReader::Open(DbPath());
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = std::move(*reader);
  }
  std::string DbPath() const { return dir_.path() + "/provd.db"; }
  void Commit(const NodeReport& r) {
    auto result = store_->Commit(testing::CommitBatch({&r}), kT0 + absl::Hours(1));
    ASSERT_TRUE(result.ok()) << result.status();
  }
  NodeHardwareIdentity Identity(const std::string& node_id) {
    auto node = reader_->GetNode(node_id);
    EXPECT_TRUE(node.ok()) << node.status();
    return node.ok() ? node->node().hardware() : NodeHardwareIdentity();
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StoreReader> reader_;
};

TEST_F(NodeHardwareTest, NewestIdentityIsShownAndWrittenOnlyOnChange) {
  Commit(WithHardware(MakeReport("n1", "boot-a", 1, kT0), "uuid-1", "BRD-1"));
  NodeHardwareIdentity id = Identity("n1");
  EXPECT_EQ(id.hardware().system_uuid(), "uuid-1");
  EXPECT_EQ(id.hardware().board_serial(), "BRD-1");
  EXPECT_EQ(id.hardware().product_name(), "PowerEdge XE9680");
  EXPECT_EQ(id.since().seconds(), absl::ToUnixSeconds(kT0));
  EXPECT_EQ(id.since_boot_id(), "boot-a");
  EXPECT_EQ(id.changes_size(), 0);

  // The same identity again (and a reboot with the same hardware): nothing is rewritten, so the
  // identity is still the one first seen at kT0.
  Commit(WithHardware(MakeReport("n1", "boot-a", 2, kT0 + absl::Seconds(10)), "uuid-1", "BRD-1"));
  Commit(WithHardware(MakeReport("n1", "boot-b", 1, kT0 + absl::Seconds(20)), "uuid-1", "BRD-1"));
  id = Identity("n1");
  EXPECT_EQ(id.since().seconds(), absl::ToUnixSeconds(kT0));
  EXPECT_EQ(id.changes_total(), 0u);

  // A provd restart (empty cache) with the same identity: no change either.
  store_.reset();
  auto reopened = Store::Open(DbPath());
  ASSERT_TRUE(reopened.ok());
  store_ = std::move(*reopened);
  Commit(WithHardware(MakeReport("n1", "boot-b", 2, kT0 + absl::Seconds(30)), "uuid-1", "BRD-1"));
  EXPECT_EQ(Identity("n1").changes_total(), 0u);
  EXPECT_EQ(Identity("n1").since().seconds(), absl::ToUnixSeconds(kT0));
}

TEST_F(NodeHardwareTest, ChangeOfSystemUuidAndBoardSerialIsRecordedOldToNew) {
  Commit(WithHardware(MakeReport("n1", "boot-a", 1, kT0), "uuid-1", "BRD-1"));
  Commit(WithHardware(MakeReport("n1", "boot-a", 2, kT0 + absl::Seconds(10)), "uuid-1", "BRD-1"));
  // The node_id now reports from another machine.
  Commit(WithHardware(MakeReport("n1", "boot-z", 1, kT0 + absl::Seconds(60)), "uuid-2", "BRD-9"));
  NodeHardwareIdentity id = Identity("n1");
  EXPECT_EQ(id.hardware().system_uuid(), "uuid-2");
  EXPECT_EQ(id.since().seconds(), absl::ToUnixSeconds(kT0 + absl::Seconds(60)));
  EXPECT_EQ(id.since_boot_id(), "boot-z");
  ASSERT_EQ(id.changes_size(), 2);
  EXPECT_EQ(id.changes_total(), 2u);
  std::map<std::string, provenance::v1::NodeHardwareChange> by_field;
  for (const auto& c : id.changes()) by_field[c.field()] = c;
  EXPECT_EQ(by_field["system_uuid"].old_value(), "uuid-1");
  EXPECT_EQ(by_field["system_uuid"].new_value(), "uuid-2");
  EXPECT_EQ(by_field["board_serial"].old_value(), "BRD-1");
  EXPECT_EQ(by_field["board_serial"].new_value(), "BRD-9");
  EXPECT_EQ(by_field["system_uuid"].changed_at().seconds(),
            absl::ToUnixSeconds(kT0 + absl::Seconds(60)));
  EXPECT_EQ(by_field["system_uuid"].previous_seen().seconds(),
            absl::ToUnixSeconds(kT0 + absl::Seconds(10)));
  EXPECT_EQ(by_field["system_uuid"].boot_id(), "boot-z");
  // Other nodes are not touched.
  Commit(WithHardware(MakeReport("n2", "boot-q", 1, kT0), "uuid-7", "BRD-7"));
  EXPECT_EQ(Identity("n2").changes_total(), 0u);
}

TEST_F(NodeHardwareTest, MissingFactsAndOldReportsAreNotChanges) {
  Commit(WithHardware(MakeReport("n1", "boot-a", 1, kT0 + absl::Seconds(100)), "uuid-1", "BRD-1"));
  // A report without hardware (DMI unreadable) keeps the known identity.
  Commit(MakeReport("n1", "boot-a", 2, kT0 + absl::Seconds(110)));
  EXPECT_EQ(Identity("n1").hardware().system_uuid(), "uuid-1");
  // The board serial became unreadable (agent no longer root): the identity is updated, but an
  // absent fact is not a change.
  Commit(WithHardware(MakeReport("n1", "boot-a", 3, kT0 + absl::Seconds(120)), "uuid-1", ""));
  NodeHardwareIdentity id = Identity("n1");
  EXPECT_EQ(id.hardware().board_serial(), "");
  EXPECT_EQ(id.changes_total(), 0u);
  // A resent report older than the newest stored one (another boot's spool) never overwrites it.
  Commit(WithHardware(MakeReport("n1", "boot-old", 7, kT0), "uuid-0", "BRD-0"));
  id = Identity("n1");
  EXPECT_EQ(id.hardware().system_uuid(), "uuid-1");
  EXPECT_EQ(id.changes_total(), 0u);
}

// The ingest hot path: an unchanged identity costs no SQL write (and, once cached, no read);
// figures printed for 20k nodes.
TEST(NodeHardwareCost, UnchangedIdentitiesWriteNothingAt20kNodes) {
  TempDir dir;
  { ASSERT_TRUE(Store::Open(dir.path() + "/provd.db").ok()); }
  auto db = SqliteDb::Open(dir.path() + "/provd.db", SqliteDb::kReadWrite);
  ASSERT_TRUE(db.ok());
  constexpr int kNodes = 20000;
  ASSERT_TRUE((*db)->Exec("BEGIN").ok());
  for (int n = 1; n <= kNodes; ++n) {
    ASSERT_TRUE((*db)
                    ->Exec(absl::StrCat("INSERT INTO nodes (id, node_id, first_seen_us, "
                                        "last_seen_us, last_received_us) VALUES (",
                                        n, ", 'n", n, "', 1, 1, 1)"))
                    .ok());
  }
  std::vector<NodeReport> reports;
  for (int n = 1; n <= kNodes; ++n) {
    reports.push_back(WithHardware(MakeReport(absl::StrCat("n", n), "b", 1, kT0),
                                   absl::StrCat("uuid-", n), absl::StrCat("BRD-", n)));
  }
  auto total_changes = [&] {
    auto st = (*db)->Prepare("SELECT total_changes()");
    EXPECT_TRUE(st.ok() && (*st)->Step().value_or(false));
    return (*st)->ColumnInt64(0);
  };
  NodeHardwareCache cache;
  auto pass = [&](const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (int n = 1; n <= kNodes; ++n) {
      ASSERT_TRUE(RecordNodeHardware(**db, cache, n, reports[n - 1], 2).ok());
    }
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count() /
        kNodes;
    std::printf("node hardware, %s: %.2f us per node report\n", what, us);
  };
  pass("first report of each node (read + write)");
  const int64_t after_first = total_changes();
  EXPECT_EQ(after_first, kNodes + kNodes);  // the nodes rows, then one node_hardware row each
  pass("unchanged, cached");
  cache.clear();  // a provd restart
  pass("unchanged, after a restart (one read each)");
  EXPECT_EQ(total_changes(), after_first) << "an unchanged identity was written";
  reports[6].mutable_node()->mutable_hardware()->set_system_uuid("uuid-moved");
  ASSERT_TRUE(RecordNodeHardware(**db, cache, 7, reports[6], 3).ok());
  EXPECT_EQ(total_changes(), after_first + 2);  // the change row and the new identity
  ASSERT_TRUE((*db)->Exec("COMMIT").ok());
}

}  // namespace
}  // namespace prov::server
