// PgInventoryRepository's reads of what agents reported (pg_inventory.h): the last observation of
// a serial, the view's counts and pages, and a node's hardware identity. The SQL is SQLite's
// (inventory_view.cc, inventory_store.cc, node_hardware.cc) translated: IIF -> CASE, summed
// booleans -> (x)::int, untyped `?` -> typed `$n`; page keys compared with COLLATE "C", as the
// columns are, so pages split where SQLite's (BINARY) do.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/store/pg/pg_inventory.h"

namespace prov::server {
namespace {

using google::protobuf::util::TimeUtil;
using provenance::v1::InventoryPlaceCount;
using provenance::v1::NodeHardwareIdentity;
using provenance::v1::ObservedAccelerator;

constexpr int kMaxChangesShown = 50;

// The node that last reported each row's serial (else its uuid), NULL when none ever did
// (inventory_view.cc has why MATERIALIZED).
constexpr char kPlacesSql[] = R"sql(
WITH obs AS MATERIALIZED (
  SELECT i.datacenter AS dc, i.rack AS rack, i.node_id AS node_id, i.status AS status,
    COALESCE(
      (SELECT n.node_id FROM accelerators a JOIN nodes n ON n.id = a.node
       WHERE a.serial = i.serial AND a.serial != '' ORDER BY a.last_seen_us DESC LIMIT 1),
      CASE WHEN i.uuid = '' THEN NULL ELSE
          (SELECT n.node_id FROM accelerators a JOIN nodes n ON n.id = a.node
           WHERE a.uuid = i.uuid AND a.uuid != '' ORDER BY a.last_seen_us DESC LIMIT 1)
      END) AS seen_on
  FROM inventory i WHERE ($1::text = '' OR i.datacenter = $1))
SELECT dc, CASE WHEN $1::text = '' THEN '' ELSE rack END AS place, COUNT(*),
       SUM((status = 1)::int), COUNT(DISTINCT node_id), SUM((seen_on IS NOT NULL)::int),
       SUM((seen_on IS NOT NULL AND seen_on != node_id)::int),
       SUM((status = 1 AND seen_on IS NULL)::int)
FROM obs GROUP BY dc, place ORDER BY dc, place)sql";

constexpr char kPageSql[] = R"sql(
SELECT i.declared, i.version, m.imported_at_us, i.rack, i.node_id, i.serial FROM inventory i
JOIN inventory_imports m ON m.version = i.version
WHERE i.datacenter = $1 AND ($2::text = '' OR i.rack = $2)
  AND (i.rack, i.node_id, i.serial) >
      ($3::text COLLATE "C", $4::text COLLATE "C", $5::text COLLATE "C")
ORDER BY i.datacenter, i.rack, i.node_id, i.serial LIMIT $6)sql";

constexpr char kObservedSql[] = R"sql(
SELECT COUNT(*), COALESCE(SUM((
  NOT EXISTS (SELECT 1 FROM inventory i WHERE i.serial = a.serial AND a.serial != '') AND
  NOT EXISTS (SELECT 1 FROM inventory i WHERE i.uuid = a.uuid AND a.uuid != '' AND i.uuid != ''))
  ::int), 0)
FROM accelerators a JOIN nodes n ON n.id = a.node WHERE n.datacenter = $1)sql";

uint32_t U32(int64_t v) { return static_cast<uint32_t>(v); }

absl::StatusOr<std::optional<ObservedAccelerator>> LastObservedOnce(PgConn& conn,
                                                                    const std::string& serial,
                                                                    const std::string& uuid) {
  for (const auto& [column, value] :
       {std::pair<const char*, const std::string*>{"serial", &serial}, {"uuid", &uuid}}) {
    if (value->empty()) continue;
    PROV_ASSIGN_OR_RETURN(
        PgResult r, conn.Query(absl::StrCat("SELECT n.node_id, n.hostname, n.datacenter, "
                                            "a.accelerator, a.first_seen_us, a.last_seen_us FROM "
                                            "accelerators a JOIN nodes n ON n.id = a.node WHERE a.",
                                            column, " = $1 AND a.", column,
                                            " != '' ORDER BY a.last_seen_us DESC LIMIT 1"),
                               {*value}));
    if (r.rows() == 0) continue;
    ObservedAccelerator o;
    o.set_node_id(r.Text(0, 0));
    o.set_hostname(r.Text(0, 1));
    o.set_datacenter(r.Text(0, 2));
    PROV_ASSIGN_OR_RETURN(std::string accelerator, r.Bytes(0, 3));
    if (!o.mutable_accelerator()->ParseFromString(accelerator)) {
      return absl::DataLossError(
          absl::StrCat("stored accelerator of node ", o.node_id(), " does not parse"));
    }
    PROV_ASSIGN_OR_RETURN(int64_t first_seen_us, r.Int64(0, 4));
    PROV_ASSIGN_OR_RETURN(int64_t last_seen_us, r.Int64(0, 5));
    *o.mutable_first_seen() = TimeUtil::MicrosecondsToTimestamp(first_seen_us);
    *o.mutable_last_seen() = TimeUtil::MicrosecondsToTimestamp(last_seen_us);
    o.set_matched_by(column);
    return o;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<InventoryPlaceCount>> PlacesOnce(PgConn& conn,
                                                            const std::string& datacenter) {
  PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(kPlacesSql, {datacenter}));
  std::vector<InventoryPlaceCount> out;
  for (int i = 0; i < r.rows(); ++i) {
    InventoryPlaceCount& c = out.emplace_back();
    c.set_datacenter(r.Text(i, 0));
    c.set_rack(r.Text(i, 1));
    int64_t v[6];
    for (int k = 0; k < 6; ++k) {
      PROV_ASSIGN_OR_RETURN(v[k], r.Int64(i, 2 + k));
    }
    c.set_declared(U32(v[0]));
    c.set_in_service(U32(v[1]));
    c.set_nodes(U32(v[2]));
    c.set_observed(U32(v[3]));
    c.set_observed_elsewhere(U32(v[4]));
    c.set_in_service_unseen(U32(v[5]));
  }
  return out;
}

absl::StatusOr<InventoryPageResult> PageOnce(PgConn& conn, const std::string& datacenter,
                                             const std::string& rack, const InventoryPageKey& after,
                                             size_t limit) {
  // One more row than asked: whether a next page exists.
  PROV_ASSIGN_OR_RETURN(
      PgResult r, conn.Query(kPageSql, {datacenter, rack, after.rack, after.node_id, after.serial,
                                        static_cast<int64_t>(limit) + 1}));
  InventoryPageResult out;
  InventoryPageKey last;
  for (int i = 0; i < r.rows(); ++i) {
    if (out.entries.size() == limit) {
      out.next = last;
      break;
    }
    PROV_ASSIGN_OR_RETURN(provenance::v1::InventoryEntry e,
                          pg_inventory_internal::ReadEntry(r, i, 0));
    out.entries.push_back(std::move(e));
    last = {r.Text(i, 3), r.Text(i, 4), r.Text(i, 5)};
  }
  return out;
}

absl::StatusOr<ObservedCount> CountObservedOnce(PgConn& conn, const std::string& datacenter) {
  PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(kObservedSql, {datacenter}));
  PROV_ASSIGN_OR_RETURN(int64_t accelerators, r.Int64(0, 0));
  PROV_ASSIGN_OR_RETURN(int64_t undeclared, r.Int64(0, 1));
  return ObservedCount{.accelerators = U32(accelerators), .undeclared = U32(undeclared)};
}

}  // namespace

absl::Status PgReadNodeHardware(PgConn& conn, int64_t node, bool with_changes,
                                NodeHardwareIdentity* out) {
  PROV_ASSIGN_OR_RETURN(
      PgResult r, conn.Query("SELECT hardware, since_us, since_boot_id, (SELECT COUNT(*) FROM "
                             "node_hardware_changes c WHERE c.node = h.node) FROM node_hardware h "
                             "WHERE node = $1",
                             {node}));
  if (r.rows() == 0) return absl::OkStatus();
  PROV_ASSIGN_OR_RETURN(std::string hardware, r.Bytes(0, 0));
  if (!out->mutable_hardware()->ParseFromString(hardware)) {
    return absl::DataLossError(absl::StrCat("node_hardware row of node ", node, " does not parse"));
  }
  PROV_ASSIGN_OR_RETURN(int64_t since_us, r.Int64(0, 1));
  PROV_ASSIGN_OR_RETURN(int64_t changes_total, r.Int64(0, 3));
  *out->mutable_since() = TimeUtil::MicrosecondsToTimestamp(since_us);
  out->set_since_boot_id(r.Text(0, 2));
  out->set_changes_total(U32(changes_total));
  if (!with_changes || changes_total == 0) return absl::OkStatus();

  PROV_ASSIGN_OR_RETURN(
      PgResult changes,
      conn.Query("SELECT field, old_value, new_value, changed_at_us, boot_id, previous_seen_us "
                 "FROM node_hardware_changes WHERE node = $1 ORDER BY changed_at_us DESC, id "
                 "DESC LIMIT $2",
                 {node, kMaxChangesShown}));
  for (int i = 0; i < changes.rows(); ++i) {
    provenance::v1::NodeHardwareChange* c = out->add_changes();
    c->set_field(changes.Text(i, 0));
    c->set_old_value(changes.Text(i, 1));
    c->set_new_value(changes.Text(i, 2));
    PROV_ASSIGN_OR_RETURN(int64_t changed_at_us, changes.Int64(i, 3));
    *c->mutable_changed_at() = TimeUtil::MicrosecondsToTimestamp(changed_at_us);
    c->set_boot_id(changes.Text(i, 4));
    PROV_ASSIGN_OR_RETURN(int64_t previous_seen_us, changes.Int64(i, 5));
    if (previous_seen_us > 0) {
      *c->mutable_previous_seen() = TimeUtil::MicrosecondsToTimestamp(previous_seen_us);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ObservedAccelerator>> PgInventoryRepository::LastObserved(
    const std::string& serial, const std::string& uuid) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return LastObservedOnce(conn, serial, uuid); });
}

absl::StatusOr<std::vector<InventoryPlaceCount>> PgInventoryRepository::Places(
    const std::string& datacenter) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return PlacesOnce(conn, datacenter); });
}

absl::StatusOr<InventoryPageResult> PgInventoryRepository::Page(const std::string& datacenter,
                                                                const std::string& rack,
                                                                const InventoryPageKey& after,
                                                                size_t limit) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return PageOnce(conn, datacenter, rack, after, limit); });
}

absl::StatusOr<ObservedCount> PgInventoryRepository::CountObserved(const std::string& datacenter) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return CountObservedOnce(conn, datacenter); });
}

absl::StatusOr<NodeHardwareIdentity> PgInventoryRepository::NodeHardware(const std::string& node_id,
                                                                         bool with_changes) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<NodeHardwareIdentity> {
    NodeHardwareIdentity out;
    PROV_ASSIGN_OR_RETURN(PgResult r,
                          conn.Query("SELECT id FROM nodes WHERE node_id = $1", {node_id}));
    if (r.rows() == 0) return out;
    PROV_ASSIGN_OR_RETURN(int64_t node, r.Int64(0, 0));
    PROV_RETURN_IF_ERROR(PgReadNodeHardware(conn, node, with_changes, &out));
    return out;
  });
}

}  // namespace prov::server
