#include "server/store/location_store.h"

#include "common/status_macros.h"

namespace prov::server {

absl::Status RecordLocationResponder(SqliteDb& db, LocationResponderCache& cache, int64_t node,
                                     const std::string& address, int64_t seen_us) {
  auto it = cache.find(node);
  if (it != cache.end() && it->second == address) return absl::OkStatus();
  if (it == cache.end()) {
    // First sight since start: read the stored one before writing anything.
    PROV_ASSIGN_OR_RETURN(Statement * read,
                          db.Cached("SELECT address FROM location_responders WHERE node = ?1"));
    read->BindInt64(1, node);
    absl::StatusOr<bool> row = read->Step();
    std::string stored;
    const bool found = row.ok() && *row;
    if (found) stored = read->ColumnText(0);
    read->Reset();
    PROV_RETURN_IF_ERROR(row.status());
    if (found && stored == address) {
      cache[node] = address;
      return absl::OkStatus();
    }
    if (!found && address.empty()) {  // never ran one: no row needed, and none to read again
      cache[node] = address;
      return absl::OkStatus();
    }
  }
  PROV_ASSIGN_OR_RETURN(
      Statement * write,
      db.Cached("INSERT INTO location_responders(node, address, updated_us) VALUES (?1, ?2, ?3) "
                "ON CONFLICT(node) DO UPDATE SET address = excluded.address, "
                "updated_us = excluded.updated_us"));
  write->BindInt64(1, node);
  write->BindText(2, address);
  write->BindInt64(3, seen_us);
  absl::Status s = write->Run();
  write->Reset();
  PROV_RETURN_IF_ERROR(s);
  cache[node] = address;
  return absl::OkStatus();
}

}  // namespace prov::server
