#include "agent/uplink/spool.h"

#include <unistd.h>

#include <fstream>

#include "gtest/gtest.h"
#include "tests/uplink/faulty_store.h"
#include "tests/uplink/test_util.h"

namespace prov::agent {
namespace {

using prov::testing::TempDir;
using provenance::v1::NodeReport;

NodeReport MakeReport(const std::string& boot_id, size_t padding = 0) {
  NodeReport r;
  r.mutable_node()->set_node_id("node-1");
  r.mutable_node()->set_boot_id(boot_id);
  r.mutable_node()->set_hostname(std::string(padding, 'h'));
  return r;
}

std::unique_ptr<ReportSpool> OpenSpool(const std::string& dir, SpoolLimits limits = {}) {
  auto store = FileSpoolStore::Open(dir, /*fsync=*/false);
  EXPECT_TRUE(store.ok()) << store.status();
  auto spool = ReportSpool::Open(*std::move(store), limits);
  EXPECT_TRUE(spool.ok()) << spool.status();
  return spool.ok() ? *std::move(spool) : nullptr;
}

TEST(SpoolTest, SeqRisesPerBootAndSurvivesReopen) {
  TempDir dir;
  {
    auto spool = OpenSpool(dir.path());
    for (int i = 1; i <= 3; ++i) {
      NodeReport r = MakeReport("boot-a");
      ASSERT_TRUE(spool->Append(&r).ok());
      EXPECT_EQ(r.seq(), static_cast<uint64_t>(i));
    }
    EXPECT_EQ(spool->Ack("boot-a", 3).size(), 3u);
    EXPECT_EQ(spool->depth(), 0u);
  }
  auto spool = OpenSpool(dir.path());
  NodeReport r = MakeReport("boot-a");
  ASSERT_TRUE(spool->Append(&r).ok());
  EXPECT_EQ(r.seq(), 4u) << "seq must continue after a restart";
  NodeReport other = MakeReport("boot-b");
  ASSERT_TRUE(spool->Append(&other).ok());
  EXPECT_EQ(other.seq(), 1u) << "a new boot_id restarts seq";
}

TEST(SpoolTest, UnackedReportsReloadInOrderAndAckIsPerBoot) {
  TempDir dir;
  {
    auto spool = OpenSpool(dir.path());
    for (const char* boot : {"boot-a", "boot-a", "boot-b"}) {
      NodeReport r = MakeReport(boot);
      ASSERT_TRUE(spool->Append(&r).ok());
    }
  }
  auto spool = OpenSpool(dir.path());
  ASSERT_EQ(spool->depth(), 3u);
  std::vector<std::pair<std::string, uint64_t>> order;
  for (const auto& [id, e] : spool->entries()) order.emplace_back(e.boot_id, e.seq);
  EXPECT_EQ(order, (std::vector<std::pair<std::string, uint64_t>>{
                       {"boot-a", 1}, {"boot-a", 2}, {"boot-b", 1}}));
  EXPECT_EQ(spool->Ack("boot-b", 5).size(), 1u);  // does not touch boot-a's reports
  EXPECT_EQ(spool->depth(), 2u);
  auto loaded = spool->Load(spool->entries().begin()->first);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->seq(), 1u);
  EXPECT_EQ(loaded->node().boot_id(), "boot-a");
}

TEST(SpoolTest, CountBoundDropsOldestAndReportsCarryCounters) {
  TempDir dir;
  auto spool = OpenSpool(dir.path(), {.max_reports = 3, .max_bytes = 1 << 20});
  NodeReport last;
  for (int i = 0; i < 5; ++i) {
    last = MakeReport("boot-a");
    ASSERT_TRUE(spool->Append(&last).ok());
  }
  EXPECT_EQ(spool->depth(), 3u);
  EXPECT_EQ(spool->dropped(), 2u);
  EXPECT_EQ(spool->entries().begin()->second.seq, 3u) << "the oldest are dropped first";
  EXPECT_EQ(last.health().dropped_reports(), 2u);
  EXPECT_EQ(last.health().spool_depth(), 3u);
  EXPECT_EQ(prov::testing::CountFiles(dir.path(), "report-"), 3u);
}

TEST(SpoolTest, ByteBoundDropsOldestAndOversizedReportIsRefused) {
  TempDir dir;
  auto spool = OpenSpool(dir.path(), {.max_reports = 100, .max_bytes = 3000});
  for (int i = 0; i < 4; ++i) {
    NodeReport r = MakeReport("boot-a", 1000);
    ASSERT_TRUE(spool->Append(&r).ok());
  }
  EXPECT_LE(spool->bytes(), 3000u);
  EXPECT_EQ(spool->depth(), 2u);
  EXPECT_EQ(spool->dropped(), 2u);
  NodeReport huge = MakeReport("boot-a", 5000);
  auto appended = spool->Append(&huge);
  EXPECT_EQ(appended.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(spool->depth(), 2u);
}

TEST(SpoolTest, RejectDeletesAndCountsPersistently) {
  TempDir dir;
  {
    auto spool = OpenSpool(dir.path());
    NodeReport r = MakeReport("boot-a");
    ASSERT_TRUE(spool->Append(&r).ok());
    EXPECT_NE(spool->Reject("boot-a", 1), 0u);
    EXPECT_EQ(spool->Reject("boot-a", 99), 0u);  // unknown seq: counted, nothing deleted
    EXPECT_EQ(spool->depth(), 0u);
  }
  EXPECT_EQ(OpenSpool(dir.path())->rejected(), 2u);
}

TEST(SpoolTest, CorruptEntryIsDroppedOnRecovery) {
  TempDir dir;
  {
    auto spool = OpenSpool(dir.path());
    for (int i = 0; i < 2; ++i) {
      NodeReport r = MakeReport("boot-a");
      ASSERT_TRUE(spool->Append(&r).ok());
    }
  }
  std::ofstream(dir.path() + "/" + FileSpoolStore::FileName(1)) << "\xff\xff not a proto";
  std::ofstream(dir.path() + "/" + FileSpoolStore::FileName(7) + ".tmp.123") << "partial";
  auto spool = OpenSpool(dir.path());
  EXPECT_EQ(spool->depth(), 1u);
  EXPECT_EQ(spool->unreadable(), 1u);
  EXPECT_EQ(spool->dropped(), 0u) << "dropped_reports counts only spool-full drops";
  EXPECT_EQ(prov::testing::CountFiles(dir.path(), "report-"), 1u) << "tmp leftovers are removed";
  NodeReport next = MakeReport("boot-a");
  ASSERT_TRUE(spool->Append(&next).ok());
  EXPECT_EQ(next.health().unreadable_reports(), 1u) << "the loss is said in the next report";
}

// Issue 14: a tenant-controlled string with invalid UTF-8 made the stored bytes unparseable, so
// the report was dropped at send time. Append repairs it; the report loads and is counted.
TEST(SpoolTest, InvalidUtf8IsRepairedSoTheReportLoadsBack) {
  TempDir dir;
  auto spool = OpenSpool(dir.path());
  NodeReport r = MakeReport("boot-a");
  r.add_workloads()->mutable_distributed()->set_master_addr("10.20.0.\xff\xfe");
  auto appended = spool->Append(&r);
  ASSERT_TRUE(appended.ok()) << appended.status();
  auto loaded = spool->Load(appended->id);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->workloads(0).distributed().master_addr(), "10.20.0.\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(loaded->health().strings_repaired(), 1u);
  EXPECT_EQ(spool->unreadable(), 0u);
  EXPECT_EQ(spool->depth(), 1u);
}

TEST(SpoolTest, EntryUnreadableAtSendIsCountedPersistentlyAndReported) {
  TempDir dir;
  {
    auto spool = OpenSpool(dir.path());
    uint64_t first = 0;
    for (int i = 0; i < 3; ++i) {
      NodeReport r = MakeReport("boot-a");
      auto appended = spool->Append(&r);
      ASSERT_TRUE(appended.ok());
      if (i == 0) first = appended->id;
    }
    std::ofstream(dir.path() + "/" + FileSpoolStore::FileName(first)) << "\xff\xff garbage";
    auto loaded = spool->Load(first);
    ASSERT_FALSE(loaded.ok());
    EXPECT_NE(loaded.status().message().find("unreadable"), absl::string_view::npos)
        << loaded.status();
    EXPECT_EQ(spool->unreadable(), 1u);
    EXPECT_EQ(spool->depth(), 2u);
  }
  auto spool = OpenSpool(dir.path());  // the count survives a restart
  EXPECT_EQ(spool->unreadable(), 1u);
  NodeReport next = MakeReport("boot-a");
  ASSERT_TRUE(spool->Append(&next).ok());
  EXPECT_EQ(next.health().unreadable_reports(), 1u);
  EXPECT_EQ(next.seq(), 4u);
}

TEST(SpoolTest, CorruptStateFailsOpenWithClearError) {
  TempDir dir;
  std::ofstream(dir.path() + "/state") << "boot_id b\nlast_seq twelve\n";
  auto store = FileSpoolStore::Open(dir.path(), false);
  ASSERT_TRUE(store.ok());
  auto spool = ReportSpool::Open(*std::move(store), {});
  ASSERT_FALSE(spool.ok());
  EXPECT_NE(spool.status().message().find("last_seq"), std::string::npos) << spool.status();
}

TEST(SpoolTest, WriteFailureConsumesNoSeq) {
  TempDir dir;
  auto faulty = std::make_unique<prov::testing::FaultyStore>(dir.path());
  auto* faults = faulty.get();
  auto spool = ReportSpool::Open(std::move(faulty), {});
  ASSERT_TRUE(spool.ok());
  faults->fail_writes = true;
  NodeReport r = MakeReport("boot-a");
  EXPECT_EQ((*spool)->Append(&r).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ((*spool)->depth(), 0u);
  faults->fail_writes = false;
  ASSERT_TRUE((*spool)->Append(&r).ok());
  EXPECT_EQ(r.seq(), 1u);
}

TEST(SpoolTest, SeqSurvivesWhenStateCannotBeSavedOnAck) {
  TempDir dir;
  {
    auto faulty = std::make_unique<prov::testing::FaultyStore>(dir.path());
    auto* faults = faulty.get();
    auto spool = ReportSpool::Open(std::move(faulty), {});
    ASSERT_TRUE(spool.ok());
    for (int i = 0; i < 2; ++i) {
      NodeReport r = MakeReport("boot-a");
      ASSERT_TRUE((*spool)->Append(&r).ok());
    }
    faults->fail_state = true;
    EXPECT_EQ((*spool)->Ack("boot-a", 2).size(), 2u);
    EXPECT_EQ((*spool)->depth(), 0u);
    EXPECT_EQ(prov::testing::CountFiles(dir.path(), "report-"), 1u)
        << "the file holding the last seq stays when the state cannot be written";
  }
  auto spool = OpenSpool(dir.path());
  EXPECT_EQ(spool->depth(), 1u) << "resent once after the restart";
  NodeReport r = MakeReport("boot-a");
  ASSERT_TRUE(spool->Append(&r).ok());
  EXPECT_EQ(r.seq(), 3u);
}

TEST(SpoolTest, NewestReportFileDecidesSeqWithoutState) {
  TempDir dir;
  {
    auto spool = OpenSpool(dir.path());
    for (const char* boot : {"boot-a", "boot-b", "boot-b"}) {
      NodeReport r = MakeReport(boot);
      ASSERT_TRUE(spool->Append(&r).ok());
    }
  }
  ASSERT_EQ(::unlink((dir.path() + "/state").c_str()), 0);  // crash before any state write
  auto spool = OpenSpool(dir.path());
  NodeReport r = MakeReport("boot-b");
  ASSERT_TRUE(spool->Append(&r).ok());
  EXPECT_EQ(r.seq(), 3u);
}

}  // namespace
}  // namespace prov::agent
