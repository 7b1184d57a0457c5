// prov-eval-gen's realistic mode (--preset realistic): the generated world has the properties a
// real provider's fleet has and the clean background lacked (shared common names, registered
// agents, gradually adopted public artifacts, re-let nodes, popular off-fleet endpoints, dormant
// accounts), the new adversaries (external coordinator, rhythm) and the varied old ones. Uses
// the built-in name sample and a DPL written here; no file from ../shared/data.
#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "common/fs.h"
#include "gtest/gtest.h"
#include "server/kyc/kyc_parser.h"
#include "server/screening/csl_list.h"
#include "tools/eval/eval_generator.h"
#include "tools/eval/flop_model.h"
#include "tools/eval/population.h"
#include "tools/eval/realistic_background.h"
#include "tools/prov-sim/report_builder.h"
#include "tools/prov-sim/scenario.h"

namespace prov::eval {
namespace {

constexpr char kCsl[] = "tests/fixtures/eval/csl_sample.csv";
// Denied Persons List layout (bis_dpl.txt): the first row is real (public domain); the second is
// written for this test, a name the built-in sample draws about once in 120 owners.
constexpr char kDpl[] =
    "\"Name\"\t\"Street_Address\"\t\"City\"\t\"State\"\t\"Country\"\t\"Postal_Code\"\t"
    "\"Effective_Date\"\t\"Expiration_Date\"\t\"Standard_Order\"\t\"Last_Update\"\t\"Action\"\t"
    "\"FR_Citation\"\n"
    "\" ADRIAN MANUEL HERNANDEZ\"\t\"3037 S. 69TH DRIVE\"\t\"PHONEIX\"\t\"AZ\"\t\"\"\t\"85043\"\t"
    "\"10/16/2017\"\t\"10/13/2020\"\t\"Y\"\t\"2017-10-23\"\t\"FR NOTICE ADDED\"\t"
    "\"82 F.R. 48792 10/20/2017\"\n"
    "\"MICHAEL SMITH\"\t\"1 TEST ROAD\"\t\"SPRINGFIELD\"\t\"IL\"\t\"US\"\t\"62701\"\t"
    "\"01/02/2020\"\t\"01/02/2030\"\t\"Y\"\t\"2020-01-03\"\t\"FR NOTICE ADDED\"\t"
    "\"85 F.R. 1 01/03/2020\"\n";

screening::CslList LoadCslWithDpl() {
  auto text = ReadFileToString(kCsl);
  EXPECT_TRUE(text.ok()) << text.status();
  auto rows = DplAsCslRows(kDpl, "dpl.txt");
  EXPECT_TRUE(rows.ok()) << rows.status();
  std::string merged = *text + (text->back() == '\n' ? "" : "\n") + *rows;
  std::vector<screening::RowError> errors;
  auto list = screening::ParseConsolidatedScreeningList(merged, "merged.csv", &errors);
  EXPECT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(errors.empty()) << errors[0].message;
  return *list;
}

class RealisticGeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    names_ = new NameTables(NameTables::BuiltIn());
    csl_ = new screening::CslList(LoadCslWithDpl());
    auto out = GenerateEval(Options(), *csl_, TraceData{});
    ASSERT_TRUE(out.ok()) << out.status();
    out_ = new EvalOutput(*std::move(out));
    for (const auto& l : out_->truth.lineages) {
      for (const auto& a : l.accounts) lineage_of_[a] = &l;
    }
  }
  static EvalOptions Options() {
    return {.nodes = 320,
            .workloads = 1200,
            .instances = 2,
            .interval_seconds = 60,
            .reports = 90,
            .seed = 5,
            .traces_note = "",
            .realistic = true,
            .dormant_accounts = 300,
            .names = names_,
            .hardware = false};  // as --preset realistic
  }
  static std::vector<const Lineage*> Of(const std::string& typology) {
    std::vector<const Lineage*> out;
    for (const auto& l : out_->truth.lineages) {
      if (l.typology == typology) out.push_back(&l);
    }
    return out;
  }
  static std::vector<const sim::v1::SimWorkload*> WorkloadsOf(const std::string& account) {
    std::vector<const sim::v1::SimWorkload*> out;
    for (const auto& w : out_->scenario.workloads()) {
      if (w.account() == account) out.push_back(&w);
    }
    return out;
  }
  static NameTables* names_;
  static screening::CslList* csl_;
  static EvalOutput* out_;
  static std::map<std::string, const Lineage*> lineage_of_;
};
NameTables* RealisticGeneratorTest::names_ = nullptr;
screening::CslList* RealisticGeneratorTest::csl_ = nullptr;
EvalOutput* RealisticGeneratorTest::out_ = nullptr;
std::map<std::string, const Lineage*> RealisticGeneratorTest::lineage_of_;

TEST_F(RealisticGeneratorTest, ScenarioAndAccountsAreValid) {
  ASSERT_TRUE(sim::ValidateScenario(out_->scenario).ok()) << sim::ValidateScenario(out_->scenario);
  EXPECT_EQ(out_->scenario.nodes_size(), 320);
  auto kyc = kyc::ParseKyc(out_->accounts_csv, kyc::KycFormat::kCsv, "accounts.csv");
  ASSERT_TRUE(kyc.ok()) << kyc.status();
  EXPECT_TRUE(kyc->errors.empty());
  // Dormant accounts: in KYC and the ground truth, with nothing running.
  int dormant = 0;
  for (const auto& l : out_->truth.lineages) {
    if (absl::StartsWith(l.description, "dormant")) {
      ++dormant;
      EXPECT_TRUE(WorkloadsOf(l.accounts[0]).empty());
    }
  }
  EXPECT_EQ(dormant, 300);
  EXPECT_GE(kyc->accounts.size(), 600u);
  EXPECT_NE(out_->scenario.provenance_note().find("REALISTIC background"), std::string::npos);
}

TEST_F(RealisticGeneratorTest, UnrelatedOwnersShareCommonNames) {
  std::map<std::string, std::set<const Lineage*>> owners;
  auto kyc = kyc::ParseKyc(out_->accounts_csv, kyc::KycFormat::kCsv, "accounts.csv");
  ASSERT_TRUE(kyc.ok());
  for (const auto& a : kyc->accounts) {
    for (const auto& o : a.beneficial_owners())
      owners[o.name()].insert(lineage_of_[a.account_id()]);
  }
  int shared = 0;
  for (const auto& [name, lineages] : owners) shared += lineages.size() >= 2;
  EXPECT_GE(shared, 10) << "common names should repeat across unrelated lineages";
}

TEST_F(RealisticGeneratorTest, RegisteredAgentsAndWebmailSharedByManyCompanies) {
  std::map<std::string, int> by_address, by_domain;
  auto kyc = kyc::ParseKyc(out_->accounts_csv, kyc::KycFormat::kCsv, "accounts.csv");
  ASSERT_TRUE(kyc.ok());
  for (const auto& a : kyc->accounts) {
    for (const auto& addr : a.addresses()) ++by_address[addr];
    for (const auto& d : a.email_domains()) ++by_domain[d];
  }
  for (const auto& agent : RegisteredAgentAddresses()) {
    EXPECT_GE(by_address[agent], 5) << agent;
  }
  EXPECT_GE(by_domain["gmail.com"], 5);
}

TEST_F(RealisticGeneratorTest, PublicArtifactsAdoptedGraduallyByUnrelatedTeams) {
  int rare = 0, common = 0, gradual = 0;
  for (const auto& digest : PublicArtifacts()) {
    std::map<std::string, uint32_t> first_use;  // account -> first report it reports the digest
    for (const auto& w : out_->scenario.workloads()) {
      for (const auto& d : w.artifact_digests()) {
        if (d != digest) continue;
        auto [it, fresh] = first_use.try_emplace(w.account(), w.start_report());
        if (!fresh) it->second = std::min(it->second, w.start_report());
      }
    }
    std::set<uint32_t> adoption_times;
    for (const auto& [account, first] : first_use) {
      adoption_times.insert(first);
      EXPECT_EQ(lineage_of_[account]->role, kRoleBackground);
    }
    rare += first_use.size() >= 2 && first_use.size() <= 3;
    common += first_use.size() > 5;
    gradual += adoption_times.size() >= 3 && *adoption_times.rbegin() > 10;
  }
  EXPECT_GE(rare, 1);
  EXPECT_GE(common, 2);
  EXPECT_GE(gradual, 2);
}

TEST_F(RealisticGeneratorTest, MultiNodeRunsEndAndTheirNodesAreReLet) {
  absl::flat_hash_map<std::string, std::vector<const sim::v1::SimWorkload*>> by_node;
  for (const auto& w : out_->scenario.workloads()) by_node[w.node_id()].push_back(&w);
  int relet = 0, same_master_port = 0;
  for (const auto& [node, ws] : by_node) {
    for (const auto* first : ws) {
      if (first->world_size() <= 8 || first->duration_reports() == 0) continue;
      for (const auto* next : ws) {
        if (next->account() == first->account()) continue;
        if (next->start_report() < first->start_report() + first->duration_reports()) continue;
        ++relet;
        for (uint32_t p : next->listening_ports()) same_master_port += p == 29500;
      }
    }
  }
  EXPECT_GE(relet, 10);
  EXPECT_GE(same_master_port, 1);
}

TEST_F(RealisticGeneratorTest, PopularOffFleetEndpointsAndCheckpointStalls) {
  std::map<std::string, std::set<std::string>> accounts_of;
  int stalling = 0;
  for (const auto& w : out_->scenario.workloads()) {
    for (const auto& p : w.peers()) accounts_of[p.remote_address()].insert(w.account());
    stalling += lineage_of_[w.account()]->role == kRoleBackground && w.idle_reports_size() >= 3;
  }
  for (const auto& [address, port] : PopularOffFleetEndpoints()) {
    EXPECT_GE(accounts_of[address].size(), 20u) << address;
  }
  EXPECT_GE(stalling, 50);
}

TEST_F(RealisticGeneratorTest, ExternalCoordinatorAdversary) {
  auto lineages = Of("f_external_coordinator");
  ASSERT_EQ(lineages.size(), 2u);
  absl::flat_hash_set<std::string> fleet_ips;
  for (const auto& n : out_->scenario.nodes()) fleet_ips.insert(n.ip_address());
  for (const Lineage* l : lineages) {
    std::set<std::string> endpoints;
    for (const auto& a : l->accounts) {
      for (const auto* w : WorkloadsOf(a)) {
        ASSERT_EQ(w->peers_size(), 1);
        endpoints.insert(w->peers(0).remote_address());
      }
    }
    ASSERT_EQ(endpoints.size(), 1u) << l->id << ": one shared endpoint";
    const std::string endpoint = *endpoints.begin();
    EXPECT_FALSE(fleet_ips.contains(endpoint)) << "off-fleet";
    // Nobody else talks to it.
    for (const auto& w : out_->scenario.workloads()) {
      for (const auto& p : w.peers()) {
        if (p.remote_address() == endpoint) EXPECT_EQ(lineage_of_[w.account()], l);
      }
    }
    ASSERT_EQ(l->expected.size(), 1u);
    EXPECT_EQ(l->expected[0].rule, "compute_tier:eval-tier-1");
    EXPECT_EQ(l->expected[0].accounts.size(), l->accounts.size());
    EXPECT_LT(l->max_account_flop_low, out_->truth.tiers[0].flop);
    EXPECT_GE(l->combined_flop_low, out_->truth.tiers[0].flop);
  }
  // The two instances differ: c10d rendezvous on 3 accounts, parameter server over 443 on 4.
  EXPECT_NE(lineages[0]->accounts.size(), lineages[1]->accounts.size());
  // Its look-alike: a rare off-fleet tracker shared by unrelated teams, little traffic.
  auto trackers = Of("lookalike_shared_tracker");
  ASSERT_EQ(trackers.size(), 2u);
  EXPECT_TRUE(trackers[0]->expected.empty());
  EXPECT_GE(trackers[0]->combined_flop_low, out_->truth.tiers[0].flop);
}

TEST_F(RealisticGeneratorTest, RhythmIslandsExchangeEvery30To60Minutes) {
  auto lineages = Of("g_rhythm");
  ASSERT_EQ(lineages.size(), 2u);
  for (const Lineage* l : lineages) {
    std::set<std::vector<uint32_t>> stall_sets;
    int exchanging = 0;
    for (const auto& a : l->accounts) {
      for (const auto* w : WorkloadsOf(a)) {
        stall_sets.insert({w->idle_reports().begin(), w->idle_reports().end()});
        // Exchanges: one connection each (a peer firing once), every one a stall of the island,
        // at least two, 30 to 60 minutes apart (jittered).
        std::vector<uint32_t> exchanges;
        for (const auto& p : w->peers()) {
          if (p.period_reports() == 0) continue;
          for (uint32_t k = 0; k < out_->truth.reports_per_node; ++k) {
            if (!sim::PeerActive(p, k)) continue;
            exchanges.push_back(k);
            EXPECT_TRUE(sim::IsIdle(*w, k)) << "report " << k;
          }
        }
        if (exchanges.empty()) continue;
        ++exchanging;
        EXPECT_GE(exchanges.size(), 2u);
        std::sort(exchanges.begin(), exchanges.end());
        for (size_t i = 1; i < exchanges.size(); ++i) {
          const uint32_t minutes =
              (exchanges[i] - exchanges[i - 1]) * out_->truth.interval_seconds / 60;
          EXPECT_GE(minutes, 30u);
          EXPECT_LE(minutes, 60u);
        }
      }
    }
    EXPECT_EQ(exchanging, 3) << l->id << ": the first node of each island";
    EXPECT_EQ(stall_sets.size(), 1u) << l->id << ": every island stalls together";
    EXPECT_EQ(l->expected.size(), 1u);
    // When the evidence joining the islands exists: the first exchange's traffic (direct), or
    // enough shared jittered cycles (stores only), which a 90-report world does not hold.
    const std::vector<uint32_t> stalls = *stall_sets.begin();
    const double end = out_->truth.reports_per_node * out_->truth.interval_seconds;
    if (l->id == "L-g_rhythm-001") {
      EXPECT_DOUBLE_EQ(l->evidence_offset_s, stalls.front() * out_->truth.interval_seconds);
      EXPECT_NE(l->evidence_note.find("send to each other"), std::string::npos);
    } else {
      EXPECT_DOUBLE_EQ(l->evidence_offset_s, end);
      EXPECT_NE(l->evidence_note.find("NOT linkable"), std::string::npos) << l->evidence_note;
    }
    EXPECT_LT(l->max_account_flop_low, out_->truth.tiers[0].flop);
    EXPECT_GE(l->combined_flop_low, out_->truth.tiers[0].flop);
  }
}

TEST_F(RealisticGeneratorTest, OddInstancesVaryWhatAnAdversaryChanges) {
  // c: the varied instance keeps the dataset but not the checkpoint, and staggers its stalls.
  auto split = Of("c_split_packages");
  ASSERT_EQ(split.size(), 2u);
  std::set<std::string> ckpts_plain, ckpts_varied;
  std::set<uint32_t> first_stalls;
  for (const auto& a : split[0]->accounts)
    ckpts_plain.insert(WorkloadsOf(a)[0]->artifact_digests(1));
  for (const auto& a : split[1]->accounts) {
    const auto* w = WorkloadsOf(a)[0];
    ckpts_varied.insert(w->artifact_digests(1));
    first_stalls.insert(w->idle_reports(0));
    EXPECT_EQ(w->artifact_digests(0), WorkloadsOf(split[1]->accounts[0])[0]->artifact_digests(0));
  }
  EXPECT_EQ(ckpts_plain.size(), 1u);
  EXPECT_EQ(ckpts_varied.size(), 3u);
  EXPECT_EQ(first_stalls.size(), 3u);
  // d: B does not start one report after A stops.
  for (const Lineage* l : Of("d_handoff")) {
    const auto* a = WorkloadsOf(l->accounts[0])[0];
    const auto* b = WorkloadsOf(l->accounts[1])[0];
    uint32_t a_end = a->start_report() + a->duration_reports();
    EXPECT_NE(b->start_report(), a_end + 1) << l->id;
  }
  // a: the varied instance uses its own rendezvous port.
  auto shell = Of("a_shell_accounts");
  ASSERT_EQ(shell.size(), 2u);
  EXPECT_EQ(WorkloadsOf(shell[0]->accounts[0])[0]->master_port(), 29500u);
  EXPECT_NE(WorkloadsOf(shell[1]->accounts[0])[0]->master_port(), 29500u);
}

TEST_F(RealisticGeneratorTest, HomonymsOfListedPartiesAreBenignAndCounted) {
  int homonyms = 0;
  for (const auto& l : out_->truth.lineages) {
    if (l.role == kRoleBackground && l.description.find("homonym of a listed party: 'Michael "
                                                        "Smith'") != std::string::npos) {
      ++homonyms;
      EXPECT_TRUE(l.expected.empty());
    }
  }
  EXPECT_GE(homonyms, 1);
  bool counted = false;
  for (const auto& c : out_->checks) counted = counted || c.find("homonyms") != std::string::npos;
  EXPECT_TRUE(counted);
}

TEST_F(RealisticGeneratorTest, DeterministicPerSeed) {
  auto again = GenerateEval(Options(), *csl_, TraceData{});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->accounts_csv, out_->accounts_csv);
  EXPECT_EQ(again->scenario.SerializeAsString(), out_->scenario.SerializeAsString());
}

TEST(RealisticOptionsTest, NeedsNameTables) {
  EvalOptions o{.nodes = 320, .workloads = 1200, .reports = 90, .realistic = true};
  auto out = GenerateEval(o, screening::CslList{}, TraceData{});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("name tables"), std::string::npos);
}

TEST(RealisticOptionsTest, TooFewReportsForTheRhythmIsAnError) {
  NameTables names = NameTables::BuiltIn();
  auto csl = LoadCslWithDpl();
  EvalOptions o{.nodes = 320,
                .workloads = 1200,
                .instances = 1,
                .reports = 60,
                .realistic = true,
                .names = &names};
  auto out = GenerateEval(o, csl, TraceData{});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("need at least 66 reports of 60 s"), std::string::npos)
      << out.status();
}

TEST(PopulationTest, DplRowsBecomeCslRows) {
  auto rows = DplAsCslRows(kDpl, "dpl.txt");
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::string csv =
      "source,entity_number,type,programs,name,title,addresses,federal_register_notice,start_date,"
      "end_date,standard_order,license_requirement,license_policy,call_sign,vessel_type,"
      "gross_tonnage,gross_registered_tonnage,vessel_flag,vessel_owner,remarks,source_list_url,"
      "alt_names,citizenships,dates_of_birth,nationalities,places_of_birth,source_information_url,"
      "ids\n" +
      *rows;
  std::vector<screening::RowError> errors;
  auto list = screening::ParseConsolidatedScreeningList(csv, "dpl.csv", &errors);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(list->entries.size(), 2u);
  EXPECT_EQ(list->entries[0].name, "ADRIAN MANUEL HERNANDEZ");
  EXPECT_EQ(list->entries[0].source, "Denied Persons List (DPL) - Bureau of Industry and Security");
  EXPECT_EQ(list->entries[0].addresses, "3037 S. 69TH DRIVE, PHONEIX, AZ, 85043");

  auto bad = DplAsCslRows("name,address\n", "x.txt");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("x.txt: line 1"), std::string::npos) << bad.status();
  std::string short_row = std::string(kDpl).substr(0, std::string(kDpl).find('\n') + 1) +
                          "\"ONLY A NAME\"\t\"street\"\n";
  bad = DplAsCslRows(short_row, "x.txt");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2: expected 12 fields, got 2"), std::string::npos)
      << bad.status();
}

TEST(PopulationTest, NameTablesFromFilesAndErrors) {
  const std::string dir = ::testing::TempDir() + "/names";
  ASSERT_TRUE(CreateDirectories(dir).ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/us_given_names_ssa.csv", "name,sex,count,share\nAda,F,3,0.1\n")
          .ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/us_surnames_census2000.csv",
                                  "name,count,share,rank\nLOVELACE,7,0.1,1\n")
                  .ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/company_name_tokens_sec.csv",
                                  "token,count,share_of_names\nINC,9,0.5\nENGINES,2,0.1\n")
                  .ok());
  auto t = LoadNameTables(dir);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->us_given.Draw(0.5), "Ada");
  EXPECT_EQ(t->company_tokens.size(), 1u);  // the legal form INC is not a distinctive word
  EXPECT_EQ(t->company_tokens.Draw(0.9), "ENGINES");
  EXPECT_TRUE(t->es_surnames.empty());
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/us_surnames_census2000.csv", "name,count\nLOVELACE,many\n").ok());
  auto bad = LoadNameTables(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("us_surnames_census2000.csv: line 2: column count"),
            std::string::npos)
      << bad.status();
  EXPECT_FALSE(LoadNameTables(dir + "/missing").ok());
}

}  // namespace
}  // namespace prov::eval
