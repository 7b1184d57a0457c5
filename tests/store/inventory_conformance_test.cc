// The declared inventory (server/store/repo/inventory.h) behaves the same on SQLite and on
// PostgreSQL: import versions, unchanged rows keeping their version, history, list filters and
// order, the declared-vs-observed counts against planted accelerators rows, every page of a few
// hundred rows walked through page tokens in byte order, a node's hardware identity with its
// changes, each import's audit entry in one chain, and refused imports leaving nothing.
// PostgreSQL only: two sessions importing at once get consecutive versions; a dropped session is
// replaced.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/inventory/inventory_service.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_inventory.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/audit_log.h"
#include "server/store/repo/inventory.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/sqlite/sqlite_inventory.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using provenance::v1::DeclaredAccelerator;
using provenance::v1::InventoryEntry;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

DeclaredAccelerator Row(
    const std::string& serial, const std::string& node_id, const std::string& datacenter,
    const std::string& rack,
    provenance::v1::InventoryStatus status = provenance::v1::INVENTORY_STATUS_IN_SERVICE,
    const std::string& uuid = "") {
  DeclaredAccelerator r;
  r.set_serial(serial);
  r.set_uuid(uuid);
  r.set_node_id(node_id);
  r.set_datacenter(datacenter);
  r.set_rack(rack);
  r.set_status(status);
  return r;
}

InventoryImport Import(std::vector<DeclaredAccelerator> rows, int64_t at_seconds,
                       const std::string& actor = "token:alice") {
  return InventoryImport{.rows = std::move(rows),
                         .source = "inv.csv",
                         .actor = actor,
                         .content_digest = absl::StrCat("digest-", at_seconds),
                         .errors = 1,
                         .now = absl::FromUnixSeconds(at_seconds)};
}

InventoryQuery Query(const std::string& datacenter, const std::string& node_id,
                     size_t limit = 1000) {
  return InventoryQuery{.datacenter = datacenter, .node_id = node_id, .limit = limit};
}

std::vector<std::string> Serials(const std::vector<InventoryEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.declared().serial());
  return out;
}

class InventoryTest : public prov::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    repo_ = Open();
    ASSERT_NE(repo_, nullptr);
    absl::StatusOr<std::unique_ptr<AuditLogRepository>> log =
        pg() ? absl::StatusOr<std::unique_ptr<AuditLogRepository>>(
                   PgAuditLogRepository::Open(pg_conninfo()))
             : absl::StatusOr<std::unique_ptr<AuditLogRepository>>(
                   SqliteAuditLogRepository::Open(sqlite_path()));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }
  bool pg() const { return engine() == prov::testing::Engine::kPostgres; }
  // A repository on a connection of its own (as a second provd replica has).
  std::unique_ptr<InventoryRepository> Open() {
    if (pg()) {
      auto repo = PgInventoryRepository::Open(pg_conninfo());
      EXPECT_TRUE(repo.ok()) << repo.status();
      return repo.ok() ? std::unique_ptr<InventoryRepository>(*std::move(repo)) : nullptr;
    }
    auto repo = SqliteInventoryRepository::Open(sqlite_path());
    EXPECT_TRUE(repo.ok()) << repo.status();
    return repo.ok() ? std::unique_ptr<InventoryRepository>(*std::move(repo)) : nullptr;
  }
  std::string Blob(const std::string& bytes) {
    const std::string hex = absl::BytesToHexString(bytes);
    return pg() ? absl::StrCat("decode('", hex, "', 'hex')") : absl::StrCat("X'", hex, "'");
  }
  void PlantNode(const std::string& node_id, const std::string& datacenter) {
    ASSERT_TRUE(
        RawExec(absl::StrCat("INSERT INTO nodes(node_id, hostname, datacenter, "
                             "first_seen_us, last_seen_us, last_received_us) VALUES ('",
                             node_id, "', 'host-", node_id, "', '", datacenter, "', 1, 2, 3)"))
            .ok());
  }
  // An accelerators row as ingest writes it (the blob is the Accelerator the agent sent).
  void PlantAccelerator(const std::string& node_id, const std::string& pci,
                        const std::string& serial, const std::string& uuid, int64_t last_seen_us) {
    provenance::v1::Accelerator a;
    a.set_pci_address(pci);
    a.set_vendor_id(0x10de);
    a.set_device_id(0x2330);
    a.set_serial(serial);
    a.set_uuid(uuid);
    absl::Status s = RawExec(absl::StrCat(
        "INSERT INTO accelerators(node, pci_address, vendor_id, device_id, vendor, model, "
        "model_known, uuid, serial, accelerator, first_seen_us, last_seen_us) VALUES ((SELECT id "
        "FROM nodes WHERE node_id = '",
        node_id, "'), '", pci, "', 4318, 9008, 'nvidia', '', 0, '", uuid, "', '", serial, "', ",
        Blob(a.SerializeAsString()), ", 10, ", last_seen_us, ")"));
    ASSERT_TRUE(s.ok()) << s;
  }
  std::vector<integrity::ChainEntry> AuditEntries() {
    auto entries = log_->List(0, 1000, "");
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<integrity::ChainEntry>{};
  }
  // Every row of `datacenter` (and `rack`), walked `page_size` at a time through page tokens.
  std::vector<InventoryEntry> WalkPages(const std::string& datacenter, const std::string& rack,
                                        size_t page_size, int* pages) {
    std::vector<InventoryEntry> out;
    InventoryPageKey after;
    *pages = 0;
    for (;;) {
      auto page = repo_->Page(datacenter, rack, after, page_size);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok() || ++*pages > 1000) break;
      EXPECT_LE(page->entries.size(), page_size);
      for (auto& e : page->entries) out.push_back(std::move(e));
      if (!page->next.has_value()) break;
      auto decoded = DecodePageToken(EncodePageToken(*page->next));
      EXPECT_TRUE(decoded.ok()) << decoded.status();
      if (!decoded.ok()) break;
      after = *decoded;
    }
    return out;
  }

  std::unique_ptr<InventoryRepository> repo_;
  std::unique_ptr<AuditLogRepository> log_;
};

TEST_P(InventoryTest, ImportsGetVersionsAndUnchangedRowsKeepTheirs) {
  EXPECT_EQ(*repo_->LatestVersion(), 0);
  EXPECT_THAT(*repo_->List({}), IsEmpty());
  EXPECT_THAT(*repo_->LoadAll(), IsEmpty());
  EXPECT_EQ(*repo_->Get("SN-1"), std::nullopt);
  EXPECT_THAT(*repo_->History("SN-1"), IsEmpty());

  auto first = repo_->Import(
      Import({Row("SN-1", "n1", "fra1", "r1"), Row("SN-2", "n2", "fra1", "r1")}, 1000));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->accepted, 2u);
  EXPECT_EQ(first->added, 2u);
  EXPECT_EQ(first->changed + first->unchanged, 0u);

  auto second =
      repo_->Import(Import({Row("SN-1", "n1", "fra1", "r1"),
                            Row("SN-2", "n3", "fra1", "r2", provenance::v1::INVENTORY_STATUS_RMA),
                            Row("SN-3", "n3", "fra1", "r2")},
                           2000));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->version, 2);
  EXPECT_EQ(second->accepted, 3u);
  EXPECT_EQ(second->added, 1u);
  EXPECT_EQ(second->changed, 1u);
  EXPECT_EQ(second->unchanged, 1u);
  EXPECT_EQ(*repo_->LatestVersion(), 2);

  auto sn1 = *repo_->Get("SN-1");
  ASSERT_TRUE(sn1.has_value());
  EXPECT_EQ(sn1->version(), 1) << "re-imported unchanged: keeps the version that declared it";
  EXPECT_EQ(sn1->imported_at().seconds(), 1000);
  auto sn2 = *repo_->Get("SN-2");
  ASSERT_TRUE(sn2.has_value());
  EXPECT_EQ(sn2->version(), 2);
  EXPECT_EQ(sn2->imported_at().seconds(), 2000);
  EXPECT_EQ(sn2->declared().node_id(), "n3");
  EXPECT_EQ(sn2->declared().status(), provenance::v1::INVENTORY_STATUS_RMA);

  auto history = *repo_->History("SN-2");
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].version(), 2) << "newest first";
  EXPECT_EQ(history[0].declared().node_id(), "n3");
  EXPECT_EQ(history[1].version(), 1);
  EXPECT_EQ(history[1].declared().node_id(), "n2");
  EXPECT_EQ(history[1].imported_at().seconds(), 1000);
  EXPECT_EQ(repo_->History("SN-1")->size(), 2u) << "version 2 named it too";
  EXPECT_EQ(repo_->History("SN-3")->size(), 1u);

  // Ordered by datacenter, rack, node_id, serial.
  EXPECT_THAT(Serials(*repo_->List({})), ElementsAre("SN-1", "SN-2", "SN-3"));
  EXPECT_THAT(Serials(*repo_->LoadAll()), ElementsAre("SN-1", "SN-2", "SN-3"));
}

TEST_P(InventoryTest, ListFiltersByDatacenterAndNodeAndLimits) {
  ASSERT_TRUE(repo_
                  ->Import(Import({Row("B", "n2", "fra1", "r2"), Row("A", "n1", "fra1", "r2"),
                                   Row("C", "n1", "fra1", "r1"), Row("D", "n9", "ams1", "x1"),
                                   Row("E", "n1", "ams1", "x1")},
                                  1000))
                  .ok());
  EXPECT_THAT(Serials(*repo_->List({})), ElementsAre("E", "D", "C", "A", "B"));
  EXPECT_THAT(Serials(*repo_->List(Query("fra1", ""))), ElementsAre("C", "A", "B"));
  EXPECT_THAT(Serials(*repo_->List(Query("", "n1"))), ElementsAre("E", "C", "A"));
  EXPECT_THAT(Serials(*repo_->List(Query("fra1", "n1"))), ElementsAre("C", "A"));
  EXPECT_THAT(Serials(*repo_->List(Query("", "", 2))), ElementsAre("E", "D"));
  EXPECT_THAT(*repo_->List(Query("nowhere", "")), IsEmpty());
  EXPECT_THAT(*repo_->List(Query("", "", 0)), IsEmpty());
  EXPECT_EQ(*repo_->Get(""), std::nullopt);
}

TEST_P(InventoryTest, EachImportAppendsItsAuditEntryToOneChain) {
  ASSERT_TRUE(repo_->Import(Import({Row("SN-1", "n1", "fra1", "r1")}, 1000)).ok());
  ASSERT_TRUE(
      repo_
          ->Import(Import({Row("SN-1", "n2", "fra1", "r1"), Row("SN-2", "n2", "fra1", "r1")}, 2000,
                          "token:bob"))
          .ok());
  auto entries = AuditEntries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].action, "inventory.import");
  EXPECT_EQ(entries[0].actor, "token:alice");
  EXPECT_EQ(entries[0].time_unix_micros, 1000 * 1000000LL);
  EXPECT_EQ(entries[1].actor, "token:bob");
  EXPECT_EQ(entries[1].payload,
            R"({"accepted":"2","added":"1","changed":"1","content_sha256":"digest-2000",)"
            R"("inventory_version":"2","rows_refused":"1","source":"inv.csv"})");
  auto v = log_->Verify(std::nullopt);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->intact());
  EXPECT_EQ(v->entries, 2u);
}

TEST_P(InventoryTest, ARefusedImportLeavesNothing) {
  auto refused = repo_->Import(Import({Row("SN-1", "n1", "fra1", "r1")}, 1000),
                               [] { return absl::CancelledError("the caller went away"); });
  EXPECT_TRUE(absl::IsCancelled(refused.status())) << refused.status();
  EXPECT_EQ(*repo_->LatestVersion(), 0);
  EXPECT_EQ(*repo_->Get("SN-1"), std::nullopt);
  EXPECT_THAT(*repo_->History("SN-1"), IsEmpty());
  EXPECT_THAT(AuditEntries(), IsEmpty());

  ASSERT_TRUE(repo_->Import(Import({Row("SN-1", "n1", "fra1", "r1")}, 1000)).ok());
  // The same serial twice in one file: the history key refuses it, and the whole import goes.
  auto twice =
      repo_->Import(Import({Row("SN-2", "n1", "fra1", "r1"), Row("SN-1", "n7", "fra1", "r1"),
                            Row("SN-1", "n8", "fra1", "r1")},
                           2000));
  EXPECT_FALSE(twice.ok());
  EXPECT_EQ(*repo_->LatestVersion(), 1);
  EXPECT_EQ(*repo_->Get("SN-2"), std::nullopt);
  EXPECT_EQ((*repo_->Get("SN-1"))->declared().node_id(), "n1");
  EXPECT_EQ(AuditEntries().size(), 1u);

  auto next = repo_->Import(Import({Row("SN-2", "n1", "fra1", "r1")}, 3000));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->version, 2) << "the refused imports used no version";
  auto v = log_->Verify(std::nullopt);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->intact());
  EXPECT_EQ(v->entries, 2u);
}

TEST_P(InventoryTest, PlacesAndObservedCountsAgainstReportedAccelerators) {
  const auto kSpare = provenance::v1::INVENTORY_STATUS_SPARE;
  ASSERT_TRUE(
      repo_
          ->Import(Import(
              {Row("S1", "n1", "fra1", "r1"), Row("S2", "n1", "fra1", "r1"),
               Row("S3", "n2", "fra1", "r2", provenance::v1::INVENTORY_STATUS_IN_SERVICE, "U3"),
               Row("S4", "n2", "fra1", "r2"), Row("S5", "n3", "fra1", "r2", kSpare),
               Row("S6", "n4", "ams1", "a1")},
              1000))
          .ok());
  PlantNode("n1", "fra1");
  PlantNode("n2", "fra1");
  PlantNode("n4", "ams1");
  PlantNode("n9", "fra1");
  PlantAccelerator("n1", "0000:01:00.0", "S1", "", 100);
  PlantAccelerator("n9", "0000:03:00.0", "S1", "", 50);   // older: S1 was last seen on n1
  PlantAccelerator("n2", "0000:02:00.0", "S2", "", 200);  // declared on n1: seen elsewhere
  PlantAccelerator("n2", "0000:03:00.0", "", "U3", 150);  // S3, known by its uuid only
  PlantAccelerator("n4", "0000:01:00.0", "S6", "", 100);
  PlantAccelerator("n9", "0000:01:00.0", "X9", "", 100);  // undeclared
  PlantAccelerator("n9", "0000:02:00.0", "", "", 100);    // nothing to match by: undeclared

  auto dcs = repo_->Places("");
  ASSERT_TRUE(dcs.ok()) << dcs.status();
  ASSERT_EQ(dcs->size(), 2u);
  auto check = [](const provenance::v1::InventoryPlaceCount& c, const std::string& dc,
                  const std::string& rack, std::vector<uint32_t> want) {
    EXPECT_EQ(c.datacenter(), dc);
    EXPECT_EQ(c.rack(), rack);
    EXPECT_EQ((std::vector<uint32_t>{c.declared(), c.in_service(), c.nodes(), c.observed(),
                                     c.observed_elsewhere(), c.in_service_unseen()}),
              want)
        << dc << "/" << rack;
  };
  check((*dcs)[0], "ams1", "", {1, 1, 1, 1, 0, 0});
  check((*dcs)[1], "fra1", "", {5, 4, 3, 3, 1, 1});
  auto racks = repo_->Places("fra1");
  ASSERT_TRUE(racks.ok()) << racks.status();
  ASSERT_EQ(racks->size(), 2u);
  check((*racks)[0], "fra1", "r1", {2, 2, 1, 2, 1, 0});
  check((*racks)[1], "fra1", "r2", {3, 2, 2, 1, 0, 1});
  EXPECT_THAT(*repo_->Places("nowhere"), IsEmpty());

  auto fra = repo_->CountObserved("fra1");
  ASSERT_TRUE(fra.ok()) << fra.status();
  EXPECT_EQ(fra->accelerators, 6u);
  EXPECT_EQ(fra->undeclared, 2u);
  auto ams = repo_->CountObserved("ams1");
  EXPECT_EQ(ams->accelerators, 1u);
  EXPECT_EQ(ams->undeclared, 0u);
  auto none = repo_->CountObserved("nowhere");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->accelerators, 0u);
  EXPECT_EQ(none->undeclared, 0u);

  auto s1 = repo_->LastObserved("S1", "");
  ASSERT_TRUE(s1.ok()) << s1.status();
  ASSERT_TRUE(s1->has_value());
  EXPECT_EQ((*s1)->node_id(), "n1") << "the newest report wins";
  EXPECT_EQ((*s1)->hostname(), "host-n1");
  EXPECT_EQ((*s1)->datacenter(), "fra1");
  EXPECT_EQ((*s1)->matched_by(), "serial");
  EXPECT_EQ((*s1)->accelerator().pci_address(), "0000:01:00.0");
  EXPECT_EQ((*s1)->last_seen().nanos(), 100000);
  auto s3 = *repo_->LastObserved("S3", "U3");
  ASSERT_TRUE(s3.has_value());
  EXPECT_EQ(s3->node_id(), "n2");
  EXPECT_EQ(s3->matched_by(), "uuid");
  EXPECT_EQ(*repo_->LastObserved("S4", ""), std::nullopt);
  EXPECT_EQ(*repo_->LastObserved("", ""), std::nullopt) << "empty serials never match";
}

TEST_P(InventoryTest, EveryPageInByteOrderNoRowTwiceNoneMissed) {
  // Racks, nodes and serials whose byte order differs from a case-insensitive or locale order.
  const std::vector<std::string> racks = {"R1", "r1", "R10", "R2", "_x", "a", "Z", "\xc3\xa9"};
  const std::vector<std::string> nodes = {"N-1", "n-1", "N-10", "N-2"};
  std::vector<DeclaredAccelerator> rows;
  using Key = std::tuple<std::string, std::string, std::string>;
  std::vector<Key> want;
  std::vector<Key> want_r1;
  for (int i = 0; i < 320; ++i) {
    const std::string& rack = racks[i % racks.size()];
    const std::string& node = nodes[(i / 3) % nodes.size()];
    const std::string serial = absl::StrCat(i % 2 == 0 ? "S" : "s", i);
    rows.push_back(Row(serial, node, "dc0", rack));
    want.emplace_back(rack, node, serial);
    if (rack == "R1") want_r1.emplace_back(rack, node, serial);
  }
  rows.push_back(Row("OTHER-1", "N-1", "dc1", "R1"));  // another data centre: never paged here
  ASSERT_TRUE(repo_->Import(Import(rows, 1000)).ok());
  std::sort(want.begin(), want.end());
  std::sort(want_r1.begin(), want_r1.end());

  auto keys = [](const std::vector<InventoryEntry>& entries) {
    std::vector<Key> out;
    for (const auto& e : entries) {
      out.emplace_back(e.declared().rack(), e.declared().node_id(), e.declared().serial());
    }
    return out;
  };
  int pages = 0;
  EXPECT_EQ(keys(WalkPages("dc0", "", 7, &pages)), want);
  EXPECT_EQ(pages, 46);  // 320 rows, 7 a page
  EXPECT_EQ(keys(WalkPages("dc0", "", 320, &pages)), want);
  EXPECT_EQ(pages, 1) << "exactly one page: no empty page after it";
  EXPECT_EQ(keys(WalkPages("dc0", "R1", 3, &pages)), want_r1);
  EXPECT_EQ(keys(WalkPages("dc1", "", 5, &pages)).size(), 1u);
  EXPECT_THAT(keys(WalkPages("nowhere", "", 5, &pages)), IsEmpty());

  // The entries of a page are the full rows, as List has them.
  auto first = repo_->Page("dc0", "", {}, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->entries.size(), 1u);
  auto listed = repo_->Get(first->entries[0].declared().serial());
  ASSERT_TRUE(listed.ok() && listed->has_value());
  EXPECT_EQ(first->entries[0].SerializeAsString(), (*listed)->SerializeAsString());
  ASSERT_TRUE(first->next.has_value());
  EXPECT_EQ(first->next->serial, first->entries[0].declared().serial());

  for (const std::string& bad : std::vector<std::string>{"zz", "abc", "",
                                                         absl::BytesToHexString("a\x1f"
                                                                                "b")}) {
    auto token = DecodePageToken(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(token.status())) << bad;
    EXPECT_THAT(std::string(token.status().message()), HasSubstr("page_token")) << bad;
  }
}

TEST_P(InventoryTest, NodeHardwareWithItsChanges) {
  PlantNode("n1", "fra1");
  PlantNode("n2", "fra1");
  provenance::v1::NodeHardware hw;
  hw.set_system_uuid("su-2");
  hw.set_board_serial("BS-1");
  hw.set_product_name("PowerEdge XE9680");
  ASSERT_TRUE(RawExec(absl::StrCat("INSERT INTO node_hardware(node, system_uuid, board_serial, "
                                   "hardware, since_us, since_boot_id) VALUES ((SELECT id FROM "
                                   "nodes WHERE node_id = 'n1'), 'su-2', 'BS-1', ",
                                   Blob(hw.SerializeAsString()), ", 5000000, 'boot-2')"))
                  .ok());
  for (const std::string values : {"'board_serial', 'BS-0', 'BS-1', 3000000, 'boot-1', 0",
                                   "'system_uuid', 'su-1', 'su-2', 5000000, 'boot-2', 4000000"}) {
    ASSERT_TRUE(RawExec(absl::StrCat("INSERT INTO node_hardware_changes(node, field, old_value, "
                                     "new_value, changed_at_us, boot_id, previous_seen_us) "
                                     "VALUES ((SELECT id FROM nodes WHERE node_id = 'n1'), ",
                                     values, ")"))
                    .ok());
  }

  auto with = repo_->NodeHardware("n1", /*with_changes=*/true);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(with->hardware().product_name(), "PowerEdge XE9680");
  EXPECT_EQ(with->hardware().system_uuid(), "su-2");
  EXPECT_EQ(with->since().seconds(), 5);
  EXPECT_EQ(with->since_boot_id(), "boot-2");
  EXPECT_EQ(with->changes_total(), 2u);
  ASSERT_EQ(with->changes_size(), 2);
  EXPECT_EQ(with->changes(0).field(), "system_uuid") << "newest first";
  EXPECT_EQ(with->changes(0).old_value(), "su-1");
  EXPECT_EQ(with->changes(0).new_value(), "su-2");
  EXPECT_EQ(with->changes(0).changed_at().seconds(), 5);
  EXPECT_EQ(with->changes(0).boot_id(), "boot-2");
  EXPECT_EQ(with->changes(0).previous_seen().seconds(), 4);
  EXPECT_EQ(with->changes(1).field(), "board_serial");
  EXPECT_FALSE(with->changes(1).has_previous_seen()) << "0: never seen before";

  auto without = repo_->NodeHardware("n1", /*with_changes=*/false);
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(without->changes_total(), 2u);
  EXPECT_EQ(without->changes_size(), 0);
  EXPECT_EQ(without->hardware().board_serial(), "BS-1");

  auto bare = repo_->NodeHardware("n2", true);
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_FALSE(bare->has_hardware()) << "a node without a hardware row";
  EXPECT_EQ(bare->changes_total(), 0u);
  auto unknown = repo_->NodeHardware("nobody", true);
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_FALSE(unknown->has_hardware());
}

// InventoryServiceImpl over the engine's repository, called through a real gRPC server.
TEST_P(InventoryTest, TheInventoryServiceOverEitherEngine) {
  std::unique_ptr<InventoryRepository> repo = Open();
  ASSERT_NE(repo, nullptr);
  FakeClock clock(absl::FromUnixSeconds(5000));
  std::unique_ptr<InventoryServiceImpl> service =
      InventoryServiceImpl::Create(std::move(repo), clock, InventoryServiceOptions{});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = provenance::v1::InventoryService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  PlantNode("n2", "fra1");
  PlantAccelerator("n2", "0000:01:00.0", "SN-1", "", 100);
  provenance::v1::ImportInventoryRequest import;
  import.set_source_name("netbox.csv");
  import.set_content(
      "serial,node_id,datacenter,rack,status\n"
      "SN-1,n1,fra1,r1,in_service\nSN-2,n1,fra1,r1,spare\nSN-3,n3,fra1,r2,\n"
      "SN-4,n3,fra1,r2,broken\n");
  provenance::v1::ImportInventoryResponse imported;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub->ImportInventory(&ctx, import, &imported);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(imported.inventory_version(), 1);
  EXPECT_EQ(imported.accepted(), 3u);
  EXPECT_EQ(imported.added(), 3u);
  ASSERT_EQ(imported.errors_size(), 1);
  EXPECT_THAT(imported.errors(0), HasSubstr("line 5"));
  auto entries = AuditEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_THAT(entries[0].payload, HasSubstr(R"("rows_refused":"1")"));
  EXPECT_EQ(entries[0].time_unix_micros, 5000 * 1000000LL);

  provenance::v1::GetInventoryRequest get;
  get.set_serial("SN-1");
  provenance::v1::GetInventoryResponse got;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub->GetInventory(&ctx, get, &got);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(got.current().version(), 1);
  EXPECT_EQ(got.history_size(), 1);
  EXPECT_EQ(got.last_observed().node_id(), "n2");
  EXPECT_THAT(got.differences(), ElementsAre("node_id: declared n1, observed on n2"));

  std::vector<std::string> serials;
  provenance::v1::InventoryViewRequest view;
  view.set_datacenter("fra1");
  view.set_page_size(2);
  for (int pages = 0; pages < 10; ++pages) {
    grpc::ClientContext ctx;
    provenance::v1::InventoryViewResponse page;
    grpc::Status s = stub->GetInventoryView(&ctx, view, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(page.places_size(), 2);
    EXPECT_EQ(page.places(0).observed_elsewhere(), 1u);
    EXPECT_EQ(page.observed_accelerators(), 1u);
    for (const auto& row : page.rows()) serials.push_back(row.entry().declared().serial());
    if (page.next_page_token().empty()) break;
    view.set_page_token(page.next_page_token());
  }
  EXPECT_THAT(serials, ElementsAre("SN-1", "SN-2", "SN-3"));
  view.set_page_token("not-a-token");
  grpc::ClientContext ctx;
  provenance::v1::InventoryViewResponse refused;
  grpc::Status s = stub->GetInventoryView(&ctx, view, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
  server->Shutdown();
}

PROV_STORE_TEST_P(InventoryTest);

class PgInventoryTest : public InventoryTest {};

TEST_P(PgInventoryTest, TwoSessionsImportingAtOnceGetConsecutiveVersions) {
  std::unique_ptr<InventoryRepository> other = Open();
  ASSERT_NE(other, nullptr);
  constexpr int kEach = 15;
  std::vector<int64_t> versions[2];
  std::vector<absl::Status> failures[2];
  auto run = [](InventoryRepository* repo, const std::string& who, std::vector<int64_t>* got,
                std::vector<absl::Status>* failed) {
    for (int i = 0; i < kEach; ++i) {
      std::vector<DeclaredAccelerator> rows;
      rows.push_back(Row("SHARED", absl::StrCat(who, "-", i), "fra1", "r1"));
      for (int k = 0; k < 5; ++k) rows.push_back(Row(absl::StrCat(who, "-", k), who, "fra1", "r1"));
      auto s = repo->Import(Import(rows, 1000 + i, who));
      if (s.ok()) {
        got->push_back(s->version);
      } else {
        failed->push_back(s.status());
      }
    }
  };
  std::thread a(run, repo_.get(), "alice", &versions[0], &failures[0]);
  std::thread b(run, other.get(), "bob", &versions[1], &failures[1]);
  a.join();
  b.join();
  EXPECT_THAT(failures[0], IsEmpty());
  EXPECT_THAT(failures[1], IsEmpty());
  std::vector<int64_t> all = versions[0];
  all.insert(all.end(), versions[1].begin(), versions[1].end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want;
  for (int v = 1; v <= 2 * kEach; ++v) want.push_back(v);
  EXPECT_EQ(all, want);
  EXPECT_EQ(*repo_->LatestVersion(), 2 * kEach);
  EXPECT_EQ(repo_->History("SHARED")->size(), 2u * kEach);
  // Each import compared its rows with the other's committed ones: SHARED changed every time.
  EXPECT_EQ((*repo_->Get("SHARED"))->version(), 2 * kEach);
  auto v = log_->Verify(std::nullopt);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->intact());
  EXPECT_EQ(v->entries, 2u * kEach);
}

TEST_P(PgInventoryTest, TheRepositoryReconnectsAfterTheServerDroppedItsSession) {
  ASSERT_TRUE(repo_->Import(Import({Row("SN-1", "n1", "fra1", "r1")}, 1000)).ok());
  auto conn =
      PgConn::Connect(pg_conninfo(), {.application_name = "prov-test", .search_path = kPgSchema});
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto n = prov::testing::TerminateBackends(**conn, "application_name = 'provd/inventory'");
  ASSERT_TRUE(n.ok() && *n == 1);
  auto got = repo_->List({});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(Serials(*got), ElementsAre("SN-1"));
  n = prov::testing::TerminateBackends(**conn, "application_name = 'provd/inventory'");
  ASSERT_TRUE(n.ok() && *n == 1);
  auto imported = repo_->Import(Import({Row("SN-2", "n1", "fra1", "r1")}, 2000));
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->version, 2);
  n = prov::testing::TerminateBackends(**conn, "application_name = 'provd/inventory'");
  ASSERT_TRUE(n.ok() && *n == 1);
  auto page = repo_->Page("fra1", "", {}, 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->entries.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Engines, PgInventoryTest,
                         ::testing::Values(prov::testing::Engine::kPostgres),
                         [](const auto& info) { return prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
