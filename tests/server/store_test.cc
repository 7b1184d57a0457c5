#include "server/store/store.h"

#include <sqlite3.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/sqlite.h"
#include "server/store/sqlite/sqlite_analysis_facts.h"
#include "server/store/store_reader.h"
#include "tests/server/commit_batch.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using testing::MakeReport;
using testing::TempDir;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);  // 22:13:20 UTC

std::vector<ReportToCommit> Batch(const std::vector<const NodeReport*>& reports) {
  return testing::CommitBatch(reports);
}

class StoreTest : public ::testing::Test {
 protected:
  std::string DbPath() const { return dir_.path() + "/provd.db"; }
  TempDir dir_;
};

TEST_F(StoreTest, OpenCreatesSchemaAtLatestVersion) {
  auto store = Store::Open(DbPath());
  ASSERT_TRUE(store.ok()) << store.status();
  auto db = SqliteDb::Open(DbPath(), SqliteDb::kReadOnly);
  ASSERT_TRUE(db.ok());
  auto version = ReadSchemaVersion(**db);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, LatestSchemaVersion());
  auto mode = (*db)->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*(*mode)->Step());
  EXPECT_EQ((*mode)->ColumnText(0), "wal");
}

TEST_F(StoreTest, RefusesANewerSchema) {
  { ASSERT_TRUE(Store::Open(DbPath()).ok()); }
  {
    auto db = SqliteDb::Open(DbPath(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("INSERT INTO schema_version(version) VALUES (999)").ok());
  }
  auto store = Store::Open(DbPath());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("schema version 999 is newer"), std::string::npos)
      << store.status();
}

// Issue 13: a file that is not provd's is refused before anything writes to it, byte for byte.
TEST_F(StoreTest, RefusesForeignAndNonSqliteFilesWithoutTouchingThem) {
  auto read_all = [](const std::string& path) {
    std::string out;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
  };
  auto write_all = [](const std::string& path, const std::string& bytes) {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  };
  // Random bytes.
  std::string garbage;
  for (int i = 0; i < 64 * 1024; ++i) garbage.push_back(static_cast<char>((i * 7919) % 251));
  write_all(DbPath(), garbage);
  auto store = Store::Open(DbPath());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("not a SQLite database"), std::string::npos)
      << store.status();
  EXPECT_NE(store.status().message().find(DbPath()), std::string::npos);
  EXPECT_EQ(read_all(DbPath()), garbage);
  std::remove(DbPath().c_str());

  // Another program's database: its own tables, no schema_version.
  {
    auto db = SqliteDb::Open(DbPath(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(
        (*db)->Exec("CREATE TABLE invoices(id INTEGER); INSERT INTO invoices VALUES (1)").ok());
  }
  std::string before = read_all(DbPath());
  store = Store::Open(DbPath());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("did not create (tables invoices"), std::string::npos)
      << store.status();
  EXPECT_EQ(read_all(DbPath()), before);

  // Another program's, marked with its own application_id.
  {
    auto db = SqliteDb::Open(DbPath(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA application_id=1234").ok());
  }
  before = read_all(DbPath());
  store = Store::Open(DbPath());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("application_id 0x000004d2"), std::string::npos)
      << store.status();
  EXPECT_EQ(read_all(DbPath()), before);
}

TEST_F(StoreTest, MarksItsDatabaseAndReopensIt) {
  { ASSERT_TRUE(Store::Open(DbPath()).ok()); }
  {
    auto db = SqliteDb::Open(DbPath(), SqliteDb::kReadOnly);
    ASSERT_TRUE(db.ok());
    auto id = (*db)->Prepare("PRAGMA application_id");
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(*(*id)->Step());
    EXPECT_EQ((*id)->ColumnInt64(0), kProvdApplicationId);
  }
  // A store from before application_id (0, with schema_version) is still provd's.
  {
    auto db = SqliteDb::Open(DbPath(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA application_id=0").ok());
  }
  auto store = Store::Open(DbPath());
  EXPECT_TRUE(store.ok()) << store.status();
}

TEST_F(StoreTest, DedupByHighWaterMark) {
  auto store = Store::Open(DbPath());
  ASSERT_TRUE(store.ok()) << store.status();
  NodeReport r1 = MakeReport("node-1", "boot-a", 1, kT0);
  NodeReport r2 = MakeReport("node-1", "boot-a", 2, kT0 + absl::Seconds(10));
  NodeReport other_boot = MakeReport("node-1", "boot-b", 1, kT0 + absl::Seconds(20));
  auto first = (*store)->Commit(Batch({&r1, &r2}), kT0 + absl::Seconds(10));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->stored, 2u);
  EXPECT_EQ(first->duplicates, 0u);
  EXPECT_EQ((first->high_water[{"node-1", "boot-a"}]), 2u);

  // Resending seq 1 and 2 (after a reconnect) stores nothing; a new boot starts over at 1.
  auto second = (*store)->Commit(Batch({&r1, &r2, &other_boot}), kT0 + absl::Seconds(20));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->stored, 1u);
  EXPECT_EQ(second->duplicates, 2u);
  EXPECT_EQ(second->duplicate, (std::vector<bool>{true, true, false}));
  EXPECT_EQ((second->high_water[{"node-1", "boot-a"}]), 2u);
  EXPECT_EQ((second->high_water[{"node-1", "boot-b"}]), 1u);

  // A duplicate inside one batch is caught too.
  NodeReport r3 = MakeReport("node-1", "boot-a", 3, kT0 + absl::Seconds(30));
  auto third = (*store)->Commit(Batch({&r3, &r3}), kT0 + absl::Seconds(30));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->stored, 1u);
  EXPECT_EQ(third->duplicates, 1u);

  auto reader = StoreReader::Open(DbPath());
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(*(*reader)->CountReports(), 4);
  auto workloads = (*reader)->ListWorkloads({});
  ASSERT_TRUE(workloads.ok()) << workloads.status();
  ASSERT_EQ(workloads->size(), 1u);
  // 2 accelerators x (10 s + 10 s for boot-a's first two, 10 s for boot-b's first); duplicates add
  // nothing, and boot-a's seq 3 after boot-b started is credited nothing: the node's time since
  // boot-b's start is boot-b's (server/ledger/credit.h).
  EXPECT_DOUBLE_EQ((*workloads)[0].accelerator_hours(), 60.0 / 3600);
}

// Issue 14: seq 2^63 on a node's boot moved the high-water mark there, and the node's next genuine
// reports were acked as duplicates without being stored.
TEST_F(StoreTest, ImplausibleSeqJumpIsRefusedAndLeavesTheMarkAlone) {
  auto store = Store::Open(DbPath(), {.max_seq_jump = 100});
  ASSERT_TRUE(store.ok()) << store.status();
  NodeReport r1 = MakeReport("node-1", "boot-a", 1, kT0);
  NodeReport forged = MakeReport("node-1", "boot-a", uint64_t{1} << 62, kT0);
  NodeReport r2 = MakeReport("node-1", "boot-a", 2, kT0 + absl::Seconds(10));
  NodeReport far_first = MakeReport("node-2", "boot-x", 102, kT0);  // a new boot: from 0
  auto result = (*store)->Commit(Batch({&r1, &forged, &r2, &far_first}), kT0);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stored, 2u);
  EXPECT_EQ(result->duplicates, 0u) << "refused is not a duplicate";
  EXPECT_EQ(result->duplicate, (std::vector<bool>{false, true, false, true})) << "not stored";
  ASSERT_EQ(result->rejected.size(), 2u);
  EXPECT_EQ(result->rejected[0].first, 1u);
  EXPECT_EQ(result->rejected[0].second,
            "seq: 4611686018427387904 is 4611686018427387903 ahead of the highest stored seq 1 "
            "of this boot_id (at most 100 ahead is plausible; --max-seq-jump)");
  EXPECT_EQ(result->rejected[1].first, 3u);
  EXPECT_EQ((result->high_water[{"node-1", "boot-a"}]), 2u) << "the ack covers only stored seqs";
  EXPECT_EQ((result->high_water[{"node-2", "boot-x"}]), 0u);
  NodeReport r3 = MakeReport("node-1", "boot-a", 102, kT0 + absl::Seconds(20));
  auto next = (*store)->Commit(Batch({&r3}), kT0);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->stored, 1u) << "exactly max_seq_jump ahead is accepted";
}

TEST_F(StoreTest, RecordRejectionsUpdatesKnownNodesOnly) {
  auto store = Store::Open(DbPath());
  ASSERT_TRUE(store.ok());
  NodeReport r1 = MakeReport("node-1", "boot-a", 1, kT0);
  ASSERT_TRUE((*store)->Commit(Batch({&r1}), kT0).ok());
  const absl::Time t1 = kT0 + absl::Seconds(30);
  auto updated =
      (*store)->RecordRejections({{"node-1", 3, t1, t1 + absl::Seconds(5), "seq: too far"},
                                  {"node-unknown", 1, t1, t1, "frame: junk"}});
  ASSERT_TRUE(updated.ok()) << updated.status();
  ASSERT_EQ(updated->size(), 1u);
  EXPECT_EQ((*updated)[0].node_id, "node-1");
  EXPECT_EQ((*updated)[0].count, 3);
  EXPECT_EQ((*updated)[0].reports_rejected, 3);
  EXPECT_EQ((*updated)[0].rejecting_since, t1) << "the spell the analysis engine judges";
  EXPECT_EQ((*updated)[0].last_rejected, t1 + absl::Seconds(5));
  EXPECT_EQ((*updated)[0].last_rejection, "seq: too far");
  auto reader = StoreReader::Open(DbPath());
  ASSERT_TRUE(reader.ok());
  auto node = (*reader)->GetNode("node-1");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->node().reports_rejected(), 3u);
  EXPECT_EQ(node->node().last_rejection(), "seq: too far");
  EXPECT_EQ(node->node().last_rejected().seconds(), absl::ToUnixSeconds(t1) + 5);
  EXPECT_EQ(node->node().rejecting_since().seconds(), absl::ToUnixSeconds(t1));
  EXPECT_EQ(*(*reader)->CountRejectingNodes(t1), 1);
  EXPECT_EQ(*(*reader)->CountRejectingNodes(t1 + absl::Seconds(6)), 0) << "not heard since";
  EXPECT_FALSE((*reader)->GetNode("node-unknown").ok()) << "no record is made up";

  NodeReport r2 = MakeReport("node-1", "boot-a", 2, kT0 + absl::Seconds(40));
  ASSERT_TRUE((*store)->Commit(Batch({&r2}), t1 + absl::Seconds(10)).ok());
  node = (*reader)->GetNode("node-1");
  ASSERT_TRUE(node.ok());
  EXPECT_FALSE(node->node().has_rejecting_since()) << "a stored report ends the spell";
  EXPECT_EQ(node->node().reports_rejected(), 3u);
  // A rejection noted before the node's last stored batch does not start a spell.
  auto late = (*store)->RecordRejections({{"node-1", 1, t1, t1, "late note"}});
  ASSERT_TRUE(late.ok());
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ((*late)[0].rejecting_since, absl::InfinitePast()) << "no spell";
  node = (*reader)->GetNode("node-1");
  EXPECT_FALSE(node->node().has_rejecting_since());
  EXPECT_EQ(node->node().reports_rejected(), 4u);
  EXPECT_EQ(node->node().last_rejection(), "seq: too far") << "the newest one stays";
}

// Issue 14: what the agent lost or repaired is on the node's record, not dropped at ingest.
TEST_F(StoreTest, AgentHealthIsKeptOnTheNodesRecord) {
  auto store = Store::Open(DbPath());
  ASSERT_TRUE(store.ok());
  NodeReport r1 = MakeReport("node-1", "boot-a", 1, kT0);
  r1.mutable_health()->set_strings_repaired(2);
  r1.mutable_health()->set_unreadable_reports(1);
  NodeReport r2 = MakeReport("node-1", "boot-a", 2, kT0 + absl::Seconds(10));
  auto* h = r2.mutable_health();
  h->set_strings_repaired(3);
  h->set_strings_truncated(1);
  h->set_unreadable_reports(4);  // cumulative: the newest report's value counts
  h->set_dropped_reports(7);
  h->set_spool_depth(9);
  h->set_nvml_available(true);
  auto* e = h->add_collector_errors();
  e->set_collector("nvml");
  e->set_count(2);
  h->add_collector_errors()->set_collector("pci");  // count 0: one error
  ASSERT_TRUE((*store)->Commit(Batch({&r1}), kT0).ok());
  ASSERT_TRUE((*store)->Commit(Batch({&r2}), kT0 + absl::Seconds(10)).ok());
  // An older report arriving late (from the spool) adds its strings but not its counters.
  NodeReport old = MakeReport("node-1", "boot-0", 5, kT0 - absl::Seconds(50));
  old.mutable_health()->set_strings_repaired(10);
  old.mutable_health()->set_unreadable_reports(1);
  ASSERT_TRUE((*store)->Commit(Batch({&old}), kT0 + absl::Seconds(11)).ok());

  auto reader = StoreReader::Open(DbPath());
  ASSERT_TRUE(reader.ok());
  auto node = (*reader)->GetNode("node-1");
  ASSERT_TRUE(node.ok()) << node.status();
  const auto& got = node->node().agent_health();
  EXPECT_EQ(got.as_of().seconds(), absl::ToUnixSeconds(kT0 + absl::Seconds(10)));
  EXPECT_EQ(got.strings_repaired(), 15u);
  EXPECT_EQ(got.strings_truncated(), 1u);
  EXPECT_EQ(got.unreadable_reports(), 4u);
  EXPECT_EQ(got.dropped_reports(), 7u);
  EXPECT_EQ(got.spool_depth(), 9u);
  EXPECT_EQ(got.collector_errors(), 3u);
  EXPECT_TRUE(got.nvml_available());
  auto losses = (*reader)->SumAgentLosses();
  ASSERT_TRUE(losses.ok());
  EXPECT_EQ(losses->dropped, 7);
  EXPECT_EQ(losses->unreadable, 4);
}

TEST_F(StoreTest, ReopenKeepsDataAndDedupState) {
  NodeReport r1 = MakeReport("node-1", "boot-a", 1, kT0);
  {
    auto store = Store::Open(DbPath());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Commit(Batch({&r1}), kT0).ok());
  }
  auto store = Store::Open(DbPath());
  ASSERT_TRUE(store.ok()) << store.status();
  auto again = (*store)->Commit(Batch({&r1}), kT0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->duplicates, 1u) << "the high-water mark survives a restart";
  auto reader = StoreReader::Open(DbPath());
  ASSERT_TRUE(reader.ok());
  auto node = (*reader)->GetNode("node-1");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->node().hostname(), "node-1.example");
  EXPECT_EQ(node->node().reports_stored(), 1u);
  EXPECT_EQ(node->node().last_seq(), 1u);
  ASSERT_EQ(node->accelerators_size(), 2);
  EXPECT_EQ(node->accelerators(0).pci_address(), "0000:3b:00.0");
  EXPECT_EQ(node->accelerators(0).uuid(), "GPU-node-1-0000:3b:00.0");
}

TEST_F(StoreTest, InventoryNodesAndLedgerQueries) {
  auto store = Store::Open(DbPath());
  ASSERT_TRUE(store.ok());
  NodeReport a1 = MakeReport("node-a", "b", 1, kT0, "fra1");
  NodeReport a2 = MakeReport("node-a", "b", 2, kT0 + absl::Seconds(10), "fra1");
  a2.mutable_node()->set_hostname("renamed");
  NodeReport b1 = MakeReport("node-b", "b", 1, kT0 + absl::Hours(1), "ams2");
  b1.mutable_workloads(0)->mutable_attribution()->clear_account();
  b1.mutable_workloads(0)->set_workload_class(provenance::v1::WORKLOAD_CLASS_INFERENCE);
  // Out of order across batches: the older report must not overwrite the newer hostname.
  ASSERT_TRUE((*store)->Commit(Batch({&a2, &b1}), kT0).ok());
  NodeReport a_old_boot = MakeReport("node-a", "old-boot", 7, kT0 - absl::Seconds(100), "fra1");
  a_old_boot.mutable_node()->set_hostname("stale");
  ASSERT_TRUE((*store)->Commit(Batch({&a_old_boot}), kT0).ok());

  auto reader = StoreReader::Open(DbPath());
  ASSERT_TRUE(reader.ok());
  auto nodes = (*reader)->ListNodes({});
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].node_id(), "node-a");
  EXPECT_EQ((*nodes)[0].hostname(), "renamed");
  EXPECT_EQ((*nodes)[0].reports_stored(), 2u);
  EXPECT_EQ((*nodes)[0].first_seen().seconds(), absl::ToUnixSeconds(kT0 - absl::Seconds(100)));
  EXPECT_EQ((*nodes)[0].accelerator_count(), 2u);
  EXPECT_EQ((*nodes)[0].workload_count(), 1u);
  auto fra = (*reader)->ListNodes({.datacenter = "ams2"});
  ASSERT_TRUE(fra.ok());
  ASSERT_EQ(fra->size(), 1u);
  EXPECT_EQ((*fra)[0].node_id(), "node-b");
  EXPECT_EQ((*reader)->GetNode("nope").status().code(), absl::StatusCode::kNotFound);

  auto accelerators = (*reader)->CountAccelerators();
  ASSERT_TRUE(accelerators.ok());
  ASSERT_EQ(accelerators->size(), 1u);
  EXPECT_EQ((*accelerators)[0].vendor, "nvidia");
  EXPECT_EQ((*accelerators)[0].model, "H100 SXM5 80GB");
  EXPECT_EQ((*accelerators)[0].count, 4);

  auto acme = (*reader)->ListWorkloads({.account = "acme"});
  ASSERT_TRUE(acme.ok());
  ASSERT_EQ(acme->size(), 1u);
  EXPECT_EQ((*acme)[0].node_id(), "node-a");
  EXPECT_EQ((*acme)[0].class_reasons_size(), 1);
  // a2: 2 x 10 s; a_old_boot predates node-a's credited time (a boot first heard of late): 0 s.
  EXPECT_DOUBLE_EQ((*acme)[0].accelerator_hours(), 20.0 / 3600);
  EXPECT_GT((*acme)[0].flop().high(), (*acme)[0].flop().low());

  auto usage = (*reader)->GetAccountUsage({});
  ASSERT_TRUE(usage.ok()) << usage.status();
  ASSERT_EQ(usage->size(), 2u);
  EXPECT_EQ((*usage)[0].account(), kUnattributedAccount);
  EXPECT_DOUBLE_EQ((*usage)[0].inference_accelerator_hours(), 20.0 / 3600);
  EXPECT_EQ((*usage)[0].datacenters(0), "ams2");
  EXPECT_EQ((*usage)[1].account(), "acme");
  EXPECT_DOUBLE_EQ((*usage)[1].training_accelerator_hours(), 20.0 / 3600);
  EXPECT_EQ((*usage)[1].workloads(), 1u);
  EXPECT_EQ((*usage)[1].nodes(), 1u);
  // A window ending before node-b's hour leaves only acme's usage.
  auto window = (*reader)->GetAccountUsage({.until = kT0 + absl::Minutes(10)});
  ASSERT_TRUE(window.ok());
  ASSERT_EQ(window->size(), 1u);
  EXPECT_EQ((*window)[0].account(), "acme");
}

// One column of one row, read on a separate connection.
std::string QueryText(const std::string& db_path, const std::string& sql) {
  auto db = SqliteDb::Open(db_path, SqliteDb::kReadOnly);
  if (!db.ok()) return "open failed";
  auto st = (*db)->Prepare(sql);
  if (!st.ok()) return std::string(st.status().message());
  auto row = (*st)->Step();
  if (!row.ok() || !*row) return "no row";
  return (*st)->ColumnText(0);
}

TEST_F(StoreTest, WorkloadRowFollowsNewestReportAcrossBatches) {
  auto store = Store::Open(DbPath());
  ASSERT_TRUE(store.ok());
  const std::string row =
      "SELECT account || '|' || launcher || '|' || accelerator_seconds || '|' || "
      "first_seen_us || '|' || last_seen_us FROM workloads WHERE workload_id = 'k8s:pod-1'";
  const int64_t t0 = absl::ToUnixMicros(kT0);
  auto expect = [&](const std::string& account, const std::string& launcher, int seconds,
                    int64_t first_us, int64_t last_us) {
    return absl::StrCat(account, "|", launcher, "|", seconds, ".0|", first_us, "|", last_us);
  };
  NodeReport r1 = MakeReport("node-1", "boot-a", 1, kT0);
  ASSERT_TRUE((*store)->Commit(Batch({&r1}), kT0).ok());
  EXPECT_EQ(QueryText(DbPath(), row), expect("acme", "torchrun", 20, t0, t0));

  // Same descriptive columns: only the ledger and the times move.
  NodeReport r2 = MakeReport("node-1", "boot-a", 2, kT0 + absl::Seconds(10));
  ASSERT_TRUE((*store)->Commit(Batch({&r2}), kT0 + absl::Seconds(10)).ok());
  EXPECT_EQ(QueryText(DbPath(), row), expect("acme", "torchrun", 40, t0, t0 + 10'000'000));

  // The account changes in a newer report: the row follows it.
  NodeReport r3 = MakeReport("node-1", "boot-a", 3, kT0 + absl::Seconds(20));
  r3.mutable_workloads(0)->mutable_attribution()->set_account("beta");
  ASSERT_TRUE((*store)->Commit(Batch({&r3}), kT0 + absl::Seconds(20)).ok());
  EXPECT_EQ(QueryText(DbPath(), row), expect("beta", "torchrun", 60, t0, t0 + 20'000'000));

  // An older report (another boot, arriving late) changes neither the descriptions nor the
  // ledger (its time predates what the node was credited, server/ledger/credit.h); it moves
  // first_seen.
  NodeReport late = MakeReport("node-1", "boot-old", 9, kT0 - absl::Seconds(100));
  late.mutable_workloads(0)->mutable_attribution()->set_account("stale");
  late.mutable_workloads(0)->set_launcher("python");
  ASSERT_TRUE((*store)->Commit(Batch({&late}), kT0 + absl::Seconds(25)).ok());
  EXPECT_EQ(QueryText(DbPath(), row),
            expect("beta", "torchrun", 60, t0 - 100'000'000, t0 + 20'000'000));

  // Newer again with beta's descriptions, then a new store (cold caches) with a new launcher.
  NodeReport r4 = MakeReport("node-1", "boot-a", 4, kT0 + absl::Seconds(30));
  r4.mutable_workloads(0)->mutable_attribution()->set_account("beta");
  ASSERT_TRUE((*store)->Commit(Batch({&r4}), kT0 + absl::Seconds(30)).ok());
  EXPECT_EQ(QueryText(DbPath(), row),
            expect("beta", "torchrun", 80, t0 - 100'000'000, t0 + 30'000'000));
  store->reset();
  store = Store::Open(DbPath());
  ASSERT_TRUE(store.ok());
  NodeReport r5 = MakeReport("node-1", "boot-a", 5, kT0 + absl::Seconds(40));
  r5.mutable_workloads(0)->mutable_attribution()->set_account("beta");
  r5.mutable_workloads(0)->set_launcher("deepspeed");
  ASSERT_TRUE((*store)->Commit(Batch({&r5}), kT0 + absl::Seconds(40)).ok());
  EXPECT_EQ(QueryText(DbPath(), row),
            expect("beta", "deepspeed", 100, t0 - 100'000'000, t0 + 40'000'000));
}

TEST_F(StoreTest, FailedCommitStoresNothing) {
  auto store = Store::Open(DbPath());
  ASSERT_TRUE(store.ok());
  {
    auto db = SqliteDb::Open(DbPath(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("DROP TABLE account_usage_hourly").ok());
  }
  NodeReport r = MakeReport("node-1", "boot-a", 1, kT0);
  auto result = (*store)->Commit(Batch({&r}), kT0);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("account_usage_hourly"), std::string::npos)
      << result.status();
  auto reader = StoreReader::Open(DbPath());
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*(*reader)->CountReports(), 0);
  EXPECT_EQ(*(*reader)->CountNodes(), 0) << "the node row of the failed batch is rolled back";
}

// A full database (here SQLITE_FULL from max_page_count, as a full file system gives it) is
// RESOURCE_EXHAUSTED, whether the statement or the COMMIT hits it: the ingest writer counts it
// as reason="disk_full".
TEST(SqliteDbTest, AFullDatabaseIsResourceExhausted) {
  TempDir dir;
  auto db = SqliteDb::Open(dir.path() + "/full.db", SqliteDb::kReadWrite);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(b BLOB)").ok());
  ASSERT_TRUE((*db)->Exec("PRAGMA max_page_count = 8").ok());
  auto insert = (*db)->Prepare("INSERT INTO t(b) VALUES (?)");
  ASSERT_TRUE(insert.ok()) << insert.status();
  absl::Status status;
  for (int i = 0; i < 100 && status.ok(); ++i) {
    (*insert)->BindBlob(1, std::string(4096, 'x'));
    status = (*insert)->Run();
  }
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_NE(status.message().find("full"), std::string::npos) << status;
  const std::string big = "INSERT INTO t(b) VALUES (zeroblob(100000))";
  const absl::Status exec = (*db)->Exec(big);
  EXPECT_TRUE(absl::IsResourceExhausted(exec)) << exec;
}

// Every writer of provd.db checkpoints the WAL at the same length (kWalAutocheckpointPages): a
// small commit on the analysis facts' connection must not checkpoint the pages the ingest writer
// left in the WAL (SQLite checks the length on the connection that commits). A checkpoint copies
// the WAL's pages into the database file, so its size shows whether one ran.
TEST_F(StoreTest, EveryWriterCheckpointsAtTheSameWalLength) {
  { ASSERT_TRUE(Store::Open(DbPath()).ok()); }  // creates the schema
  auto ingest = OpenConnection(DbPath(), SqliteDb::kReadWrite);
  ASSERT_TRUE(ingest.ok()) << ingest.status();
  auto analysis = OpenSqliteAnalysisDb(DbPath());
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  ASSERT_TRUE((*ingest)->Exec("CREATE TABLE wal_probe(b BLOB)").ok());
  ASSERT_TRUE((*ingest)->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  const auto db_size = [&] { return std::filesystem::file_size(DbPath()); };
  const uintmax_t before = db_size();

  // About 2,000 pages: over SQLite's default of 1000, well under kWalAutocheckpointPages.
  static_assert(kWalAutocheckpointPages >= 4000);
  ASSERT_TRUE((*ingest)->Exec("INSERT INTO wal_probe(b) VALUES (zeroblob(8000000))").ok());
  EXPECT_EQ(db_size(), before) << "the ingest connection checkpointed under its threshold";
  ASSERT_TRUE((*analysis)->Exec("INSERT INTO wal_probe(b) VALUES (x'00')").ok());
  EXPECT_EQ(db_size(), before) << "the analysis connection checkpointed the ingest WAL";

  // The probe sees a checkpoint when one runs: a connection left at SQLite's default does one.
  auto plain = SqliteDb::Open(DbPath(), SqliteDb::kReadWrite);
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE((*plain)->Exec("INSERT INTO wal_probe(b) VALUES (x'01')").ok());
  EXPECT_GT(db_size(), before + 4'000'000);
}

}  // namespace
}  // namespace prov::server
