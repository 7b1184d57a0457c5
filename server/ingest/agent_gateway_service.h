// AgentGatewayService: provenance.v1.AgentGateway on gRPC's callback API.
//
//   AgentGatewayService gateway({.queue = &queue, .metrics = &metrics, .clock = &clock});
//   builder.RegisterService(&gateway);
//
// Each Report call gets a ReportStream reactor (report_stream.h), which parses, validates and
// queues reports; the IngestWriter commits and acks them. The method is registered raw (frames
// as grpc::ByteBuffer): a typed reactor cannot tell a frame that does not parse from the agent
// half-closing (gRPC reports both as OnReadDone(false)); ReportStream parses frames itself.
// Thread-safety: gRPC calls Report() from its threads; the service itself holds only immutable
// dependencies.
#pragma once

#include "provenance/v1/agent_gateway.grpc.pb.h"
#include "server/ingest/report_stream.h"

namespace prov::server {

class AgentGatewayService final : public provenance::v1::AgentGateway::WithRawCallbackMethod_Report<
                                      provenance::v1::AgentGateway::Service> {
 public:
  explicit AgentGatewayService(StreamDeps deps) : deps_(std::move(deps)) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Report(
      grpc::CallbackServerContext* context) override {
    return ReportStream::Create(deps_);
  }

 private:
  const StreamDeps deps_;
};

}  // namespace prov::server
