#include "tools/eval/eval_generator.h"

#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/accelerator_catalog.h"
#include "common/fs.h"
#include "common/proto_json.h"
#include "gtest/gtest.h"
#include "server/kyc/kyc_parser.h"
#include "server/policy/policy.h"
#include "tools/eval/flop_model.h"
#include "tools/prov-sim/scenario.h"

namespace prov::eval {
namespace {

constexpr char kCsl[] = "tests/fixtures/eval/csl_sample.csv";

screening::CslList LoadCsl() {
  auto text = ReadFileToString(kCsl);
  EXPECT_TRUE(text.ok()) << text.status();
  std::vector<screening::RowError> errors;
  auto list = screening::ParseConsolidatedScreeningList(*text, kCsl, &errors);
  EXPECT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(errors.empty());
  return *list;
}

EvalOptions Small(uint64_t seed = 3) {
  return {.nodes = 80,
          .workloads = 300,
          .instances = 1,
          .interval_seconds = 60,
          .reports = 40,
          .seed = seed,
          .traces_note = ""};
}

class EvalGeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    csl_ = new screening::CslList(LoadCsl());
    auto out = GenerateEval(Small(), *csl_, TraceData{});
    ASSERT_TRUE(out.ok()) << out.status();
    out_ = new EvalOutput(*std::move(out));
  }
  static screening::CslList* csl_;
  static EvalOutput* out_;
};
screening::CslList* EvalGeneratorTest::csl_ = nullptr;
EvalOutput* EvalGeneratorTest::out_ = nullptr;

TEST_F(EvalGeneratorTest, EveryTypologyAndLookAlikePresent) {
  std::set<std::string> typologies;
  for (const auto& l : out_->truth.lineages) typologies.insert(l.typology);
  for (const char* t :
       {"a_shell_accounts", "b_layered_resellers", "c_split_packages", "d_handoff",
        "e_restricted_hardware", "lookalike_large_customer", "lookalike_public_image",
        "lookalike_inference_fleet", "lookalike_co_start", "background"}) {
    EXPECT_TRUE(typologies.count(t)) << t;
  }
  EXPECT_EQ(out_->scenario.nodes_size(), 80);
  EXPECT_GE(out_->scenario.workloads_size(), 300);
}

TEST_F(EvalGeneratorTest, GroundTruthConsistentWithScenarioAndAccounts) {
  const auto& s = out_->scenario;
  ASSERT_TRUE(sim::ValidateScenario(s).ok()) << sim::ValidateScenario(s);
  auto kyc = kyc::ParseKyc(out_->accounts_csv, kyc::KycFormat::kCsv, "accounts.csv");
  ASSERT_TRUE(kyc.ok()) << kyc.status();
  EXPECT_TRUE(kyc->errors.empty());
  absl::flat_hash_set<std::string> kyc_accounts, nodes;
  for (const auto& a : kyc->accounts) kyc_accounts.insert(a.account_id());
  for (const auto& n : s.nodes()) nodes.insert(n.node_id());
  absl::flat_hash_map<std::string, std::set<std::string>> accounts_on_node;
  absl::flat_hash_set<std::string> workload_accounts;
  for (const auto& w : s.workloads()) {
    accounts_on_node[w.node_id()].insert(w.account());
    workload_accounts.insert(w.account());
  }
  absl::flat_hash_set<std::string> seen;
  for (const auto& l : out_->truth.lineages) {
    for (const auto& a : l.accounts) {
      EXPECT_TRUE(kyc_accounts.contains(a)) << l.id << " " << a;
      EXPECT_TRUE(seen.insert(a).second) << a << " is in two lineages";
    }
    for (const auto& a : l.training_accounts) {
      EXPECT_TRUE(workload_accounts.contains(a)) << l.id << " " << a << " has no workload";
    }
    for (const auto& n : l.nodes) {
      ASSERT_TRUE(nodes.contains(n)) << n;
      for (const auto& a : accounts_on_node[n]) {
        EXPECT_TRUE(std::count(l.accounts.begin(), l.accounts.end(), a)) << n << " runs " << a;
      }
    }
    if (l.role == kRoleAdversary) {
      EXPECT_FALSE(l.expected.empty()) << l.id;
    } else {
      EXPECT_TRUE(l.expected.empty()) << l.id;
    }
    for (const auto& e : l.expected) {
      for (const auto& a : e.accounts) {
        EXPECT_TRUE(std::count(l.accounts.begin(), l.accounts.end(), a)) << l.id << " " << e.rule;
      }
    }
  }
  // Every scenario account is in the ground truth.
  for (const auto& a : workload_accounts) EXPECT_TRUE(seen.contains(a)) << a;
  auto back = ParseGroundTruth(GroundTruthToJson(out_->truth), "gt.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(GroundTruthToJson(*back), GroundTruthToJson(out_->truth));
}

TEST_F(EvalGeneratorTest, TiersSeparateBackgroundAndLineages) {
  FlopModel model = FlopModel::Compute(out_->scenario, AcceleratorCatalog::Builtin());
  const double tier1 = out_->truth.tiers.at(0).flop;
  for (const auto& l : out_->truth.lineages) {
    for (const auto& a : l.training_accounts) {
      EXPECT_LT(model.AccountTrainingFlop(a), tier1) << l.id << " " << a;
    }
    double combined = model.TotalTrainingFlop(l.training_accounts);
    EXPECT_DOUBLE_EQ(combined, l.combined_flop_low) << l.id;
    bool compute = l.typology == "a_shell_accounts" || l.typology == "c_split_packages" ||
                   l.typology == "d_handoff";
    if (compute || l.typology == "lookalike_large_customer" ||
        l.typology == "lookalike_public_image" || l.typology == "lookalike_co_start") {
      EXPECT_GE(combined, tier1) << l.id;
    }
    if (compute) {
      bool expects_tier1 = false;
      for (const auto& e : l.expected) expects_tier1 |= e.rule == "compute_tier:eval-tier-1";
      EXPECT_TRUE(expects_tier1) << l.id;
      // The crossing happens inside the run, not on its first report.
      auto cross = model.CrossingOffset(l.training_accounts, tier1);
      ASSERT_TRUE(cross.has_value());
      EXPECT_GT(*cross, 5 * 60.0) << l.id;
    }
    if (l.typology == "lookalike_inference_fleet") {
      EXPECT_EQ(combined, 0) << l.id;
    }
  }
  EXPECT_LT(out_->truth.max_background_account_flop_low, tier1);
  auto policy = policy::ParsePolicy(out_->policy_yaml, "policy.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->projection.horizon, absl::ZeroDuration());
  EXPECT_DOUBLE_EQ(policy->compute_tiers.at(0).flop, tier1);
  EXPECT_NE(policy->description.find("SCALED"), std::string::npos);
}

TEST_F(EvalGeneratorTest, ResellerChainAndRestrictedHardware) {
  auto kyc = kyc::ParseKyc(out_->accounts_csv, kyc::KycFormat::kCsv, "accounts.csv");
  ASSERT_TRUE(kyc.ok());
  absl::flat_hash_map<std::string, provenance::v1::AccountIdentity> by_id;
  for (const auto& a : kyc->accounts) by_id[a.account_id()] = a;
  int resellers = 0, hardware = 0;
  for (const auto& l : out_->truth.lineages) {
    if (l.typology == "b_layered_resellers") {
      ++resellers;
      const auto& trainer = by_id[l.accounts[0]];
      const auto& mid = by_id[trainer.parent_account()];
      const auto& top = by_id[mid.parent_account()];
      EXPECT_TRUE(mid.is_reseller());
      EXPECT_TRUE(top.is_reseller());
      EXPECT_EQ(top.account_id(), l.accounts[2]);
      // Written differently from every listed name, yet it screens (checked by the generator).
      for (const auto& e : csl_->entries) EXPECT_NE(top.legal_entity(), e.name);
    }
    if (l.typology == "e_restricted_hardware") {
      ++hardware;
      for (const auto& n : out_->scenario.nodes()) {
        if (n.node_id() != l.nodes[0]) continue;
        EXPECT_EQ(n.vendor_id(), 0x19e5u);
        EXPECT_NE(n.hostname().find("h100"), std::string::npos);  // labelled as NVIDIA
      }
    }
  }
  EXPECT_EQ(resellers, 1);
  EXPECT_EQ(hardware, 1);
  // No background node has restricted hardware.
  int ascend = 0;
  for (const auto& n : out_->scenario.nodes()) ascend += n.vendor_id() == 0x19e5;
  EXPECT_EQ(ascend, 1);
}

TEST_F(EvalGeneratorTest, DeterministicPerSeed) {
  auto again = GenerateEval(Small(), *csl_, TraceData{});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ToJson(again->scenario), ToJson(out_->scenario));
  EXPECT_EQ(again->accounts_csv, out_->accounts_csv);
  EXPECT_EQ(GroundTruthToJson(again->truth), GroundTruthToJson(out_->truth));
  auto other = GenerateEval(Small(4), *csl_, TraceData{});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(ToJson(other->scenario), ToJson(out_->scenario));
}

TEST(EvalGeneratorOptionsTest, TooFewNodesIsAnError) {
  EvalOptions o = Small();
  o.nodes = 20;
  auto out = GenerateEval(o, LoadCsl(), TraceData{});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("--nodes"), std::string::npos) << out.status();
}

TEST(EvalGeneratorOptionsTest, SeveralInstancesAtScale) {
  EvalOptions o = Small();
  o.nodes = 200;
  o.workloads = 800;
  o.instances = 3;
  auto out = GenerateEval(o, LoadCsl(), TraceData{});
  ASSERT_TRUE(out.ok()) << out.status();
  int a = 0;
  for (const auto& l : out->truth.lineages) a += l.typology == "a_shell_accounts";
  EXPECT_EQ(a, 3);
}

TEST(DutyCycleTest, ParsesSeriesPerContainerInTimeOrder) {
  std::string csv = "value,timestamp_anon,container_ip\n";
  for (int i = 0; i < 12; ++i) {
    csv += std::to_string(i) + "," + std::to_string(100 - i) + ",c1\n";
  }
  auto s = ParseDutyCycles(csv, "d.csv");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_FLOAT_EQ((*s)[0][0], 11);  // earliest timestamp first
  auto bad = ParseDutyCycles("value,timestamp_anon,container_ip\n150,1,c\n", "d.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace prov::eval
