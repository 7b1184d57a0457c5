#include "agent/uplink/uplink.h"

#include <atomic>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/uplink/stream_reactor.h"
#include "common/log/log.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace prov::agent {
namespace {

using provenance::v1::NodeReport;
using provenance::v1::ReportAck;

// Logs each distinct message once per process: 10,000 uplinks in prov-sim must not flood stderr.
void LogOnce(const std::string& message) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* seen = new absl::flat_hash_set<std::string>();
  {
    absl::MutexLock lock(&mu);
    if (seen->size() >= 1000 || !seen->insert(message).second) return;
  }
  PROV_LOG_WARN("uplink", message);
}

// "a:1, b:2" -> {"a:1", "b:2"} (Create refuses empty entries).
std::vector<std::string> SplitServers(absl::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view server : absl::StrSplit(list, ',')) {
    out.emplace_back(absl::StripAsciiWhitespace(server));
  }
  return out;
}

int ToMillis(absl::Duration d) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d), 1 << 30));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Uplink>> Uplink::Create(UplinkOptions options, Clock& clock) {
  return Create(std::move(options), clock, UplinkDeps{});
}

absl::StatusOr<std::unique_ptr<Uplink>> Uplink::Create(UplinkOptions options, Clock& clock,
                                                       UplinkDeps deps) {
  if (options.server_address.empty()) {
    return absl::InvalidArgumentError("uplink: server_address is empty (want host:port)");
  }
  for (absl::string_view server : absl::StrSplit(options.server_address, ',')) {
    if (absl::StripAsciiWhitespace(server).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("uplink: server_address '", options.server_address,
                       "' has an empty entry (want host:port, or several separated by commas)"));
    }
  }
  if (options.credentials == nullptr) {
    return absl::InvalidArgumentError(
        "uplink: credentials are null (use prov::MakeClientCredentials)");
  }
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError("uplink: need 0 < initial_backoff <= max_backoff");
  }
  std::unique_ptr<SpoolStore> store = std::move(deps.store);
  if (store == nullptr) {
    auto file_store = FileSpoolStore::Open(options.spool_dir, options.spool_fsync);
    if (!file_store.ok()) {
      return absl::Status(file_store.status().code(),
                          absl::StrCat("uplink spool_dir '", options.spool_dir,
                                       "': ", file_store.status().message()));
    }
    store = *std::move(file_store);
  }
  PROV_ASSIGN_OR_RETURN(
      std::unique_ptr<ReportSpool> spool,
      ReportSpool::Open(std::move(store), {options.spool_max_reports, options.spool_max_bytes}));
  return std::unique_ptr<Uplink>(
      new Uplink(std::move(options), clock, std::move(spool), std::move(deps.random)));
}

Uplink::Uplink(UplinkOptions options, Clock& clock, std::unique_ptr<ReportSpool> spool,
               std::function<double()> random)
    : options_(std::move(options)),
      servers_(SplitServers(options_.server_address)),
      clock_(clock),
      spool_(std::move(spool)),
      backoff_(options_.initial_backoff, options_.max_backoff, std::move(random)) {
  absl::MutexLock lock(&mu_);
  Connect(options_.credentials);
  next_attempt_ = clock_.Now();
}

void Uplink::Connect(const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  static std::atomic<uint64_t> instance{0};
  grpc::ChannelArguments args;
  // Own connection per uplink: a local subchannel pool plus a distinct argument.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetString("prov.uplink_instance", absl::StrCat(instance.fetch_add(1)));
  // The channel's own reconnects follow the uplink's backoff bounds, so a restarted server is
  // reached within about initial_backoff.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, ToMillis(options_.initial_backoff));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, ToMillis(options_.initial_backoff));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, ToMillis(options_.max_backoff));
  channel_ = grpc::CreateCustomChannel(servers_[server_], credentials, args);
  stub_ = provenance::v1::AgentGateway::NewStub(channel_);
  credentials_ = credentials;
}

void Uplink::SetCredentials(std::shared_ptr<grpc::ChannelCredentials> credentials) {
  absl::MutexLock lock(&mu_);
  next_credentials_ = std::move(credentials);
}

Uplink::~Uplink() { Shutdown(); }

absl::Status Uplink::Submit(NodeReport report) {
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return absl::FailedPreconditionError("uplink is shut down");
    PROV_ASSIGN_OR_RETURN(ReportSpool::Appended appended, spool_->Append(&report));
    for (uint64_t id : appended.dropped_ids) {
      if (id < next_send_id_ && in_flight_ > 0) --in_flight_;
    }
  }
  Pump();
  return absl::OkStatus();
}

void Uplink::ReapFinished() {
  std::vector<std::shared_ptr<StreamReactor>> dead;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;  // Shutdown() reaps once every stream is done
    dead.swap(finished_);
  }
}

void Uplink::Poll() {
  ReapFinished();
  StreamReactor* started = nullptr;
  std::shared_ptr<StreamReactor> stalled;  // keeps the reactor alive while it is cancelled
  std::string server;                      // stalled's
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    if (stream_ != nullptr && in_flight_ > 0 && !stream_cancelled_ &&
        clock_.Now() - last_progress_ >= kAckTimeout) {
      // Open but silent: cancel; OnDone schedules a reconnect that resends everything unacked.
      stalled = stream_;
      stream_cancelled_ = true;
      server = servers_[server_];
    }
    if (stream_ == nullptr && next_attempt_.has_value() && clock_.Now() < *next_attempt_ &&
        early_retry_armed_ && !switch_server_) {  // (a pending move watches no old channel)
      // Asking for the state with try_to_connect also wakes an IDLE channel, so gRPC keeps
      // probing the server (under its own reconnect backoff) while the uplink waits.
      const bool ready = channel_->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY;
      if (!ready) {
        channel_seen_down_ = true;
        // Several servers: waiting for one that is down (its stream may have ended before its
        // channel noticed) while another was not tried since the last ack: move on at once.
        if (servers_.size() > 1 && !switch_server_ && failovers_since_ack_ + 1 < servers_.size()) {
          switch_server_ = true;
          ++failovers_since_ack_;
          next_attempt_ = clock_.Now();
        }
      } else if (channel_seen_down_) {
        next_attempt_ = clock_.Now();  // the channel came back: do not wait for the timer
        early_retry_armed_ = false;
      }
    }
    if (stream_ == nullptr && next_attempt_.has_value() && clock_.Now() >= *next_attempt_) {
      if (started_once_) ++reconnects_;
      started_once_ = true;
      const bool failed_over = switch_server_;
      if (switch_server_) {
        server_ = (server_ + 1) % servers_.size();
        switch_server_ = false;
        ++failovers_;
        LogOnce(absl::StrCat("failing over to ", servers_[server_]));
      }
      if (next_credentials_ != nullptr || failed_over) {
        // No stream is open (the last one's OnDone ran): the old channel can go.
        Connect(next_credentials_ != nullptr ? next_credentials_ : credentials_);
        next_credentials_ = nullptr;
        channel_seen_down_ = false;
      }
      stream_ = std::make_shared<StreamReactor>(this, stub_.get());
      last_progress_ = clock_.Now();
      started = stream_.get();
      next_send_id_ = 0;
      in_flight_ = 0;
      stream_cancelled_ = false;
      next_attempt_.reset();
    }
  }
  if (stalled != nullptr) {
    LogOnce(absl::StrCat("no ack from ", server, " for ", absl::FormatDuration(kAckTimeout),
                         "; reconnecting"));
    stalled->Cancel();
  }
  // The stream is not done before StartCall (it holds a hold), so `started` stays valid.
  if (started != nullptr) started->StartCall();
  Pump();
}

std::optional<NodeReport> Uplink::NextWriteLocked() {
  while (in_flight_ < kMaxInFlight) {
    auto it = spool_->entries().lower_bound(next_send_id_);
    if (it == spool_->entries().end()) return std::nullopt;
    uint64_t id = it->first;
    next_send_id_ = id + 1;
    absl::StatusOr<NodeReport> report = spool_->Load(id);
    if (!report.ok()) {
      // Counted in the spool (health.unreadable_reports of the next report) and logged.
      LogOnce(absl::StrCat("lost unreadable spool entry (counted in health.unreadable_reports): ",
                           report.status().message()));
      continue;
    }
    ++in_flight_;
    return *std::move(report);
  }
  return std::nullopt;
}

void Uplink::Pump() {
  StreamReactor* stream = nullptr;
  std::optional<NodeReport> next;
  bool release_hold = false;
  {
    absl::MutexLock lock(&mu_);
    stream = stream_.get();
    if (stream == nullptr || stream->write_pending || stream->hold_released) return;
    if (stream->read_ended) {
      stream->hold_released = true;
      release_hold = true;
    } else if (!stream->writes_failed) {
      next = NextWriteLocked();
      if (!next.has_value()) return;
      stream->write_pending = true;
    } else {
      return;
    }
  }
  // Safe without the lock: with a write pending or the hold not yet released, OnDone cannot run,
  // so the stream is not destroyed. Nothing touches `stream` after RemoveHold.
  if (release_hold) {
    stream->RemoveHold();
  } else {
    stream->Write(*std::move(next));
  }
}

void Uplink::OnAck(StreamReactor* stream, const ReportAck& ack) {
  {
    absl::MutexLock lock(&mu_);
    const std::string& boot_id = ack.boot_id().empty() ? spool_->boot_id() : ack.boot_id();
    bool current = stream == stream_.get();
    for (const auto& rejection : ack.rejected()) {
      LogOnce(absl::StrCat("server rejected a report (code ", rejection.code(),
                           "): ", rejection.message()));
      uint64_t id = spool_->Reject(boot_id, rejection.seq());
      if (current && id != 0 && id < next_send_id_ && in_flight_ > 0) --in_flight_;
    }
    for (uint64_t id : spool_->Ack(boot_id, ack.committed_seq())) {
      if (current && id < next_send_id_ && in_flight_ > 0) --in_flight_;
    }
    acked_seq_ = ack.committed_seq();
    last_progress_ = clock_.Now();
    stream->acked = true;
    failovers_since_ack_ = 0;
    backoff_.Reset();
    early_retry_armed_ = true;
  }
  Pump();
}

void Uplink::OnReadEnded(StreamReactor* stream) {
  {
    absl::MutexLock lock(&mu_);
    stream->read_ended = true;
  }
  Pump();
}

void Uplink::OnWriteDone(StreamReactor* stream, bool ok) {
  {
    absl::MutexLock lock(&mu_);
    stream->write_pending = false;
    if (!ok) stream->writes_failed = true;
  }
  Pump();
}

void Uplink::OnStreamDone(StreamReactor* stream, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  stream->done = true;
  if (stream_.get() == stream) {
    finished_.push_back(std::move(stream_));
    next_send_id_ = 0;
    in_flight_ = 0;
    // Several servers: one that ended the stream without an ack, or is not READY, is left for
    // the next; at once until every server was tried since the last ack (header).
    // The stream's outcome decides (a cancelled stall or a server going away ends it
    // non-OK); the channel's state is a second opinion that may lag.
    const bool healthy =
        stream->acked && status.ok() && channel_->GetState(false) == GRPC_CHANNEL_READY;
    if (servers_.size() > 1 && !healthy && !shutdown_) {
      switch_server_ = true;
      ++failovers_since_ack_;
    }
    if (!shutdown_) {
      next_attempt_ = switch_server_ && failovers_since_ack_ < servers_.size()
                          ? clock_.Now()
                          : clock_.Now() + backoff_.Next();
    }
    channel_seen_down_ = false;
  }
  if (!shutdown_) {
    LogOnce(absl::StrCat("stream to ", servers_[server_], " ended: code ",
                         static_cast<int>(status.error_code()), " ", status.error_message()));
  }
  // Nothing may touch `stream` after this: Shutdown() or Poll() may now destroy it.
}

UplinkStats Uplink::Stats() const {
  absl::MutexLock lock(&mu_);
  UplinkStats stats{};
  stats.spool_depth = spool_->depth();
  stats.dropped_reports = spool_->dropped();
  stats.rejected_reports = spool_->rejected();
  stats.unreadable_reports = spool_->unreadable();
  stats.acked_seq = acked_seq_;
  stats.reconnects = reconnects_;
  stats.failovers = failovers_;
  stats.connected = stream_ != nullptr && !stream_->read_ended && !stream_->writes_failed &&
                    channel_->GetState(false) == GRPC_CHANNEL_READY;
  return stats;
}

std::optional<absl::Time> Uplink::NextAttemptAt() const {
  absl::MutexLock lock(&mu_);
  if (stream_ != nullptr) return std::nullopt;
  return next_attempt_;
}

void Uplink::Shutdown() {
  StreamReactor* stream = nullptr;
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
    stream = stream_.get();
  }
  // Poll() no longer reaps once shutdown_ is set, so `stream` is alive here even if it just ended.
  if (stream != nullptr) stream->Cancel();
  std::vector<std::shared_ptr<StreamReactor>> dead;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::shared_ptr<StreamReactor>* s) { return *s == nullptr; }, &stream_));
    dead.swap(finished_);
  }
}

}  // namespace prov::agent
