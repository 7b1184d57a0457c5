// Uplink against an in-test AgentGateway (fake_gateway.h): acks, rejections, reconnects, resend
// from the spool, spool bounds and jittered backoff on a FakeClock.
#include "agent/uplink/uplink.h"

#include <chrono>
#include <thread>

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/uplink/fake_gateway.h"
#include "tests/uplink/test_util.h"

namespace prov::agent {
namespace {

using prov::testing::FakeGateway;
using prov::testing::PollUntil;
using prov::testing::TempDir;
using provenance::v1::NodeReport;
using ::testing::ElementsAre;

NodeReport MakeReport(const std::string& hostname = "gpu-1") {
  NodeReport r;
  r.mutable_node()->set_node_id("node-1");
  r.mutable_node()->set_boot_id("boot-a");
  r.mutable_node()->set_hostname(hostname);
  r.set_interval_seconds(10);
  return r;
}

class UplinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<Uplink> MakeUplink(const std::string& address, size_t max_reports = 8640) {
    UplinkOptions options;
    options.server_address = address;
    options.credentials = grpc::InsecureChannelCredentials();
    options.spool_dir = spool_.path();
    options.spool_max_reports = max_reports;
    options.spool_fsync = false;
    options.initial_backoff = absl::Seconds(1);
    options.max_backoff = absl::Seconds(8);
    UplinkDeps deps;
    deps.random = [this] { return jitter_; };
    auto uplink = Uplink::Create(options, clock_, std::move(deps));
    EXPECT_TRUE(uplink.ok()) << uplink.status();
    return uplink.ok() ? *std::move(uplink) : nullptr;
  }
  // Polls until the spool is empty, advancing the fake clock so backoff never blocks progress.
  bool Drain(Uplink& uplink) {
    return PollUntil([&] { return uplink.Stats().spool_depth == 0; },
                     [&] {
                       clock_.Advance(absl::Milliseconds(100));
                       uplink.Poll();
                     });
  }

  TempDir spool_;
  FakeClock clock_;
  double jitter_ = 0.5;
};

TEST_F(UplinkTest, AckedReportsLeaveTheSpoolAndCarryHealth) {
  FakeGateway gateway;
  auto uplink = MakeUplink(gateway.address());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  EXPECT_EQ(uplink->Stats().spool_depth, 5u);
  ASSERT_TRUE(Drain(*uplink));
  EXPECT_THAT(gateway.ReceivedSeqs(), ElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(uplink->Stats().acked_seq, 5u);
  EXPECT_EQ(gateway.Received()[4].health().spool_depth(), 5u);
  EXPECT_EQ(prov::testing::CountFiles(spool_.path(), "report-"), 0u);
  EXPECT_TRUE(PollUntil([&] { return uplink->Stats().connected; }, [&] { uplink->Poll(); }));
}

// Issue 14: a report carrying a tenant's invalid UTF-8 (MASTER_ADDR=10.20.0.\xff\xfe) used to be
// spooled as bytes that never parsed back and was dropped unsent ("dropping unreadable spool
// entry"). Now every such report is delivered, repaired, and nothing is lost.
TEST_F(UplinkTest, ReportsWithInvalidUtf8AreDeliveredNotDropped) {
  FakeGateway gateway;
  auto uplink = MakeUplink(gateway.address());
  for (int i = 0; i < 20; ++i) {
    NodeReport r = MakeReport();
    r.add_workloads()->mutable_distributed()->set_master_addr("10.20.0.\xff\xfe");
    ASSERT_TRUE(uplink->Submit(std::move(r)).ok());
  }
  ASSERT_TRUE(Drain(*uplink));
  EXPECT_EQ(gateway.ReceivedSeqs().size(), 20u);
  EXPECT_EQ(uplink->Stats().acked_seq, 20u);
  EXPECT_EQ(uplink->Stats().unreadable_reports, 0u);
  EXPECT_EQ(gateway.Received().back().workloads(0).distributed().master_addr(),
            "10.20.0.\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(gateway.Received().back().health().strings_repaired(), 1u);
}

TEST_F(UplinkTest, RejectionDropsTheReportAndIsCounted) {
  FakeGateway gateway;
  auto uplink = MakeUplink(gateway.address());
  ASSERT_TRUE(uplink->Submit(MakeReport("reject-me")).ok());
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  ASSERT_TRUE(Drain(*uplink));
  UplinkStats stats = uplink->Stats();
  EXPECT_EQ(stats.rejected_reports, 1u);
  EXPECT_EQ(stats.acked_seq, 2u);
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  ASSERT_TRUE(Drain(*uplink));
  EXPECT_EQ(gateway.Received().back().health().rejected_reports(), 1u);
}

TEST_F(UplinkTest, ReconnectsAfterServerRestartAndResendsUnacked) {
  FakeGateway gateway;
  auto uplink = MakeUplink(gateway.address());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  ASSERT_TRUE(Drain(*uplink));
  gateway.Stop();
  ASSERT_TRUE(
      PollUntil([&] { return uplink->NextAttemptAt().has_value(); }, [&] { uplink->Poll(); }))
      << "the uplink must notice the server is gone";
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  EXPECT_EQ(uplink->Stats().spool_depth, 2u);
  gateway.ClearReceived();
  gateway.Start(std::stoi(gateway.address().substr(gateway.address().rfind(':') + 1)));
  ASSERT_TRUE(Drain(*uplink));
  EXPECT_THAT(gateway.ReceivedSeqs(), ElementsAre(4, 5));
  EXPECT_GE(uplink->Stats().reconnects, 1u);
}

// The partition heals (the server is back) while the uplink's own backoff timer is far off: the
// uplink starts its stream as soon as gRPC's channel, which probes the server by itself, is READY
// again, instead of waiting for its timer on top of the channel's backoff (docs/faults.md). The
// fake clock never moves here, so without the early retry nothing would be delivered at all.
TEST_F(UplinkTest, AHealedChannelIsUsedAtOnceNotWhenTheBackoffTimerFires) {
  FakeGateway gateway;
  const std::string address = gateway.address();
  auto uplink = MakeUplink(address);
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  ASSERT_TRUE(Drain(*uplink));
  gateway.Stop();
  ASSERT_TRUE(
      PollUntil([&] { return uplink->NextAttemptAt().has_value(); }, [&] { uplink->Poll(); }))
      << "the uplink must notice the server is gone";
  const absl::Time due = *uplink->NextAttemptAt();
  ASSERT_GT(due, clock_.Now()) << "its own timer is in the future and the clock stays frozen";
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  gateway.ClearReceived();
  gateway.Start(std::stoi(address.substr(address.rfind(':') + 1)));
  ASSERT_TRUE(PollUntil([&] { return uplink->Stats().spool_depth == 0; }, [&] { uplink->Poll(); },
                        std::chrono::seconds(30)))
      << "the report must go out once the channel is READY, before the timer (" << due << ")";
  EXPECT_THAT(gateway.ReceivedSeqs(), ElementsAre(2));
}

// A server that is reachable but ends every stream: the channel stays READY, so the uplink
// retries on its own backoff timer only (no hot loop on a READY channel).
TEST_F(UplinkTest, AReadyChannelWhoseStreamsFailWaitsForTheBackoffTimer) {
  FakeGateway gateway;
  gateway.set_fail_streams(true);
  auto uplink = MakeUplink(gateway.address());
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  for (int attempt = 0; attempt < 3; ++attempt) {
    uplink->Poll();  // starts the attempt that is due
    ASSERT_TRUE(
        PollUntil([&] { return uplink->NextAttemptAt().has_value(); }, [&] { uplink->Poll(); }));
    const absl::Time due = *uplink->NextAttemptAt();
    ASSERT_GT(due, clock_.Now());
    // Real time passes with the fake clock frozen: the attempt stays due at the timer.
    const uint64_t reconnects = uplink->Stats().reconnects;
    for (int i = 0; i < 200; ++i) {
      uplink->Poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(uplink->NextAttemptAt(), due) << "attempt " << attempt;
    EXPECT_EQ(uplink->Stats().reconnects, reconnects) << "attempt " << attempt;
    clock_.Advance(due - clock_.Now());
  }
  EXPECT_EQ(uplink->Stats().spool_depth, 1u);
}

// Several servers (provd replicas): when the one in use goes away, the next report goes to the
// next server at once. The fake clock stays frozen, so waiting for the backoff timer would
// deliver nothing.
TEST_F(UplinkTest, FailsOverToTheNextServerAtOnceWhenItsServerGoesAway) {
  FakeGateway a, b;
  auto uplink = MakeUplink(absl::StrCat(a.address(), ",", b.address()));
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  ASSERT_TRUE(Drain(*uplink));
  EXPECT_THAT(a.ReceivedSeqs(), ElementsAre(1));
  a.Stop();
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  ASSERT_TRUE(PollUntil([&] { return uplink->Stats().spool_depth == 0; }, [&] { uplink->Poll(); },
                        std::chrono::seconds(30)))
      << "the report must reach the second server without the backoff timer";
  EXPECT_THAT(b.ReceivedSeqs(), ElementsAre(2));
  EXPECT_EQ(uplink->Stats().failovers, 1u);
}

// An unreachable first server is skipped on the first attempt already.
TEST_F(UplinkTest, AnUnreachableFirstServerIsSkipped) {
  FakeGateway gone, b;
  const std::string dead = gone.address();
  gone.Stop();
  auto uplink = MakeUplink(absl::StrCat(dead, ", ", b.address()));  // spaces are allowed
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  ASSERT_TRUE(PollUntil([&] { return uplink->Stats().spool_depth == 0; }, [&] { uplink->Poll(); },
                        std::chrono::seconds(30)));
  EXPECT_THAT(b.ReceivedSeqs(), ElementsAre(1, 2));
}

// A server that accepts connections but fails every stream (a replica whose store is down) is
// left for the next; once every server failed since the last ack, the backoff timer applies
// again (no hot loop over the list), and delivery resumes where a server acks.
TEST_F(UplinkTest, AfterEveryServerFailedTheBackoffTimerApplies) {
  FakeGateway a, b;
  a.set_fail_streams(true);
  b.set_fail_streams(true);
  auto uplink = MakeUplink(absl::StrCat(a.address(), ",", b.address()));
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  // Both fail once: the first failure moves on at once, the second waits for the timer.
  ASSERT_TRUE(PollUntil(
      [&] {
        auto due = uplink->NextAttemptAt();
        return due.has_value() && *due > clock_.Now();
      },
      [&] { uplink->Poll(); }, std::chrono::seconds(30)));
  EXPECT_EQ(uplink->Stats().failovers, 1u);
  const uint64_t reconnects = uplink->Stats().reconnects;
  for (int i = 0; i < 100; ++i) {
    uplink->Poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(uplink->Stats().reconnects, reconnects) << "waits for the timer";
  a.set_fail_streams(false);
  ASSERT_TRUE(Drain(*uplink));  // the clock moves: next attempt goes back to a, which acks
  EXPECT_THAT(a.ReceivedSeqs(), ElementsAre(1));
  EXPECT_EQ(uplink->Stats().failovers, 2u);
}

TEST_F(UplinkTest, RestartedUplinkResendsSpoolInOrderAndContinuesSeq) {
  FakeGateway gateway;
  gateway.set_ack(false);
  {
    auto uplink = MakeUplink(gateway.address());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
    ASSERT_TRUE(PollUntil([&] { return gateway.Received().size() == 3; }, [&] { uplink->Poll(); }));
    EXPECT_EQ(uplink->Stats().spool_depth, 3u) << "nothing acked, nothing deleted";
  }  // agent restart
  gateway.ClearReceived();
  gateway.set_ack(true);
  auto uplink = MakeUplink(gateway.address());
  EXPECT_EQ(uplink->Stats().spool_depth, 3u);
  ASSERT_TRUE(Drain(*uplink));
  EXPECT_THAT(gateway.ReceivedSeqs(), ElementsAre(1, 2, 3));
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  ASSERT_TRUE(Drain(*uplink));
  EXPECT_EQ(gateway.ReceivedSeqs().back(), 4u);
}

TEST_F(UplinkTest, FullSpoolDropsOldestWhileServerIsDown) {
  FakeGateway gateway;
  std::string address = gateway.address();
  gateway.Stop();
  auto uplink = MakeUplink(address, /*max_reports=*/3);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
    uplink->Poll();
  }
  UplinkStats stats = uplink->Stats();
  EXPECT_EQ(stats.spool_depth, 3u);
  EXPECT_EQ(stats.dropped_reports, 2u);
  EXPECT_FALSE(stats.connected);
  gateway.Start(std::stoi(address.substr(address.rfind(':') + 1)));
  ASSERT_TRUE(Drain(*uplink));
  EXPECT_THAT(gateway.ReceivedSeqs(), ElementsAre(3, 4, 5));
  EXPECT_EQ(gateway.Received().back().health().dropped_reports(), 2u);
}

TEST_F(UplinkTest, BackoffGrowsWithJitterOnTheInjectedClock) {
  FakeGateway gateway;
  std::string address = gateway.address();
  gateway.Stop();  // nothing listens: every attempt fails fast
  jitter_ = 0.0;
  auto uplink = MakeUplink(address);
  std::vector<absl::Duration> delays;
  for (int attempt = 0; attempt < 5; ++attempt) {
    uplink->Poll();  // starts an attempt: it is due
    ASSERT_TRUE(PollUntil([&] { return uplink->NextAttemptAt().has_value(); }));
    absl::Time due = *uplink->NextAttemptAt();
    delays.push_back(due - clock_.Now());
    clock_.Advance(delays.back() - absl::Milliseconds(1));
    uplink->Poll();  // not yet due
    EXPECT_EQ(uplink->NextAttemptAt(), due);
    clock_.Advance(absl::Milliseconds(1));
    jitter_ = attempt % 2 == 0 ? 1.0 : 0.0;
  }
  // cap doubles 1, 2, 4, 8, 8 s; jitter alternates low (cap/2) and high (cap).
  EXPECT_THAT(delays, ElementsAre(absl::Milliseconds(500), absl::Seconds(2), absl::Seconds(2),
                                  absl::Seconds(8), absl::Seconds(4)));
  EXPECT_EQ(uplink->Stats().reconnects, 4u);
}

TEST_F(UplinkTest, CreateRejectsBadOptions) {
  UplinkOptions options;
  options.credentials = grpc::InsecureChannelCredentials();
  options.spool_dir = spool_.path();
  EXPECT_EQ(Uplink::Create(options, clock_).status().code(), absl::StatusCode::kInvalidArgument);
  options.server_address = "127.0.0.1:1";
  options.credentials = nullptr;
  EXPECT_EQ(Uplink::Create(options, clock_).status().code(), absl::StatusCode::kInvalidArgument);
  options.credentials = grpc::InsecureChannelCredentials();
  options.server_address = "127.0.0.1:1,,127.0.0.1:2";
  auto empty_entry = Uplink::Create(options, clock_);
  EXPECT_EQ(empty_entry.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(empty_entry.status().message()),
              ::testing::HasSubstr("'127.0.0.1:1,,127.0.0.1:2' has an empty entry"));
}

TEST_F(UplinkTest, ShutdownWithOpenStreamReturnsAndRefusesSubmit) {
  FakeGateway gateway;
  gateway.set_ack(false);
  auto uplink = MakeUplink(gateway.address());
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  ASSERT_TRUE(PollUntil([&] { return gateway.Received().size() == 1; }, [&] { uplink->Poll(); }));
  uplink->Shutdown();
  EXPECT_EQ(uplink->Submit(MakeReport()).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(uplink->Stats().spool_depth, 1u);
}

TEST_F(UplinkTest, SilentStreamIsReopenedAfterAckTimeout) {
  FakeGateway gateway;
  gateway.set_ack(false);  // reads, never acks: a hung server
  auto uplink = MakeUplink(gateway.address());
  ASSERT_TRUE(uplink->Submit(MakeReport()).ok());
  ASSERT_TRUE(PollUntil([&] { return gateway.Received().size() == 1; }, [&] { uplink->Poll(); }));
  clock_.Advance(Uplink::kAckTimeout - absl::Seconds(1));
  uplink->Poll();
  EXPECT_EQ(uplink->Stats().reconnects, 0u) << "not silent for long enough yet";
  gateway.set_ack(true);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(Drain(*uplink)) << "the report must be resent on a new stream and acked";
  EXPECT_GE(uplink->Stats().reconnects, 1u);
  EXPECT_THAT(gateway.ReceivedSeqs(), ElementsAre(1, 1));
}

}  // namespace
}  // namespace prov::agent
