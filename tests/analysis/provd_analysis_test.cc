// provd in-process on port 0 with real SQLite: reports in over AgentGateway, flags out over
// AnalysisService (ListFlags, GetFlag, GetBundle, WatchFlags), across a restart.
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <thread>

#include "common/grpc/bearer_channel.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "provenance/v1/compliance.grpc.pb.h"
#include "server/provd_server.h"
#include "tests/analysis/analysis_test_util.h"
#include "tests/server/agent_stream.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using namespace provenance::v1;

class ProvdAnalysisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_path_ = dir_.path() + "/policy.yaml";
    std::ofstream(policy_path_) << testing::kTestPolicy;
  }
  std::unique_ptr<ProvdServer> Start(bool ledger_report_clock = true) {
    ProvdOptions o;
    o.data_dir = dir_.path() + "/data";
    o.policy_file = policy_path_;
    o.clock = &clock_;
    // The reports replay a timeline two days old, all sent at once: the ledger credits their own
    // timestamps (as for prov-sim replays), not the instant provd's fake clock stands at.
    o.ledger_report_clock = ledger_report_clock;
    o.metrics_address = "127.0.0.1:0";
    // No scheduled export or retention pass: their audit entries would interleave with the
    // ones this test counts (tests/export covers them).
    o.export_interval = absl::ZeroDuration();
    o.retention = absl::ZeroDuration();
    auto server = ProvdServer::Start(std::move(o));
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return nullptr;
    channel_ = CreateBearerChannel("127.0.0.1:" + std::to_string((*server)->port()),
                                   grpc::InsecureChannelCredentials(), (*server)->internal_token());
    analysis_ = AnalysisService::NewStub(channel_);
    return *std::move(server);
  }
  // Node east runs shell-a listening on 29500; node west runs shell-b talking to it.
  NodeReport Report(const std::string& node, uint64_t seq) {
    const absl::Time t = testing::kT0 + absl::Minutes(5 * static_cast<int>(seq));
    const bool east = node == "n-east";
    NodeReport r = testing::MakeReport(node, "boot-1", seq, t, east ? "dc-east" : "dc-west");
    r.set_interval_seconds(300);
    r.mutable_node()->add_addresses(east ? "10.1.0.1" : "10.2.0.1");
    Workload* w = r.mutable_workloads(0);
    w->set_workload_id(east ? "k8s:a" : "k8s:b");
    w->mutable_attribution()->set_account(east ? "shell-a" : "shell-b");
    if (east) {
      w->add_listening_ports(29500);
    } else {
      NetPeer* p = w->add_peers();
      p->set_remote_address("10.1.0.1");
      p->set_remote_port(29500);
      p->set_state("ESTABLISHED");
    }
    return r;
  }
  // `now`: every report dated at the fake clock's time (sent at once) instead of 5 min apart.
  void SendRounds(uint64_t first, uint64_t last, bool now = false) {
    testing::AgentStream east(channel_), west(channel_);
    for (uint64_t seq = first; seq <= last; ++seq) {
      NodeReport e = Report("n-east", seq), w = Report("n-west", seq);
      if (now) {
        e.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(clock_.Now()));
        w.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(clock_.Now()));
      }
      east.Write(e);
      west.Write(w);
    }
    ASSERT_TRUE(east.WaitCommitted("boot-1", last));
    ASSERT_TRUE(west.WaitCommitted("boot-1", last));
    east.Finish();
    west.Finish();
  }
  std::vector<Flag> ListFlags(const std::string& rule) {
    grpc::ClientContext ctx;
    ListFlagsRequest req;
    req.set_rule(rule);
    ListFlagsResponse resp;
    EXPECT_TRUE(analysis_->ListFlags(&ctx, req, &resp).ok());
    return {resp.flags().begin(), resp.flags().end()};
  }

  testing::TempDir dir_;
  std::string policy_path_;
  FakeClock clock_{testing::kT0 + absl::Hours(48)};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<AnalysisService::Stub> analysis_;
};

TEST_F(ProvdAnalysisTest, SplitRunAcrossDatacentresIsFlaggedLiveAndSurvivesRestart) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  // A watcher connected before anything happens sees the flag pushed.
  grpc::ClientContext watch_ctx;
  WatchFlagsRequest watch_req;
  watch_req.set_min_severity(SEVERITY_LOW);
  watch_req.set_include_existing(true);  // no race with the handler registering its watch
  auto watch = analysis_->WatchFlags(&watch_ctx, watch_req);
  Flag pushed;
  std::thread watcher([&] { watch->Read(&pushed); });

  SendRounds(1, 3);
  server->FlushAnalysis();
  auto flags = ListFlags("compute_tier:");
  ASSERT_THAT(flags, SizeIs(1));
  const Flag flag = flags[0];
  EXPECT_EQ(flag.rule(), "compute_tier:tier-1e18");
  EXPECT_THAT(flag.accounts(), ElementsAre("shell-a", "shell-b"));
  EXPECT_THAT(flag.datacenters(), ElementsAre("dc-east", "dc-west"));
  EXPECT_EQ(flag.policy_version(), "test-1");
  EXPECT_GE(flag.training_flop().low(), 1e18);
  EXPECT_LT(flag.training_flop().low(), flag.training_flop().high());
  watcher.join();
  EXPECT_EQ(pushed.flag_id(), flag.flag_id());
  watch_ctx.TryCancel();
  watch->Finish();
  const std::string metrics = testing::HttpGet(server->metrics_port(), "/metrics");
  EXPECT_THAT(metrics,
              HasSubstr(R"(prov_flags{rule="compute_tier",severity="medium",status="open"} 1)"));
  EXPECT_THAT(metrics, HasSubstr(R"(prov_bundles{kind="multi_account"} 1)"));
  EXPECT_THAT(metrics, HasSubstr("prov_analysis_reports_total 6"));

  {
    grpc::ClientContext ctx;
    GetBundleRequest req;
    req.set_bundle_id(flag.bundle_id());
    GetBundleResponse resp;
    ASSERT_TRUE(analysis_->GetBundle(&ctx, req, &resp).ok());
    EXPECT_THAT(resp.bundle().accounts(), ElementsAre("shell-a", "shell-b"));
    ASSERT_GE(resp.links_size(), 1);
    EXPECT_EQ(resp.links(0).kind(), "network_peer");
    EXPECT_THAT(resp.links(0).sentence(), HasSubstr("10.1.0.1:29500"));
    ASSERT_THAT(resp.flags(), SizeIs(1));
  }
  {
    grpc::ClientContext ctx;
    GetFlagRequest req;
    req.set_flag_id("F-999999");
    GetFlagResponse resp;
    EXPECT_EQ(analysis_->GetFlag(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  server->Shutdown();

  server = Start();
  ASSERT_NE(server, nullptr);
  {
    grpc::ClientContext ctx;
    GetFlagRequest req;
    req.set_flag_id(flag.flag_id());
    GetFlagResponse resp;
    ASSERT_TRUE(analysis_->GetFlag(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.flag().rule(), flag.rule());
    EXPECT_EQ(resp.bundle().bundle_id(), flag.bundle_id());
  }
  SendRounds(4, 8);
  server->FlushAnalysis();
  flags = ListFlags("compute_tier:");
  ASSERT_THAT(flags, SizeIs(1));  // updated, never duplicated
  EXPECT_EQ(flags[0].flag_id(), flag.flag_id());
  EXPECT_GT(flags[0].training_flop().low(), flag.training_flop().low());
}

// Issue 14 through the whole pipeline: twelve rounds claiming 300 s each but sent at once are
// credited only the first report's interval by the ledger (provd's clock did not move), and the
// analysis engine sees that credited usage: the bundle stays below the 1e18 tier (the claim
// would be 12 x 4.7e17 FLOP).
TEST_F(ProvdAnalysisTest, InflatedIntervalsSentAtOnceDoNotCrossATier) {
  auto server = Start(/*ledger_report_clock=*/false);
  ASSERT_NE(server, nullptr);
  SendRounds(1, 12, /*now=*/true);
  server->FlushAnalysis();
  EXPECT_THAT(ListFlags("compute_tier:"), ::testing::IsEmpty());
  grpc::ClientContext ctx;
  ListBundlesRequest req;
  req.set_account("shell-a");
  ListBundlesResponse resp;
  ASSERT_TRUE(analysis_->ListBundles(&ctx, req, &resp).ok());
  ASSERT_THAT(resp.bundles(), SizeIs(1));
  // 2 nodes x 300 s x 989e12 x (0.5 + 0.3) (two accelerators at tensor activity 0.5 and the
  // default 0.3) = 4.7e17.
  EXPECT_NEAR(resp.bundles(0).training_flop().low(), 2 * 300 * 989e12 * 0.8, 1e15);
}

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(std::getenv("PROV_SOURCE_DIR")) + "/tests/fixtures/identity/" +
                   name);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// KYC and the screening list in through IdentityService; flags out through AnalysisService.
TEST_F(ProvdAnalysisTest, RestrictedPartiesFromKycAndScreeningAreFlaggedWhenTheyTrain) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  auto identity = IdentityService::NewStub(channel_);
  {
    grpc::ClientContext ctx;
    ImportScreeningListRequest req;
    req.set_source_name("csl_sample.csv");
    req.set_content(Fixture("csl_sample.csv"));
    ImportScreeningListResponse resp;
    ASSERT_TRUE(identity->ImportScreeningList(&ctx, req, &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    ImportAccountsRequest req;
    req.set_source_name("accounts.csv");
    req.set_content(Fixture("accounts.csv"));
    ImportAccountsResponse resp;
    ASSERT_TRUE(identity->ImportAccounts(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.kyc_version(), 1);
  }
  server->FlushAnalysis();
  std::vector<std::string> screened;
  for (const Flag& f : ListFlags("screening_hit")) screened.push_back(f.subject());
  EXPECT_THAT(screened, ::testing::IsSupersetOf({"account:guian-cloud", "account:reseller-top"}));
  EXPECT_THAT(ListFlags("restricted_party_training"), ::testing::IsEmpty());  // nobody trains

  // end-customer sits under reseller-mid -> reseller-top (Gryphon Aerospace, on the list);
  // guian-cloud is incorporated in CN. Both train now.
  {
    testing::AgentStream stream(channel_);
    NodeReport r = testing::MakeReport("n-1", "boot-1", 1, testing::kT0, "dc-east");
    r.mutable_workloads(0)->mutable_attribution()->set_account("end-customer");
    Workload* w = r.add_workloads();
    *w = r.workloads(0);
    w->set_workload_id("k8s:pod-2");
    w->mutable_attribution()->set_account("guian-cloud");
    stream.Write(r);
    ASSERT_TRUE(stream.WaitCommitted("boot-1", 1));
    stream.Finish();
  }
  server->FlushAnalysis();
  auto restricted = ListFlags("restricted_party_training");
  ASSERT_THAT(restricted, SizeIs(2));
  std::string reasons;
  for (const Flag& f : restricted) {
    EXPECT_EQ(f.severity(), SEVERITY_CRITICAL);
    EXPECT_EQ(f.kyc_version(), 1);
    for (const auto& e : f.evidence()) reasons += e.sentence() + "\n";
  }
  EXPECT_THAT(reasons,
              HasSubstr("via reseller chain end-customer -> reseller-mid -> reseller-top"));
  EXPECT_THAT(reasons, HasSubstr("guian-cloud is incorporated in CN"));

  server->Shutdown();
  server = Start();  // identity and flags come back from provd.db
  ASSERT_NE(server, nullptr);
  server->FlushAnalysis();
  EXPECT_THAT(ListFlags("restricted_party_training"), SizeIs(2));
  identity = IdentityService::NewStub(channel_);  // the new server's port
  grpc::ClientContext ctx;
  GetAccountRequest req;
  req.set_account_id("end-customer");
  GetAccountResponse resp;
  ASSERT_TRUE(identity->GetAccount(&ctx, req, &resp).ok());
  EXPECT_FALSE(resp.bundle_id().empty());
  EXPECT_FALSE(resp.flags().empty());
}

// Issue 4 over gRPC: people authenticate with tokens, roles decide what they may do, a case
// change shows in the flag, and every change is in the audit log. The fixture's channel carries
// provd's internal admin token; the others below carry tokens issued through AccessService.
TEST_F(ProvdAnalysisTest, RolesAreEnforcedAndCasesMoveFlags) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  SendRounds(1, 3);
  server->FlushAnalysis();
  auto flags = ListFlags("compute_tier:");
  ASSERT_THAT(flags, SizeIs(1));
  const std::string flag_id = flags[0].flag_id();
  const std::string address = "127.0.0.1:" + std::to_string(server->port());
  auto channel_for = [&](const std::string& token) {
    return CreateBearerChannel(address, grpc::InsecureChannelCredentials(), token);
  };
  auto issue = [&](const std::string& name, Role role) {
    auto access = AccessService::NewStub(channel_);
    grpc::ClientContext ctx;
    IssueTokenRequest req;
    req.set_name(name);
    req.set_role(role);
    IssueTokenResponse resp;
    grpc::Status s = access->IssueToken(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  const IssueTokenResponse viewer = issue("vera", ROLE_VIEWER);
  const IssueTokenResponse analyst = issue("ann", ROLE_ANALYST);

  // Anonymous: every people-facing service says UNAUTHENTICATED and shows nothing.
  auto anon = channel_for("");
  {
    grpc::ClientContext ctx;
    ListFlagsResponse resp;
    EXPECT_EQ(AnalysisService::NewStub(anon)->ListFlags(&ctx, {}, &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(resp.flags_size(), 0);
    grpc::ClientContext ctx2;
    ListNodesResponse nodes;
    EXPECT_EQ(AuditService::NewStub(anon)->ListNodes(&ctx2, {}, &nodes).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext ctx3;
    GetPolicyResponse policy;
    EXPECT_EQ(IdentityService::NewStub(anon)->GetPolicy(&ctx3, {}, &policy).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext ctx4;
    Case c;
    GetCaseRequest get;
    get.set_flag_id(flag_id);
    EXPECT_EQ(CaseService::NewStub(anon)->GetCase(&ctx4, get, &c).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  UpdateCaseRequest ack;
  ack.set_flag_id(flag_id);
  ack.set_action("acknowledge");
  ack.set_note("on it");
  // A viewer reads but cannot change a case, load policy or issue tokens.
  {
    auto ch = channel_for(viewer.token());
    grpc::ClientContext ctx;
    ListFlagsResponse resp;
    EXPECT_TRUE(AnalysisService::NewStub(ch)->ListFlags(&ctx, {}, &resp).ok());
    EXPECT_EQ(resp.flags_size(), 1);
    grpc::ClientContext ctx2;
    Case c;
    grpc::Status s = CaseService::NewStub(ch)->UpdateCase(&ctx2, ack, &c);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(s.error_message(), "this needs the analyst role; token:vera is viewer");
    grpc::ClientContext ctx3;
    LoadPolicyRequest load;
    load.set_yaml(testing::kTestPolicy);
    LoadPolicyResponse loaded;
    EXPECT_EQ(IdentityService::NewStub(ch)->LoadPolicy(&ctx3, load, &loaded).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    grpc::ClientContext ctx4;
    IssueTokenRequest more;
    more.set_name("x");
    more.set_role(ROLE_ADMIN);
    IssueTokenResponse issued;
    EXPECT_EQ(AccessService::NewStub(ch)->IssueToken(&ctx4, more, &issued).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // An analyst acknowledges; the flag says so at once.
  {
    auto ch = channel_for(analyst.token());
    grpc::ClientContext ctx;
    Case c;
    grpc::Status s = CaseService::NewStub(ch)->UpdateCase(&ctx, ack, &c);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(c.status(), FLAG_STATUS_ACKNOWLEDGED);
    ASSERT_EQ(c.actions_size(), 1);
    EXPECT_EQ(c.actions(0).actor(), "token:ann");
    grpc::ClientContext ctx2;
    GetFlagRequest get;
    get.set_flag_id(flag_id);
    GetFlagResponse flag;
    ASSERT_TRUE(AnalysisService::NewStub(ch)->GetFlag(&ctx2, get, &flag).ok());
    EXPECT_EQ(flag.flag().status(), FLAG_STATUS_ACKNOWLEDGED);
  }
  // A revoked token stops working.
  {
    auto access = AccessService::NewStub(channel_);
    grpc::ClientContext ctx;
    RevokeTokenRequest req;
    req.set_token_id(analyst.info().token_id());
    TokenInfo info;
    ASSERT_TRUE(access->RevokeToken(&ctx, req, &info).ok());
    grpc::ClientContext ctx2;
    Principal who;
    EXPECT_EQ(
        AccessService::NewStub(channel_for(analyst.token()))->WhoAmI(&ctx2, {}, &who).error_code(),
        grpc::StatusCode::UNAUTHENTICATED);
  }
  // The audit log has every change, and it verifies.
  {
    auto log = AuditLogService::NewStub(channel_);
    grpc::ClientContext ctx;
    ListAuditEntriesResponse entries;
    ASSERT_TRUE(log->ListAuditEntries(&ctx, {}, &entries).ok());
    std::vector<std::string> actions;
    for (const auto& e : entries.entries()) actions.push_back(e.action() + " " + e.actor());
    // The viewer's three refused calls are audited too (issue 14), not only counted.
    EXPECT_THAT(actions, ElementsAre("token.issue provd", "token.issue provd", "token.issue provd",
                                     "access.denied token:vera", "access.denied token:vera",
                                     "access.denied token:vera", "case.acknowledge token:ann",
                                     "token.revoke provd"));
    grpc::ClientContext ctx2;
    VerifyAuditLogResponse verified;
    ASSERT_TRUE(log->VerifyAuditLog(&ctx2, {}, &verified).ok());
    EXPECT_TRUE(verified.intact());
    EXPECT_EQ(verified.entries(), 8u);
  }
  // Refusals are counted for on-call: 4 anonymous calls + the revoked token; 3 role denials.
  const std::string metrics = testing::HttpGet(server->metrics_port(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr(R"(prov_auth_failures_total{reason="unauthenticated"} 5)"));
  EXPECT_THAT(metrics, HasSubstr(R"(prov_auth_failures_total{reason="denied"} 3)"));
  EXPECT_THAT(metrics, HasSubstr(R"(prov_api_tokens{role="analyst",state="revoked"} 1)"));
  // After a restart the case, the flag's status and the tokens are still there.
  server->Shutdown();
  server = Start();
  ASSERT_NE(server, nullptr);
  auto ch = CreateBearerChannel("127.0.0.1:" + std::to_string(server->port()),
                                grpc::InsecureChannelCredentials(), viewer.token());
  grpc::ClientContext ctx;
  GetCaseRequest get;
  get.set_flag_id(flag_id);
  Case c;
  ASSERT_TRUE(CaseService::NewStub(ch)->GetCase(&ctx, get, &c).ok());
  EXPECT_EQ(c.status(), FLAG_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(c.actions(0).note(), "on it");
  EXPECT_EQ(ListFlags("compute_tier:")[0].status(), FLAG_STATUS_ACKNOWLEDGED);
}

}  // namespace
}  // namespace prov::server
