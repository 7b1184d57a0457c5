// AuditService's dashboard aggregates: GetFleetOverview, ListAccelerators, GetAccountUsageSeries.
// Each needs the viewer role, like the rest of AuditService.
#include "absl/strings/str_cat.h"
#include "common/accelerator_naming.h"
#include "common/grpc/status.h"
#include "common/proto_time.h"
#include "server/audit/audit_service.h"

namespace prov::server {
namespace {

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

}  // namespace

grpc::Status AuditServiceImpl::GetFleetOverview(
    grpc::ServerContext* context, const provenance::v1::GetFleetOverviewRequest*,
    provenance::v1::GetFleetOverviewResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  const absl::Time now = clock_.Now();
  auto overview = reader_.FleetOverview(now - silent_after_);
  if (!overview.ok()) return ToGrpcStatus(overview.status());
  *response = std::move(*overview);
  // Groups are per PCI ID (store_reader_fleet.cc); their names are the catalog's, like every
  // other view, whatever the agents called them.
  for (auto& g : *response->mutable_accelerator_groups()) {
    provenance::v1::Accelerator named;
    named.set_vendor_id(g.vendor_id());
    named.set_device_id(g.device_id());
    NameFromCatalog(catalog_, &named);
    g.set_vendor(named.vendor());
    g.set_model(named.model());
    g.set_model_known(named.model_known());
  }
  SetProtoTime(now, response->mutable_as_of());
  response->set_silent_after_seconds(absl::ToInt64Seconds(silent_after_));
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ListAccelerators(
    grpc::ServerContext* context, const provenance::v1::ListAcceleratorsRequest* request,
    provenance::v1::ListAcceleratorsResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  if (request->limit() > kMaxLimit) {
    return Invalid(absl::StrCat("limit: ", request->limit(), " exceeds ", kMaxLimit));
  }
  if (request->device_id() != 0 && request->vendor_id() == 0) {
    return Invalid("device_id: needs vendor_id");
  }
  auto records =
      reader_.ListAccelerators({.vendor_id = request->vendor_id(),
                                .device_id = request->device_id(),
                                .datacenter = request->datacenter(),
                                .node_id = request->node_id(),
                                .limit = request->limit() == 0 ? kDefaultLimit : request->limit()});
  if (!records.ok()) return ToGrpcStatus(records.status());
  for (auto& r : *records) {
    NameFromCatalog(catalog_, r.mutable_accelerator());
    *response->add_accelerators() = std::move(r);
  }
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetAccountUsageSeries(
    grpc::ServerContext* context, const provenance::v1::GetAccountUsageSeriesRequest* request,
    provenance::v1::GetAccountUsageSeriesResponse* response) {
  if (auth_ != nullptr) {
    if (auto s = auth_->Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  }
  if (request->account().empty()) return Invalid("account: must not be empty");
  if (request->bucket_hours() > 24 * 366) {
    return Invalid(absl::StrCat("bucket_hours: ", request->bucket_hours(), " exceeds a year"));
  }
  UsageSeriesQuery query;
  query.account = request->account();
  if (request->has_since()) query.since = FromProtoTime(request->since());
  if (request->has_until()) query.until = FromProtoTime(request->until());
  if (query.since && query.until && *query.until < *query.since) {
    return Invalid("until: is before since");
  }
  query.bucket_hours = request->bucket_hours();
  auto series = reader_.GetAccountUsageSeries(query);
  if (!series.ok()) return ToGrpcStatus(series.status());
  *response = std::move(*series);
  return grpc::Status::OK;
}

}  // namespace prov::server
