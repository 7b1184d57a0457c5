// The ingest planner alone (server/store/ingest_planner.h): no database, a fake state source.
#include "server/store/ingest_planner.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/accelerator_catalog.h"
#include "gtest/gtest.h"
#include "server/ledger/usage.h"
#include "server/store/node_hardware_key.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using testing::MakeReport;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);  // 22:13:20 UTC
int64_t Us(absl::Time t) { return absl::ToUnixMicros(t); }

// The batch as the ingest writer hands it over: each report with its usage for the claimed
// interval.
std::vector<ReportToCommit> CommitBatch(const std::vector<const NodeReport*>& reports) {
  std::vector<ReportToCommit> batch;
  for (const NodeReport* r : reports) {
    ReportToCommit& item = batch.emplace_back();
    item.report = r;
    item.size_bytes = r->ByteSizeLong();
    item.usage = ComputeUsage(*r, AcceleratorCatalog::Builtin(), {});
  }
  return batch;
}

// Stored state as a map per question; counts the questions that reach "the database".
class FakeState : public IngestStateSource {
 public:
  absl::StatusOr<int64_t> Node(absl::string_view node_id, int64_t /*seen_us*/) override {
    auto it = nodes.find(node_id);
    if (it != nodes.end()) return it->second;
    const int64_t id = static_cast<int64_t>(nodes.size()) + 1;
    nodes.emplace(std::string(node_id), id);
    return id;
  }
  absl::StatusOr<StreamState*> Stream(int64_t node, absl::string_view boot_id) override {
    if (!stream_error.ok()) return stream_error;
    auto it = streams.find(RowKeyView(node, boot_id));
    if (it == streams.end()) it = streams.emplace(RowKey(node, boot_id), StreamState{}).first;
    return &it->second;
  }
  absl::StatusOr<NodeCredit*> Horizon(int64_t node) override { return &horizons[node]; }
  absl::StatusOr<int64_t> NodeLastSeen(int64_t node) override {
    auto it = last_seen.find(node);
    return it == last_seen.end() ? 0 : it->second;
  }
  absl::StatusOr<bool> WorkloadSeenSince(int64_t node, absl::string_view workload_id,
                                         int64_t since_us) override {
    ++workload_questions;
    auto it = workload_last_seen.find(RowKeyView(node, workload_id));
    return it != workload_last_seen.end() && it->second >= since_us;
  }

  absl::flat_hash_map<std::string, int64_t> nodes;
  RowMap<StreamState> streams;
  absl::flat_hash_map<int64_t, NodeCredit> horizons;
  absl::flat_hash_map<int64_t, int64_t> last_seen;
  RowMap<int64_t> workload_last_seen;
  int workload_questions = 0;
  absl::Status stream_error;
};

class IngestPlannerTest : public ::testing::Test {
 protected:
  absl::StatusOr<CommitResult> Plan(std::vector<ReportToCommit>& batch, absl::Time received_at) {
    return planner_.Plan(batch, received_at, state_, caches_, plan_);
  }
  // The node's handle, as the state source gave it.
  int64_t NodeHandle(const std::string& node_id) { return state_.nodes.at(node_id); }

  IngestPlannerOptions options_{.credit = {}, .max_seq_jump = 10};
  IngestPlanner planner_{options_};
  FakeState state_;
  IngestWriteCaches caches_;
  IngestPlan plan_;
};

TEST_F(IngestPlannerTest, DedupsByHighWaterMarkAndRefusesAnImplausibleSeqJump) {
  ASSERT_TRUE(state_.Node("node-1", 0).ok());
  state_.streams[RowKey(NodeHandle("node-1"), "boot-a")].max_seq = 5;
  const NodeReport r5 = MakeReport("node-1", "boot-a", 5, kT0);
  const NodeReport r15 = MakeReport("node-1", "boot-a", 15, kT0 + absl::Seconds(10));  // +10: ok
  const NodeReport r26 = MakeReport("node-1", "boot-a", 26, kT0 + absl::Seconds(20));  // +11
  const NodeReport r16 = MakeReport("node-1", "boot-a", 16, kT0 + absl::Seconds(30));
  std::vector<ReportToCommit> batch = CommitBatch({&r5, &r15, &r26, &r16, &r16});

  absl::StatusOr<CommitResult> result = Plan(batch, kT0 + absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->duplicate, (std::vector<bool>{true, false, true, false, true}));
  EXPECT_EQ(result->stored, 2u);
  EXPECT_EQ(result->duplicates, 2u);  // the refused report is not a duplicate
  ASSERT_EQ(result->rejected.size(), 1u);
  EXPECT_EQ(result->rejected[0].first, 2u);
  EXPECT_NE(result->rejected[0].second.find("seq: 26 is 11 ahead of the highest stored seq 15"),
            std::string::npos)
      << result->rejected[0].second;
  EXPECT_EQ(result->high_water.at(StreamKey("node-1", "boot-a")), 16u);

  ASSERT_EQ(plan_.reports.size(), 2u);
  EXPECT_EQ(plan_.reports[0].seq, 15u);
  EXPECT_EQ(plan_.reports[1].seq, 16u);
  EXPECT_EQ(plan_.reports[1].boot_id, "boot-a");
  EXPECT_EQ(plan_.reports[1].collected_us, Us(kT0 + absl::Seconds(30)));
  EXPECT_EQ(plan_.received_us, Us(kT0 + absl::Seconds(30)));
  ASSERT_EQ(plan_.streams.size(), 1u);
  EXPECT_EQ(plan_.streams[0].state.max_seq, 16u);
  ASSERT_EQ(plan_.nodes.size(), 1u);
  EXPECT_EQ(plan_.nodes[0].stored, 2);
  EXPECT_EQ(plan_.nodes[0].seq, 16u);
  // The state source's stream was advanced in place (what the engine caches for the next batch).
  EXPECT_EQ(state_.streams[RowKey(NodeHandle("node-1"), "boot-a")].max_seq, 16u);

  // The next batch: everything at or below 16 is a duplicate.
  std::vector<ReportToCommit> again = CommitBatch({&r15, &r16});
  result = Plan(again, kT0 + absl::Seconds(40));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->duplicates, 2u);
  EXPECT_EQ(result->stored, 0u);
  EXPECT_TRUE(plan_.reports.empty());
  EXPECT_TRUE(plan_.nodes.empty());
  EXPECT_EQ(result->high_water.at(StreamKey("node-1", "boot-a")), 16u);
}

TEST_F(IngestPlannerTest, CreditsAnEvidenceGapAndCarriesOnlyContinuedWorkloadsThroughIt) {
  ASSERT_TRUE(state_.Node("node-1", 0).ok());
  const int64_t node = NodeHandle("node-1");
  StreamState& stored = state_.streams[RowKey(node, "boot-a")];
  stored.max_seq = 1;
  stored.credit = {Us(kT0), Us(kT0), Us(kT0 - absl::Seconds(10))};
  state_.horizons[node] = {Us(kT0), Us(kT0 - absl::Seconds(10))};
  state_.workload_last_seen[RowKey(node, "k8s:pod-1")] = Us(kT0);  // in the previous report

  // 100 s after the previous report, claiming 10 s: a 90 s gap. pod-2 (one GPU) is new.
  NodeReport r = MakeReport("node-1", "boot-a", 2, kT0 + absl::Seconds(100));
  auto* w2 = r.add_workloads();
  w2->set_workload_id("k8s:pod-2");
  w2->mutable_attribution()->set_account("beta");
  w2->add_accelerator_pci_addresses("0000:3c:00.0");
  std::vector<ReportToCommit> batch = CommitBatch({&r});
  ASSERT_EQ(batch[0].usage.size(), 2u);
  ASSERT_DOUBLE_EQ(batch[0].usage[0].accelerator_seconds, 20);  // 2 GPUs x 10 s claimed

  absl::StatusOr<CommitResult> result = Plan(batch, kT0 + absl::Seconds(100));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stored, 1u);
  EXPECT_EQ(result->evidence_gaps, 1u);
  EXPECT_DOUBLE_EQ(result->gap_seconds, 90);
  EXPECT_DOUBLE_EQ(result->credited_seconds, 100);
  EXPECT_DOUBLE_EQ(result->claimed_seconds, 10);
  EXPECT_DOUBLE_EQ(batch[0].credited_seconds, 100);
  // pod-1 ran through the gap: the whole span at its rate; pod-2 only its observed 10 s.
  EXPECT_DOUBLE_EQ(batch[0].usage[0].accelerator_seconds, 200);
  EXPECT_DOUBLE_EQ(batch[0].usage[0].gap_seconds, 180);
  EXPECT_NE(batch[0].usage[0].method.find(kMethodEvidenceGap), std::string::npos);
  EXPECT_DOUBLE_EQ(batch[0].usage[1].accelerator_seconds, 10);
  EXPECT_DOUBLE_EQ(batch[0].usage[1].gap_seconds, 0);
  EXPECT_EQ(state_.workload_questions, 2);

  ASSERT_EQ(plan_.evidence_gaps.size(), 1u);
  const PlannedEvidenceGap& gap = plan_.evidence_gaps[0];
  EXPECT_EQ(gap.node, node);
  EXPECT_EQ(gap.boot_id, "boot-a");
  EXPECT_EQ(gap.seq, 2u);
  EXPECT_EQ(gap.start_us, Us(kT0));
  EXPECT_EQ(gap.end_us, Us(kT0 + absl::Seconds(100)));
  EXPECT_EQ(gap.claimed_interval_seconds, 10);
  EXPECT_DOUBLE_EQ(gap.gap_seconds, 90);
  EXPECT_DOUBLE_EQ(gap.accelerator_seconds, 180);
  ASSERT_EQ(plan_.reports.size(), 1u);
  EXPECT_DOUBLE_EQ(plan_.reports[0].credited_seconds, 100);
  // The credit state moved on, in the state source and in the planned node_streams row.
  EXPECT_EQ(state_.streams[RowKey(node, "boot-a")].credit.credited_until_us,
            Us(kT0 + absl::Seconds(100)));
  EXPECT_EQ(state_.horizons[node].horizon_us, Us(kT0 + absl::Seconds(100)));
  ASSERT_EQ(plan_.streams.size(), 1u);
  EXPECT_EQ(plan_.streams[0].state.credit.credited_until_us, Us(kT0 + absl::Seconds(100)));
  EXPECT_EQ(plan_.streams[0].state.credit.last_collected_us, Us(kT0 + absl::Seconds(100)));
  // The workloads rows carry the credited usage and the gap's share.
  ASSERT_EQ(plan_.workloads.size(), 2u);
  for (const PlannedWorkload& w : plan_.workloads) {
    if (w.workload_id == "k8s:pod-1") {
      EXPECT_DOUBLE_EQ(w.seconds, 200);
      EXPECT_DOUBLE_EQ(w.gap_seconds, 180);
    } else {
      EXPECT_EQ(w.workload_id, "k8s:pod-2");
      EXPECT_DOUBLE_EQ(w.seconds, 10);
      EXPECT_DOUBLE_EQ(w.gap_seconds, 0);
    }
  }
}

TEST_F(IngestPlannerTest, WorkloadDescriptionFollowsTheNewestReportWhateverTheBatchOrder) {
  // Two boots of one node in one batch, the newer report first.
  NodeReport newer = MakeReport("node-1", "boot-b", 1, kT0 + absl::Seconds(20));
  newer.mutable_node()->set_hostname("renamed.example");
  newer.mutable_workloads(0)->set_launcher("deepspeed");
  newer.mutable_workloads(0)->mutable_attribution()->set_account("acme-2");
  NodeReport older = MakeReport("node-1", "boot-a", 7, kT0 + absl::Seconds(10));
  std::vector<ReportToCommit> batch = CommitBatch({&newer, &older});

  absl::StatusOr<CommitResult> result = Plan(batch, kT0 + absl::Seconds(20));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stored, 2u);
  ASSERT_EQ(plan_.workloads.size(), 1u);
  const PlannedWorkload& w = plan_.workloads[0];
  EXPECT_EQ(w.workload_id, "k8s:pod-1");
  EXPECT_EQ(w.launcher, "deepspeed");
  EXPECT_EQ(w.account, "acme-2");
  EXPECT_EQ(w.first_seen_us, Us(kT0 + absl::Seconds(10)));
  EXPECT_EQ(w.last_seen_us, Us(kT0 + absl::Seconds(20)));
  EXPECT_DOUBLE_EQ(w.seconds,
                   batch[0].usage[0].accelerator_seconds + batch[1].usage[0].accelerator_seconds);
  EXPECT_GT(w.seconds, 0);
  ASSERT_EQ(plan_.nodes.size(), 1u);
  EXPECT_EQ(plan_.nodes[0].hostname, "renamed.example");
  EXPECT_EQ(plan_.nodes[0].boot_id, "boot-b");
  EXPECT_EQ(plan_.nodes[0].first_seen_us, Us(kT0 + absl::Seconds(10)));
  EXPECT_EQ(plan_.nodes[0].stored, 2);
  EXPECT_EQ(plan_.streams.size(), 2u);
  // The details row is the newest report's Workload.
  ASSERT_EQ(plan_.workload_details.size(), 1u);
  provenance::v1::Workload details;
  ASSERT_TRUE(details.ParseFromString(std::string(plan_.workload_details[0].workload)));
  EXPECT_EQ(details.launcher(), "deepspeed");

  // The same two in the other order plan the same description.
  IngestPlanner planner(options_);
  FakeState state;
  IngestWriteCaches caches;
  IngestPlan plan;
  std::vector<ReportToCommit> reversed = CommitBatch({&older, &newer});
  ASSERT_TRUE(planner.Plan(reversed, kT0 + absl::Seconds(20), state, caches, plan).ok());
  ASSERT_EQ(plan.workloads.size(), 1u);
  EXPECT_EQ(plan.workloads[0].launcher, "deepspeed");
  EXPECT_EQ(plan.workloads[0].account, "acme-2");
  EXPECT_EQ(plan.workloads[0].described, w.described);
  EXPECT_EQ(plan.nodes[0].hostname, "renamed.example");
}

TEST_F(IngestPlannerTest, SplitsAccountUsageAtTheHourBoundary) {
  const absl::Time hour = absl::FromUnixSeconds(1'700'002'800);  // 23:00:00 UTC
  const NodeReport r1 = MakeReport("node-1", "boot-a", 1, hour - absl::Seconds(10));
  NodeReport r2 = MakeReport("node-1", "boot-a", 2, hour);
  auto* inference = r2.add_workloads();
  inference->set_workload_id("k8s:pod-9");
  inference->set_workload_class(provenance::v1::WORKLOAD_CLASS_INFERENCE);
  inference->mutable_attribution()->set_account("acme");
  inference->add_accelerator_pci_addresses("0000:3b:00.0");
  const NodeReport r3 = MakeReport("node-1", "boot-a", 3, hour + absl::Seconds(10));
  std::vector<ReportToCommit> batch = CommitBatch({&r1, &r2, &r3});

  absl::StatusOr<CommitResult> result = Plan(batch, hour + absl::Seconds(10));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->stored, 3u);
  ASSERT_EQ(plan_.account_hours.size(), 2u);
  absl::flat_hash_map<int64_t, const PlannedAccountHour*> by_hour;
  for (const PlannedAccountHour& h : plan_.account_hours) {
    EXPECT_EQ(h.account, "acme");
    by_hour[h.hour_us] = &h;
  }
  ASSERT_TRUE(by_hour.contains(Us(hour - absl::Hours(1))));
  ASSERT_TRUE(by_hour.contains(Us(hour)));
  const PlannedAccountHour& before = *by_hour[Us(hour - absl::Hours(1))];
  const PlannedAccountHour& after = *by_hour[Us(hour)];
  // Each report credits 10 s: 2 GPUs of training, plus (r2) 1 GPU of inference.
  EXPECT_DOUBLE_EQ(before.seconds, 20);
  EXPECT_DOUBLE_EQ(before.training, 20);
  EXPECT_DOUBLE_EQ(before.inference, 0);
  EXPECT_DOUBLE_EQ(after.seconds, 20 + 10 + 20);
  EXPECT_DOUBLE_EQ(after.training, 40);
  EXPECT_DOUBLE_EQ(after.inference, 10);
  EXPECT_GT(after.flop_high, before.flop_high);
  EXPECT_FALSE(after.method.empty());
}

TEST_F(IngestPlannerTest, WriteCachesSuppressUnchangedRows) {
  auto with_facts = [](uint64_t seq, absl::Time at) {
    NodeReport r = MakeReport("node-1", "boot-a", seq, at);
    r.mutable_node()->mutable_hardware()->set_system_uuid("uuid-1");
    r.mutable_node()->mutable_hardware()->set_board_serial("board-1");
    r.mutable_node()->set_location_responder("10.0.0.1:7000");
    return r;
  };
  const NodeReport r1 = with_facts(1, kT0);
  std::vector<ReportToCommit> b1 = CommitBatch({&r1});
  ASSERT_TRUE(Plan(b1, kT0).ok());
  EXPECT_EQ(plan_.accelerators.size(), 2u);
  EXPECT_EQ(plan_.workload_details.size(), 1u);
  ASSERT_EQ(plan_.nodes.size(), 1u);
  EXPECT_TRUE(plan_.nodes[0].check_hardware);  // nothing cached: the engine compares
  EXPECT_TRUE(plan_.nodes[0].check_location_responder);
  const int64_t node = plan_.nodes[0].node;
  // What the engine caches once it has checked the stored identity and responder.
  caches_.node_hardware[node] = NodeHardwareKey(r1.node().hardware());
  caches_.location_responders[node] = r1.node().location_responder();

  // 20 s later, nothing changed: no accelerators, no details, nothing to check; the reports,
  // nodes and workloads rows are planned all the same.
  const NodeReport r2 = with_facts(2, kT0 + absl::Seconds(20));
  std::vector<ReportToCommit> b2 = CommitBatch({&r2});
  ASSERT_TRUE(Plan(b2, kT0 + absl::Seconds(20)).ok());
  EXPECT_TRUE(plan_.accelerators.empty());
  EXPECT_TRUE(plan_.workload_details.empty());
  EXPECT_FALSE(plan_.nodes[0].check_hardware);
  EXPECT_FALSE(plan_.nodes[0].check_location_responder);
  EXPECT_EQ(plan_.reports.size(), 1u);
  EXPECT_EQ(plan_.workloads.size(), 1u);

  // One card's serial, the workload's launcher, the hardware and the responder change.
  NodeReport r3 = with_facts(3, kT0 + absl::Seconds(40));
  r3.mutable_accelerators(1)->set_serial("replaced");
  r3.mutable_workloads(0)->set_launcher("deepspeed");
  r3.mutable_node()->mutable_hardware()->set_board_serial("board-2");
  r3.mutable_node()->set_location_responder("10.0.0.2:7000");
  std::vector<ReportToCommit> b3 = CommitBatch({&r3});
  ASSERT_TRUE(Plan(b3, kT0 + absl::Seconds(40)).ok());
  ASSERT_EQ(plan_.accelerators.size(), 1u);
  EXPECT_EQ(plan_.accelerators[0].pci_address, "0000:3c:00.0");
  EXPECT_EQ(plan_.accelerators[0].serial, "replaced");
  provenance::v1::Accelerator written;
  ASSERT_TRUE(written.ParseFromString(std::string(plan_.accelerators[0].accelerator)));
  EXPECT_EQ(written.serial(), "replaced");
  ASSERT_EQ(plan_.workload_details.size(), 1u);
  EXPECT_TRUE(plan_.nodes[0].check_hardware);
  EXPECT_TRUE(plan_.nodes[0].check_location_responder);

  // 70 s after the first write, the unchanged 0000:3b card's last_seen is refreshed (60 s); the
  // other was written 30 s ago and stays out.
  NodeReport r4 = with_facts(4, kT0 + absl::Seconds(70));
  r4.mutable_accelerators(1)->set_serial("replaced");
  r4.mutable_workloads(0)->set_launcher("deepspeed");
  std::vector<ReportToCommit> b4 = CommitBatch({&r4});
  ASSERT_TRUE(Plan(b4, kT0 + absl::Seconds(70)).ok());
  ASSERT_EQ(plan_.accelerators.size(), 1u);
  EXPECT_EQ(plan_.accelerators[0].pci_address, "0000:3b:00.0");
  EXPECT_EQ(plan_.accelerators[0].seen_us, Us(kT0 + absl::Seconds(70)));
  EXPECT_TRUE(plan_.workload_details.empty());

  // Dropped caches (a failed commit): everything is planned again.
  caches_.clear();
  const NodeReport r5 = with_facts(5, kT0 + absl::Seconds(80));
  std::vector<ReportToCommit> b5 = CommitBatch({&r5});
  ASSERT_TRUE(Plan(b5, kT0 + absl::Seconds(80)).ok());
  EXPECT_EQ(plan_.accelerators.size(), 2u);
  EXPECT_EQ(plan_.workload_details.size(), 1u);
  EXPECT_TRUE(plan_.nodes[0].check_hardware);
}

TEST(NodeHardwareDecisionTest, WritesChangesOfUuidAndSerialOnlyForANewerReport) {
  provenance::v1::NodeHardware stored;
  stored.set_system_uuid("uuid-1");
  stored.set_board_serial("board-1");
  stored.set_product_name("X1");
  const std::string stored_key = NodeHardwareKey(stored);
  const int64_t last_seen = Us(kT0);

  // Same identity: remember it, write nothing.
  EXPECT_EQ(DecideNodeHardware(&stored, last_seen, stored, stored_key, last_seen).action,
            NodeHardwareDecision::kCacheOnly);
  // No stored row: write it, no change rows.
  NodeHardwareDecision first = DecideNodeHardware(nullptr, 0, stored, stored_key, last_seen);
  EXPECT_EQ(first.action, NodeHardwareDecision::kWrite);
  EXPECT_TRUE(first.changes.empty());

  // A board swap and a new product name: one change row (the product name is not tracked).
  provenance::v1::NodeHardware swapped = stored;
  swapped.set_board_serial("board-2");
  swapped.set_product_name("X2");
  const std::string swapped_key = NodeHardwareKey(swapped);
  ASSERT_NE(swapped_key, stored_key);
  NodeHardwareDecision d =
      DecideNodeHardware(&stored, last_seen, swapped, swapped_key, last_seen + 10'000'000);
  EXPECT_EQ(d.action, NodeHardwareDecision::kWrite);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].field, "board_serial");
  EXPECT_EQ(d.changes[0].old_value, "board-1");
  EXPECT_EQ(d.changes[0].new_value, "board-2");

  // Both changed, one of them to empty (the agent could not read it): only the uuid counts.
  provenance::v1::NodeHardware other;
  other.set_system_uuid("uuid-2");
  d = DecideNodeHardware(&stored, last_seen, other, NodeHardwareKey(other), last_seen);
  EXPECT_EQ(d.action, NodeHardwareDecision::kWrite);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].field, "system_uuid");

  // A resent report older than the node's newest stored one never overwrites it.
  EXPECT_EQ(DecideNodeHardware(&stored, last_seen, swapped, swapped_key, last_seen - 1).action,
            NodeHardwareDecision::kNothing);
}

TEST_F(IngestPlannerTest, AStateSourceErrorFailsThePlan) {
  state_.stream_error = absl::UnavailableError("database is locked");
  const NodeReport r = MakeReport("node-1", "boot-a", 1, kT0);
  std::vector<ReportToCommit> batch = CommitBatch({&r});
  absl::StatusOr<CommitResult> result = Plan(batch, kT0);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(result.status().message(), "database is locked");
}

}  // namespace
}  // namespace prov::server
