// A 10-MINUTE AGENT-TO-PROVD PARTITION ON A FAKE CLOCK: the agent's real Uplink (spool, stream
// reactor, backoff) against an in-test AgentGateway (tests/uplink/fake_gateway.h). One report
// every 10 simulated seconds; the gateway is stopped for 10 simulated minutes (nothing listens:
// every attempt fails) and started again on the same port. The uplink spools every report,
// retries on the injected clock with capped, jittered exponential backoff (never longer apart
// than max_backoff apart), and after the partition delivers everything, in order, once. The
// whole 12 simulated minutes take about a second of real time.
#include <set>

#include "agent/uplink/uplink.h"
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
using provenance::v1::NodeReport;

NodeReport Report() {
  NodeReport r;
  r.mutable_node()->set_node_id("node-1");
  r.mutable_node()->set_boot_id("boot-a");
  r.mutable_node()->set_hostname("gpu-1");
  r.set_interval_seconds(10);
  return r;
}

TEST(PartitionClockTest, TenMinutePartitionIsSpooledAndDeliveredOnceWithBackoff) {
  constexpr absl::Duration kInterval = absl::Seconds(10), kMaxBackoff = absl::Seconds(30);
  prov::testing::TempDir spool;
  FakeClock clock;
  FakeGateway gateway;
  const std::string address = gateway.address();
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  UplinkOptions options;
  options.server_address = address;
  options.credentials = grpc::InsecureChannelCredentials();
  options.spool_dir = spool.path();
  options.spool_fsync = false;
  options.initial_backoff = absl::Seconds(1);
  options.max_backoff = kMaxBackoff;
  UplinkDeps deps;
  uint64_t draws = 0;
  deps.random = [&draws] { return (draws++ % 10) / 10.0; };  // jitter spread over [0, 1)
  auto uplink = Uplink::Create(options, clock, std::move(deps));
  ASSERT_TRUE(uplink.ok()) << uplink.status();
  Uplink& up = **uplink;

  // Steps the fake clock one simulated second at a time, polling the uplink as its loop would.
  auto run_for = [&](absl::Duration d, const std::function<void()>& each_second) {
    for (absl::Duration t; t < d; t += absl::Seconds(1)) {
      clock.Advance(absl::Seconds(1));
      up.Poll();
      // An attempt that was started fails on gRPC's threads (real time): wait for the uplink to
      // notice before the simulated clock moves on, so its backoff is measured from the failure.
      if (!gateway.running()) {
        PollUntil([&] { return up.NextAttemptAt().has_value(); }, {}, std::chrono::seconds(5));
      }
      if (each_second) each_second();
    }
  };
  int submitted = 0;
  auto submit = [&] {
    ASSERT_TRUE(up.Submit(Report()).ok());
    ++submitted;
  };

  // 1 minute connected: 6 reports, each delivered.
  for (int i = 0; i < 6; ++i) {
    submit();
    run_for(kInterval, {});
  }
  ASSERT_TRUE(PollUntil([&] { return up.Stats().spool_depth == 0; }, [&] { up.Poll(); }));

  // 10 minutes partitioned: 60 reports spooled; attempts spaced by the backoff.
  gateway.Stop();
  const uint64_t reconnects_before = up.Stats().reconnects;
  std::set<absl::Time> attempts_due;
  absl::Duration longest_gap;
  absl::Time last_due = clock.Now();
  for (int i = 0; i < 60; ++i) {
    submit();
    run_for(kInterval, [&] {
      if (auto due = up.NextAttemptAt(); due.has_value() && attempts_due.insert(*due).second) {
        longest_gap = std::max(longest_gap, *due - last_due);
        last_due = *due;
      }
    });
  }
  const UplinkStats during = up.Stats();
  EXPECT_EQ(during.spool_depth, 60u) << "every report of the partition is kept";
  EXPECT_EQ(during.dropped_reports, 0u);
  EXPECT_FALSE(during.connected);
  const uint64_t attempts = during.reconnects - reconnects_before;
  EXPECT_GE(attempts, uint64_t{600 / 30}) << "it must keep trying, at least every max_backoff";
  EXPECT_LE(attempts, uint64_t{600 / 1}) << "and never faster than the initial backoff";
  EXPECT_LE(longest_gap, kMaxBackoff + absl::Seconds(1))
      << "attempts no further apart than the cap";

  // The partition heals: everything is delivered within one backoff period, in order, once.
  gateway.ClearReceived();
  gateway.Start(port);
  const absl::Time healed = clock.Now();
  ASSERT_TRUE(PollUntil([&] { return up.Stats().spool_depth == 0; },
                        [&] {
                          clock.Advance(absl::Milliseconds(100));
                          up.Poll();
                        }))
      << "spool depth " << up.Stats().spool_depth;
  const absl::Duration to_deliver = clock.Now() - healed;
  // Not asserted: after the heal the stream starts once gRPC's channel has reconnected, which
  // happens on its own reconnect backoff in real time, while this loop moves the simulated clock
  // about 100 times faster than real time; the figure printed below is that real backoff, scaled.
  // (uplink_unit_test checks that the uplink uses a healed channel at once.)
  std::vector<uint64_t> expected;
  for (uint64_t seq = 7; seq <= 66; ++seq) expected.push_back(seq);
  EXPECT_EQ(gateway.ReceivedSeqs(), expected) << "seqs 7..66, in order, none twice, none lost";
  std::printf(
      "partition (fake clock): %d reports, 60 spooled over 10 simulated minutes, %llu reconnect "
      "attempts, longest gap %s, delivered %s (simulated) after the partition healed\n",
      submitted, static_cast<unsigned long long>(attempts),
      absl::FormatDuration(longest_gap).c_str(), absl::FormatDuration(to_deliver).c_str());
}

}  // namespace
}  // namespace prov::agent
