// The inventory view's queries (server/store/inventory_view.h) on a real SQLite file: keyset
// pages cover every row once and in order, tokens round-trip and foreign ones are refused, and
// at 20k declared nodes (160k accelerators) one data centre's counts and a page stay fast.
#include "server/store/inventory_view.h"

#include <chrono>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "server/store/connection.h"
#include "server/store/inventory_store.h"
#include "server/store/store.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using provenance::v1::DeclaredAccelerator;

class InventoryViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    { ASSERT_TRUE(Store::Open(path()).ok()); }  // creates the schema
    auto db = OpenConnection(path(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }
  std::string path() const { return dir_.path() + "/provd.db"; }
  void Exec(const std::string& sql) { ASSERT_TRUE(db_->Exec(sql).ok()) << sql; }

  // `nodes` nodes over `dcs` data centres and 50 racks each, 8 declared cards per node; every
  // card reported by its node except card 7 of every 10th node (never seen), and card 6 of every
  // 100th node reported by the next node (seen elsewhere). Plain SQL in one transaction.
  void Fleet(int nodes, int dcs) {
    Exec("BEGIN");
    Exec("INSERT INTO inventory_imports VALUES (1, 1, 'fleet.csv', 'test', 'sha256:x', 0, 0)");
    auto node = db_->Prepare(
        "INSERT INTO nodes (id, node_id, datacenter, first_seen_us, last_seen_us, "
        "last_received_us) VALUES (?, ?, ?, 1, 1, 1)");
    auto accel = db_->Prepare(
        "INSERT INTO accelerators VALUES (?, ?, 4318, 9008, 'nvidia', 'H100', 1, ?, ?, ?, 1, 2)");
    auto inv = db_->Prepare("INSERT INTO inventory VALUES (?, 1, ?, ?, ?, ?, 1, ?)");
    ASSERT_TRUE(node.ok() && accel.ok() && inv.ok());
    provenance::v1::Accelerator a;
    a.set_vendor_id(0x10de);
    a.set_device_id(0x2330);
    const std::string blob = a.SerializeAsString();
    for (int n = 0; n < nodes; ++n) {
      const std::string node_id = absl::StrFormat("node-%05d", n);
      const std::string dc = absl::StrFormat("dc%d", n % dcs);
      (*node)->BindInt64(1, n + 1);
      (*node)->BindText(2, node_id);
      (*node)->BindText(3, dc);
      ASSERT_TRUE((*node)->Run().ok());
      for (int c = 0; c < 8; ++c) {
        const std::string serial = absl::StrFormat("SN%05d%d", n, c);
        DeclaredAccelerator d;
        d.set_serial(serial);
        d.set_node_id(node_id);
        d.set_datacenter(dc);
        d.set_rack(absl::StrFormat("r%02d", (n / dcs) % 50));
        d.set_status(provenance::v1::INVENTORY_STATUS_IN_SERVICE);
        (*inv)->BindText(1, serial);
        (*inv)->BindText(2, "");
        (*inv)->BindText(3, node_id);
        (*inv)->BindText(4, dc);
        (*inv)->BindText(5, d.rack());
        (*inv)->BindBlob(6, d.SerializeAsString());
        ASSERT_TRUE((*inv)->Run().ok());
        if (c == 7 && n % 10 == 0) continue;  // never seen
        const int reporter = (c == 6 && n % 100 == 0) ? (n + 1) % nodes : n;
        (*accel)->BindInt64(1, reporter + 1);
        (*accel)->BindText(2, absl::StrFormat("0000:%02x:00.0", c + (reporter == n ? 0 : 0x40)));
        (*accel)->BindText(3, "");
        (*accel)->BindText(4, serial);
        (*accel)->BindBlob(5, blob);
        ASSERT_TRUE((*accel)->Run().ok());
      }
    }
    Exec("COMMIT");
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteDb> db_;
};

TEST_F(InventoryViewTest, PagesCoverEveryRowOnceInOrder) {
  Fleet(/*nodes=*/40, /*dcs=*/2);
  auto places = InventoryPlaces(*db_, "");
  ASSERT_TRUE(places.ok()) << places.status();
  ASSERT_EQ(places->size(), 2u);
  EXPECT_EQ((*places)[0].datacenter(), "dc0");
  EXPECT_EQ((*places)[0].declared(), 160u);
  EXPECT_EQ((*places)[0].nodes(), 20u);
  EXPECT_EQ((*places)[0].in_service_unseen(), 4u);   // card 7 of nodes 0, 10, 20, 30
  EXPECT_EQ((*places)[0].observed_elsewhere(), 1u);  // node 0's card 6, on node 1

  auto all = ListInventory(*db_, {.datacenter = "dc0", .node_id = "", .limit = 1000});
  ASSERT_TRUE(all.ok());
  std::vector<std::string> paged;
  InventoryPageKey after;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = InventoryPage(*db_, "dc0", "", after, 7);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& e : page->entries) paged.push_back(e.declared().serial());
    if (!page->next.has_value()) break;
    // The token a client gets back leads to the same page.
    auto decoded = DecodePageToken(EncodePageToken(*page->next));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->serial, page->next->serial);
    after = *decoded;
  }
  ASSERT_EQ(paged.size(), all->size());
  for (size_t i = 0; i < paged.size(); ++i) EXPECT_EQ(paged[i], (*all)[i].declared().serial());

  auto rack = InventoryPage(*db_, "dc0", "r03", {}, 1000);
  ASSERT_TRUE(rack.ok());
  EXPECT_EQ(rack->entries.size(), 8u);  // node 6 only
  for (const char* bad : {"", "zz", "41", "4142431f43"}) {
    auto token = DecodePageToken(bad);
    ASSERT_FALSE(token.ok()) << bad;
    EXPECT_NE(token.status().message().find("page_token"), std::string::npos);
  }
}

TEST_F(InventoryViewTest, TwentyThousandDeclaredNodesOneDatacentreAtATime) {
  Fleet(/*nodes=*/20000, /*dcs=*/4);
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
  };
  auto t = Clock::now();
  auto dcs = InventoryPlaces(*db_, "");
  const double all_dcs_ms = ms(t);
  ASSERT_TRUE(dcs.ok()) << dcs.status();
  ASSERT_EQ(dcs->size(), 4u);
  EXPECT_EQ((*dcs)[0].declared(), 40000u);

  t = Clock::now();
  auto racks = InventoryPlaces(*db_, "dc1");
  const double racks_ms = ms(t);
  ASSERT_TRUE(racks.ok());
  EXPECT_EQ(racks->size(), 50u);

  t = Clock::now();
  auto observed = CountObservedInDatacenter(*db_, "dc1");
  const double observed_ms = ms(t);
  ASSERT_TRUE(observed.ok());
  EXPECT_EQ(observed->undeclared, 0u);

  t = Clock::now();
  InventoryPageKey after;
  size_t rows = 0;
  for (int p = 0; p < 10; ++p) {  // ten pages of 200, each with its serials' last observation
    auto page = InventoryPage(*db_, "dc1", "", after, 200);
    ASSERT_TRUE(page.ok());
    for (const auto& e : page->entries) {
      ASSERT_TRUE(LastObserved(*db_, e.declared().serial(), "").ok());
    }
    rows += page->entries.size();
    ASSERT_TRUE(page->next.has_value());
    after = *page->next;
  }
  const double page_ms = ms(t) / 10;
  EXPECT_EQ(rows, 2000u);
  std::printf(
      "20k nodes, 160k declared and observed accelerators, 4 data centres: per-DC counts %.0f ms, "
      "one DC's racks %.0f ms, its observed/undeclared %.0f ms, one page of 200 rows with "
      "observations %.1f ms\n",
      all_dcs_ms, racks_ms, observed_ms, page_ms);
  // Generous bounds for a shared 2-core machine: the view must stay interactive.
  EXPECT_LT(racks_ms, 5000);
  EXPECT_LT(page_ms, 1000);
}

}  // namespace
}  // namespace prov::server
