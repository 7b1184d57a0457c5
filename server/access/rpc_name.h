// RPC names for handlers: grpc::ServerContext has no accessor for the method being called, so a
// server interceptor puts it in the call's received metadata under kRpcNameKey (replacing
// anything a client sent under that key), and RpcName() reads it back. Used for audit entries
// ("access.denied": which RPC a caller was refused).
//
//   builder.experimental().SetInterceptorCreators(...NewRpcNameInterceptorFactory()...);
//   std::string rpc = RpcName(*context);   // "/provenance.v1.AccessService/IssueToken"
//
// Only people-facing services are intercepted (never the agent stream: no per-message cost on
// ingest). Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "grpcpp/server_context.h"
#include "grpcpp/support/server_interceptor.h"

namespace prov::server {

inline constexpr char kRpcNameKey[] = "prov-rpc-name";

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRpcNameInterceptorFactory();

// "" when the interceptor did not run (tests without it, the agent stream).
std::string RpcName(const grpc::ServerContext& context);

}  // namespace prov::server
