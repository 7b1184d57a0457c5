#include "server/store/inventory_store.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/store/store_reader_internal.h"

namespace prov::server {
namespace {

using provenance::v1::DeclaredAccelerator;
using provenance::v1::InventoryEntry;
using store_internal::ForEachRow;
using store_internal::ReadInventoryEntry;
using store_internal::SetTime;

}  // namespace

namespace store_internal {
absl::Status ReadInventoryEntry(Statement& st, int first_column, InventoryEntry* entry) {
  if (!entry->mutable_declared()->ParseFromString(st.ColumnBlob(first_column))) {
    return absl::DataLossError(absl::StrCat("inventory row of version ",
                                            st.ColumnInt64(first_column + 1), " does not parse"));
  }
  entry->set_version(st.ColumnInt64(first_column + 1));
  SetTime(st.ColumnInt64(first_column + 2), entry->mutable_imported_at());
  return absl::OkStatus();
}
}  // namespace store_internal

absl::StatusOr<int64_t> LatestInventoryVersion(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached("SELECT COALESCE(MAX(version), 0) FROM inventory_imports"));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  const int64_t version = row ? st->ColumnInt64(0) : 0;
  st->Reset();
  return version;
}

absl::StatusOr<InventoryImportSummary> ImportInventoryRows(
    SqliteDb& db, const std::vector<DeclaredAccelerator>& rows, const std::string& source,
    const std::string& actor, const std::string& content_digest, uint32_t errors, absl::Time now) {
  if (sqlite3_get_autocommit(db.raw()) != 0) {
    return absl::FailedPreconditionError("ImportInventoryRows needs the caller's transaction");
  }
  InventoryImportSummary summary;
  PROV_ASSIGN_OR_RETURN(int64_t latest, LatestInventoryVersion(db));
  summary.version = latest + 1;
  const int64_t now_us = absl::ToUnixMicros(now);
  PROV_ASSIGN_OR_RETURN(
      Statement * imp,
      db.Cached("INSERT INTO inventory_imports(version, imported_at_us, source, actor, "
                "content_digest, accepted, errors) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  imp->BindInt64(1, summary.version);
  imp->BindInt64(2, now_us);
  imp->BindText(3, source);
  imp->BindText(4, actor);
  imp->BindText(5, content_digest);
  imp->BindInt64(6, static_cast<int64_t>(rows.size()));
  imp->BindInt64(7, errors);
  PROV_RETURN_IF_ERROR(imp->Run());
  PROV_ASSIGN_OR_RETURN(Statement * current,
                        db.Cached("SELECT declared FROM inventory WHERE serial = ?"));
  PROV_ASSIGN_OR_RETURN(
      Statement * history,
      db.Cached("INSERT INTO inventory_history(serial, version, declared) VALUES (?, ?, ?)"));
  PROV_ASSIGN_OR_RETURN(
      Statement * upsert,
      db.Cached("INSERT INTO inventory(serial, version, uuid, node_id, datacenter, rack, status, "
                "declared) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(serial) DO UPDATE "
                "SET version = ?2, uuid = ?3, node_id = ?4, datacenter = ?5, rack = ?6, "
                "status = ?7, declared = ?8"));
  for (const DeclaredAccelerator& row : rows) {
    const std::string blob = row.SerializeAsString();
    current->BindText(1, row.serial());
    PROV_ASSIGN_OR_RETURN(bool found, current->Step());
    std::optional<DeclaredAccelerator> before;
    if (found) {
      before.emplace();
      if (!before->ParseFromString(current->ColumnBlob(0))) before.reset();
    }
    current->Reset();
    bool unchanged = false;
    if (!found) {
      ++summary.added;
    } else if (before.has_value() &&
               google::protobuf::util::MessageDifferencer::Equals(*before, row)) {
      ++summary.unchanged;
      unchanged = true;
    } else {
      ++summary.changed;
    }
    history->BindText(1, row.serial());
    history->BindInt64(2, summary.version);
    history->BindBlob(3, blob);
    PROV_RETURN_IF_ERROR(history->Run());
    ++summary.accepted;
    // An unchanged row keeps the version (and time) that last changed it: a nightly full export
    // re-affirms the fleet without making every card look newly declared.
    if (unchanged) continue;
    upsert->BindText(1, row.serial());
    upsert->BindInt64(2, summary.version);
    upsert->BindText(3, row.uuid());
    upsert->BindText(4, row.node_id());
    upsert->BindText(5, row.datacenter());
    upsert->BindText(6, row.rack());
    upsert->BindInt64(7, row.status());
    upsert->BindBlob(8, blob);
    PROV_RETURN_IF_ERROR(upsert->Run());
  }
  return summary;
}

absl::StatusOr<std::vector<InventoryEntry>> ListInventory(SqliteDb& db,
                                                          const InventoryQuery& query) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT i.declared, i.version, m.imported_at_us FROM inventory i "
                "JOIN inventory_imports m ON m.version = i.version "
                "WHERE (?1 = '' OR i.datacenter = ?1) AND (?2 = '' OR i.node_id = ?2) "
                "ORDER BY i.datacenter, i.rack, i.node_id, i.serial LIMIT ?3"));
  st->BindText(1, query.datacenter);
  st->BindText(2, query.node_id);
  st->BindInt64(3, static_cast<int64_t>(query.limit));
  std::vector<InventoryEntry> out;
  PROV_RETURN_IF_ERROR(ForEachRow(*st, [&](Statement& row) {
    InventoryEntry e;
    PROV_RETURN_IF_ERROR(ReadInventoryEntry(row, 0, &e));
    out.push_back(std::move(e));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<InventoryEntry>> LoadInventory(SqliteDb& db) {
  InventoryQuery all;
  all.limit = static_cast<size_t>(INT64_MAX);
  return ListInventory(db, all);
}

absl::StatusOr<std::optional<InventoryEntry>> GetInventoryEntry(SqliteDb& db,
                                                                const std::string& serial) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT i.declared, i.version, m.imported_at_us FROM inventory i "
                "JOIN inventory_imports m ON m.version = i.version WHERE i.serial = ?"));
  st->BindText(1, serial);
  std::optional<InventoryEntry> out;
  PROV_RETURN_IF_ERROR(ForEachRow(*st, [&](Statement& row) {
    out.emplace();
    return ReadInventoryEntry(row, 0, &*out);
  }));
  return out;
}

absl::StatusOr<std::vector<InventoryEntry>> InventoryHistory(SqliteDb& db,
                                                             const std::string& serial) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT h.declared, h.version, m.imported_at_us FROM inventory_history h "
                "JOIN inventory_imports m ON m.version = h.version WHERE h.serial = ? "
                "ORDER BY h.version DESC"));
  st->BindText(1, serial);
  std::vector<InventoryEntry> out;
  PROV_RETURN_IF_ERROR(ForEachRow(*st, [&](Statement& row) {
    InventoryEntry e;
    PROV_RETURN_IF_ERROR(ReadInventoryEntry(row, 0, &e));
    out.push_back(std::move(e));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<provenance::v1::ObservedAccelerator>> LastObserved(
    SqliteDb& db, const std::string& serial, const std::string& uuid) {
  std::optional<provenance::v1::ObservedAccelerator> out;
  for (const auto& [column, value] :
       {std::pair<const char*, const std::string*>{"serial", &serial}, {"uuid", &uuid}}) {
    if (value->empty() || out.has_value()) continue;
    PROV_ASSIGN_OR_RETURN(
        Statement * st,
        db.Cached(absl::StrCat("SELECT n.node_id, n.hostname, n.datacenter, a.accelerator, "
                               "a.first_seen_us, a.last_seen_us FROM accelerators a "
                               "JOIN nodes n ON n.id = a.node WHERE a.",
                               column, " = ? AND a.", column,
                               " != '' ORDER BY a.last_seen_us DESC LIMIT 1")));
    st->BindText(1, *value);
    // A copy: clang 14 cannot capture a structured binding in a lambda (the fuzz preset).
    const char* matched_by = column;
    PROV_RETURN_IF_ERROR(ForEachRow(*st, [&](Statement& row) {
      provenance::v1::ObservedAccelerator o;
      o.set_node_id(row.ColumnText(0));
      o.set_hostname(row.ColumnText(1));
      o.set_datacenter(row.ColumnText(2));
      if (!o.mutable_accelerator()->ParseFromString(row.ColumnBlob(3))) {
        return absl::DataLossError(
            absl::StrCat("stored accelerator of node ", o.node_id(), " does not parse"));
      }
      SetTime(row.ColumnInt64(4), o.mutable_first_seen());
      SetTime(row.ColumnInt64(5), o.mutable_last_seen());
      o.set_matched_by(matched_by);
      out = std::move(o);
      return absl::OkStatus();
    }));
  }
  return out;
}

}  // namespace prov::server
