// Uplink: delivers NodeReports to provd's AgentGateway.Report stream, durably.
//
//   prov::agent::UplinkOptions options;
//   options.server_address = "provd.example:7443";   // or "provd-a:7443,provd-b:7443"
//   options.credentials = *prov::MakeClientCredentials(tls_files, /*insecure=*/false);
//   options.spool_dir = "/var/lib/prov-agent/spool";
//   PROV_ASSIGN_OR_RETURN(auto uplink, prov::agent::Uplink::Create(options, clock));
//   PROV_RETURN_IF_ERROR(uplink->Submit(std::move(report)));   // assigns seq, spools, sends
//   while (running) { uplink->Poll(); /* every <= 100 ms */ }
//   uplink->Shutdown();
//
// Behaviour:
// - Every submitted report is written to the spool (spool.h; on disk, bounded, survives restarts)
//   before it is sent, and deleted only when the server acks a committed_seq >= its seq for its
//   boot_id. Rejections (in-stream, proto/provenance/v1/agent_gateway.proto) delete the report and
//   count rejected_reports; each distinct rejection message is logged once per process.
// - One bidirectional stream at a time, on gRPC's callback API (no thread per uplink: prov-sim runs
//   10,000 uplinks in one process). At most kMaxInFlight reports are sent and unacked.
// - When the stream ends (server gone, network, TLS failure), Poll() reconnects after a jittered
//   exponential backoff (backoff.h) from the injected Clock, reset by the next ack. A new stream
//   resends every unacked report, in spool order (the server stores a resent report once).
//   Early retry: gRPC's channel probes the server by itself with its own reconnect backoff
//   (bounded by the same initial/max backoff). When the channel was seen down after a stream
//   ended and then becomes READY again (a partition healed, provd came back), the next attempt
//   starts at once instead of when the uplink's own timer fires, which could be up to
//   max_backoff later (the two backoffs used to add up). At most one early attempt per ack
//   (armed again by the next ack), so a server that accepts connections and then fails every
//   stream is retried on the uplink's backoff, not on every READY.
//   A stream that stays open with reports in flight but no ack for kAckTimeout is reopened too.
// - Several servers (provd replicas on one PostgreSQL, issue 12): server_address lists them,
//   comma-separated; the uplink talks to one at a time, the first to begin with. When a stream
//   ends without an ack, or with an error, or its channel is not READY when it ends (the
//   replica died, hung, is unreachable, or fails every stream), or while the uplink waits its
//   channel is seen not READY, the next attempt goes to the next server in the list, at once while
//   not every server has been tried since the last ack, then on the backoff timer (still moving on
//   each time). Acks are per (boot, seq), so reports resent to another replica are stored once (the
//   replicas share one store). Stats().failovers counts the moves.
// - Each uplink has its own channel and, via GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL and a distinct
//   channel argument, its own connection.
//
// Threads: Submit, Poll, Stats and Shutdown may be called from any thread; gRPC's callback threads
// run the stream's reactions, which only take the uplink's mutex briefly and read at most one small
// spool file. Shutdown() (also run by the destructor) cancels the stream and waits for gRPC to
// finish with it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/uplink/backoff.h"
#include "agent/uplink/spool.h"
#include "common/clock.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "provenance/v1/agent_gateway.grpc.pb.h"

namespace prov::agent {

struct UplinkOptions {
  std::string server_address;  // "host:port", or several comma-separated (failover, in order)
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // from prov::MakeClientCredentials
  std::string spool_dir;                                  // created if missing
  size_t spool_max_reports = 8640;
  size_t spool_max_bytes = 256 << 20;
  bool spool_fsync = true;
  absl::Duration initial_backoff = absl::Seconds(1), max_backoff = absl::Seconds(60);
};

struct UplinkStats {
  uint64_t spool_depth, dropped_reports, rejected_reports, unreadable_reports, acked_seq,
      reconnects, failovers;
  bool connected;
};

// Test seams: a fault-injecting spool store, a deterministic jitter source.
struct UplinkDeps {
  std::unique_ptr<SpoolStore> store;  // null: FileSpoolStore in options.spool_dir
  std::function<double()> random;     // null: seeded from std::random_device
};

class StreamReactor;

class Uplink {
 public:
  static constexpr size_t kMaxInFlight = 64;
  // A stream with reports in flight and no ack for this long is cancelled and reopened.
  static constexpr absl::Duration kAckTimeout = absl::Seconds(120);

  static absl::StatusOr<std::unique_ptr<Uplink>> Create(UplinkOptions options, Clock& clock);
  static absl::StatusOr<std::unique_ptr<Uplink>> Create(UplinkOptions options, Clock& clock,
                                                        UplinkDeps deps);
  ~Uplink();
  Uplink(const Uplink&) = delete;
  Uplink& operator=(const Uplink&) = delete;

  absl::Status Submit(provenance::v1::NodeReport report);  // assigns seq, spools, sends
  void Poll();  // call at least every 100 ms: reconnects with jittered backoff, resends
  UplinkStats Stats() const;
  void Shutdown();
  // New credentials (a renewed node certificate, node_enroller.h): the open stream keeps its
  // connection; the next stream is opened on a new channel with these. Thread-safe.
  void SetCredentials(std::shared_ptr<grpc::ChannelCredentials> credentials);

  // When the next connection attempt is due; nullopt while a stream is open (or before the
  // first Poll). For tests and diagnostics.
  std::optional<absl::Time> NextAttemptAt() const;

 private:
  friend class StreamReactor;
  Uplink(UplinkOptions options, Clock& clock, std::unique_ptr<ReportSpool> spool,
         std::function<double()> random);

  // Reactions (gRPC callback threads).
  void OnAck(StreamReactor* stream, const provenance::v1::ReportAck& ack);
  void OnReadEnded(StreamReactor* stream);
  void OnWriteDone(StreamReactor* stream, bool ok);
  void OnStreamDone(StreamReactor* stream, const grpc::Status& status);
  // Starts the next write on the current stream if one is due, or releases the stream's hold once
  // it can take no more writes. Called without mu_ held.
  void Pump();
  // Under mu_: picks the next report to write (marks it in flight), if any.
  std::optional<provenance::v1::NodeReport> NextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReapFinished();

  // A channel (its own connection) and stub to servers_[server_] with these credentials.
  void Connect(const std::shared_ptr<grpc::ChannelCredentials>& credentials)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const UplinkOptions options_;
  const std::vector<std::string> servers_;  // options_.server_address, split at commas
  Clock& clock_;

  mutable absl::Mutex mu_;
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<provenance::v1::AgentGateway::Stub> stub_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<grpc::ChannelCredentials> credentials_ ABSL_GUARDED_BY(mu_);  // channel_'s
  std::shared_ptr<grpc::ChannelCredentials> next_credentials_ ABSL_GUARDED_BY(mu_);
  size_t server_ ABSL_GUARDED_BY(mu_) = 0;           // index into servers_ of channel_'s server
  bool switch_server_ ABSL_GUARDED_BY(mu_) = false;  // the next attempt goes to the next one
  size_t failovers_since_ack_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failovers_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<ReportSpool> spool_ ABSL_GUARDED_BY(mu_);
  Backoff backoff_ ABSL_GUARDED_BY(mu_);
  // The open stream, if any; streams whose OnDone ran wait in finished_ to be destroyed.
  // shared_ptr: a thread cancelling a stream keeps it alive across the unlocked Cancel() call.
  std::shared_ptr<StreamReactor> stream_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<StreamReactor>> finished_ ABSL_GUARDED_BY(mu_);
  absl::Time last_progress_ ABSL_GUARDED_BY(mu_);  // stream start or last ack
  bool stream_cancelled_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_send_id_ ABSL_GUARDED_BY(mu_) = 0;  // spool ids below it were sent on stream_
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<absl::Time> next_attempt_ ABSL_GUARDED_BY(mu_);
  // Early retry (see the header comment): the channel was not READY at a Poll since the last
  // stream ended; an early attempt is allowed (re-armed by each ack).
  bool channel_seen_down_ ABSL_GUARDED_BY(mu_) = false;
  bool early_retry_armed_ ABSL_GUARDED_BY(mu_) = true;
  bool started_once_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t acked_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reconnects_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace prov::agent
