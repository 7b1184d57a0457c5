// AgentGatewayService: provenance.v1.AgentGateway on gRPC's callback API.
//
//   AgentGatewayService gateway({.queue = &queue, .metrics = &metrics, .clock = &clock});
//   builder.RegisterService(&gateway);
//
// Each Report call gets a ReportStream reactor (report_stream.h), which parses, validates and
// queues reports; the IngestWriter commits and acks them. The method is registered raw (frames
// as grpc::ByteBuffer): a typed reactor cannot tell a frame that does not parse from the agent
// half-closing (gRPC reports both as OnReadDone(false)); ReportStream parses frames itself.
// With a NodeCertBinder (server/access/node_cert.h, --node-identity=cert) each call is bound to
// the node its verified client certificate names (StreamBinding); a call without one, or with a
// certificate that names no node, is refused.
// Thread-safety: gRPC calls Report() from its threads; the service itself holds only immutable
// dependencies.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "provenance/v1/agent_gateway.grpc.pb.h"
#include "server/access/node_cert.h"
#include "server/ingest/report_stream.h"

namespace prov::server {

class AgentGatewayService final : public provenance::v1::AgentGateway::WithRawCallbackMethod_Report<
                                      provenance::v1::AgentGateway::Service> {
 public:
  // `node_certs` null: reports are believed about their node (--node-identity=report).
  // `on_bound` (may be empty): called on the reactor's thread with each bound node and its
  // verified certificate (PEM); it must only queue (location verification records the node key).
  using OnBound = std::function<void(const std::string& node_id, const std::string& cert_pem)>;
  explicit AgentGatewayService(StreamDeps deps,
                               std::shared_ptr<const NodeCertBinder> node_certs = nullptr,
                               OnBound on_bound = nullptr)
      : deps_(std::move(deps)),
        node_certs_(std::move(node_certs)),
        on_bound_(std::move(on_bound)) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Report(
      grpc::CallbackServerContext* context) override {
    if (node_certs_ == nullptr) return ReportStream::Create(deps_);
    BoundNode bound;
    std::string leaf;
    ReportStream* stream = ReportStream::Create(deps_, Bind(*context, &bound, &leaf));
    // Listed now: a revocation from here on ends it; one that raced the binding is caught here.
    if (!bound.node_id.empty() && node_certs_->Revoked(bound)) {
      stream->End(RevokedStatus(bound));
    } else if (!bound.node_id.empty() && on_bound_) {
      on_bound_(bound.node_id, leaf);
    }
    return stream;
  }

  static grpc::Status RevokedStatus(const BoundNode& node) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "node \"" + node.node_id + "\" is revoked (provctl nodes revocations)");
  }

 private:
  StreamBinding Bind(const grpc::CallbackServerContext& context, BoundNode* bound,
                     std::string* leaf_out) const {
    StreamBinding binding;
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    auto first = [&](const char* property) {
      if (auth == nullptr) return std::string();
      auto values = auth->FindPropertyValues(property);
      return values.empty() ? std::string() : std::string(values[0].data(), values[0].size());
    };
    const std::string leaf = first(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (auth == nullptr || !auth->IsPeerAuthenticated() || leaf.empty()) {
      binding.refused = absl::PermissionDeniedError(
          "no client certificate: provd binds agent streams to their node certificate "
          "(--node-identity=cert)");
      return binding;
    }
    absl::StatusOr<BoundNode> node =
        node_certs_->Bind(leaf, first(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME));
    if (node.ok()) {
      *bound = *node;
      *leaf_out = leaf;
      binding.cert_node_id = node->node_id;
    } else {
      binding.refused = node.status();
    }
    return binding;
  }

  const StreamDeps deps_;
  const std::shared_ptr<const NodeCertBinder> node_certs_;
  const OnBound on_bound_;
};

}  // namespace prov::server
