// OpenStreams: the open AgentGateway streams bound to a certificate's node, so that revoking a
// node (provctl nodes revoke) ends them (issue 10 §1).
//
//   auto open = std::make_shared<OpenStreams>();        // StreamDeps::open_streams
//   open->Add("gpu-017", stream);  open->Remove("gpu-017", stream);   // ReportStream itself
//   int ended = open->EndNode("gpu-017", grpc::Status(PERMISSION_DENIED, "revoked"));
//
// Thread-safe. Lock order: OpenStreams::mu_ before ReportStream::mu_ (EndNode calls
// ReportStream::End under mu_; a stream removes itself in OnDone without holding its own lock).
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/status.h"

namespace prov::server {

class ReportStream;

class OpenStreams {
 public:
  void Add(const std::string& node_id, ReportStream* stream);
  void Remove(const std::string& node_id, ReportStream* stream);
  // Ends every open stream of the node with `status`; returns how many.
  int EndNode(const std::string& node_id, const grpc::Status& status);
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<ReportStream*>> by_node_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
