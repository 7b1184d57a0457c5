// absl::Status -> grpc::Status at the RPC edge (same code, same message).
//
//   auto result = cases.Update(who, *request);
//   if (!result.ok()) return ToGrpcStatus(result.status());
#pragma once

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace prov {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace prov
