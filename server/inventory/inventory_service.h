// InventoryServiceImpl: the declared inventory over gRPC (proto/provenance/v1/inventory.proto).
//
//   InventoryServiceOptions o;
//   o.auth = auth;                   // admin to import, viewer to list and show
//   o.stats = &identity->stats();    // prov_imports_total{kind="inventory"}, rows rejected
//   PROV_ASSIGN_OR_RETURN(auto inventory, InventoryServiceImpl::Create(db_path, clock, o));
//   // or on any engine: InventoryServiceImpl::Create(std::move(repository), clock, o)
//   builder.RegisterService(inventory.get());
//
// ImportInventory: the file is checked whole first (size, UTF-8, CSV quoting, header: any failure
// refuses it and nothing is imported, INVALID_ARGUMENT naming the file); then its valid rows become
// a new inventory version in one transaction with an `inventory.import` audit entry, and the bad
// rows come back in `errors` ("line 7: field status: ...") and are counted
// (prov_import_rows_rejected_total{kind="inventory"}). A file with no valid row at all is refused
// (nothing imported). GetInventory adds where the serial was last observed, named from provd's
// catalog, and the declared-vs-observed differences. GetInventoryView is the dashboard's paged
// declared-vs-observed view. The SQL is behind InventoryRepository (server/store/repo/inventory.h):
// Create(db_path, ...) gives it the SQLite one (SqliteInventoryRepository), which is what provd
// uses.
//
// Threads: gRPC's sync handlers; the repository serialises what it must (the SQLite one: imports
// on its write connection, queries on its read connection, each behind its own mutex).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/accelerator_catalog.h"
#include "common/clock.h"
#include "provenance/v1/inventory.grpc.pb.h"
#include "server/access/authenticator.h"
#include "server/identity/import_stats.h"
#include "server/store/repo/inventory.h"

namespace prov::server {

struct InventoryServiceOptions {
  const Authenticator* auth = nullptr;          // null: no checks (tests)
  ImportStats* stats = nullptr;                 // null: not counted
  const AcceleratorCatalog* catalog = nullptr;  // null: AcceleratorCatalog::Builtin()
  size_t max_import_bytes = 64u << 20;
  size_t max_import_rows = 1000000;
  size_t max_reported_errors = 100;  // more are summed up in one last line
  uint32_t max_list_limit = 100000;
  uint32_t default_list_limit = 1000;
  // Called after each committed import (the analysis engine reloads the inventory and the
  // hardware rules judge every node against it). Null: nobody is told.
  std::function<void()> on_imported;
};

class InventoryServiceImpl final : public provenance::v1::InventoryService::Service {
 public:
  static absl::StatusOr<std::unique_ptr<InventoryServiceImpl>> Create(
      const std::string& db_path, const Clock& clock, InventoryServiceOptions options);
  static std::unique_ptr<InventoryServiceImpl> Create(
      std::unique_ptr<InventoryRepository> inventory, const Clock& clock,
      InventoryServiceOptions options);

  grpc::Status ImportInventory(grpc::ServerContext* context,
                               const provenance::v1::ImportInventoryRequest* request,
                               provenance::v1::ImportInventoryResponse* response) override;
  // The streamed form: authorized before a byte is read, parts joined up to max_import_bytes,
  // then exactly ImportInventory.
  grpc::Status ImportInventoryStream(
      grpc::ServerContext* context,
      grpc::ServerReader<provenance::v1::ImportInventoryRequest>* reader,
      provenance::v1::ImportInventoryResponse* response) override;
  grpc::Status ListInventory(grpc::ServerContext* context,
                             const provenance::v1::ListInventoryRequest* request,
                             provenance::v1::ListInventoryResponse* response) override;
  grpc::Status GetInventory(grpc::ServerContext* context,
                            const provenance::v1::GetInventoryRequest* request,
                            provenance::v1::GetInventoryResponse* response) override;
  // inventory_view_service.cc: counts per data centre, or per rack and one page of rows of one
  // data centre, each row with where it was last observed and the differences.
  grpc::Status GetInventoryView(grpc::ServerContext* context,
                                const provenance::v1::InventoryViewRequest* request,
                                provenance::v1::InventoryViewResponse* response) override;
  static constexpr uint32_t kDefaultViewPageSize = 200;
  static constexpr uint32_t kMaxViewPageSize = 1000;

 private:
  InventoryServiceImpl(const Clock& clock, InventoryServiceOptions options,
                       std::unique_ptr<InventoryRepository> inventory);
  grpc::Status Authorize(grpc::ServerContext* context, provenance::v1::Role need,
                         std::string* actor) const;
  grpc::Status Refuse(const absl::Status& status, uint64_t rejected_rows = 0);

  const Clock& clock_;
  InventoryServiceOptions options_;
  const AcceleratorCatalog& catalog_;
  std::unique_ptr<InventoryRepository> inventory_;  // thread-safe
};

// The declared-vs-observed lines of GetInventoryResponse.differences (exposed for tests). The
// observed accelerator must already be named from the catalog (common/accelerator_naming.h).
std::vector<std::string> InventoryDifferences(const provenance::v1::DeclaredAccelerator& declared,
                                              const provenance::v1::ObservedAccelerator& observed,
                                              const AcceleratorCatalog& catalog);

}  // namespace prov::server
