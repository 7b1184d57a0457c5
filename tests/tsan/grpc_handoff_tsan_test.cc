// tests/tsan/grpc_handoff_tsan.cc tells ThreadSanitizer that a gRPC batch's start happens before
// its completion. This test has the shape of provd's report stream: a callback-API server stream
// whose next read is started by another thread (here a worker, in provd the ingest writer after a
// commit), which first clears the buffer the read will fill; a completion-queue thread then fills
// it. `tsan` preset only; TSAN_OPTIONS halt_on_error makes any report fail it.
//
// Linked without the shim (cmake/TsanAbsl.cmake), tsan reported a data race here in 3 of 10 runs
// (ByteBuffer::set_buffer in CallOpRecvMessage::FinishOp against the worker's Clear, or the
// client's send op): gRPC's own absl::Mutex locks, made visible by the Abseil shim, order some of
// its internal paths, so the race shows only on the others.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace {

constexpr int kMessages = 200;
constexpr char kMethod[] = "/tsan.Handoff/Stream";

// Runs posted closures on one thread of its own, in order.
class Worker {
 public:
  Worker() : thread_([this] { Loop(); }) {}
  ~Worker() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }
  void Post(std::function<void()> fn) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(fn));
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> fn;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || !queue_.empty();
        };
        mu_.Await(absl::Condition(&ready));
        if (queue_.empty()) return;
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Server side: every read after the first is started from the worker, after clearing the buffer.
class Reader : public grpc::ServerGenericBidiReactor {
 public:
  Reader(Worker* worker, absl::Mutex* mu, std::vector<size_t>* sizes)
      : worker_(worker), mu_(mu), sizes_(sizes) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    {
      absl::MutexLock lock(mu_);
      sizes_->push_back(request_.Length());
    }
    worker_->Post([this] {
      request_.Clear();
      StartRead(&request_);
    });
  }
  void OnDone() override { delete this; }

 private:
  Worker* worker_;
  absl::Mutex* mu_;
  std::vector<size_t>* sizes_;
  grpc::ByteBuffer request_;
};

class Service : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    return new Reader(&worker_, &mu_, &sizes_);
  }
  std::vector<size_t> Sizes() {
    absl::MutexLock lock(&mu_);
    return sizes_;
  }

 private:
  Worker worker_;
  absl::Mutex mu_;
  std::vector<size_t> sizes_ ABSL_GUARDED_BY(mu_);
};

// Client side: writes kMessages messages of growing size, one at a time, then half-closes.
class Writer : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit Writer(grpc::GenericStub* stub) {
    stub->PrepareBidiStreamingCall(&context_, kMethod, grpc::StubOptions(), this);
    WriteNext();
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (ok && sent_ < kMessages) {
      WriteNext();
    } else {
      StartWritesDone();
    }
  }
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }
  grpc::Status Await() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
    return status_;
  }

 private:
  void WriteNext() {
    ++sent_;
    grpc::Slice slice(std::string(static_cast<size_t>(sent_), 'x'));
    message_ = grpc::ByteBuffer(&slice, 1);
    StartWrite(&message_);
  }

  grpc::ClientContext context_;
  grpc::ByteBuffer message_;
  int sent_ = 0;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

TEST(GrpcHandoffTsan, ReadStartedByAnotherThreadIsFilledByTheCompletionQueue) {
  Service service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterCallbackGenericService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);

  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  Writer writer(&stub);
  grpc::Status status = writer.Await();
  EXPECT_TRUE(status.ok()) << status.error_message();

  std::vector<size_t> sizes = service.Sizes();
  ASSERT_EQ(sizes.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) EXPECT_EQ(sizes[i], static_cast<size_t>(i + 1));
  server->Shutdown();
}

}  // namespace
