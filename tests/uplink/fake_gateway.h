// FakeGateway: a small in-test AgentGateway server for the uplink's unit tests.
//
//   FakeGateway gw;                       // listens on 127.0.0.1:<free port>
//   gw.set_ack(false);                    // receive but never ack
//   gw.set_fail_streams(true);            // end every stream UNAVAILABLE before reading
//   gw.Restart();                         // same port, fresh server (streams are cut)
//   gw.Received();                        // every report received, in arrival order
//
// A report whose node.hostname is "reject-me" is answered with an in-stream Rejection.
// Sync API with a thread per stream: fine for a handful of test streams.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "provenance/v1/agent_gateway.grpc.pb.h"

namespace prov::testing {

class FakeGateway final : public provenance::v1::AgentGateway::Service {
 public:
  FakeGateway() { Start(0); }
  ~FakeGateway() override { Stop(); }

  void Start(int port) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  void Stop() {
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
      server_.reset();
    }
  }
  void Restart() {
    Stop();
    Start(port_);
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  bool running() const { return server_ != nullptr; }

  void set_ack(bool ack) {
    absl::MutexLock lock(&mu_);
    ack_ = ack;
  }
  void set_fail_streams(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_streams_ = fail;
  }
  std::vector<provenance::v1::NodeReport> Received() const {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  std::vector<uint64_t> ReceivedSeqs() const {
    absl::MutexLock lock(&mu_);
    std::vector<uint64_t> seqs;
    for (const auto& r : received_) seqs.push_back(r.seq());
    return seqs;
  }
  void ClearReceived() {
    absl::MutexLock lock(&mu_);
    received_.clear();
  }

  grpc::Status Report(grpc::ServerContext* context,
                      grpc::ServerReaderWriter<provenance::v1::ReportAck,
                                               provenance::v1::NodeReport>* stream) override {
    {
      absl::MutexLock lock(&mu_);
      if (fail_streams_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed by the test");
    }
    provenance::v1::NodeReport report;
    uint64_t committed = 0;
    while (stream->Read(&report)) {
      provenance::v1::ReportAck ack;
      ack.set_node_id(report.node().node_id());
      ack.set_boot_id(report.node().boot_id());
      bool ack_now;
      {
        absl::MutexLock lock(&mu_);
        received_.push_back(report);
        ack_now = ack_;
      }
      if (report.node().hostname() == "reject-me") {
        auto* rejection = ack.add_rejected();
        rejection->set_seq(report.seq());
        rejection->set_code(3);
        rejection->set_message("node.hostname: rejected by the test");
      } else if (ack_now) {
        committed = std::max<uint64_t>(committed, report.seq());
      } else {
        continue;
      }
      ack.set_committed_seq(committed);
      if (!stream->Write(ack)) break;
    }
    return grpc::Status::OK;
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  mutable absl::Mutex mu_;
  bool ack_ ABSL_GUARDED_BY(mu_) = true;
  bool fail_streams_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<provenance::v1::NodeReport> received_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::testing
