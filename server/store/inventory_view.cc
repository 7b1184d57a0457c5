#include "server/store/inventory_view.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/store_reader_internal.h"

namespace prov::server {
namespace {

using provenance::v1::InventoryEntry;
using provenance::v1::InventoryPlaceCount;
using store_internal::ForEachRow;
using store_internal::ReadInventoryEntry;

// The node that last reported each row's serial (else its uuid), NULL when none ever did. Both
// look-ups use the partial indexes accelerators_serial / accelerators_uuid. MATERIALIZED: the
// aggregate reads seen_on several times, and an inlined CTE would repeat the look-ups for each
// (3x slower at 160k rows).
constexpr char kPlacesSql[] = R"sql(
WITH obs AS MATERIALIZED (
  SELECT i.datacenter AS dc, i.rack AS rack, i.node_id AS node_id, i.status AS status,
    COALESCE(
      (SELECT n.node_id FROM accelerators a JOIN nodes n ON n.id = a.node
       WHERE a.serial = i.serial AND a.serial != '' ORDER BY a.last_seen_us DESC LIMIT 1),
      IIF(i.uuid = '', NULL,
          (SELECT n.node_id FROM accelerators a JOIN nodes n ON n.id = a.node
           WHERE a.uuid = i.uuid AND a.uuid != '' ORDER BY a.last_seen_us DESC LIMIT 1))) AS seen_on
  FROM inventory i WHERE (?1 = '' OR i.datacenter = ?1))
SELECT dc, IIF(?1 = '', '', rack) AS place, COUNT(*), SUM(status = 1), COUNT(DISTINCT node_id),
       SUM(seen_on IS NOT NULL), SUM(seen_on IS NOT NULL AND seen_on != node_id),
       SUM(status = 1 AND seen_on IS NULL)
FROM obs GROUP BY dc, place ORDER BY dc, place)sql";

constexpr char kPageSql[] = R"sql(
SELECT i.declared, i.version, m.imported_at_us, i.rack, i.node_id, i.serial FROM inventory i
JOIN inventory_imports m ON m.version = i.version
WHERE i.datacenter = ?1 AND (?2 = '' OR i.rack = ?2) AND (i.rack, i.node_id, i.serial) > (?3, ?4, ?5)
ORDER BY i.datacenter, i.rack, i.node_id, i.serial LIMIT ?6)sql";

constexpr char kObservedSql[] = R"sql(
SELECT COUNT(*), COALESCE(SUM(
  NOT EXISTS (SELECT 1 FROM inventory i WHERE i.serial = a.serial AND a.serial != '') AND
  NOT EXISTS (SELECT 1 FROM inventory i WHERE i.uuid = a.uuid AND a.uuid != '' AND i.uuid != '')),
  0)
FROM accelerators a JOIN nodes n ON n.id = a.node WHERE n.datacenter = ?)sql";

}  // namespace

absl::StatusOr<std::vector<InventoryPlaceCount>> InventoryPlaces(SqliteDb& db,
                                                                 const std::string& datacenter) {
  PROV_ASSIGN_OR_RETURN(Statement * st, db.Cached(kPlacesSql));
  st->BindText(1, datacenter);
  std::vector<InventoryPlaceCount> out;
  PROV_RETURN_IF_ERROR(ForEachRow(*st, [&](Statement& row) {
    InventoryPlaceCount& c = out.emplace_back();
    c.set_datacenter(row.ColumnText(0));
    c.set_rack(row.ColumnText(1));
    c.set_declared(static_cast<uint32_t>(row.ColumnInt64(2)));
    c.set_in_service(static_cast<uint32_t>(row.ColumnInt64(3)));
    c.set_nodes(static_cast<uint32_t>(row.ColumnInt64(4)));
    c.set_observed(static_cast<uint32_t>(row.ColumnInt64(5)));
    c.set_observed_elsewhere(static_cast<uint32_t>(row.ColumnInt64(6)));
    c.set_in_service_unseen(static_cast<uint32_t>(row.ColumnInt64(7)));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<InventoryPageResult> InventoryPage(SqliteDb& db, const std::string& datacenter,
                                                  const std::string& rack,
                                                  const InventoryPageKey& after, size_t limit) {
  PROV_ASSIGN_OR_RETURN(Statement * st, db.Cached(kPageSql));
  st->BindText(1, datacenter);
  st->BindText(2, rack);
  st->BindText(3, after.rack);
  st->BindText(4, after.node_id);
  st->BindText(5, after.serial);
  st->BindInt64(6, static_cast<int64_t>(limit) + 1);  // one more: whether a next page exists
  InventoryPageResult out;
  InventoryPageKey last;
  PROV_RETURN_IF_ERROR(ForEachRow(*st, [&](Statement& row) {
    if (out.entries.size() == limit) {
      out.next = last;
      return absl::OkStatus();
    }
    PROV_RETURN_IF_ERROR(ReadInventoryEntry(row, 0, &out.entries.emplace_back()));
    last = {row.ColumnText(3), row.ColumnText(4), row.ColumnText(5)};
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<ObservedCount> CountObservedInDatacenter(SqliteDb& db,
                                                        const std::string& datacenter) {
  PROV_ASSIGN_OR_RETURN(Statement * st, db.Cached(kObservedSql));
  st->BindText(1, datacenter);
  ObservedCount out;
  PROV_RETURN_IF_ERROR(ForEachRow(*st, [&](Statement& row) {
    out.accelerators = static_cast<uint32_t>(row.ColumnInt64(0));
    out.undeclared = static_cast<uint32_t>(row.ColumnInt64(1));
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace prov::server
