// A gRPC channel that sends `authorization: Bearer <token>` on every call, for clients of provd's
// people-facing services (prov-eval-score, tests, in-process components).
//
//   auto channel = CreateBearerChannel("127.0.0.1:50051", grpc::InsecureChannelCredentials(),
//                                      token);
//   auto stub = provenance::v1::AnalysisService::NewStub(channel);   // every call authenticated
//
// An empty token adds nothing. Thread-safe like any channel.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace prov {

std::shared_ptr<grpc::Channel> CreateBearerChannel(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const std::string& token, const grpc::ChannelArguments& args = grpc::ChannelArguments());

// The token in `path` (its first line, whitespace trimmed); errors name the file.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace prov
