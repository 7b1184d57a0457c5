#include "tools/eval/scorer.h"

#include "common/accelerator_catalog.h"
#include "gtest/gtest.h"
#include "tools/prov-sim/scenario.h"

namespace prov::eval {
namespace {

// Two H100 nodes, one 8-GPU training workload each (accounts A1, A2), 10 reports of 60 s.
constexpr char kScenario[] = R"({
  "name": "scorer", "interval_seconds": 60, "reports_per_node": 10,
  "datacenters": [{"name": "dc-a", "region": "us-east"}],
  "nodes": [{"node_id": "n1", "datacenter": "dc-a", "vendor_id": 4318, "device_id": 9008,
             "accelerator_count": 8},
            {"node_id": "n2", "datacenter": "dc-a", "vendor_id": 4318, "device_id": 9008,
             "accelerator_count": 8}],
  "workloads": [{"workload_id": "k8s:1", "node_id": "n1", "account": "A1",
                 "workload_class": "WORKLOAD_CLASS_TRAINING", "accelerator_count": 8,
                 "tensor_activity": 0.5, "utilization_pct": 95},
                {"workload_id": "k8s:2", "node_id": "n2", "account": "A2",
                 "workload_class": "WORKLOAD_CLASS_TRAINING", "accelerator_count": 8,
                 "tensor_activity": 0.5, "utilization_pct": 95, "start_report": 2}]
})";

constexpr double kStart = 1.7e9;

Lineage MakeLineage(std::string id, std::string typology, std::string role,
                    std::vector<std::string> accounts, std::vector<ExpectedFlag> expected) {
  Lineage l;
  l.id = std::move(id);
  l.typology = std::move(typology);
  l.role = std::move(role);
  l.accounts = l.training_accounts = std::move(accounts);
  l.expected = std::move(expected);
  return l;
}

class ScorerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = sim::ParseScenario(kScenario, "s.json");
    ASSERT_TRUE(s.ok()) << s.status();
    model_ = FlopModel::Compute(*s, AcceleratorCatalog::Builtin());
    // One report of one node: 8 x 60 s x 989e12 x 0.5.
    ASSERT_DOUBLE_EQ(model_.AccountTrainingFlop("A1"), 10 * 8 * 60 * 989e12 * 0.5);
    truth_.scenario = "scorer";
    truth_.interval_seconds = 60;
    truth_.reports_per_node = 10;
    truth_.tiers = {{"t1", 5 * 8 * 60 * 989e12 * 0.5}};  // 5 node-reports
    truth_.lineages = {
        MakeLineage("L-a", "a", kRoleAdversary, {"A1", "A2"},
                    {{"compute_tier:t1", "bundle", "", {"A1", "A2"}, {}}}),
        MakeLineage("L-b", "b", kRoleAdversary, {"T", "M"},
                    {{"screening_hit", "account", "T", {"T"}, {}},
                     {"restricted_party_training", "bundle", "", {"T"}, {}}}),
        MakeLineage("L-x", "look", kRoleLookAlike, {"X1", "X2"}, {}),
        MakeLineage("L-g", "background", kRoleBackground, {"G"}, {}),
    };
    // Combined A1+A2 reaches 5 node-reports at report 3 of n1: reports 0..3 of n1 (4) and
    // report 2 of n2 (offset 2*60 + 30) -> the 5th is n1's report 3 at 180 s? n1: 0,60,120,180;
    // n2: 150. Sorted: 0, 60, 120, 150, 180 -> crossing at 180 s.
    crossing_ = *model_.CrossingOffset({"A1", "A2"}, truth_.tiers[0].flop);
    timeline_ = Timeline{.sim_start_unix_s = kStart, .interval_seconds = 60};
  }
  FlagRecord Flag(std::string id, std::string rule, std::string subject,
                  std::vector<std::string> accounts, std::optional<double> first = std::nullopt) {
    return {std::move(id), std::move(rule), std::move(subject), std::move(accounts), first, {}};
  }
  const TypologyScore& Row(const ScoreResult& r, const std::string& typology) {
    for (const auto& row : r.rows) {
      if (row.typology == typology) return row;
    }
    ADD_FAILURE() << typology;
    return r.rows.front();
  }

  FlopModel model_;
  GroundTruth truth_;
  double crossing_ = 0;
  std::optional<Timeline> timeline_;
};

TEST_F(ScorerTest, CrossingUsesReportTimes) { EXPECT_DOUBLE_EQ(crossing_, 180); }

TEST_F(ScorerTest, MatchingPrecisionAndFalsePositives) {
  std::vector<FlagRecord> flags = {
      // Superset of the lineage's accounts: a match, 30 s after the crossing.
      Flag("F-1", "compute_tier:t1", "bundle:B-1", {"A1", "A2", "Z"}, kStart + crossing_ + 30),
      // Only one of the two accounts: touches the lineage but does not match.
      Flag("F-2", "compute_tier:t1", "bundle:B-2", {"A1"}, kStart),
      Flag("F-3", "screening_hit", "account:T", {"T"}),
      // Right rule, wrong subject kind.
      Flag("F-4", "restricted_party_training", "account:T", {"T"}),
      Flag("F-5", "compute_tier:t1", "bundle:B-5", {"X1", "X2"}, kStart),
      Flag("F-6", "screening_hit", "account:nobody", {"nobody"}),
  };
  ScoreResult r = Score(truth_, &model_, timeline_, flags);
  const auto& a = Row(r, "a");
  EXPECT_EQ(a.instances, 1);
  EXPECT_EQ(a.detected, 1);
  EXPECT_EQ(a.flags_touching, 2);
  EXPECT_EQ(a.flags_matching, 1);
  ASSERT_EQ(a.delays_s.size(), 1u);
  EXPECT_NEAR(a.delays_s[0], 30, 1e-6);
  const auto& b = Row(r, "b");
  EXPECT_EQ(b.detected, 0);  // restricted_party_training on a bundle is missing
  EXPECT_EQ(b.flags_touching, 2);
  EXPECT_EQ(b.flags_matching, 1);
  const auto& look = Row(r, "look");
  EXPECT_EQ(look.false_positives, 1);
  EXPECT_EQ(look.flagged, 1);
  EXPECT_EQ(Row(r, "background").false_positives, 0);
  EXPECT_EQ(r.flags_unrelated, 1);
  EXPECT_FALSE(r.goal_met);
  std::string table = FormatScore(r, truth_);
  EXPECT_NE(table.find("MISSED  L-b: no flag restricted_party_training"), std::string::npos)
      << table;
  EXPECT_NE(table.find("FALSE+  L-x (look): F-5"), std::string::npos) << table;
  EXPECT_NE(table.find("MISSED"), std::string::npos);
}

TEST_F(ScorerTest, SummaryCountsFalseScreeningFlagsBundlesAndMisses) {
  std::vector<FlagRecord> flags = {
      // A benign background owner who shares a name with a listed party: two false screening
      // flags (the hit and the critical restricted-party flag on its bundle).
      Flag("F-1", "screening_hit", "account:G", {"G"}),
      Flag("F-2", "restricted_party_training", "bundle:B-2", {"G"}, kStart),
      // One bundle merging the adversary with unrelated look-alike accounts.
      Flag("F-3", "compute_tier:t1", "bundle:B-3", {"A1", "A2", "X1", "X2"}, kStart + crossing_),
      // A weak name match queued for a person to clear: review load, not a false positive.
      Flag("F-4", "screening_review:e-17@ab12", "account:X1", {"X1"}),
  };
  ScoreResult r = Score(truth_, &model_, timeline_, flags);
  EXPECT_EQ(r.screening_reviews, 1);
  EXPECT_EQ(r.accounts_total, 7);  // A1 A2 T M X1 X2 G
  EXPECT_EQ(r.false_flags, 3);
  EXPECT_EQ(r.false_screening_flags, 2);
  EXPECT_EQ(r.benign_accounts_flagged, 3);  // G, X1, X2
  EXPECT_EQ(r.largest_bundle, 4u);
  EXPECT_EQ(r.largest_bundle_adversary, 2);
  EXPECT_EQ(r.adversaries, 2);
  ASSERT_EQ(r.missed.size(), 1u);
  EXPECT_EQ(r.missed[0], "L-b");
  std::string table = FormatScore(r, truth_);
  EXPECT_NE(table.find("summary: 7 accounts; false screening flags 2 (285.7 per 1,000 accounts); "
                       "false flags 3 on 3 benign accounts; false hardware flags 0; screening "
                       "reviews 1 (142.9 per 1,000 "
                       "accounts); largest flagged bundle 4 accounts (2 adversary) F-3 "
                       "compute_tier:t1; missed adversaries 1 of 2: L-b"),
            std::string::npos)
      << table;
}

TEST_F(ScorerTest, BundleLineJoinsOfLineages) {
  std::vector<BundleRecord> bundles = {
      {"B-1", {"A1", "A2"}},            // one lineage
      {"B-2", {"A1", "X1", "G", "Q"}},  // adversary with benign accounts; Q is unknown
      {"B-3", {"X1", "G"}},             // two benign lineages
  };
  EXPECT_EQ(FormatBundles(truth_, bundles),
            "bundles: 3; 2 join accounts of different lineages, 1 of them an adversary's with "
            "benign accounts; largest B-2: 4 accounts from 3 lineages (1 adversary)\n");
  EXPECT_EQ(FormatBundles(truth_, {}),
            "bundles: 0; 0 join accounts of different lineages, 0 of them an adversary's with "
            "benign accounts\n");
}

TEST_F(ScorerTest, GoalMetAndLateFlags) {
  std::vector<FlagRecord> flags = {
      Flag("F-1", "compute_tier:t1", "bundle:B-1", {"A1", "A2"}, kStart + crossing_),
      Flag("F-2", "screening_hit", "account:T", {"T"}),
      Flag("F-3", "restricted_party_training", "bundle:B-3", {"T"}, kStart),
  };
  // L-b trains nothing in this scenario, so its restricted-party flag has no expected time.
  ScoreResult r = Score(truth_, &model_, timeline_, flags);
  EXPECT_TRUE(r.goal_met) << FormatScore(r, truth_);
  EXPECT_NE(FormatScore(r, truth_).find("MET"), std::string::npos);

  flags[0].first_time_unix_s = kStart + crossing_ + 121;  // two intervals late
  r = Score(truth_, &model_, timeline_, flags);
  EXPECT_FALSE(r.goal_met);
  EXPECT_NE(FormatScore(r, truth_).find("LATE    L-a"), std::string::npos);

  // Without a timeline the delays, and so the goal, are unknown.
  r = Score(truth_, &model_, std::nullopt, flags);
  EXPECT_FALSE(r.goal_met);
  EXPECT_NE(FormatScore(r, truth_).find("UNKNOWN"), std::string::npos);
}

// A lineage whose linking evidence exists only later (the rhythm typology's shared cycles): its
// compute flag is on time anywhere from the crossing to that evidence time, and late only when
// raised more than one interval after the later of the two. Early stays judged on the crossing.
TEST_F(ScorerTest, EvidenceTimeWidensTheWindowOfAComputeFlag) {
  truth_.lineages[0].evidence_offset_s = 480;  // evidence complete at report 8
  std::vector<FlagRecord> flags = {
      Flag("F-1", "compute_tier:t1", "bundle:B-1", {"A1", "A2"}, kStart + 420),
      Flag("F-2", "screening_hit", "account:T", {"T"}),
      Flag("F-3", "restricted_party_training", "bundle:B-3", {"T"}, kStart),
  };
  ScoreResult r = Score(truth_, &model_, timeline_, flags);
  EXPECT_TRUE(r.goal_met) << FormatScore(r, truth_);
  EXPECT_DOUBLE_EQ(Row(r, "a").delays_s.at(0), 0);

  flags[0].first_time_unix_s = kStart + 480 + 121;  // two intervals after the evidence
  r = Score(truth_, &model_, timeline_, flags);
  EXPECT_FALSE(r.goal_met);
  EXPECT_DOUBLE_EQ(Row(r, "a").delays_s.at(0), 121);

  flags[0].first_time_unix_s = kStart + crossing_ - 121;  // before the crossing: early
  r = Score(truth_, &model_, timeline_, flags);
  EXPECT_FALSE(r.goal_met);
  EXPECT_NE(FormatScore(r, truth_).find("EARLY   L-a"), std::string::npos);

  // Round trip through ground_truth.json.
  truth_.lineages[0].evidence_note = "shared cycles";
  auto back = ParseGroundTruth(GroundTruthToJson(truth_), "t.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_DOUBLE_EQ(back->lineages[0].evidence_offset_s, 480);
  EXPECT_EQ(back->lineages[0].evidence_note, "shared cycles");
  EXPECT_DOUBLE_EQ(back->lineages[1].evidence_offset_s, -1);
}

TEST_F(ScorerTest, RestrictedHardwareDelayFromTheNodesFirstReport) {
  truth_.lineages.push_back(
      MakeLineage("L-e", "e", kRoleAdversary, {"A2"},
                  {{"restricted_hardware:huawei-ascend", "node", "n2", {"A2"}, {}}}));
  // n2 is node 1 of 2: its first report is 30 s after the start (before A2 starts training).
  std::vector<FlagRecord> flags = {
      Flag("F-9", "restricted_hardware:huawei-ascend", "node:n2", {"A2"}, kStart + 30)};
  ScoreResult r = Score(truth_, &model_, timeline_, flags);
  const auto& e = Row(r, "e");
  EXPECT_EQ(e.detected, 1);
  ASSERT_EQ(e.delays_s.size(), 1u);
  EXPECT_NEAR(e.delays_s[0], 0, 1e-6);
  // The same rule on another node does not match.
  flags[0].subject = "node:n1";
  r = Score(truth_, &model_, timeline_, flags);
  EXPECT_EQ(Row(r, "e").detected, 0);
  // Two intervals early: reported and the goal is missed.
  flags[0].subject = "node:n2";
  flags[0].first_time_unix_s = kStart + 30 - 120;
  r = Score(truth_, &model_, timeline_, flags);
  EXPECT_NE(FormatScore(r, truth_).find("EARLY   L-e"), std::string::npos);
}

TEST(ScorerParseTest, FlagsJsonBothForms) {
  constexpr char kList[] = R"({"flags": [{"flagId": "F-1", "rule": "screening_hit",
      "subject": "account:T", "accounts": ["T"], "firstTime": "2026-11-25T00:00:10Z",
      "someFutureField": 1}]})";
  auto a = ParseFlagsJson(kList, "flags.json");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].subject, "account:T");
  ASSERT_TRUE((*a)[0].first_time_unix_s.has_value());
  EXPECT_DOUBLE_EQ(*(*a)[0].first_time_unix_s, 1795564810);
  auto b = ParseFlagsJson(R"([{"flag_id": "F-2", "rule": "x", "accounts": []}])", "f.json");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)[0].flag_id, "F-2");
  EXPECT_FALSE((*b)[0].first_time_unix_s.has_value());
  auto bad = ParseFlagsJson("{\"flags\": 3}", "bad.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.json"), std::string::npos);
}

TEST(ScorerParseTest, Timeline) {
  auto t = ParseTimeline(R"({"sim_start_unix_micros": 1700000000500000, "interval_seconds": 60})",
                         "t.json");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_DOUBLE_EQ(t->sim_start_unix_s, 1700000000.5);
  auto bad = ParseTimeline(R"({"interval_seconds": 60})", "t.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("sim_start_unix_micros"), std::string::npos);
}

TEST(GroundTruthParseTest, ErrorsNameTheField) {
  auto r = ParseGroundTruth(
      R"({"scenario": "s", "interval_seconds": 60, "reports_per_node": 5, "tiers": [],
          "lineages": [{"id": "L", "typology": "a", "role": "adversary", "accounts": ["x"],
                        "expected": [{"subject_kind": "bundle", "accounts": []}]}]})",
      "gt.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("lineages[0].expected[0].rule: missing"), std::string::npos)
      << r.status();
  auto role = ParseGroundTruth(
      R"({"scenario": "s", "interval_seconds": 60, "reports_per_node": 5, "tiers": [],
          "lineages": [{"id": "L", "typology": "a", "role": "villain", "accounts": []}]})",
      "gt.json");
  ASSERT_FALSE(role.ok());
  EXPECT_NE(role.status().message().find("unknown role"), std::string::npos);
}

// Hardware typologies (issue 10): matched by rule, subject (serial or node) and Flag.nodes;
// touched by subject or nodes, so any hardware_* flag on a look-alike's hardware is false.
class HardwareScorerTest : public ScorerTest {
 protected:
  void SetUp() override {
    ScorerTest::SetUp();
    Lineage moved = MakeLineage("L-h-moved", "h_moved", kRoleAdversary, {}, {});
    moved.nodes = {"n1", "n2"};
    moved.serials = {"SN-1"};
    moved.expected = {{"hardware_moved", "accelerator", "SN-1", {}, {"n1", "n2"}}};
    Lineage silent = MakeLineage("L-h-silent", "h_silent_node", kRoleAdversary, {}, {});
    silent.nodes = {"n3"};
    silent.expected = {{"hardware_silent", "node", "n3", {}, {}}};
    Lineage rma = MakeLineage("L-rma", "lookalike_rma_swap", kRoleLookAlike, {}, {});
    rma.nodes = {"n4"};
    rma.serials = {"SN-4", "SN-4-NEW"};
    Lineage maint = MakeLineage("L-maint", "lookalike_maintenance", kRoleLookAlike, {"M1"}, {});
    maint.nodes = {"n5"};
    truth_.lineages = {moved, silent, rma, maint};
  }
  FlagRecord Hw(std::string id, std::string rule, std::string subject,
                std::vector<std::string> nodes, std::vector<std::string> accounts = {}) {
    FlagRecord f = Flag(std::move(id), std::move(rule), std::move(subject), std::move(accounts));
    f.nodes = std::move(nodes);
    return f;
  }
};

TEST_F(HardwareScorerTest, MatchedBySubjectAndNodes) {
  // Only the observed node listed: touches the lineage, does not match.
  ScoreResult r =
      Score(truth_, &model_, timeline_, {Hw("F-1", "hardware_moved", "accelerator:SN-1", {"n2"})});
  EXPECT_EQ(Row(r, "h_moved").detected, 0);
  EXPECT_EQ(Row(r, "h_moved").flags_touching, 1);
  EXPECT_NE(FormatScore(r, truth_).find("no flag hardware_moved on accelerator:SN-1 with nodes ⊇ "
                                        "{n1, n2}\n"),
            std::string::npos)
      << FormatScore(r, truth_);
  r = Score(truth_, &model_, timeline_,
            {Hw("F-1", "hardware_moved", "accelerator:SN-1", {"n1", "n2"}),
             Hw("F-2", "hardware_silent", "node:n3", {"n3"})});
  EXPECT_EQ(Row(r, "h_moved").detected, 1);
  EXPECT_EQ(Row(r, "h_silent_node").detected, 1);
  EXPECT_TRUE(r.goal_met) << FormatScore(r, truth_);
  EXPECT_EQ(r.flags_unrelated, 0);
  // A silent flag on another node: unrelated, and the adversary is missed.
  r = Score(truth_, &model_, timeline_, {Hw("F-3", "hardware_silent", "node:n9", {"n9"})});
  EXPECT_EQ(Row(r, "h_silent_node").detected, 0);
  EXPECT_EQ(r.flags_unrelated, 1);
}

TEST_F(HardwareScorerTest, AnyHardwareFlagOnALookAlikeIsFalse) {
  std::vector<FlagRecord> flags = {
      Hw("F-1", "hardware_moved", "accelerator:n2/0000:10:00.0", {"n1", "n2"}),  // adversary
      Hw("F-2", "hardware_undeclared", "node:n4", {"n4"}),              // RMA swap: its node
      Hw("F-3", "hardware_silent", "accelerator:SN-4", {}),             // RMA swap: old card
      Hw("F-4", "hardware_silent", "accelerator:n5/0000:11:00.0", {}),  // maintenance node
      Hw("F-5", "hardware_moved", "accelerator:SN-1", {"n1", "n2"}),
      Hw("F-6", "hardware_silent", "node:n3", {"n3"}),
  };
  ScoreResult r = Score(truth_, &model_, timeline_, flags);
  EXPECT_EQ(Row(r, "lookalike_rma_swap").false_positives, 2);
  EXPECT_EQ(Row(r, "lookalike_maintenance").false_positives, 1);
  EXPECT_EQ(Row(r, "h_moved").flags_touching, 2);
  EXPECT_EQ(r.false_flags, 3);
  EXPECT_EQ(r.false_hardware_flags, 3);
  EXPECT_FALSE(r.goal_met);
  std::string table = FormatScore(r, truth_);
  EXPECT_NE(table.find("FALSE+  L-rma (lookalike_rma_swap): F-2 hardware_undeclared on node:n4"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("false hardware flags 3;"), std::string::npos) << table;
  // A non-hardware flag on the look-alike's node but not its accounts does not touch it.
  r = Score(truth_, &model_, timeline_,
            {Hw("F-7", "restricted_hardware:huawei-ascend", "node:n5", {"n5"})});
  EXPECT_EQ(Row(r, "lookalike_maintenance").false_positives, 0);
}

TEST_F(HardwareScorerTest, ParsesFlagNodes) {
  auto flags = ParseFlagsJson(
      R"({"flags": [{"flagId": "F-1", "rule": "hardware_moved", "subject": "accelerator:SN-1",
                     "nodes": ["n1", "n2"], "accelerators": ["n2/0000:18:00.0"]}]})",
      "flags.json");
  ASSERT_TRUE(flags.ok()) << flags.status();
  ASSERT_EQ(flags->size(), 1u);
  EXPECT_EQ((*flags)[0].nodes, (std::vector<std::string>{"n1", "n2"}));
}

TEST(GroundTruthHardwareTest, SerialsAndExpectedNodesRoundTrip) {
  GroundTruth t;
  t.scenario = "s";
  t.interval_seconds = 60;
  t.reports_per_node = 10;
  Lineage l;
  l.id = "L-h_moved-001";
  l.typology = "h_moved";
  l.role = kRoleAdversary;
  l.nodes = {"a", "b"};
  l.serials = {"SN1"};
  l.expected = {{"hardware_moved", "accelerator", "SN1", {}, {"a", "b"}}};
  t.lineages = {l};
  auto back = ParseGroundTruth(GroundTruthToJson(t), "gt.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->lineages[0].serials, l.serials);
  EXPECT_EQ(back->lineages[0].expected[0].nodes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(back->lineages[0].expected[0].subject_kind, "accelerator");
}

}  // namespace
}  // namespace prov::eval
