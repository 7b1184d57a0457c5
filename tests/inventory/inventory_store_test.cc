// The declared inventory's store (server/store/inventory_store.h) on a real SQLite file, and the
// in-memory index the reconciliation rules will use.
#include "server/store/inventory_store.h"

#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "server/inventory/inventory_index.h"
#include "server/store/connection.h"
#include "server/store/store.h"
#include "server/store/transaction.h"
#include "tests/server/commit_batch.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::DeclaredAccelerator;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

DeclaredAccelerator Row(const std::string& serial, const std::string& node,
                        const std::string& dc = "fra1", const std::string& rack = "r1") {
  DeclaredAccelerator d;
  d.set_serial(serial);
  d.set_node_id(node);
  d.set_datacenter(dc);
  d.set_rack(rack);
  d.set_status(provenance::v1::INVENTORY_STATUS_IN_SERVICE);
  return d;
}

class InventoryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto db = OpenConnection(path(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok());
    db_ = *std::move(db);
  }
  std::string path() const { return dir_.path() + "/provd.db"; }

  absl::StatusOr<InventoryImportSummary> Import(const std::vector<DeclaredAccelerator>& rows,
                                                absl::Time at, uint32_t errors = 0) {
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
    PROV_ASSIGN_OR_RETURN(
        auto s, ImportInventoryRows(*db_, rows, "inv.csv", "token:alice", "abc", errors, at));
    PROV_RETURN_IF_ERROR(txn.Commit());
    return s;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SqliteDb> db_;
};

TEST_F(InventoryStoreTest, EachImportIsAVersionAndNothingStoredIsLost) {
  EXPECT_EQ(*LatestInventoryVersion(*db_), 0);
  auto v1 = Import({Row("SN-1", "n1"), Row("SN-2", "n1"), Row("SN-3", "n2", "ams2")}, kT0);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->added, 3u);

  // Version 2 moves SN-2, repeats SN-1 unchanged and says nothing of SN-3.
  auto v2 = Import({Row("SN-1", "n1"), Row("SN-2", "n2", "fra1", "r9")}, kT0 + absl::Hours(1), 4);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->added, 0u);
  EXPECT_EQ(v2->changed, 1u);
  EXPECT_EQ(v2->unchanged, 1u);
  EXPECT_EQ(*LatestInventoryVersion(*db_), 2);

  auto all = ListInventory(*db_, {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u) << "SN-3 keeps its row";
  EXPECT_EQ((*GetInventoryEntry(*db_, "SN-1"))->version(), 1) << "re-imported unchanged";
  EXPECT_EQ(InventoryHistory(*db_, "SN-1")->size(), 2u) << "version 2 named it too";
  auto sn3 = GetInventoryEntry(*db_, "SN-3");
  ASSERT_TRUE(sn3.ok() && sn3->has_value());
  EXPECT_EQ((*sn3)->version(), 1);
  EXPECT_EQ((*sn3)->declared().datacenter(), "ams2");
  auto sn2 = GetInventoryEntry(*db_, "SN-2");
  EXPECT_EQ((*sn2)->declared().rack(), "r9");
  EXPECT_EQ((*sn2)->version(), 2);
  EXPECT_EQ((*sn2)->imported_at().seconds(), absl::ToUnixSeconds(kT0 + absl::Hours(1)));
  auto history = InventoryHistory(*db_, "SN-2");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].version(), 2);
  EXPECT_EQ((*history)[1].declared().node_id(), "n1") << "what version 1 said is kept";
  EXPECT_FALSE(GetInventoryEntry(*db_, "SN-404")->has_value());
}

TEST_F(InventoryStoreTest, ListFiltersAndOrder) {
  ASSERT_TRUE(Import({Row("B", "n2", "fra1", "r2"), Row("A", "n1", "fra1", "r1"),
                      Row("C", "n3", "ams2", "r1")},
                     kT0)
                  .ok());
  auto fra = ListInventory(*db_, {.datacenter = "fra1"});
  ASSERT_EQ(fra->size(), 2u);
  EXPECT_EQ((*fra)[0].declared().serial(), "A") << "by datacenter, rack, node, serial";
  auto node = ListInventory(*db_, {.node_id = "n3"});
  ASSERT_EQ(node->size(), 1u);
  EXPECT_EQ((*node)[0].declared().serial(), "C");
  EXPECT_EQ(ListInventory(*db_, {.limit = 1})->size(), 1u);
}

TEST_F(InventoryStoreTest, ImportNeedsTheCallersTransaction) {
  auto s = ImportInventoryRows(*db_, {Row("SN-1", "n1")}, "inv.csv", "a", "d", 0, kT0);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*LatestInventoryVersion(*db_), 0);
}

TEST_F(InventoryStoreTest, LastObservedBySerialThenUuid) {
  // node-a reports at T0, node-b at T0+1h with the same serial on its first card (the newer wins).
  provenance::v1::NodeReport a = testing::MakeReport("node-a", "b", 1, kT0, "fra1");
  a.mutable_accelerators(0)->set_serial("SN-1");
  a.mutable_accelerators(1)->set_uuid("GPU-U2");
  provenance::v1::NodeReport b =
      testing::MakeReport("node-b", "b", 1, kT0 + absl::Hours(1), "ams2");
  b.mutable_accelerators(0)->set_serial("SN-1");
  ASSERT_TRUE(store_->Commit(testing::CommitBatch({&a}), kT0).ok());
  ASSERT_TRUE(store_->Commit(testing::CommitBatch({&b}), kT0 + absl::Hours(1)).ok());

  auto seen = LastObserved(*db_, "SN-1", "");
  ASSERT_TRUE(seen.ok() && seen->has_value()) << seen.status();
  EXPECT_EQ((*seen)->node_id(), "node-b");
  EXPECT_EQ((*seen)->datacenter(), "ams2");
  EXPECT_EQ((*seen)->matched_by(), "serial");
  EXPECT_EQ((*seen)->accelerator().serial(), "SN-1");
  EXPECT_EQ((*seen)->last_seen().seconds(), absl::ToUnixSeconds(kT0 + absl::Hours(1)));

  auto by_uuid = LastObserved(*db_, "SN-unknown", "GPU-U2");
  ASSERT_TRUE(by_uuid.ok() && by_uuid->has_value());
  EXPECT_EQ((*by_uuid)->node_id(), "node-a");
  EXPECT_EQ((*by_uuid)->matched_by(), "uuid");
  EXPECT_FALSE(LastObserved(*db_, "SN-unknown", "")->has_value());
  EXPECT_FALSE(LastObserved(*db_, "", "")->has_value()) << "empty serials never match";
}

TEST_F(InventoryStoreTest, IndexLooksUpASerialOrUuidAndANodesCards) {
  DeclaredAccelerator with_uuid = Row("SN-2", "n1");
  with_uuid.set_uuid("GPU-2");
  ASSERT_TRUE(Import({Row("SN-1", "n1"), with_uuid, Row("SN-3", "n2")}, kT0).ok());
  auto entries = LoadInventory(*db_);
  ASSERT_TRUE(entries.ok());
  inventory::InventoryIndex index(*std::move(entries));
  EXPECT_EQ(index.size(), 3u);
  ASSERT_NE(index.BySerial("SN-3"), nullptr);
  EXPECT_EQ(index.BySerial("SN-3")->declared().node_id(), "n2");
  EXPECT_EQ(index.BySerial("SN-404"), nullptr);
  ASSERT_NE(index.ByUuid("GPU-2"), nullptr);
  EXPECT_EQ(index.ByUuid("GPU-2")->declared().serial(), "SN-2");
  EXPECT_EQ(index.OnNode("n1").size(), 2u);
  EXPECT_TRUE(index.OnNode("n9").empty());
}

}  // namespace
}  // namespace prov::server
