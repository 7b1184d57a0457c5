#include "server/store/pg/pg_ingest_node_rows.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "server/store/node_hardware_key.h"

namespace prov::server {
namespace {

using provenance::v1::NodeHardware;

// As node_hardware.cc: the stored bytes do not depend on map order.
std::string DeterministicBytes(const NodeHardware& hw) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    hw.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace

absl::Status PgRecordNodeHardware(PgConn& conn, NodeHardwareCache& cache, int64_t node,
                                  const provenance::v1::NodeReport& report, int64_t seen_us) {
  if (!report.node().has_hardware()) return absl::OkStatus();
  const NodeHardware& hw = report.node().hardware();
  std::string key = NodeHardwareKey(hw);
  auto cached = cache.find(node);
  if (cached != cache.end() && cached->second == key) return absl::OkStatus();

  PROV_ASSIGN_OR_RETURN(PgResult stored,
                        conn.Query("SELECT n.last_seen_us, h.hardware FROM nodes n LEFT JOIN "
                                   "node_hardware h ON h.node = n.id WHERE n.id = $1",
                                   {node}));
  int64_t node_last_seen_us = 0;
  bool found = false;
  NodeHardware stored_hw;
  if (stored.rows() > 0) {
    PROV_ASSIGN_OR_RETURN(node_last_seen_us, stored.Int64(0, 0));
    if (!stored.IsNull(0, 1)) {
      found = true;
      PROV_ASSIGN_OR_RETURN(std::string bytes, stored.Bytes(0, 1));
      if (!stored_hw.ParseFromString(bytes)) {
        return absl::DataLossError(
            absl::StrCat("node_hardware row of node ", node, " does not parse"));
      }
    }
  }
  const NodeHardwareDecision decision =
      DecideNodeHardware(found ? &stored_hw : nullptr, node_last_seen_us, hw, key, seen_us);
  if (decision.action == NodeHardwareDecision::kNothing) return absl::OkStatus();
  if (decision.action == NodeHardwareDecision::kCacheOnly) {
    cache[node] = std::move(key);
    return absl::OkStatus();
  }
  const std::string& boot_id = report.node().boot_id();
  for (const NodeHardwareChange& c : decision.changes) {
    PROV_RETURN_IF_ERROR(
        conn.Query("INSERT INTO node_hardware_changes (node, field, old_value, new_value, "
                   "changed_at_us, boot_id, previous_seen_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                   {node, c.field, c.old_value, c.new_value, seen_us, boot_id, node_last_seen_us})
            .status());
  }
  PROV_RETURN_IF_ERROR(
      conn.Query("INSERT INTO node_hardware (node, system_uuid, board_serial, hardware, since_us, "
                 "since_boot_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (node) DO UPDATE SET "
                 "system_uuid = excluded.system_uuid, board_serial = excluded.board_serial, "
                 "hardware = excluded.hardware, since_us = excluded.since_us, "
                 "since_boot_id = excluded.since_boot_id",
                 {node, hw.system_uuid(), hw.board_serial(), PgParam::Bytes(DeterministicBytes(hw)),
                  seen_us, boot_id})
          .status());
  cache[node] = std::move(key);
  return absl::OkStatus();
}

absl::Status PgRecordLocationResponder(PgConn& conn, LocationResponderCache& cache, int64_t node,
                                       const std::string& address, int64_t seen_us) {
  auto it = cache.find(node);
  if (it != cache.end() && it->second == address) return absl::OkStatus();
  if (it == cache.end()) {
    PROV_ASSIGN_OR_RETURN(
        PgResult stored,
        conn.Query("SELECT address FROM location_responders WHERE node = $1", {node}));
    const bool found = stored.rows() > 0;
    if (found && stored.Text(0, 0) == address) {
      cache[node] = address;
      return absl::OkStatus();
    }
    if (!found && address.empty()) {  // never ran one: no row needed, and none to read again
      cache[node] = address;
      return absl::OkStatus();
    }
  }
  PROV_RETURN_IF_ERROR(
      conn.Query("INSERT INTO location_responders (node, address, updated_us) VALUES ($1, $2, $3) "
                 "ON CONFLICT (node) DO UPDATE SET address = excluded.address, "
                 "updated_us = excluded.updated_us",
                 {node, address, seen_us})
          .status());
  cache[node] = address;
  return absl::OkStatus();
}

}  // namespace prov::server
