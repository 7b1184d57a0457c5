// InventoryService.GetInventoryView (inventory_service.h): the dashboard's declared-vs-observed
// view, one data centre and one page at a time.
#include "absl/strings/str_cat.h"
#include "common/accelerator_naming.h"
#include "server/identity/service_util.h"
#include "server/inventory/inventory_service.h"
#include "server/store/repo/inventory.h"

namespace prov::server {

grpc::Status InventoryServiceImpl::GetInventoryView(
    grpc::ServerContext* context, const provenance::v1::InventoryViewRequest* request,
    provenance::v1::InventoryViewResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_VIEWER, &actor); !s.ok()) return s;
  if (request->page_size() > kMaxViewPageSize) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("page_size: ", request->page_size(), " exceeds ", kMaxViewPageSize));
  }
  if (request->datacenter().empty() &&
      (!request->rack().empty() || !request->page_token().empty())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "datacenter: required with rack or page_token");
  }
  InventoryPageKey after;
  if (!request->page_token().empty()) {
    auto key = DecodePageToken(request->page_token());
    if (!key.ok()) return ToGrpc(key.status());
    after = *std::move(key);
  }

  auto version = inventory_->LatestVersion();
  if (!version.ok()) return ToGrpc(version.status());
  response->set_inventory_version(*version);
  auto places = inventory_->Places(request->datacenter());
  if (!places.ok()) return ToGrpc(places.status());
  for (auto& p : *places) *response->add_places() = std::move(p);
  if (request->datacenter().empty()) return grpc::Status::OK;

  auto observed_count = inventory_->CountObserved(request->datacenter());
  if (!observed_count.ok()) return ToGrpc(observed_count.status());
  response->set_observed_accelerators(observed_count->accelerators);
  response->set_observed_undeclared(observed_count->undeclared);

  const size_t page_size = request->page_size() == 0 ? kDefaultViewPageSize : request->page_size();
  auto page = inventory_->Page(request->datacenter(), request->rack(), after, page_size);
  if (!page.ok()) return ToGrpc(page.status());
  for (auto& entry : page->entries) {
    provenance::v1::InventoryViewRow* row = response->add_rows();
    const auto& declared = entry.declared();
    auto observed = inventory_->LastObserved(declared.serial(), declared.uuid());
    if (!observed.ok()) return ToGrpc(observed.status());
    if (observed->has_value()) {
      provenance::v1::ObservedAccelerator& o = **observed;
      NameFromCatalog(catalog_, o.mutable_accelerator());
      for (std::string& d : InventoryDifferences(declared, o, catalog_)) {
        row->add_differences(std::move(d));
      }
      *row->mutable_last_observed() = std::move(o);
    }
    *row->mutable_entry() = std::move(entry);
  }
  if (page->next.has_value()) response->set_next_page_token(EncodePageToken(*page->next));
  return grpc::Status::OK;
}

}  // namespace prov::server
