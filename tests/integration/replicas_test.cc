// Two provd replicas on one PostgreSQL (issue 12), black box: real provd processes on a real
// PostgreSQL started by the test, agents' uplinks spread over both (each lists both replicas, in
// a different order). The elected leader is SIGKILLed mid-ingest: every acked report is stored
// exactly once, the standby takes over within the takeover time, its engine resumes from the
// saved position of the ingest batch log (every node's newest stored report is what its saved
// analysis state last saw), a flag raised before the kill is still there once, a flag raised
// after it is served by the survivor, and by the killed replica once it is back as a standby.
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/uplink/uplink.h"
#include "common/clock.h"
#include "common/grpc/bearer_channel.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_result.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/server/agent_stream.h"
#include "tests/store/pg_server.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using provenance::v1::NodeReport;

// Between polls of the store or a replica's API.
const std::function<void()> kPause = [] {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
};
using server::PgConn;
using server::PgConnOptions;

// A node with two H100s, or with Ascend 910s (the default policy's restricted_hardware rule
// flags it at once).
NodeReport Report(const std::string& node_id, bool ascend) {
  NodeReport r;
  r.mutable_node()->set_node_id(node_id);
  r.mutable_node()->set_hostname(node_id + ".example");
  r.mutable_node()->set_boot_id("boot-1");
  r.mutable_node()->set_datacenter("fra1");
  r.mutable_node()->set_region("eu-central");
  r.set_interval_seconds(10);
  r.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  for (const char* address : {"0000:3b:00.0", "0000:3c:00.0"}) {
    auto* a = r.add_accelerators();
    a->set_pci_address(address);
    a->set_uuid(absl::StrCat("GPU-", node_id, "-", address));
    if (ascend) {
      a->set_vendor_id(0x19e5);
      a->set_device_id(0xd801);
      a->set_vendor("huawei");
      a->set_model("Ascend 910");
      a->set_family("ascend");
    } else {
      a->set_vendor_id(0x10de);
      a->set_device_id(0x2330);
      a->set_vendor("nvidia");
      a->set_model("H100 SXM5 80GB");
      a->set_model_known(true);
    }
  }
  return r;
}

class ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PROV_PG_SERVER_OR_SKIP(pg);
    absl::StatusOr<std::string> conninfo = pg->FreshDatabase();
    ASSERT_TRUE(conninfo.ok()) << conninfo.status();
    conninfo_ = *conninfo;
    // One signing key for every replica (provd refuses a PostgreSQL store without one).
    key_ = dir_.Sub("export-signing.key");
    {
      std::ofstream key(key_);
      key << "ed25519-seed 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    }
    ASSERT_EQ(::chmod(key_.c_str(), 0600), 0);
    for (const std::string name : {"a", "b"}) StartReplica(name);
    auto conn = PgConn::Connect(conninfo_, PgConnOptions{.search_path = "provd"});
    ASSERT_TRUE(conn.ok()) << conn.status();
    db_ = *std::move(conn);
  }

  void StartReplica(const std::string& name) {
    const std::string data = dir_.Sub("provd-" + name);
    ::mkdir(data.c_str(), 0755);
    auto provd = std::make_unique<testing::ProvdProcess>(data, 0, Args(name));
    ASSERT_TRUE(provd->ok()) << provd->log();
    replicas_[name] = std::move(provd);
  }

  std::vector<std::string> Args(const std::string& name) const {
    std::vector<std::string> args = {"--insecure",
                                     "--store",
                                     "postgresql:" + conninfo_,
                                     "--replica-name",
                                     name,
                                     "--leader-takeover",
                                     "2s",
                                     "--export-signing-key",
                                     key_};
    if (!policy_.empty()) {
      args.push_back("--policy");
      args.push_back(policy_);
    }
    return args;
  }

  std::unique_ptr<agent::Uplink> MakeUplink(const std::string& spool, const std::string& servers) {
    agent::UplinkOptions options;
    options.server_address = servers;
    options.credentials = grpc::InsecureChannelCredentials();
    options.spool_dir = dir_.Sub(spool);
    options.spool_fsync = false;
    options.initial_backoff = absl::Milliseconds(100);
    options.max_backoff = absl::Milliseconds(500);
    auto uplink = agent::Uplink::Create(options, RealClock::Get());
    EXPECT_TRUE(uplink.ok()) << uplink.status();
    return *std::move(uplink);
  }

  // The bootstrap admin token (written by whichever replica made it first), and a leader row.
  void TakeTokenAndWaitForLeader() {
    for (auto& [name, p] : replicas_) {
      if (!p->token().empty()) token_ = p->token();
    }
    ASSERT_FALSE(token_.empty()) << Logs();
    ASSERT_TRUE(
        testing::PollUntil([&] { return !Leader().empty(); }, kPause, std::chrono::seconds(30)))
        << Logs();
  }

  // The replica named in the leader row ("" when none).
  std::string Leader() {
    auto r = db_->Query("SELECT holder FROM leader WHERE id = 1");
    if (!r.ok() || r->rows() == 0) return "";
    return r->Text(0, 0);
  }

  int64_t Scalar(const std::string& sql) {
    auto r = db_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status() << " " << sql;
    if (!r.ok() || r->rows() == 0 || r->IsNull(0, 0)) return -1;
    return std::stoll(r->Text(0, 0));
  }

  // (rows, distinct seqs, max seq) of a node's stored reports.
  std::tuple<int64_t, int64_t, int64_t> Stored(const std::string& node) {
    const std::string where = absl::StrCat(
        " FROM reports r JOIN nodes n ON n.id = r.node WHERE n.node_id = '", node, "'");
    return {Scalar("SELECT count(*)" + where), Scalar("SELECT count(DISTINCT r.seq)" + where),
            Scalar("SELECT max(r.seq)" + where)};
  }

  std::vector<provenance::v1::Flag> Flags(const std::string& replica) {
    auto& p = replicas_[replica];
    auto channel = CreateBearerChannel(p->address(), grpc::InsecureChannelCredentials(), token_);
    auto stub = provenance::v1::AnalysisService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    provenance::v1::ListFlagsRequest request;
    provenance::v1::ListFlagsResponse response;
    grpc::Status s = stub->ListFlags(&ctx, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.flags().begin(), response.flags().end()};
  }

  int CountFlags(const std::string& replica, const std::string& rule, const std::string& node) {
    int n = 0;
    for (const auto& f : Flags(replica)) {
      if (absl::StartsWith(f.rule(), rule) && f.subject() == "node:" + node) ++n;
    }
    return n;
  }

  provenance::v1::GetServerStatusResponse Status(const std::string& replica) {
    auto stub = provenance::v1::AuditService::NewStub(CreateBearerChannel(
        replicas_[replica]->address(), grpc::InsecureChannelCredentials(), token_));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    provenance::v1::GetServerStatusResponse response;
    grpc::Status s = stub->GetServerStatus(&ctx, {}, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  std::string Logs() {
    std::string out =
        absl::StrCat("store: ingest_batches=", Scalar("SELECT count(*) FROM ingest_batches"),
                     " analysis_position=", Scalar("SELECT count(*) FROM analysis_position"),
                     " analysis_nodes=", Scalar("SELECT count(*) FROM analysis_nodes"),
                     " flags=", Scalar("SELECT count(*) FROM flags"),
                     " replicas=", Scalar("SELECT count(*) FROM replicas"), " seen_age_ms=",
                     Scalar("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint - "
                            "max(seen_us) / 1000 FROM replicas"),
                     "\n");
    for (auto& [name, p] : replicas_) {
      if (!p->Running()) continue;
      for (const auto& f : Flags(name)) {
        absl::StrAppend(&out, name, " flag ", f.flag_id(), " ", f.rule(), " ", f.subject(), "\n");
      }
    }
    for (auto& [name, p] : replicas_) out += "\nprovd " + name + ":\n" + p->log();
    return out;
  }

  testing::TempDir dir_;
  std::string conninfo_;
  std::string key_;
  std::string policy_;  // --policy when set before SetUp
  std::string token_;
  std::map<std::string, std::unique_ptr<testing::ProvdProcess>> replicas_;
  std::unique_ptr<PgConn> db_;
};

TEST_F(ReplicasTest, LeaderKilledMidIngestStandbyTakesOverNothingLostOrTwice) {
  ASSERT_NO_FATAL_FAILURE(TakeTokenAndWaitForLeader());
  const std::string first_leader = Leader();
  const std::string survivor = first_leader == "a" ? "b" : "a";
  const std::string both_ab =
      absl::StrCat(replicas_["a"]->address(), ",", replicas_["b"]->address());
  const std::string both_ba =
      absl::StrCat(replicas_["b"]->address(), ",", replicas_["a"]->address());

  // Six nodes, half starting on each replica; one of them runs restricted hardware.
  std::vector<std::string> nodes;
  std::vector<std::unique_ptr<agent::Uplink>> uplinks;
  for (int i = 0; i < 6; ++i) {
    nodes.push_back(absl::StrCat("rep-node-", i));
    uplinks.push_back(MakeUplink("spool-" + nodes.back(), i % 2 == 0 ? both_ab : both_ba));
  }
  auto submit_round = [&] {
    for (size_t i = 0; i < uplinks.size(); ++i) {
      ASSERT_TRUE(uplinks[i]->Submit(Report(nodes[i], /*ascend=*/i == 0)).ok());
    }
  };
  // Ten more restricted nodes, each reporting for the first time in one round of the load
  // around the kill: each must be flagged once, so none of their batches was missed.
  std::vector<std::unique_ptr<agent::Uplink>> burst;
  for (int k = 0; k < 10; ++k) {
    burst.push_back(MakeUplink(absl::StrCat("spool-burst-", k), k % 2 == 0 ? both_ab : both_ba));
  }
  auto drained = [&] {
    for (auto* list : {&uplinks, &burst}) {
      for (auto& u : *list) {
        u->Poll();
        if (u->Stats().spool_depth != 0) return false;
      }
    }
    return true;
  };
  for (int round = 0; round < 5; ++round) submit_round();
  ASSERT_TRUE(testing::PollUntil(drained, kPause, std::chrono::seconds(60))) << Logs();
  // The first ingest made today's day partitions ahead (once, whichever replica came first), and
  // nothing went to a DEFAULT partition.
  const std::string logs = Logs();
  EXPECT_TRUE(absl::StrContains(logs, "created day partitions ahead")) << logs;
  EXPECT_FALSE(absl::StrContains(logs, "could not create the day partitions")) << logs;
  EXPECT_FALSE(absl::StrContains(logs, "rows in a DEFAULT partition")) << logs;

  // The leader's engine flags the Ascend node; every replica's reads show the flag.
  for (const std::string name : {"a", "b"}) {
    ASSERT_TRUE(
        testing::PollUntil([&] { return CountFlags(name, "restricted_hardware", nodes[0]) == 1; },
                           kPause, std::chrono::seconds(30)))
        << name << Logs();
  }

  // Kill the leader mid-ingest: reports keep coming while it dies.
  std::thread load([&] {
    for (int round = 0; round < 10; ++round) {
      submit_round();
      ASSERT_TRUE(burst[round]->Submit(Report(absl::StrCat("rep-burst-", round), true)).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto killed_at = std::chrono::steady_clock::now();
  replicas_[first_leader]->Kill(SIGKILL);
  ASSERT_TRUE(replicas_[first_leader]->Wait(std::chrono::seconds(10)).has_value());
  load.join();

  // The standby takes over (takeover 2 s, plus its campaign's poll).
  ASSERT_TRUE(
      testing::PollUntil([&] { return Leader() == survivor; }, kPause, std::chrono::seconds(30)))
      << Logs();
  const double takeover_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::printf("takeover after SIGKILL: %.1f s\n", takeover_s);

  // Every agent's spool drains through the survivor: every acked report stored exactly once.
  ASSERT_TRUE(testing::PollUntil(drained, kPause, std::chrono::seconds(90))) << Logs();
  for (size_t i = 0; i < uplinks.size(); ++i) {
    const uint64_t acked = uplinks[i]->Stats().acked_seq;
    EXPECT_EQ(acked, 15u) << nodes[i];
    auto [rows, distinct, max_seq] = Stored(nodes[i]);
    EXPECT_EQ(rows, static_cast<int64_t>(acked)) << nodes[i];
    EXPECT_EQ(distinct, rows) << nodes[i];
    EXPECT_EQ(max_seq, static_cast<int64_t>(acked)) << nodes[i];
  }

  // The new leader's engine resumed from the saved position of the batch log and caught up:
  // nothing behind (provctl status's figures), every node first seen around the kill flagged
  // once (none of their batches missed), and the flag raised before the kill there once.
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        auto status = Status(survivor);
        return status.leading() && status.analysis_behind_batches() == 0;
      },
      kPause, std::chrono::seconds(30)))
      << Logs();
  {
    auto status = Status(survivor);
    EXPECT_EQ(status.replica(), survivor);
    EXPECT_EQ(status.leader(), survivor);
    EXPECT_GE(status.leader_term(), 2);
    // Listed as leading once its heartbeat (every 2 s) is in; the killed one may be listed too
    // while its last heartbeat is recent.
    auto listed = [&] {
      status = Status(survivor);
      for (const auto& r : status.replicas()) {
        if (r.name() == survivor) return r.leading() && !r.address().empty();
      }
      return false;
    };
    EXPECT_TRUE(testing::PollUntil(listed, kPause, std::chrono::seconds(10)))
        << status.DebugString() << Logs();
  }
  for (int k = 0; k < 10; ++k) {
    const std::string node = absl::StrCat("rep-burst-", k);
    EXPECT_TRUE(
        testing::PollUntil([&] { return CountFlags(survivor, "restricted_hardware", node) == 1; },
                           kPause, std::chrono::seconds(30)))
        << node << Logs();
  }
  EXPECT_EQ(CountFlags(survivor, "restricted_hardware", nodes[0]), 1) << Logs();

  // Flags keep flowing after the takeover: a new restricted node, flagged by the new leader.
  auto late = MakeUplink("spool-late", both_ab);
  ASSERT_TRUE(late->Submit(Report("rep-node-late", /*ascend=*/true)).ok());
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        late->Poll();
        return CountFlags(survivor, "restricted_hardware", "rep-node-late") == 1;
      },
      kPause, std::chrono::seconds(30)))
      << Logs();

  // The killed replica comes back as a standby and serves the same flags.
  StartReplica(first_leader);
  ASSERT_TRUE(testing::PollUntil(
      [&] { return CountFlags(first_leader, "restricted_hardware", "rep-node-late") == 1; }, kPause,
      std::chrono::seconds(30)))
      << Logs();
  EXPECT_EQ(Leader(), survivor);
  auto status = Status(first_leader);
  EXPECT_FALSE(status.leading());
  EXPECT_EQ(status.leader(), survivor);
}

// Two live replicas started with the same --replica-name (two VMs cloned with one host name):
// each heartbeat finds the row written by the other since its own, and says so.
// A leader that hangs (SIGSTOP: its process frozen, its sockets open, so PostgreSQL keeps its
// session and the advisory lock) stops renewing its lease; the standby ends its session and
// takes over within the takeover (2 s) and a few tries. Resumed, the old leader finds its
// session gone, steps down and follows the new leader.
TEST_F(ReplicasTest, AFrozenLeaderIsReplacedAndStandsByWhenItResumes) {
  ASSERT_NO_FATAL_FAILURE(TakeTokenAndWaitForLeader());
  const std::string frozen = Leader();
  const std::string survivor = frozen == "a" ? "b" : "a";
  replicas_[frozen]->Kill(SIGSTOP);
  absl::Cleanup resume = [&] { replicas_[frozen]->Kill(SIGCONT); };  // before Logs() asks it
  const auto stopped_at = std::chrono::steady_clock::now();
  const bool taken =
      testing::PollUntil([&] { return Leader() == survivor; }, kPause, std::chrono::seconds(30));
  const double took_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  std::move(resume).Invoke();
  ASSERT_TRUE(taken) << Logs();
  std::printf("takeover from a frozen leader: %.1f s\n", took_s);
  EXPECT_TRUE(absl::StrContains(replicas_[survivor]->log(),
                                "has not renewed its lease for longer than the takeover"))
      << Logs();
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        return absl::StrContains(replicas_[frozen]->log(), "lost the leader lock; stepping down");
      },
      kPause, std::chrono::seconds(20)))
      << Logs();
  auto status = Status(frozen);
  EXPECT_FALSE(status.leading()) << status.DebugString();
  EXPECT_EQ(status.leader(), survivor);
  status = Status(survivor);
  EXPECT_TRUE(status.leading()) << status.DebugString();
  EXPECT_GE(status.leader_term(), 2);
}

TEST_F(ReplicasTest, ASecondLiveReplicaWithTheSameNameIsReported) {
  const std::string data = dir_.Sub("provd-a-twin");
  ::mkdir(data.c_str(), 0755);
  auto twin = std::make_unique<testing::ProvdProcess>(data, 0, Args("a"));
  ASSERT_TRUE(twin->ok()) << twin->log();
  const std::string said = "another running provd uses this --replica-name";
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        return absl::StrContains(twin->log(), said) ||
               absl::StrContains(replicas_["a"]->log(), said);
      },
      kPause, std::chrono::seconds(20)))
      << twin->log() << Logs();
  EXPECT_FALSE(absl::StrContains(replicas_["b"]->log(), said)) << Logs();
}

// Refusals happen on whichever replica an agent reaches, and only the leader's engine judges
// them: a node whose every report the standby refuses for the policy's rejecting_after (1 s
// here) raises node_reports_rejected on the leader, served by both replicas. Without the node
// events forwarded through the batch log the standby's engine would drop them as not leading.
class ReplicasRejectingTest : public ReplicasTest {
 protected:
  void SetUp() override {
    const char* source = std::getenv("PROV_SOURCE_DIR");
    ASSERT_NE(source, nullptr);
    std::ifstream in(std::string(source) + "/deploy/policy/default.yaml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string from = "rejecting_after: 10m";
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << "deploy/policy/default.yaml changed";
    text.replace(at, from.size(), "rejecting_after: 1s");
    policy_ = dir_.Sub("policy.yaml");
    std::ofstream(policy_) << text;
    ReplicasTest::SetUp();
  }
};

TEST_F(ReplicasRejectingTest, RefusalsOnTheStandbyRaiseTheLeadersNodeFlag) {
  ASSERT_NO_FATAL_FAILURE(TakeTokenAndWaitForLeader());
  const std::string leader = Leader();
  const std::string standby = leader == "a" ? "b" : "a";

  auto channel =
      grpc::CreateChannel(replicas_[standby]->address(), grpc::InsecureChannelCredentials());
  server::testing::AgentStream stream(channel);
  NodeReport first = Report("rej-node", /*ascend=*/false);
  first.set_seq(1);
  ASSERT_TRUE(stream.Write(first));
  ASSERT_TRUE(stream.WaitCommitted("boot-1", 1)) << Logs();
  // Frames that do not parse, for longer than rejecting_after: each is refused on the standby.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(stream.WriteBytes("\xff\xff"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const std::string& name : {leader, standby}) {
    EXPECT_TRUE(testing::PollUntil(
        [&] { return CountFlags(name, "node_reports_rejected", "rej-node") == 1; }, kPause,
        std::chrono::seconds(30)))
        << name << Logs();
  }
  stream.Finish();
}

}  // namespace
}  // namespace prov
