// Small helpers for the identity gRPC handlers (internal).
//
//   return ToGrpc(status);                      // absl::Status -> grpc::Status, same code
//   SetTimestamp(clock.Now(), response->mutable_loaded_at());
//   std::string who = Actor(*context);          // "cn:alice" under mTLS, else "ipv4:1.2.3.4:5"
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/grpc/status.h"
#include "common/proto_time.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/server_context.h"

namespace prov::server {

inline grpc::Status ToGrpc(const absl::Status& status) { return ToGrpcStatus(status); }

inline void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) { SetProtoTime(t, ts); }

// Who made the call, recorded with imports: the client certificate's common name when the peer
// authenticated with one, else gRPC's peer address.
inline std::string Actor(const grpc::ServerContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const auto& cn : auth->FindPropertyValues("x509_common_name")) {
      return "cn:" + std::string(cn.data(), cn.size());
    }
  }
  return context.peer();
}

}  // namespace prov::server
