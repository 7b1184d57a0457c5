#include "server/inventory/inventory_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/accelerator_naming.h"
#include "common/grpc/streamed_parts.h"
#include "common/status_macros.h"
#include "server/identity/service_util.h"
#include "server/inventory/inventory_parser.h"
#include "server/store/sqlite/sqlite_inventory.h"

namespace prov::server {
namespace {

using provenance::v1::DeclaredAccelerator;
using provenance::v1::ObservedAccelerator;

constexpr char kKind[] = "inventory";

std::string PciId(uint32_t vendor, uint32_t device) {
  return absl::StrFormat("%04x:%04x", vendor, device);
}

std::string CatalogName(const AcceleratorCatalog& catalog, uint32_t vendor, uint32_t device) {
  provenance::v1::Accelerator a;
  a.set_vendor_id(vendor);
  a.set_device_id(device);
  NameFromCatalog(catalog, &a);
  return a.model().empty() ? "not in the catalog" : a.model();
}

}  // namespace

std::vector<std::string> InventoryDifferences(const DeclaredAccelerator& declared,
                                              const ObservedAccelerator& observed,
                                              const AcceleratorCatalog& catalog) {
  std::vector<std::string> out;
  const auto& acc = observed.accelerator();
  if (!declared.node_id().empty() && declared.node_id() != observed.node_id()) {
    out.push_back(absl::StrCat("node_id: declared ", declared.node_id(), ", observed on ",
                               observed.node_id()));
  }
  if (!declared.datacenter().empty() && declared.datacenter() != observed.datacenter()) {
    out.push_back(absl::StrCat("datacenter: declared ", declared.datacenter(),
                               ", observed node reports ",
                               observed.datacenter().empty() ? "none" : observed.datacenter()));
  }
  if (declared.vendor_id() != 0 &&
      (declared.vendor_id() != acc.vendor_id() ||
       (declared.device_id() != 0 && declared.device_id() != acc.device_id()))) {
    out.push_back(absl::StrCat(
        "pci_id: declared ", PciId(declared.vendor_id(), declared.device_id()), " (",
        declared.device_id() != 0 ? CatalogName(catalog, declared.vendor_id(), declared.device_id())
                                  : catalog.VendorName(declared.vendor_id()),
        "), observed ", PciId(acc.vendor_id(), acc.device_id()), " (",
        acc.model().empty() ? "not in the catalog" : acc.model(), ")"));
  }
  if (!declared.declared_model().empty() && !acc.model().empty() &&
      ReportedNameDisagrees(acc.model(), declared.declared_model())) {
    out.push_back(absl::StrCat("model: declared \"", declared.declared_model(),
                               "\", the catalog names the observed PCI ID \"", acc.model(), "\""));
  }
  if (!declared.uuid().empty() && !acc.uuid().empty() && declared.uuid() != acc.uuid()) {
    out.push_back(absl::StrCat("uuid: declared ", declared.uuid(), ", observed ", acc.uuid()));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<InventoryServiceImpl>> InventoryServiceImpl::Create(
    const std::string& db_path, const Clock& clock, InventoryServiceOptions options) {
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<InventoryRepository> inventory,
                        SqliteInventoryRepository::Open(db_path));
  return Create(std::move(inventory), clock, std::move(options));
}

std::unique_ptr<InventoryServiceImpl> InventoryServiceImpl::Create(
    std::unique_ptr<InventoryRepository> inventory, const Clock& clock,
    InventoryServiceOptions options) {
  return std::unique_ptr<InventoryServiceImpl>(
      new InventoryServiceImpl(clock, std::move(options), std::move(inventory)));
}

InventoryServiceImpl::InventoryServiceImpl(const Clock& clock, InventoryServiceOptions options,
                                           std::unique_ptr<InventoryRepository> inventory)
    : clock_(clock),
      options_(std::move(options)),
      catalog_(options_.catalog != nullptr ? *options_.catalog : AcceleratorCatalog::Builtin()),
      inventory_(std::move(inventory)) {}

grpc::Status InventoryServiceImpl::Authorize(grpc::ServerContext* context,
                                             provenance::v1::Role need, std::string* actor) const {
  if (options_.auth == nullptr) {
    *actor = Actor(*context);
    return grpc::Status::OK;
  }
  Principal who;
  grpc::Status s = options_.auth->Require(context, need, &who);
  *actor = who.actor();
  return s;
}

grpc::Status InventoryServiceImpl::Refuse(const absl::Status& status, uint64_t rejected_rows) {
  if (options_.stats != nullptr) {
    options_.stats->Count(kKind,
                          absl::IsCancelled(status)         ? ImportResult::kCancelled
                          : absl::IsInvalidArgument(status) ? ImportResult::kRefused
                                                            : ImportResult::kFailed,
                          rejected_rows);
  }
  return ToGrpc(absl::Status(status.code(), absl::StrCat("nothing imported: ", status.message())));
}

grpc::Status InventoryServiceImpl::ImportInventoryStream(
    grpc::ServerContext* context,
    grpc::ServerReader<provenance::v1::ImportInventoryRequest>* reader,
    provenance::v1::ImportInventoryResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_ADMIN, &actor); !s.ok()) return s;
  provenance::v1::ImportInventoryRequest request;
  if (grpc::Status s = ReadParts(reader, options_.max_import_bytes, &request); !s.ok()) {
    if (options_.stats != nullptr) options_.stats->Count(kKind, ImportResult::kRefused, 0);
    return s;
  }
  return ImportInventory(context, &request, response);
}

grpc::Status InventoryServiceImpl::ImportInventory(
    grpc::ServerContext* context, const provenance::v1::ImportInventoryRequest* request,
    provenance::v1::ImportInventoryResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_ADMIN, &actor); !s.ok()) return s;
  const std::string source = request->source_name().empty() ? "inventory" : request->source_name();
  if (request->content().size() > options_.max_import_bytes) {
    return Refuse(absl::InvalidArgumentError(absl::StrCat(source, ": ", request->content().size(),
                                                          " bytes; the limit is ",
                                                          options_.max_import_bytes, " bytes")));
  }
  auto format = inventory::InventoryFormatFrom(request->format(), source);
  if (!format.ok()) return Refuse(format.status());
  inventory::InventoryParseOptions parse_options;
  parse_options.max_rows = options_.max_import_rows;
  auto parsed = inventory::ParseInventory(request->content(), *format, source, parse_options);
  if (!parsed.ok()) return Refuse(parsed.status());
  if (parsed->rows.empty()) {
    return Refuse(absl::InvalidArgumentError(
                      absl::StrCat(source, ": no valid rows (", parsed->errors.size(),
                                   " rows refused", parsed->errors.empty() ? "" : ", first: ",
                                   parsed->errors.empty() ? "" : parsed->errors[0].message, ")")),
                  parsed->errors.size());
  }
  InventoryImport import{.rows = std::move(parsed->rows),
                         .source = source,
                         .actor = actor,
                         .content_digest = parsed->content_digest,
                         .errors = static_cast<uint32_t>(parsed->errors.size()),
                         .now = clock_.Now()};
  absl::StatusOr<InventoryImportSummary> imported = inventory_->Import(import, [&] {
    return context->IsCancelled() ? absl::CancelledError("the caller went away; rolled back")
                                  : absl::OkStatus();
  });
  absl::Status done = imported.status();
  if (!done.ok()) return Refuse(done);
  if (options_.on_imported) options_.on_imported();
  if (options_.stats != nullptr) {
    options_.stats->Count(kKind,
                          parsed->errors.empty() ? ImportResult::kOk : ImportResult::kPartial,
                          parsed->errors.size());
  }
  const InventoryImportSummary& summary = *imported;
  response->set_inventory_version(summary.version);
  response->set_accepted(summary.accepted);
  response->set_added(summary.added);
  response->set_changed(summary.changed);
  response->set_unchanged(summary.unchanged);
  response->set_content_digest(parsed->content_digest);
  for (size_t i = 0; i < parsed->errors.size() && i < options_.max_reported_errors; ++i) {
    response->add_errors(parsed->errors[i].message);
  }
  if (parsed->errors.size() > options_.max_reported_errors) {
    response->add_errors(absl::StrCat(
        "... and ", parsed->errors.size() - options_.max_reported_errors, " more errors"));
  }
  return grpc::Status::OK;
}

grpc::Status InventoryServiceImpl::ListInventory(
    grpc::ServerContext* context, const provenance::v1::ListInventoryRequest* request,
    provenance::v1::ListInventoryResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_VIEWER, &actor); !s.ok()) return s;
  if (request->limit() > options_.max_list_limit) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("limit: ", request->limit(), " exceeds ", options_.max_list_limit));
  }
  auto version = inventory_->LatestVersion();
  if (!version.ok()) return ToGrpc(version.status());
  auto entries = inventory_->List(
      {.datacenter = request->datacenter(),
       .node_id = request->node_id(),
       .limit = request->limit() == 0 ? options_.default_list_limit : request->limit()});
  if (!entries.ok()) return ToGrpc(entries.status());
  response->set_inventory_version(*version);
  for (auto& e : *entries) *response->add_entries() = std::move(e);
  return grpc::Status::OK;
}

grpc::Status InventoryServiceImpl::GetInventory(grpc::ServerContext* context,
                                                const provenance::v1::GetInventoryRequest* request,
                                                provenance::v1::GetInventoryResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_VIEWER, &actor); !s.ok()) return s;
  if (request->serial().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "serial: must not be empty");
  }
  auto current = inventory_->Get(request->serial());
  if (!current.ok()) return ToGrpc(current.status());
  if (!current->has_value()) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("serial ", request->serial(), ": not in the declared inventory"));
  }
  auto history = inventory_->History(request->serial());
  if (!history.ok()) return ToGrpc(history.status());
  auto version = inventory_->LatestVersion();
  if (!version.ok()) return ToGrpc(version.status());
  const DeclaredAccelerator& declared = (*current)->declared();
  auto observed = inventory_->LastObserved(declared.serial(), declared.uuid());
  if (!observed.ok()) return ToGrpc(observed.status());
  *response->mutable_current() = **current;
  for (auto& h : *history) *response->add_history() = std::move(h);
  response->set_inventory_version(*version);
  if (observed->has_value()) {
    ObservedAccelerator& o = **observed;
    NameFromCatalog(catalog_, o.mutable_accelerator());
    for (std::string& d : InventoryDifferences(declared, o, catalog_)) {
      response->add_differences(std::move(d));
    }
    *response->mutable_last_observed() = std::move(o);
  }
  return grpc::Status::OK;
}

}  // namespace prov::server
