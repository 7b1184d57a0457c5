#include "server/access/rpc_name.h"

#include <cstring>

#include "absl/strings/match.h"

namespace prov::server {
namespace {

class RpcNameInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RpcNameInterceptor(const char* method) : method_(method) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* md = methods->GetRecvInitialMetadata();
      if (md != nullptr) {
        md->erase(grpc::string_ref(kRpcNameKey));
        md->emplace(grpc::string_ref(kRpcNameKey), grpc::string_ref(method_));
      }
    }
    methods->Proceed();
  }

 private:
  const char* method_;  // owned by the server's method table
};

class RpcNameFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const char* method = info->method();
    if (method == nullptr || absl::StartsWith(method, "/provenance.v1.AgentGateway/") ||
        absl::StartsWith(method, "/grpc.")) {
      return nullptr;
    }
    return new RpcNameInterceptor(method);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRpcNameInterceptorFactory() {
  return std::make_unique<RpcNameFactory>();
}

std::string RpcName(const grpc::ServerContext& context) {
  const auto& md = context.client_metadata();
  auto it = md.find(kRpcNameKey);
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace prov::server
