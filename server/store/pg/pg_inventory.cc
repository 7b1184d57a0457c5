#include "server/store/pg/pg_inventory.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "server/store/pg/pg_access.h"
#include "server/store/pg/pg_array.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

using pg_inventory_internal::ReadEntry;
using provenance::v1::DeclaredAccelerator;
using provenance::v1::InventoryEntry;

// Rows per statement of an import (PgArray parameters of a few hundred KB).
constexpr size_t kRowsPerStatement = 1000;

constexpr char kEntrySelect[] =
    "SELECT i.declared, i.version, m.imported_at_us FROM inventory i "
    "JOIN inventory_imports m ON m.version = i.version ";

absl::StatusOr<std::vector<InventoryEntry>> ReadEntries(const PgResult& r) {
  std::vector<InventoryEntry> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    PROV_ASSIGN_OR_RETURN(InventoryEntry e, ReadEntry(r, i, 0));
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<int64_t> LatestVersionOnce(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(PgResult r,
                        conn.Query("SELECT COALESCE(MAX(version), 0) FROM inventory_imports"));
  return r.Int64(0, 0);
}

absl::StatusOr<std::vector<InventoryEntry>> ListOnce(PgConn& conn, const InventoryQuery& query) {
  PROV_ASSIGN_OR_RETURN(
      PgResult r, conn.Query(absl::StrCat(kEntrySelect,
                                          "WHERE ($1::text = '' OR i.datacenter = $1) AND "
                                          "($2::text = '' OR i.node_id = $2) ORDER BY "
                                          "i.datacenter, i.rack, i.node_id, i.serial LIMIT $3"),
                             {query.datacenter, query.node_id, LimitParam(query.limit)}));
  return ReadEntries(r);
}

// Rows [begin, end) of an import: their current rows read with one statement, then every history
// row and every added or changed current row written with one statement each (PgArray, unnest).
// Decided as SQLite's ImportInventoryRows decides row by row. A serial given twice fails the
// history insert (its primary key), as on SQLite.
absl::Status ImportChunk(PgConn& conn, const std::vector<DeclaredAccelerator>& rows, size_t begin,
                         size_t end, InventoryImportSummary& summary) {
  PgArray serials;
  for (size_t i = begin; i < end; ++i) serials.AddText(rows[i].serial());
  PROV_ASSIGN_OR_RETURN(
      PgResult current,
      conn.Query("SELECT serial, declared FROM inventory WHERE serial = ANY($1::text[])",
                 {serials.Finish()}));
  absl::flat_hash_map<std::string, std::string> stored;
  for (int i = 0; i < current.rows(); ++i) {
    PROV_ASSIGN_OR_RETURN(std::string declared, current.Bytes(i, 1));
    stored.emplace(current.Text(i, 0), std::move(declared));
  }
  PgArray blobs, up_serial, up_uuid, up_node, up_dc, up_rack, up_status, up_blob;
  for (size_t i = begin; i < end; ++i) {
    const DeclaredAccelerator& row = rows[i];
    const std::string blob = row.SerializeAsString();
    blobs.AddBytes(blob);
    ++summary.accepted;
    auto found = stored.find(row.serial());
    if (found == stored.end()) {
      ++summary.added;
    } else {
      DeclaredAccelerator before;
      if (before.ParseFromString(found->second) &&
          google::protobuf::util::MessageDifferencer::Equals(before, row)) {
        // An unchanged row keeps the version (and time) that last changed it, as on SQLite.
        ++summary.unchanged;
        continue;
      }
      ++summary.changed;
    }
    up_serial.AddText(row.serial());
    up_uuid.AddText(row.uuid());
    up_node.AddText(row.node_id());
    up_dc.AddText(row.datacenter());
    up_rack.AddText(row.rack());
    up_status.Add(static_cast<int64_t>(row.status()));
    up_blob.AddBytes(blob);
  }
  PROV_RETURN_IF_ERROR(conn.Query("INSERT INTO inventory_history(serial, version, declared) "
                                  "SELECT s, $2, d FROM unnest($1::text[], $3::bytea[]) AS t(s, d)",
                                  {serials.Finish(), summary.version, blobs.Finish()})
                           .status());
  if (up_serial.size() == 0) return absl::OkStatus();
  return conn
      .Query(
          "INSERT INTO inventory(serial, version, uuid, node_id, datacenter, rack, status, "
          "declared) SELECT s, $2, u, n, dc, r, st, d FROM unnest($1::text[], $3::text[], "
          "$4::text[], $5::text[], $6::text[], $7::bigint[], $8::bytea[]) AS t(s, u, n, dc, r, "
          "st, d) ON CONFLICT (serial) DO UPDATE SET version = EXCLUDED.version, uuid = "
          "EXCLUDED.uuid, node_id = EXCLUDED.node_id, datacenter = EXCLUDED.datacenter, rack = "
          "EXCLUDED.rack, status = EXCLUDED.status, declared = EXCLUDED.declared",
          {up_serial.Finish(), summary.version, up_uuid.Finish(), up_node.Finish(), up_dc.Finish(),
           up_rack.Finish(), up_status.Finish(), up_blob.Finish()})
      .status();
}

// The transaction's body: the import lock, the version read, the rows, the audit entry.
absl::Status ImportInTransaction(PgConn& conn, const InventoryImport& import,
                                 InventoryImportSummary& summary) {
  summary = InventoryImportSummary{};
  PROV_RETURN_IF_ERROR(conn.Query("SELECT pg_advisory_xact_lock($1::int, $2::int)",
                                  {kPgLockKey, kPgInventoryImportLock})
                           .status());
  PROV_ASSIGN_OR_RETURN(int64_t latest, LatestVersionOnce(conn));
  summary.version = latest + 1;
  PROV_RETURN_IF_ERROR(
      conn.Query("INSERT INTO inventory_imports(version, imported_at_us, source, "
                 "actor, content_digest, accepted, errors) VALUES ($1, $2, $3, "
                 "$4, $5, $6, $7)",
                 {summary.version, absl::ToUnixMicros(import.now), import.source, import.actor,
                  import.content_digest, static_cast<int64_t>(import.rows.size()),
                  static_cast<int64_t>(import.errors)})
          .status());
  for (size_t begin = 0; begin < import.rows.size(); begin += kRowsPerStatement) {
    const size_t end = std::min(import.rows.size(), begin + kRowsPerStatement);
    PROV_RETURN_IF_ERROR(ImportChunk(conn, import.rows, begin, end, summary));
  }
  return AppendAuditEntry(conn, import.actor, "inventory.import",
                          InventoryImportAuditPayload(import, summary), import.now)
      .status();
}

}  // namespace

namespace pg_inventory_internal {
absl::StatusOr<InventoryEntry> ReadEntry(const PgResult& r, int row, int first_column) {
  InventoryEntry e;
  PROV_ASSIGN_OR_RETURN(int64_t version, r.Int64(row, first_column + 1));
  PROV_ASSIGN_OR_RETURN(std::string declared, r.Bytes(row, first_column));
  if (!e.mutable_declared()->ParseFromString(declared)) {
    return absl::DataLossError(
        absl::StrCat("inventory row of version ", version, " does not parse"));
  }
  e.set_version(version);
  PROV_ASSIGN_OR_RETURN(int64_t imported_at_us, r.Int64(row, first_column + 2));
  *e.mutable_imported_at() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(imported_at_us);
  return e;
}
}  // namespace pg_inventory_internal

absl::StatusOr<std::unique_ptr<PgInventoryRepository>> PgInventoryRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/inventory",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::make_unique<PgInventoryRepository>(std::move(conn));
}

absl::StatusOr<InventoryImportSummary> PgInventoryRepository::Import(const InventoryImport& import,
                                                                     BeforeCommit before_commit) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(UsablePgSession(conn));
  InventoryImportSummary summary;
  PROV_RETURN_IF_ERROR(conn.Transaction(
      [&]() -> absl::Status {
        PROV_RETURN_IF_ERROR(ImportInTransaction(conn, import, summary));
        return before_commit();
      },
      "BEGIN ISOLATION LEVEL READ COMMITTED"));
  return summary;
}

absl::StatusOr<int64_t> PgInventoryRepository::LatestVersion() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return LatestVersionOnce(conn); });
}

absl::StatusOr<std::vector<InventoryEntry>> PgInventoryRepository::List(
    const InventoryQuery& query) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return ListOnce(conn, query); });
}

absl::StatusOr<std::vector<InventoryEntry>> PgInventoryRepository::LoadAll() {
  InventoryQuery all;
  all.limit = static_cast<size_t>(std::numeric_limits<int64_t>::max());
  return List(all);
}

absl::StatusOr<std::optional<InventoryEntry>> PgInventoryRepository::Get(
    const std::string& serial) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::optional<InventoryEntry>> {
    PROV_ASSIGN_OR_RETURN(PgResult r,
                          conn.Query(absl::StrCat(kEntrySelect, "WHERE i.serial = $1"), {serial}));
    if (r.rows() == 0) return std::nullopt;
    PROV_ASSIGN_OR_RETURN(InventoryEntry e, ReadEntry(r, 0, 0));
    return e;
  });
}

absl::StatusOr<std::vector<InventoryEntry>> PgInventoryRepository::History(
    const std::string& serial) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::vector<InventoryEntry>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Query("SELECT h.declared, h.version, m.imported_at_us FROM inventory_history h "
                   "JOIN inventory_imports m ON m.version = h.version WHERE h.serial = $1 "
                   "ORDER BY h.version DESC",
                   {serial}));
    return ReadEntries(r);
  });
}

}  // namespace prov::server
