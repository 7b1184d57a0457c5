// HOSTILE CLIENTS against the real provd binary: 1,000 TCP peers that connect and never speak,
// 2,000 AgentGateway.Report streams opened and abandoned (40 connections x 50), and one stream
// that writes reports and never reads its acks, all at once. Meanwhile a well-behaved agent's
// reports must each be acked within a bound; provd's RSS (/proc/<pid>/status) is measured before,
// at the peak and after; each case is counted in prov_ingest_streams_ended_total{how}, except the
// silent TCP peers: gRPC 1.51 gives the application no hook for a connection that never completes
// its handshake, so the test checks instead that provd closes them (GRPC_ARG_SERVER_HANDSHAKE_
// TIMEOUT_MS, 10 s).
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "provenance/v1/agent_gateway.grpc.pb.h"
#include "tests/fault/fault_util.h"
#include "tests/integration/provd_process.h"
#include "tests/server/agent_stream.h"
#include "tests/server/test_reports.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using provenance::v1::AgentGateway;
using provenance::v1::NodeReport;
using server::testing::MakeReport;

// A channel on its own TCP connection (no subchannel sharing between channels).
std::shared_ptr<grpc::Channel> OwnConnection(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

int ConnectSilently(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

double Ended(int metrics_port, const std::string& how) {
  return testing::ScrapeMetric(metrics_port, "prov_ingest_streams_ended_total",
                               "how=\"" + how + "\"")
      .value_or(-1);
}

TEST(HostileClientsTest, ProvdKeepsServingWithBoundedMemoryAndCountsEachCase) {
  constexpr int kSilentPeers = 1000, kConnections = 40, kStreamsPerConnection = 50;
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = std::max<rlim_t>(files.rlim_cur, std::min<rlim_t>(files.rlim_max, 8192));
  ::setrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < kSilentPeers + 500) GTEST_SKIP() << "needs " << kSilentPeers + 500 << " fds";

  testing::TempDir dir;
  const int metrics_port = testing::PickFreePort();
  testing::ProvdProcess provd(
      dir.path(), 0,
      {"--insecure", "--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)});
  ASSERT_TRUE(provd.ok()) << provd.log();

  // The well-behaved agent: one report at a time, each waited for.
  server::testing::AgentStream good(OwnConnection(provd.address()));
  uint64_t good_seq = 0;
  auto good_round = [&](int reports) {
    absl::Duration worst;
    for (int i = 0; i < reports; ++i) {
      const absl::Time sent = absl::Now();
      EXPECT_TRUE(good.Write(MakeReport("good-node", "boot-g", ++good_seq, absl::Now())));
      EXPECT_TRUE(good.WaitCommitted("boot-g", good_seq, absl::Seconds(10)))
          << "report " << good_seq << " of the well-behaved agent not acked\n"
          << provd.log();
      worst = std::max(worst, absl::Now() - sent);
    }
    return worst;
  };
  const absl::Duration quiet_worst = good_round(5);
  const int64_t rss_before = testing::ProcessRssKb(provd.pid()).value_or(0);

  // 1. Peers that connect and never speak.
  std::vector<int> silent;
  for (int i = 0; i < kSilentPeers; ++i) {
    int fd = ConnectSilently(provd.port());
    if (fd >= 0) silent.push_back(fd);
  }
  ASSERT_EQ(silent.size(), size_t{kSilentPeers});
  const auto silent_since = std::chrono::steady_clock::now();

  // 2. A stream that writes reports and never reads its acks.
  std::atomic<bool> stop{false};
  std::atomic<int> greedy_written{0};
  grpc::ClientContext greedy_ctx;
  // Its receive window stays small (no BDP probing, 16 KiB lookahead), as a peer's would that
  // never reads: provd's ack writes to it stall after a few hundred acks.
  grpc::ChannelArguments greedy_args;
  greedy_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  greedy_args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  greedy_args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 << 10);
  auto greedy_channel =
      grpc::CreateCustomChannel(provd.address(), grpc::InsecureChannelCredentials(), greedy_args);
  auto greedy_stub = AgentGateway::NewStub(greedy_channel);
  std::unique_ptr<grpc::ClientReaderWriter<NodeReport, provenance::v1::ReportAck>> greedy_stream =
      greedy_stub->Report(&greedy_ctx);
  std::thread greedy_writer([&] {
    // 200 boots in turn: every commit batch owes it one ack per boot, so unread acks pile up
    // past its window quickly.
    for (uint64_t n = 0; !stop.load(); ++n) {
      if (!greedy_stream->Write(MakeReport("greedy-node", "boot-" + std::to_string(n % 200),
                                           n / 200 + 1, absl::Now()))) {
        break;
      }
      greedy_written.fetch_add(1);
    }
  });

  struct JoinOnExit {  // an ASSERT above must not leave a joinable thread behind
    std::atomic<bool>& stop;
    std::thread& t;
    ~JoinOnExit() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join_greedy{stop, greedy_writer};

  // 3. Streams opened and abandoned: cancelled after one report, or left open and dropped with
  // their connection.
  std::atomic<int64_t> rss_peak{0};
  std::atomic<int> abandoned{0};
  std::thread abandoner([&] {
    for (int c = 0; c < kConnections; ++c) {
      auto channel = OwnConnection(provd.address());
      auto stub = AgentGateway::NewStub(channel);
      std::vector<std::unique_ptr<grpc::ClientContext>> left_open;
      std::vector<std::unique_ptr<grpc::ClientReaderWriter<NodeReport, provenance::v1::ReportAck>>>
          open_streams;
      for (int s = 0; s < kStreamsPerConnection; ++s) {
        auto ctx = std::make_unique<grpc::ClientContext>();
        auto stream = stub->Report(ctx.get());
        stream->Write(MakeReport("abandon-" + std::to_string(c), "boot-" + std::to_string(s), 1,
                                 absl::Now()));
        if (s % 5 == 4) {  // a fifth stay open until the connection goes
          left_open.push_back(std::move(ctx));
          open_streams.push_back(std::move(stream));
        } else {
          ctx->TryCancel();
          (void)stream->Finish();
        }
        abandoned.fetch_add(1);
      }
      rss_peak = std::max<int64_t>(rss_peak, testing::ProcessRssKb(provd.pid()).value_or(0));
      for (auto& ctx : left_open) ctx->TryCancel();
      for (auto& stream : open_streams) (void)stream->Finish();
    }
  });

  // Meanwhile, the well-behaved agent.
  const absl::Duration loaded_worst = good_round(30);
  abandoner.join();
  rss_peak = std::max<int64_t>(rss_peak, testing::ProcessRssKb(provd.pid()).value_or(0));
  EXPECT_LT(loaded_worst, absl::Seconds(5)) << "a well-behaved agent waited too long for an ack";
  // A call cancelled before provd's handler saw it never becomes a stream (gRPC drops it: 5-11 %
  // in runs here, more under load); the rest end as cancelled, or ack_undelivered when the ack of
  // their one report was being written. The test asks for at least half.
  const double streams = kConnections * kStreamsPerConnection;
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        return Ended(metrics_port, "cancelled") + Ended(metrics_port, "ack_undelivered") >=
               0.5 * streams;
      },
      {}, std::chrono::seconds(20 * testing::ProvdProcess::TimeScale())))
      << "cancelled: " << Ended(metrics_port, "cancelled")
      << ", ack_undelivered: " << Ended(metrics_port, "ack_undelivered");

  // The silent peers: provd closes each once its handshake timeout passes.
  // provd sends its HTTP/2 settings at once; read them away and wait for the end of the stream.
  int closed = 0;
  for (int fd : silent) {
    char buf[4096];
    while (true) {
      const auto left =
          std::chrono::seconds(20) - (std::chrono::steady_clock::now() - silent_since);
      const int ms = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count()));
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, ms) != 1) break;  // still open at the deadline
      if (::recv(fd, buf, sizeof(buf), 0) <= 0) {
        ++closed;
        break;
      }
    }
    ::close(fd);
  }
  const double silent_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - silent_since).count();
  EXPECT_EQ(closed, kSilentPeers) << "provd must drop peers that never speak";

  // The greedy stream: provd's ack write to it stalls (it reads nothing); it keeps being read
  // and stored. Its end is counted as ack_undelivered.
  stop = true;
  if (greedy_writer.joinable()) greedy_writer.join();
  const double acks_sent =
      testing::ScrapeMetric(metrics_port, "prov_acks_sent_total", "").value_or(0);
  const double undelivered_before = Ended(metrics_port, "ack_undelivered");
  greedy_ctx.TryCancel();
  (void)greedy_stream->Finish();
  EXPECT_TRUE(testing::PollUntil(
      [&] { return Ended(metrics_port, "ack_undelivered") >= undelivered_before + 1; }, {},
      std::chrono::seconds(10 * testing::ProvdProcess::TimeScale())))
      << "the stream that never read its acks was not counted\n"
      << testing::ScrapeMetrics(metrics_port);

  // After the storm: the well-behaved agent is still served, memory came back down.
  EXPECT_LT(good_round(5), absl::Seconds(5));
  const int64_t rss_after = testing::ProcessRssKb(provd.pid()).value_or(0);
  EXPECT_LT(rss_peak - rss_before, 512 * 1024) << "provd's RSS grew by more than 512 MiB";
  std::printf(
      "hostile clients: RSS %lld KiB before, %lld KiB peak, %lld KiB after; worst ack latency "
      "of the good agent %s quiet, %s under attack; %d silent peers closed by provd within %.1f "
      "s; %d streams abandoned; greedy stream wrote %d reports, acks sent in all %.0f; "
      "streams ended: ok %.0f, error %.0f, cancelled %.0f, ack_undelivered %.0f\n",
      static_cast<long long>(rss_before), static_cast<long long>(rss_peak.load()),
      static_cast<long long>(rss_after), absl::FormatDuration(quiet_worst).c_str(),
      absl::FormatDuration(loaded_worst).c_str(), closed, silent_seconds, abandoned.load(),
      greedy_written.load(), acks_sent, Ended(metrics_port, "ok"), Ended(metrics_port, "error"),
      Ended(metrics_port, "cancelled"), Ended(metrics_port, "ack_undelivered"));
  good.Finish();
}

}  // namespace
}  // namespace prov
