#include "server/store/node_hardware.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace prov::server {
namespace {

using provenance::v1::NodeHardware;
using provenance::v1::NodeHardwareIdentity;

constexpr int kMaxChangesShown = 50;

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

struct StoredHardware {
  bool found = false;
  NodeHardware hardware;
  int64_t node_last_seen_us = 0;  // nodes.last_seen_us before this batch
};

absl::StatusOr<StoredHardware> ReadStored(SqliteDb& db, int64_t node) {
  StoredHardware out;
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached("SELECT n.last_seen_us, h.hardware FROM nodes n "
                                  "LEFT JOIN node_hardware h ON h.node = n.id WHERE n.id = ?"));
  st->BindInt64(1, node);
  absl::StatusOr<bool> row = st->Step();
  if (row.ok() && *row) {
    out.node_last_seen_us = st->ColumnInt64(0);
    if (!st->ColumnIsNull(1)) {
      out.found = true;
      if (!out.hardware.ParseFromString(st->ColumnBlob(1))) {
        row = absl::DataLossError(
            absl::StrCat("node_hardware row of node ", node, " does not parse"));
      }
    }
  }
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return out;
}

}  // namespace

absl::Status RecordNodeHardware(SqliteDb& db, NodeHardwareCache& cache, int64_t node,
                                const provenance::v1::NodeReport& report, int64_t seen_us) {
  if (!report.node().has_hardware()) return absl::OkStatus();
  const NodeHardware& hw = report.node().hardware();
  std::string key = NodeHardwareKey(hw);
  auto cached = cache.find(node);
  if (cached != cache.end() && cached->second == key) return absl::OkStatus();  // the hot path

  PROV_ASSIGN_OR_RETURN(StoredHardware stored, ReadStored(db, node));
  const NodeHardwareDecision decision = DecideNodeHardware(
      stored.found ? &stored.hardware : nullptr, stored.node_last_seen_us, hw, key, seen_us);
  if (decision.action == NodeHardwareDecision::kNothing) return absl::OkStatus();
  if (decision.action == NodeHardwareDecision::kCacheOnly) {
    cache[node] = std::move(key);
    return absl::OkStatus();
  }
  const std::string& boot_id = report.node().boot_id();
  if (!decision.changes.empty()) {
    PROV_ASSIGN_OR_RETURN(Statement * change, db.Cached(R"sql(
INSERT INTO node_hardware_changes (node, field, old_value, new_value, changed_at_us, boot_id,
                                   previous_seen_us) VALUES (?, ?, ?, ?, ?, ?, ?))sql"));
    for (const NodeHardwareChange& c : decision.changes) {
      change->BindInt64(1, node);
      change->BindText(2, c.field);
      change->BindText(3, c.old_value);
      change->BindText(4, c.new_value);
      change->BindInt64(5, seen_us);
      change->BindText(6, boot_id);
      change->BindInt64(7, stored.node_last_seen_us);
      PROV_RETURN_IF_ERROR(change->Run());
    }
  }
  PROV_ASSIGN_OR_RETURN(Statement * upsert, db.Cached(R"sql(
INSERT INTO node_hardware (node, system_uuid, board_serial, hardware, since_us, since_boot_id)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (node) DO UPDATE SET system_uuid = excluded.system_uuid,
  board_serial = excluded.board_serial, hardware = excluded.hardware,
  since_us = excluded.since_us, since_boot_id = excluded.since_boot_id)sql"));
  upsert->BindInt64(1, node);
  upsert->BindText(2, hw.system_uuid());
  upsert->BindText(3, hw.board_serial());
  upsert->BindBlob(4, DeterministicBytes(hw));
  upsert->BindInt64(5, seen_us);
  upsert->BindText(6, boot_id);
  PROV_RETURN_IF_ERROR(upsert->Run());
  cache[node] = std::move(key);
  return absl::OkStatus();
}

absl::Status ReadNodeHardware(SqliteDb& db, int64_t node, bool with_changes,
                              NodeHardwareIdentity* out) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT hardware, since_us, since_boot_id, (SELECT COUNT(*) FROM "
                "node_hardware_changes c WHERE c.node = h.node) FROM node_hardware h "
                "WHERE node = ?"));
  st->BindInt64(1, node);
  absl::StatusOr<bool> row = st->Step();
  if (row.ok() && *row) {
    if (!out->mutable_hardware()->ParseFromString(st->ColumnBlob(0))) {
      row =
          absl::DataLossError(absl::StrCat("node_hardware row of node ", node, " does not parse"));
    } else {
      SetProtoTime(absl::FromUnixMicros(st->ColumnInt64(1)), out->mutable_since());
      out->set_since_boot_id(st->ColumnText(2));
      out->set_changes_total(static_cast<uint32_t>(st->ColumnInt64(3)));
    }
  }
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  if (!*row || !with_changes || out->changes_total() == 0) return absl::OkStatus();

  PROV_ASSIGN_OR_RETURN(Statement * changes, db.Cached(R"sql(
SELECT field, old_value, new_value, changed_at_us, boot_id, previous_seen_us
FROM node_hardware_changes WHERE node = ? ORDER BY changed_at_us DESC, id DESC LIMIT ?)sql"));
  changes->BindInt64(1, node);
  changes->BindInt64(2, kMaxChangesShown);
  while ((row = changes->Step()).ok() && *row) {
    provenance::v1::NodeHardwareChange* c = out->add_changes();
    c->set_field(changes->ColumnText(0));
    c->set_old_value(changes->ColumnText(1));
    c->set_new_value(changes->ColumnText(2));
    SetProtoTime(absl::FromUnixMicros(changes->ColumnInt64(3)), c->mutable_changed_at());
    c->set_boot_id(changes->ColumnText(4));
    if (changes->ColumnInt64(5) > 0)
      SetProtoTime(absl::FromUnixMicros(changes->ColumnInt64(5)), c->mutable_previous_seen());
  }
  changes->Reset();
  return row.status();
}

}  // namespace prov::server
