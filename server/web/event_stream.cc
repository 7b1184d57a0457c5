#include "server/web/event_stream.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "server/web/grpc_json.h"

namespace prov::server::web {
namespace {

std::string Event(absl::string_view name, absl::string_view data) {
  return absl::StrCat("event: ", name, "\ndata: ", data, "\n\n");
}

}  // namespace

// The WatchFlags call, on gRPC's callback API: reads land in a bounded queue.
class EventStream::Watch final : public grpc::ClientReadReactor<provenance::v1::Flag> {
 public:
  struct Batch {
    std::vector<std::string> flags;
    bool overflow = false;
    bool done = false;
    grpc::Status status;
    std::string cancel_reason;
  };

  Watch(provenance::v1::AnalysisService::Stub& stub, const ApiGateway& gateway,
        const std::string& authorization)
      : stub_(stub) {
    gateway.Prepare(context_, authorization, /*with_deadline=*/false);
    request_.set_include_existing(false);  // the page loads current flags through the API
    stub_.async()->WatchFlags(&context_, &request_, this);
    StartRead(&flag_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    std::string json = MessageJson(flag_);
    {
      absl::MutexLock lock(&mu_);
      if (queue_.size() >= kMaxQueued) {
        queue_.clear();
        overflow_ = true;
      }
      queue_.push_back(std::move(json));
    }
    StartRead(&flag_);
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    done_ = true;
    status_ = status;
  }

  void Cancel(const std::string& reason) {
    {
      absl::MutexLock lock(&mu_);
      if (cancel_reason_.empty()) cancel_reason_ = reason;
    }
    context_.TryCancel();
  }

  Batch Take(absl::Duration wait) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !queue_.empty() || overflow_ || done_ || !cancel_reason_.empty();
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
    Batch b;
    b.flags.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    b.overflow = overflow_;
    overflow_ = false;
    b.cancel_reason = cancel_reason_;
    b.done = done_ || !cancel_reason_.empty();
    b.status = status_;
    return b;
  }

  void WaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

 private:
  provenance::v1::AnalysisService::Stub& stub_;
  grpc::ClientContext context_;
  provenance::v1::WatchFlagsRequest request_;
  provenance::v1::Flag flag_;  // the read buffer (gRPC callback thread only)
  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool overflow_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::string cancel_reason_ ABSL_GUARDED_BY(mu_);
};

EventStream::EventStream(const ApiGateway& gateway, std::string authorization,
                         const provenance::v1::Principal& who, const EventStreamOptions& options)
    : gateway_(gateway),
      authorization_(std::move(authorization)),
      options_(options),
      clock_(options.clock != nullptr ? *options.clock : RealClock::Get()),
      stub_(provenance::v1::AnalysisService::NewStub(gateway.channel())) {
  watch_ = std::make_unique<Watch>(*stub_, gateway_, authorization_);
  pending_ = Event("hello", MessageJson(who));
}

EventStream::~EventStream() {
  watch_->Cancel("stream closed");
  watch_->WaitDone();
}

void EventStream::Cancel(const std::string& reason) { watch_->Cancel(reason); }

std::string EventStream::Overview(bool* ended) {
  HttpReply reply =
      gateway_.Handle({.method = "GET", .path = "/api/overview", .authorization = authorization_});
  if (reply.status == 200) return Event("overview", reply.body);
  // A token revoked (401) or demoted (403) mid-stream ends it; other errors are passing.
  if (reply.status == 401 || reply.status == 403) {
    *ended = true;
    return Event("end", reply.body);
  }
  return "";
}

std::string EventStream::Next(absl::Duration wait) {
  if (finished_) return "";
  std::string out;
  out.swap(pending_);
  absl::Time now = clock_.Now();
  if (out.empty()) {
    const absl::Duration until_overview = next_overview_ - now;
    Watch::Batch b = watch_->Take(std::max(absl::ZeroDuration(), std::min(wait, until_overview)));
    for (const std::string& flag : b.flags) absl::StrAppend(&out, Event("flag", flag));
    if (b.overflow) absl::StrAppend(&out, Event("resync", "{}"));
    if (b.done) {
      grpc::Status why =
          !b.cancel_reason.empty()
              ? grpc::Status(grpc::StatusCode::UNAVAILABLE, b.cancel_reason)
              : (b.status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "watch ended")
                               : b.status);
      absl::StrAppend(&out, Event("end", ErrorReply(why).body));
      finished_ = true;
      return out;
    }
    now = clock_.Now();
  }
  if (now >= next_overview_) {
    bool ended = false;
    absl::StrAppend(&out, Overview(&ended));
    next_overview_ = now + options_.overview_interval;
    if (ended) {
      finished_ = true;
      watch_->Cancel("credential no longer valid");
      return out;
    }
  }
  if (out.empty() && now - last_sent_ >= options_.keepalive) out = ": keepalive\n\n";
  if (!out.empty()) last_sent_ = now;
  return out;
}

std::shared_ptr<EventStream> EventStreamHub::Open(const ApiGateway& gateway,
                                                  const std::string& authorization,
                                                  const provenance::v1::Principal& who) {
  absl::MutexLock lock(&mu_);
  if (stopped_ || open_.size() >= options_.max_streams) return nullptr;
  auto stream = std::make_shared<EventStream>(gateway, authorization, who, options_);
  open_.insert(stream);
  return stream;
}

void EventStreamHub::Close(const std::shared_ptr<EventStream>& stream) {
  absl::MutexLock lock(&mu_);
  open_.erase(stream);
}

void EventStreamHub::Stop() {
  std::vector<std::shared_ptr<EventStream>> open;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    open.assign(open_.begin(), open_.end());
  }
  for (const auto& s : open) s->Cancel("provd is stopping");
}

bool EventStreamHub::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

size_t EventStreamHub::open_streams() const {
  absl::MutexLock lock(&mu_);
  return open_.size();
}

}  // namespace prov::server::web
