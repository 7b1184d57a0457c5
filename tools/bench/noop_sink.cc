// prov-noop-sink: the benchmark's baseline AgentGateway server. It speaks the same proto as provd
// and acks every report as soon as it is read, with no validation and no storage, so the gap
// between it and provd in prov-ingest-bench is the cost of provd's own work.
//
//   prov-noop-sink --listen 127.0.0.1:0 --port-file /tmp/sink.port
//
// Each read is answered with a cumulative ack (committed_seq = highest seq read on the stream);
// while an ack write is in flight further reads only raise the seq the next ack will carry, so
// there is never more than one write outstanding per stream. Server channel arguments match
// provd's (sink_server_options.h). Runs until SIGTERM or SIGINT, then prints its totals.
//
// Threads: gRPC's callback threads run the reactors; main waits for a signal.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/fs.h"
#include "grpcpp/grpcpp.h"
#include "provenance/v1/agent_gateway.grpc.pb.h"
#include "tools/bench/bench_flags.h"
#include "tools/bench/sink_server_options.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "address:port to listen on (port 0: pick one)");
ABSL_FLAG(std::string, port_file, "", "write the bound port to this file once listening");

namespace prov::bench {
namespace {

namespace pb = provenance::v1;

std::atomic<uint64_t> g_reports{0};
std::atomic<uint64_t> g_streams{0};

class SinkReactor final : public grpc::ServerBidiReactor<pb::NodeReport, pb::ReportAck> {
 public:
  SinkReactor() {
    g_streams.fetch_add(1, std::memory_order_relaxed);
    StartRead(&report_);
  }

  void OnReadDone(bool ok) override {
    bool write_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        reads_done_ = true;
        MaybeFinishLocked();
        return;
      }
      g_reports.fetch_add(1, std::memory_order_relaxed);
      if (ack_.node_id().empty()) {
        ack_.set_node_id(report_.node().node_id());
        ack_.set_boot_id(report_.node().boot_id());
      }
      if (report_.seq() > highest_seq_) highest_seq_ = report_.seq();
      if (writing_) {
        ack_pending_ = true;
      } else {
        writing_ = write_now = true;
        ack_.set_committed_seq(highest_seq_);
      }
    }
    if (write_now) StartWrite(&ack_);
    StartRead(&report_);
  }

  void OnWriteDone(bool ok) override {
    bool write_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (ok && ack_pending_ && !reads_done_) {
        ack_pending_ = false;
        ack_.set_committed_seq(highest_seq_);
        write_now = true;
      } else {
        writing_ = false;
        MaybeFinishLocked();
      }
    }
    if (write_now) StartWrite(&ack_);
  }

  void OnDone() override { delete this; }

 private:
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reads_done_ && !writing_ && !finished_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  pb::NodeReport report_;  // owned by the single outstanding read
  absl::Mutex mu_;
  pb::ReportAck ack_ ABSL_GUARDED_BY(mu_);
  uint64_t highest_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ack_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class SinkService final : public pb::AgentGateway::CallbackService {
  grpc::ServerBidiReactor<pb::NodeReport, pb::ReportAck>* Report(
      grpc::CallbackServerContext* /*context*/) override {
    return new SinkReactor();
  }
};

int Main() {
  // Block the stop signals before gRPC starts its threads, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  SinkService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials(), &port);
  ApplySinkServerOptions(builder);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "prov-noop-sink: cannot listen on --listen=%s\n",
                 absl::GetFlag(FLAGS_listen).c_str());
    return 1;
  }
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    absl::Status s = WriteFileAtomically(port_file, absl::StrCat(port, "\n"));
    if (!s.ok()) {
      std::fprintf(stderr, "prov-noop-sink: --port-file: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "prov-noop-sink: listening on port %d\n", port);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  std::fprintf(stderr, "prov-noop-sink: stopped by signal %d; %llu reports on %llu streams\n", sig,
               static_cast<unsigned long long>(g_reports.load()),
               static_cast<unsigned long long>(g_streams.load()));
  return 0;
}

}  // namespace
}  // namespace prov::bench

int main(int argc, char** argv) {
  prov::bench::ParseBenchFlags(argc, argv);
  return prov::bench::Main();
}
