// The nodes columns every engine's FleetReader selects, and how a row of them becomes a
// NodeSummary, written once for both engines (StoreReader on SQLite, PgFleetReader).
//
//   "SELECT " + kNodeSummaryColumns + " FROM nodes ..."         // the same SQL on both engines
//   NodeSummary n = NodeSummaryFromRow(row);                     // row: Text(i), Int(i), Dbl(i)
//   int64_t next = row.Int(kNodeSummaryColumnCount);             // columns after them are yours
//
// `Row` is the engine's row adapter: Text(i) -> std::string, Int(i) -> int64_t, Dbl(i) -> double
// for column i.
#pragma once

#include <cstdint>

#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "provenance/v1/audit.pb.h"

namespace prov::server {

inline constexpr char kNodeSummaryColumns[] =
    "node_id, hostname, datacenter, region, agent_version, boot_id, first_seen_us, "
    "last_seen_us, last_seq, accelerator_count, workload_count, reports_stored, "
    "(SELECT COUNT(*) FROM evidence_gaps g WHERE g.node = nodes.id), "
    "(SELECT COALESCE(SUM(gap_seconds), 0) FROM evidence_gaps g WHERE g.node = nodes.id), "
    "reports_rejected, last_rejected_us, last_rejection, rejecting_since_us, "
    "agent_health_us, agent_spool_depth, agent_dropped_reports, agent_unreadable_reports, "
    "agent_rejected_reports, agent_collector_errors, agent_nvml_available, "
    "agent_strings_repaired, agent_strings_truncated";
inline constexpr int kNodeSummaryColumnCount = 27;

namespace fleet_rows_internal {
inline void SetMicros(int64_t us, google::protobuf::Timestamp* t) {
  *t = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(us);
}
}  // namespace fleet_rows_internal

template <typename Row>
provenance::v1::NodeSummary NodeSummaryFromRow(Row& row) {
  using fleet_rows_internal::SetMicros;
  provenance::v1::NodeSummary n;
  n.set_node_id(row.Text(0));
  n.set_hostname(row.Text(1));
  n.set_datacenter(row.Text(2));
  n.set_region(row.Text(3));
  n.set_agent_version(row.Text(4));
  n.set_boot_id(row.Text(5));
  SetMicros(row.Int(6), n.mutable_first_seen());
  SetMicros(row.Int(7), n.mutable_last_seen());
  n.set_last_seq(row.Int(8));
  n.set_accelerator_count(row.Int(9));
  n.set_workload_count(row.Int(10));
  n.set_reports_stored(row.Int(11));
  n.set_evidence_gaps(row.Int(12));
  n.set_evidence_gap_seconds(row.Dbl(13));
  n.set_reports_rejected(row.Int(14));
  if (row.Int(15) > 0) SetMicros(row.Int(15), n.mutable_last_rejected());
  n.set_last_rejection(row.Text(16));
  if (row.Int(17) > 0) SetMicros(row.Int(17), n.mutable_rejecting_since());
  provenance::v1::AgentHealthSummary* h = n.mutable_agent_health();
  if (row.Int(18) > 0) SetMicros(row.Int(18), h->mutable_as_of());
  h->set_spool_depth(row.Int(19));
  h->set_dropped_reports(row.Int(20));
  h->set_unreadable_reports(row.Int(21));
  h->set_rejected_reports(row.Int(22));
  h->set_collector_errors(row.Int(23));
  h->set_nvml_available(row.Int(24) != 0);
  h->set_strings_repaired(row.Int(25));
  h->set_strings_truncated(row.Int(26));
  return n;
}

}  // namespace prov::server
