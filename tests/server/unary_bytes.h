// UnaryBytes: one unary call by method name with raw request bytes (grpc::GenericStub), for tests
// that call a service they have no generated stub for (the standard health service) or that need
// the call's ClientContext afterwards (the TLS peer's auth context).
//
//   std::string reply;
//   grpc::Status s = UnaryBytes(channel, "/grpc.health.v1.Health/Check", "", &reply);
//   grpc::ClientContext ctx;
//   UnaryBytes(channel, "/grpc.health.v1.Health/Check", "", &reply, &ctx);
//   ctx.auth_context()->FindPropertyValues("x509_common_name");
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace prov::testing {

inline grpc::Status UnaryBytes(const std::shared_ptr<grpc::Channel>& channel,
                               const std::string& method, const std::string& request,
                               std::string* response, grpc::ClientContext* context = nullptr) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext own;
  grpc::ClientContext& ctx = context != nullptr ? *context : own;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Slice slice(request);
  grpc::ByteBuffer buffer(&slice, 1);
  auto call = stub.PrepareUnaryCall(&ctx, method, buffer, &cq);
  call->StartCall();
  grpc::ByteBuffer reply;
  grpc::Status status;
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  response->clear();
  std::vector<grpc::Slice> slices;
  if (status.ok() && reply.Dump(&slices).ok()) {
    for (const auto& sl : slices) {
      response->append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

}  // namespace prov::testing
