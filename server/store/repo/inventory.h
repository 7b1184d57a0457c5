// InventoryRepository: the declared inventory (tables `inventory_imports`, `inventory`,
// `inventory_history`, server/store/SCHEMA.md) and the reads that set it against what agents
// reported (`accelerators`, `nodes`, `node_hardware`, `node_hardware_changes`), on either engine:
// SqliteInventoryRepository (server/store/sqlite/) or PgInventoryRepository (server/store/pg/).
// InventoryServiceImpl (server/inventory/) calls this; tests/store/inventory_conformance_test.cc
// holds both engines to the same behaviour.
//
//   PROV_ASSIGN_OR_RETURN(auto inventory, SqliteInventoryRepository::Open(data_dir + "/provd.db"));
//   InventoryImport import{.rows = parsed.rows, .source = "netbox.csv", .actor = "token:alice",
//                          .content_digest = parsed.content_digest, .errors = 2, .now = now};
//   PROV_ASSIGN_OR_RETURN(InventoryImportSummary s, inventory->Import(import));
//   PROV_ASSIGN_OR_RETURN(auto entries, inventory->List({.datacenter = "fra1"}));
//   PROV_ASSIGN_OR_RETURN(auto page, inventory->Page("fra1", "", InventoryPageKey{}, 200));
//   // page.next: pass EncodePageToken(*page.next) to the client; DecodePageToken on the way back
//
// Import is the only write: the import row (version = the previous + 1), a history row per
// declared row, the changed current rows and the `inventory.import` audit entry, in one
// transaction serialised with every other import on the database, whichever connection or provd
// replica runs it (SQLite: BEGIN IMMEDIATE; PostgreSQL: the transaction-level advisory lock
// (0x50524f56, 5) taken before the version is read). So two imports never get one version. An
// error anywhere (a bad row, the audit append, `before_commit`) leaves nothing. Reads see what was
// committed. Page keys compare byte-wise on both engines (COLLATE "C" on PostgreSQL), so a token
// pages identically on either. Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "provenance/v1/audit.pb.h"
#include "provenance/v1/inventory.pb.h"

namespace prov::server {

struct InventoryImportSummary {
  int64_t version = 0;
  uint32_t accepted = 0;
  uint32_t added = 0;
  uint32_t changed = 0;
  uint32_t unchanged = 0;
};

// One import: the file's valid rows (serials distinct) and what the audit entry records.
struct InventoryImport {
  std::vector<provenance::v1::DeclaredAccelerator> rows;
  std::string source;          // the file's name (inventory_imports.source)
  std::string actor;           // who imported (inventory_imports.actor, the audit entry's actor)
  std::string content_digest;  // SHA-256 of the file, hex
  uint32_t errors = 0;         // rows the parser refused
  absl::Time now;
};

// The `inventory.import` audit entry's payload (canonical JSON), the same on both engines.
std::string InventoryImportAuditPayload(const InventoryImport& import,
                                        const InventoryImportSummary& summary);

struct InventoryQuery {
  std::string datacenter;  // empty: any
  std::string node_id;     // empty: any
  size_t limit = 1000;
};

// Where a page ends: the last row's (rack, node_id, serial).
struct InventoryPageKey {
  std::string rack, node_id, serial;
};
// The opaque page token of a key, and back (INVALID_ARGUMENT naming page_token when it is not one).
std::string EncodePageToken(const InventoryPageKey& key);
absl::StatusOr<InventoryPageKey> DecodePageToken(const std::string& token);

struct InventoryPageResult {
  std::vector<provenance::v1::InventoryEntry> entries;
  std::optional<InventoryPageKey> next;  // set when more rows follow
};

// Accelerators reported by nodes whose reported data centre is a given one, and how many of them
// no inventory row declares (neither by serial nor by uuid).
struct ObservedCount {
  uint32_t accelerators = 0, undeclared = 0;
};

class InventoryRepository {
 public:
  // Checked just before COMMIT (e.g. whether the caller went away); its error rolls back.
  using BeforeCommit = absl::FunctionRef<absl::Status()>;

  virtual ~InventoryRepository() = default;

  // Stores `import` as the next version with its audit entry (header). A row unchanged since the
  // current one keeps its version; every row gets a history row. Nothing is written on error.
  virtual absl::StatusOr<InventoryImportSummary> Import(const InventoryImport& import,
                                                        BeforeCommit before_commit) = 0;
  absl::StatusOr<InventoryImportSummary> Import(const InventoryImport& import) {
    return Import(import, [] { return absl::OkStatus(); });
  }

  // 0 when nothing has been imported.
  virtual absl::StatusOr<int64_t> LatestVersion() = 0;
  // Current rows, ordered by datacenter, rack, node_id, serial.
  virtual absl::StatusOr<std::vector<provenance::v1::InventoryEntry>> List(
      const InventoryQuery& query) = 0;
  // Every current row (for the in-memory index, server/inventory/inventory_index.h).
  virtual absl::StatusOr<std::vector<provenance::v1::InventoryEntry>> LoadAll() = 0;
  // nullopt: not declared.
  virtual absl::StatusOr<std::optional<provenance::v1::InventoryEntry>> Get(
      const std::string& serial) = 0;
  // Every version that declared the serial, newest first.
  virtual absl::StatusOr<std::vector<provenance::v1::InventoryEntry>> History(
      const std::string& serial) = 0;
  // The accelerator an agent reported most recently with this serial, else with this uuid (when
  // not empty), as the agent sent it (the caller names it from its catalog).
  virtual absl::StatusOr<std::optional<provenance::v1::ObservedAccelerator>> LastObserved(
      const std::string& serial, const std::string& uuid) = 0;

  // Declared-vs-observed counts per data centre (datacenter empty) or per rack of `datacenter`,
  // ordered by name.
  virtual absl::StatusOr<std::vector<provenance::v1::InventoryPlaceCount>> Places(
      const std::string& datacenter) = 0;
  // Rows of `datacenter` (and `rack` when not empty) after `after`, ordered by rack, node_id,
  // serial (byte order), at most `limit`.
  virtual absl::StatusOr<InventoryPageResult> Page(const std::string& datacenter,
                                                   const std::string& rack,
                                                   const InventoryPageKey& after, size_t limit) = 0;
  virtual absl::StatusOr<ObservedCount> CountObserved(const std::string& datacenter) = 0;

  // The node's SMBIOS identity (empty when the node or its hardware row is unknown);
  // `with_changes`: also its newest 50 changes (changes_total is always set).
  virtual absl::StatusOr<provenance::v1::NodeHardwareIdentity> NodeHardware(
      const std::string& node_id, bool with_changes) = 0;
};

}  // namespace prov::server
