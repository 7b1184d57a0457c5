#include "server/audit/audit_service.h"

#include "absl/strings/str_cat.h"
#include "common/accelerator_naming.h"
#include "common/grpc/status.h"
#include "common/proto_time.h"

namespace prov::server {
namespace {

absl::StatusOr<size_t> Limit(uint32_t requested) {
  if (requested == 0) return AuditServiceImpl::kDefaultLimit;
  if (requested > AuditServiceImpl::kMaxLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: ", requested, " exceeds ", AuditServiceImpl::kMaxLimit));
  }
  return requested;
}

}  // namespace

void AuditServiceImpl::MarkSilent(provenance::v1::NodeSummary& node) const {
  const absl::Time cutoff = clock_.Now() - silent_after_;
  node.set_silent(FromProtoTime(node.last_seen()) < cutoff);
  node.set_rejecting(node.has_rejecting_since() && FromProtoTime(node.last_rejected()) >= cutoff);
}

grpc::Status AuditServiceImpl::ListNodes(grpc::ServerContext* context,
                                         const provenance::v1::ListNodesRequest* request,
                                         provenance::v1::ListNodesResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  absl::StatusOr<size_t> limit = Limit(request->limit());
  if (!limit.ok()) return ToGrpcStatus(limit.status());
  auto nodes = reader_.ListNodes({.datacenter = request->datacenter(), .limit = *limit});
  if (!nodes.ok()) return ToGrpcStatus(nodes.status());
  for (auto& node : *nodes) {
    MarkSilent(node);
    *response->add_nodes() = std::move(node);
  }
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetServerStatus(grpc::ServerContext* context,
                                               const provenance::v1::GetServerStatusRequest*,
                                               provenance::v1::GetServerStatusResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  if (!status_) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no server status here");
  absl::StatusOr<provenance::v1::GetServerStatusResponse> status = status_();
  if (!status.ok()) return ToGrpcStatus(status.status());
  *response = *std::move(status);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetNode(grpc::ServerContext* context,
                                       const provenance::v1::GetNodeRequest* request,
                                       provenance::v1::GetNodeResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  if (request->node_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "node_id: must not be empty");
  }
  auto node = reader_.GetNode(request->node_id());
  if (!node.ok()) return ToGrpcStatus(node.status());
  *response = std::move(*node);
  for (auto& a : *response->mutable_accelerators()) NameFromCatalog(catalog_, &a);
  MarkSilent(*response->mutable_node());
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ListWorkloads(grpc::ServerContext* context,
                                             const provenance::v1::ListWorkloadsRequest* request,
                                             provenance::v1::ListWorkloadsResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  absl::StatusOr<size_t> limit = Limit(request->limit());
  if (!limit.ok()) return ToGrpcStatus(limit.status());
  auto workloads = reader_.ListWorkloads({.account = request->account(),
                                          .node_id = request->node_id(),
                                          .datacenter = request->datacenter(),
                                          .limit = *limit});
  if (!workloads.ok()) return ToGrpcStatus(workloads.status());
  for (auto& w : *workloads) *response->add_workloads() = std::move(w);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetAccountUsage(
    grpc::ServerContext* context, const provenance::v1::GetAccountUsageRequest* request,
    provenance::v1::GetAccountUsageResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  UsageQuery query;
  query.account = request->account();
  if (request->has_since()) query.since = FromProtoTime(request->since());
  if (request->has_until()) query.until = FromProtoTime(request->until());
  if (query.since && query.until && *query.until < *query.since) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "until: is before since");
  }
  auto usage = reader_.GetAccountUsage(query);
  if (!usage.ok()) return ToGrpcStatus(usage.status());
  for (auto& a : *usage) *response->add_accounts() = std::move(a);
  return grpc::Status::OK;
}

}  // namespace prov::server
