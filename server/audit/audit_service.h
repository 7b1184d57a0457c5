// AuditServiceImpl: provenance.v1.AuditService (ListNodes, GetNode, ListWorkloads,
// GetAccountUsage; for the dashboard GetFleetOverview, ListAccelerators, GetAccountUsageSeries;
// GetServerStatus for provctl status, answered by provd's StatusSource)
// over the store's read-only connections.
//
//   AuditServiceImpl audit(*reader, clock, /*silent_after=*/absl::Seconds(60));
//   builder.RegisterService(&audit);
//
// Uses gRPC's synchronous API on purpose: each query is a short blocking SQLite read, which is
// what sync handler threads are for; agent streams (many, long-lived) use the callback API.
// NodeSummary.silent = no report collected within silent_after of the injected clock's now.
// Bad requests get INVALID_ARGUMENT naming the field; an unknown node NOT_FOUND.
// Thread-safety: handlers run concurrently; the FleetReader and Clock are thread-safe.
#pragma once

#include <functional>

#include "absl/time/time.h"
#include "common/accelerator_catalog.h"
#include "common/clock.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "server/access/authenticator.h"
#include "server/store/repo/fleet_reader.h"

namespace prov::server {

class AuditServiceImpl final : public provenance::v1::AuditService::Service {
 public:
  static constexpr uint32_t kDefaultLimit = 1000;
  static constexpr uint32_t kMaxLimit = 100000;

  // `auth` (provd always sets it): every query needs the viewer role. Null: no checks (tests).
  // `catalog` names every accelerator in GetNode, ListAccelerators and GetFleetOverview by its
  // PCI ID (common/accelerator_naming.h); null: AcceleratorCatalog::Builtin(). Not owned.
  AuditServiceImpl(FleetReader& reader, const Clock& clock, absl::Duration silent_after,
                   const Authenticator* auth = nullptr, const AcceleratorCatalog* catalog = nullptr)
      : auth_(auth),
        catalog_(catalog != nullptr ? *catalog : AcceleratorCatalog::Builtin()),
        reader_(reader),
        clock_(clock),
        silent_after_(silent_after) {}

  grpc::Status ListNodes(grpc::ServerContext* context,
                         const provenance::v1::ListNodesRequest* request,
                         provenance::v1::ListNodesResponse* response) override;
  grpc::Status GetNode(grpc::ServerContext* context, const provenance::v1::GetNodeRequest* request,
                       provenance::v1::GetNodeResponse* response) override;
  grpc::Status ListWorkloads(grpc::ServerContext* context,
                             const provenance::v1::ListWorkloadsRequest* request,
                             provenance::v1::ListWorkloadsResponse* response) override;
  grpc::Status GetAccountUsage(grpc::ServerContext* context,
                               const provenance::v1::GetAccountUsageRequest* request,
                               provenance::v1::GetAccountUsageResponse* response) override;
  // The dashboard's aggregates (audit_service_fleet.cc).
  grpc::Status GetFleetOverview(grpc::ServerContext* context,
                                const provenance::v1::GetFleetOverviewRequest* request,
                                provenance::v1::GetFleetOverviewResponse* response) override;
  grpc::Status ListAccelerators(grpc::ServerContext* context,
                                const provenance::v1::ListAcceleratorsRequest* request,
                                provenance::v1::ListAcceleratorsResponse* response) override;
  grpc::Status GetAccountUsageSeries(
      grpc::ServerContext* context, const provenance::v1::GetAccountUsageSeriesRequest* request,
      provenance::v1::GetAccountUsageSeriesResponse* response) override;
  // provctl status (issue 12): what `status` (provd's, set before serving) says; UNIMPLEMENTED
  // while none is set.
  using StatusSource = std::function<absl::StatusOr<provenance::v1::GetServerStatusResponse>()>;
  void SetStatusSource(StatusSource status) { status_ = std::move(status); }
  grpc::Status GetServerStatus(grpc::ServerContext* context,
                               const provenance::v1::GetServerStatusRequest* request,
                               provenance::v1::GetServerStatusResponse* response) override;

 private:
  const Authenticator* auth_ = nullptr;
  const AcceleratorCatalog& catalog_;
  void MarkSilent(provenance::v1::NodeSummary& node) const;

  FleetReader& reader_;
  const Clock& clock_;
  const absl::Duration silent_after_;
  StatusSource status_;
};

}  // namespace prov::server
