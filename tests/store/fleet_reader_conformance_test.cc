// The fleet reads (server/store/repo/fleet_reader.h) answer the same on both engines: the same
// batches of reports committed through each engine's IngestRepository (the SQLite Store,
// PgIngestRepository), the same rejections and the same flags (through each engine's analysis
// facts repository), then every FleetReader query, with its filters, limits and series buckets,
// asked of StoreReader and of PgFleetReader; and an empty fleet. PostgreSQL only: a terminated
// session is replaced, and a pool of two serves eight threads.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_analysis_facts.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_fleet_reader.h"
#include "server/store/pg/pg_ingest.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/fleet_reader.h"
#include "server/store/sqlite/sqlite_analysis_facts.h"
#include "server/store/store.h"
#include "server/store/store_reader.h"
#include "tests/server/commit_batch.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"
#include "tests/store/pg_server.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using ::testing::HasSubstr;
using testing::MakeReport;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);  // 22:13:20 UTC
constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();

bool Same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  // Sums of doubles may round differently in another summation order.
  return google::protobuf::util::MessageDifferencer::ApproximatelyEquals(a, b);
}

template <typename T>
std::string Describe(const T& v) {
  if constexpr (std::is_base_of_v<google::protobuf::Message, T>) {
    return v.ShortDebugString();
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return absl::StrCat(v);
  } else if constexpr (std::is_same_v<T, AcceleratorCount>) {
    return absl::StrCat(v.vendor, "/", v.model, "=", v.count);
  } else if constexpr (std::is_same_v<T, DatacenterNodeCount>) {
    return absl::StrCat(v.datacenter, ":", v.reporting, "+", v.silent);
  } else {
    return absl::StrCat(v.dropped, "/", v.unreadable);
  }
}

template <typename T>
bool SameValue(const T& a, const T& b) {
  if constexpr (std::is_base_of_v<google::protobuf::Message, T>) {
    return Same(a, b);
  } else {
    return Describe(a) == Describe(b);
  }
}

// Both answers are the same (errors by code); returns the SQLite one's size for vectors, 1 for
// a single value, -1 for an error.
template <typename T>
int64_t ExpectSame(const absl::StatusOr<T>& a, const absl::StatusOr<T>& b,
                   const std::string& what) {
  EXPECT_EQ(a.status().code(), b.status().code())
      << what << ": sqlite " << a.status() << " postgres " << b.status();
  if (!a.ok() || !b.ok()) return -1;
  if constexpr (requires { a->size(); }) {
    EXPECT_EQ(a->size(), b->size()) << what;
    if (a->size() != b->size()) return static_cast<int64_t>(a->size());
    for (size_t i = 0; i < a->size(); ++i) {
      EXPECT_TRUE(SameValue((*a)[i], (*b)[i]))
          << what << " [" << i << "]\n sqlite:   " << Describe((*a)[i])
          << "\n postgres: " << Describe((*b)[i]);
    }
    return static_cast<int64_t>(a->size());
  } else {
    EXPECT_TRUE(SameValue(*a, *b))
        << what << "\n sqlite:   " << Describe(*a) << "\n postgres: " << Describe(*b);
    return 1;
  }
}

NodeReport At(const std::string& node, const std::string& boot, uint64_t seq, int64_t at_s,
              const std::string& datacenter = "fra1") {
  return MakeReport(node, boot, seq, kT0 + absl::Seconds(at_s), datacenter);
}

// The fleet: node-a (fra1) two boots with a silence between them (an evidence gap) and a board
// serial change; node-b (fra1, another region) later, rejected reports after its last stored
// one; node-c (ams1, AMD cards, account globex) reporting again 30 days later (a usage series
// spanning about 720 hours: 6-hour buckets); node-d (ams1) with two workloads, agent losses.
std::vector<std::vector<NodeReport>> Batches() {
  std::vector<std::vector<NodeReport>> out;
  NodeReport a1 = At("node-a", "boot-1", 1, 0);
  a1.mutable_node()->mutable_hardware()->set_system_uuid("uuid-a");
  a1.mutable_node()->mutable_hardware()->set_board_serial("board-1");
  NodeReport a2 = a1;
  a2.set_seq(2);
  a2.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 10);
  NodeReport b1 = At("node-b", "boot-b", 1, 3600);
  b1.mutable_node()->set_region("eu-west");
  b1.mutable_health()->set_dropped_reports(4);
  NodeReport c1 = At("node-c", "boot-c", 1, 5, "ams1");
  for (auto& a : *c1.mutable_accelerators()) {
    a.set_vendor_id(0x1002);
    a.set_device_id(0x74a1);
    a.set_vendor("amd");
    a.set_model("MI300X");
  }
  c1.mutable_workloads(0)->mutable_attribution()->set_account("globex");
  c1.mutable_samples(0)->clear_tensor_activity();
  NodeReport c2 = c1;
  c2.set_seq(2);
  c2.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 15);
  out.push_back({a1, a2, b1, c1, c2});

  NodeReport a3 = At("node-a", "boot-2", 1, 7200);  // reboot after a silence
  a3.mutable_node()->mutable_hardware()->set_system_uuid("uuid-a");
  a3.mutable_node()->mutable_hardware()->set_board_serial("board-2");
  NodeReport a4 = a3;
  a4.set_seq(2);
  a4.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 7210);
  NodeReport b2 = b1;
  b2.set_seq(2);
  b2.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 3610);
  NodeReport d1 = At("node-d", "boot-d", 1, 3605, "ams1");
  auto* w2 = d1.add_workloads();
  *w2 = d1.workloads(0);
  w2->set_workload_id("slurm:42");
  w2->mutable_attribution()->set_account("globex");
  w2->set_workload_class(provenance::v1::WORKLOAD_CLASS_INFERENCE);
  d1.mutable_health()->set_dropped_reports(1);
  d1.mutable_health()->set_unreadable_reports(2);
  NodeReport d2 = d1;
  d2.set_seq(2);
  d2.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 3615);
  out.push_back({a3, a4, b2, d1, d2});

  NodeReport c3 = c2;
  c3.set_seq(3);
  c3.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 30 * 86400);
  NodeReport c4 = c3;
  c4.set_seq(4);
  c4.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 30 * 86400 + 10);
  out.push_back({c3, c4});
  return out;
}

std::vector<const NodeReport*> Pointers(const std::vector<NodeReport>& reports) {
  std::vector<const NodeReport*> out;
  for (const NodeReport& r : reports) out.push_back(&r);
  return out;
}

provenance::v1::Flag Flag(const std::string& id, provenance::v1::Severity severity,
                          provenance::v1::FlagStatus status) {
  provenance::v1::Flag f;
  f.set_flag_id(id);
  f.set_rule("screening_hit");
  f.set_subject("account:" + id);
  f.set_severity(severity);
  f.set_status(status);
  return f;
}

class FleetReaderConformanceTest : public ::testing::Test {
 protected:
  // Fresh stores on both engines; `plant`: the fleet above committed to both.
  void Open(bool plant) {
    PROV_PG_SERVER_OR_SKIP(server);
    pg_ = server;
    auto conninfo = pg_->FreshDatabase();
    ASSERT_TRUE(conninfo.ok()) << conninfo.status();
    conninfo_ = *conninfo;
    path_ = dir_.path() + "/provd.db";
    auto sqlite = Store::Open(path_);
    ASSERT_TRUE(sqlite.ok()) << sqlite.status();
    auto postgres = PgIngestRepository::Open(conninfo_);
    ASSERT_TRUE(postgres.ok()) << postgres.status();
    if (plant) {
      const auto batches = Batches();
      for (size_t i = 0; i < batches.size(); ++i) {
        const absl::Time received =
            absl::FromUnixSeconds(batches[i].back().collected_at().seconds() + 2);
        std::vector<ReportToCommit> on_sqlite = testing::CommitBatch(Pointers(batches[i]));
        std::vector<ReportToCommit> on_pg = testing::CommitBatch(Pointers(batches[i]));
        auto a = (*sqlite)->Commit(on_sqlite, received);
        auto b = (*postgres)->Commit(on_pg, received);
        ASSERT_TRUE(a.ok()) << a.status();
        ASSERT_TRUE(b.ok()) << b.status();
        ASSERT_EQ(a->stored, batches[i].size());
        ASSERT_EQ(b->stored, batches[i].size());
      }
      const NodeRejections rejected{.node_id = "node-b",
                                    .count = 2,
                                    .first_at = kT0 + absl::Seconds(3700),
                                    .last_at = kT0 + absl::Seconds(3800),
                                    .last_reason = "accelerators[0].pci_address: empty"};
      ASSERT_TRUE((*sqlite)->RecordRejections({&rejected, 1}).ok());
      ASSERT_TRUE((*postgres)->RecordRejections({&rejected, 1}).ok());
      PlantFlags();
    }
    auto reader = StoreReader::Open(path_);
    ASSERT_TRUE(reader.ok()) << reader.status();
    sqlite_ = *std::move(reader);
    auto pg_reader = PgFleetReader::Open(conninfo_, 2);
    ASSERT_TRUE(pg_reader.ok()) << pg_reader.status();
    pg_reader_ = *std::move(pg_reader);
  }

  void PlantFlags() {
    const auto f1 = Flag("F-1", provenance::v1::SEVERITY_HIGH, provenance::v1::FLAG_STATUS_OPEN);
    const auto f2 = Flag("F-2", provenance::v1::SEVERITY_HIGH, provenance::v1::FLAG_STATUS_OPEN);
    const auto f3 = Flag("F-3", provenance::v1::SEVERITY_LOW, provenance::v1::FLAG_STATUS_RESOLVED);
    AnalysisFactsChanges c;
    c.flags = {{"F-1", &f1}, {"F-2", &f2}, {"F-3", &f3}};
    auto a = SqliteAnalysisFactsRepository::Open(path_);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE((*a)->Save(c).ok());
    auto b = PgAnalysisFactsRepository::Open(conninfo_);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE((*b)->Save(c).ok());
  }

  FleetReader& sqlite() { return *sqlite_; }
  FleetReader& pg() { return *pg_reader_; }

  server::testing::TempDir dir_;
  prov::testing::PgServer* pg_ = nullptr;
  std::string conninfo_, path_;
  std::unique_ptr<StoreReader> sqlite_;
  std::unique_ptr<PgFleetReader> pg_reader_;
};

TEST_F(FleetReaderConformanceTest, NodesAnswerTheSameWithFiltersAndLimits) {
  ASSERT_NO_FATAL_FAILURE(Open(true));
  if (IsSkipped()) return;
  EXPECT_EQ(ExpectSame(sqlite().ListNodes({}), pg().ListNodes({}), "all"), 4);
  EXPECT_EQ(ExpectSame(sqlite().ListNodes({.datacenter = "ams1"}),
                       pg().ListNodes({.datacenter = "ams1"}), "ams1"),
            2);
  EXPECT_EQ(ExpectSame(sqlite().ListNodes({.limit = 3}), pg().ListNodes({.limit = 3}), "3"), 3);
  EXPECT_EQ(ExpectSame(sqlite().ListNodes({.limit = 0}), pg().ListNodes({.limit = 0}), "0"), 0);
  EXPECT_EQ(ExpectSame(sqlite().ListNodes({.limit = kNoLimit}), pg().ListNodes({.limit = kNoLimit}),
                       "no limit"),
            4);
  EXPECT_EQ(ExpectSame(sqlite().ListNodes({.datacenter = "AMS1"}),
                       pg().ListNodes({.datacenter = "AMS1"}), "case"),
            0);
  // The planted state is there: node-a's gap, node-b's rejections, node-d's losses.
  auto nodes = pg().ListNodes({});
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  EXPECT_EQ((*nodes)[0].node_id(), "node-a");
  EXPECT_EQ((*nodes)[0].evidence_gaps(), 1);
  EXPECT_EQ((*nodes)[1].reports_rejected(), 2);
  EXPECT_TRUE((*nodes)[1].has_rejecting_since());
  EXPECT_EQ((*nodes)[3].agent_health().unreadable_reports(), 2);

  for (const char* id : {"node-a", "node-b", "node-c", "node-d"}) {
    EXPECT_EQ(ExpectSame(sqlite().GetNode(id), pg().GetNode(id), id), 1);
  }
  auto a = pg().GetNode("node-a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->node().hardware().hardware().board_serial(), "board-2");
  EXPECT_EQ(a->node().hardware().changes_total(), 1u);
  ASSERT_EQ(a->node().hardware().changes_size(), 1);
  EXPECT_EQ(a->node().hardware().changes(0).old_value(), "board-1");
  EXPECT_EQ(a->accelerators_size(), 2);
  EXPECT_EQ(a->evidence_gaps_size(), 1);
  auto missing = pg().GetNode("node-x");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_THAT(missing.status().message(), HasSubstr("node-x"));
  EXPECT_EQ(ExpectSame(sqlite().GetNode("node-x"), pg().GetNode("node-x"), "missing"), -1);
}

TEST_F(FleetReaderConformanceTest, WorkloadsAndUsageAnswerTheSame) {
  ASSERT_NO_FATAL_FAILURE(Open(true));
  if (IsSkipped()) return;
  EXPECT_EQ(ExpectSame(sqlite().ListWorkloads({}), pg().ListWorkloads({}), "all"), 5);
  EXPECT_EQ(ExpectSame(sqlite().ListWorkloads({.account = "globex"}),
                       pg().ListWorkloads({.account = "globex"}), "globex"),
            2);  // node-c's pod, node-d's slurm job
  EXPECT_EQ(ExpectSame(sqlite().ListWorkloads({.node_id = "node-d"}),
                       pg().ListWorkloads({.node_id = "node-d"}), "node-d"),
            2);
  EXPECT_EQ(ExpectSame(sqlite().ListWorkloads({.datacenter = "fra1"}),
                       pg().ListWorkloads({.datacenter = "fra1"}), "fra1"),
            2);
  EXPECT_EQ(ExpectSame(sqlite().ListWorkloads({.account = "globex", .limit = 1}),
                       pg().ListWorkloads({.account = "globex", .limit = 1}), "limit"),
            1);
  auto w = pg().ListWorkloads({.node_id = "node-a"});
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ((*w)[0].class_reasons_size(), 1);  // from workload_details
  EXPECT_GT((*w)[0].accelerator_hours(), 0);

  EXPECT_EQ(ExpectSame(sqlite().GetAccountUsage({}), pg().GetAccountUsage({}), "all"), 2);
  EXPECT_EQ(ExpectSame(sqlite().GetAccountUsage({.account = "acme"}),
                       pg().GetAccountUsage({.account = "acme"}), "acme"),
            1);
  const UsageQuery window{.since = kT0 + absl::Hours(1), .until = kT0 + absl::Hours(3)};
  EXPECT_EQ(ExpectSame(sqlite().GetAccountUsage(window), pg().GetAccountUsage(window), "window"),
            2);
  const UsageQuery later{.since = kT0 + absl::Hours(24 * 29)};
  EXPECT_EQ(ExpectSame(sqlite().GetAccountUsage(later), pg().GetAccountUsage(later), "later"), 1);
  auto usage = pg().GetAccountUsage({});
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ((*usage)[1].account(), "globex");
  EXPECT_EQ((*usage)[1].nodes(), 2);
  EXPECT_THAT((*usage)[1].datacenters(), ::testing::ElementsAre("ams1"));
  EXPECT_FALSE((*usage)[0].flop().method().empty());
}

TEST_F(FleetReaderConformanceTest, FleetAggregatesAndCountsAnswerTheSame) {
  ASSERT_NO_FATAL_FAILURE(Open(true));
  if (IsSkipped()) return;
  for (int64_t silent_s : {0, 3700, 7300, 31 * 86400}) {
    const absl::Time cut = kT0 + absl::Seconds(silent_s);
    EXPECT_EQ(ExpectSame(sqlite().FleetOverview(cut), pg().FleetOverview(cut),
                         absl::StrCat("overview ", silent_s)),
              1);
    EXPECT_EQ(ExpectSame(sqlite().CountNodesByDatacenter(cut), pg().CountNodesByDatacenter(cut),
                         absl::StrCat("by dc ", silent_s)),
              2);
    ExpectSame(sqlite().CountRejectingNodes(cut), pg().CountRejectingNodes(cut),
               absl::StrCat("rejecting ", silent_s));
  }
  auto overview = pg().FleetOverview(kT0 + absl::Seconds(3700));
  ASSERT_TRUE(overview.ok()) << overview.status();
  EXPECT_EQ(overview->nodes(), 4);
  EXPECT_EQ(overview->nodes_silent(), 2);  // node-b (3610), node-d (3615)
  EXPECT_EQ(overview->accelerators(), 8);
  EXPECT_EQ(overview->accelerator_groups_size(), 2);
  EXPECT_EQ(overview->datacenters(1).datacenter(), "fra1");
  EXPECT_EQ(overview->datacenters(1).region(), "eu-central");  // a tie: the first region read
  ASSERT_EQ(overview->flags_size(), 2);
  EXPECT_EQ(overview->flags(0).count(), 2);
  auto rejecting = pg().CountRejectingNodes(kT0 + absl::Seconds(3800));
  ASSERT_TRUE(rejecting.ok());
  EXPECT_EQ(*rejecting, 1);

  EXPECT_EQ(ExpectSame(sqlite().CountNodes(), pg().CountNodes(), "nodes"), 1);
  EXPECT_EQ(*pg().CountNodes(), 4);
  EXPECT_EQ(ExpectSame(sqlite().CountReports(), pg().CountReports(), "reports"), 1);
  EXPECT_EQ(*pg().CountReports(), 12);
  EXPECT_EQ(ExpectSame(sqlite().CountAccelerators(), pg().CountAccelerators(), "accel"), 2);
  EXPECT_EQ(ExpectSame(sqlite().SumAgentLosses(), pg().SumAgentLosses(), "losses"), 1);
  EXPECT_EQ(pg().SumAgentLosses()->dropped, 5);
}

TEST_F(FleetReaderConformanceTest, AcceleratorsAndSeriesAnswerTheSame) {
  ASSERT_NO_FATAL_FAILURE(Open(true));
  if (IsSkipped()) return;
  const std::vector<std::pair<std::string, AcceleratorQuery>> queries = {
      {"all", {}},
      {"nvidia", {.vendor_id = 0x10de}},
      {"mi300x", {.vendor_id = 0x1002, .device_id = 0x74a1}},
      {"device only", {.device_id = 0x2330}},
      {"ams1", {.datacenter = "ams1"}},
      {"node-b", {.node_id = "node-b"}},
      {"limit", {.limit = 3}},
      {"none", {.vendor_id = 0x8086}}};
  const std::vector<int64_t> sizes = {8, 6, 2, 6, 4, 2, 3, 0};
  for (size_t i = 0; i < queries.size(); ++i) {
    EXPECT_EQ(ExpectSame(sqlite().ListAccelerators(queries[i].second),
                         pg().ListAccelerators(queries[i].second), queries[i].first),
              sizes[i])
        << queries[i].first;
  }

  const std::vector<std::pair<std::string, UsageSeriesQuery>> series = {
      {"acme auto", {.account = "acme"}},
      {"globex auto", {.account = "globex"}},
      {"globex 1h", {.account = "globex", .bucket_hours = 1}},
      {"globex 24h window",
       {.account = "globex", .since = kT0, .until = kT0 + absl::Hours(2), .bucket_hours = 24}},
      {"unknown", {.account = "nobody"}}};
  for (const auto& [what, q] : series) {
    ExpectSame(sqlite().GetAccountUsageSeries(q), pg().GetAccountUsageSeries(q), what);
  }
  auto acme = pg().GetAccountUsageSeries({.account = "acme"});
  ASSERT_TRUE(acme.ok()) << acme.status();
  EXPECT_EQ(acme->bucket_hours(), 1u);
  EXPECT_GE(acme->points_size(), 2);
  auto globex = pg().GetAccountUsageSeries({.account = "globex"});
  ASSERT_TRUE(globex.ok()) << globex.status();
  EXPECT_EQ(globex->bucket_hours(), 6u);  // about 720 hours: 1-hour buckets would be too many
  EXPECT_GE(globex->points_size(), 2);
  EXPECT_EQ(globex->points(0).start().seconds() % (6 * 3600), 0);
}

TEST_F(FleetReaderConformanceTest, AnEmptyFleetAnswersTheSame) {
  ASSERT_NO_FATAL_FAILURE(Open(false));
  if (IsSkipped()) return;
  const absl::Time now = kT0;
  EXPECT_EQ(ExpectSame(sqlite().ListNodes({}), pg().ListNodes({}), "nodes"), 0);
  EXPECT_EQ(ExpectSame(sqlite().GetNode("node-a"), pg().GetNode("node-a"), "node"), -1);
  EXPECT_EQ(ExpectSame(sqlite().ListWorkloads({}), pg().ListWorkloads({}), "workloads"), 0);
  EXPECT_EQ(ExpectSame(sqlite().GetAccountUsage({}), pg().GetAccountUsage({}), "usage"), 0);
  EXPECT_EQ(ExpectSame(sqlite().FleetOverview(now), pg().FleetOverview(now), "overview"), 1);
  EXPECT_EQ(ExpectSame(sqlite().ListAccelerators({}), pg().ListAccelerators({}), "accel"), 0);
  EXPECT_EQ(ExpectSame(sqlite().GetAccountUsageSeries({.account = "acme"}),
                       pg().GetAccountUsageSeries({.account = "acme"}), "series"),
            1);
  EXPECT_EQ(ExpectSame(sqlite().CountNodes(), pg().CountNodes(), "count"), 1);
  EXPECT_EQ(ExpectSame(sqlite().CountAccelerators(), pg().CountAccelerators(), "by model"), 0);
  EXPECT_EQ(
      ExpectSame(sqlite().CountNodesByDatacenter(now), pg().CountNodesByDatacenter(now), "by dc"),
      0);
  EXPECT_EQ(ExpectSame(sqlite().CountReports(), pg().CountReports(), "reports"), 1);
  EXPECT_EQ(ExpectSame(sqlite().CountRejectingNodes(now), pg().CountRejectingNodes(now), "rej"), 1);
  EXPECT_EQ(ExpectSame(sqlite().SumAgentLosses(), pg().SumAgentLosses(), "losses"), 1);
  auto overview = pg().FleetOverview(now);
  ASSERT_TRUE(overview.ok());
  EXPECT_EQ(overview->nodes(), 0);
  EXPECT_EQ(overview->datacenters_size(), 0);
  auto series = pg().GetAccountUsageSeries({.account = "acme"});
  ASSERT_TRUE(series.ok());
  EXPECT_EQ(series->bucket_hours(), 1u);
  EXPECT_EQ(series->points_size(), 0);
}

TEST_F(FleetReaderConformanceTest, PostgresReplacesATerminatedSession) {
  ASSERT_NO_FATAL_FAILURE(Open(true));
  if (IsSkipped()) return;
  auto admin =
      PgConn::Connect(conninfo_, {.application_name = "prov-test", .search_path = kPgSchema});
  ASSERT_TRUE(admin.ok()) << admin.status();
  auto killed = prov::testing::TerminateBackends(**admin, "application_name = 'provd/fleet'");
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(*killed, 2);  // the pool's two sessions
  auto overview = pg().FleetOverview(kT0);
  ASSERT_TRUE(overview.ok()) << overview.status();
  EXPECT_EQ(overview->nodes(), 4);
  auto nodes = pg().ListNodes({});
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  EXPECT_EQ(nodes->size(), 4u);
}

TEST_F(FleetReaderConformanceTest, PostgresPoolOfTwoServesEightThreads) {
  ASSERT_NO_FATAL_FAILURE(Open(true));
  if (IsSkipped()) return;
  std::vector<std::thread> threads;
  std::vector<int> answered(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto n = pg().CountNodes();
        auto g = pg().GetNode("node-c");
        if (n.ok() && *n == 4 && g.ok() && g->node().datacenter() == "ams1") ++answered[t];
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(answered, ::testing::Each(20));
  auto conns =
      PgConn::Connect(conninfo_, {.application_name = "prov-test", .search_path = kPgSchema});
  ASSERT_TRUE(conns.ok());
  auto open = (*conns)->Query(
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'provd/fleet' AND "
      "datname = current_database()");
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(*open->Int64(0, 0), 2);  // a fixed pool: no session beyond the two
}

TEST(PgFleetReaderOpenTest, ZeroConnectionsIsRefused) {
  auto reader = PgFleetReader::Open("host=/nonexistent", 0);
  EXPECT_TRUE(absl::IsInvalidArgument(reader.status())) << reader.status();
  EXPECT_THAT(reader.status().message(), HasSubstr("connections"));
}

}  // namespace
}  // namespace prov::server
